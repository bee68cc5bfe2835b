//! How simulator-backed work runs.
//!
//! The simulator's virtual time only behaves on [`incident_core::sim::runtime()`]: a current-thread tokio
//! runtime with paused time, where a 10-minute drill takes milliseconds. Every call builds its own such
//! runtime, so unrelated calls share no virtual clock and no runtime ever crosses a `fork()`.
//!
//! * **sync** helpers ([`block`]) release the GIL (`py.detach`) and `block_on` the work on the calling
//!   thread;
//! * **async** twins ([`awaitable`]) hand the same work to the running asyncio loop's default executor
//!   (`loop.run_in_executor(None, f)`) and return that `asyncio.Future`. The executor thread releases
//!   the GIL while the work runs, so the event loop never blocks and concurrent awaitables overlap.
//!
//! Why not `pyo3_async_runtimes::tokio::future_into_py`: it would poll the future on its own
//! multi-threaded, unpaused tokio runtime (wrong for virtual time), and even when only used to await a
//! channel it completes the asyncio future from a tokio worker that is still attached to the interpreter
//! while `asyncio.run` returns; at interpreter exit that races finalization (observed here: "Fatal Python
//! error: PyGILState_Release: thread state must be current when releasing" after a script's
//! `asyncio.run`). Executor threads are Python threads that CPython joins before finalizing.
//!
//! A panic in the work is caught on the worker and raised as `InternalError("panic: ...")` with its
//! message.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use incident_core::{Error as CoreError, Result as CoreResult};
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};
use tokio::runtime::Runtime;

use crate::error::{panic_message, to_py};

fn run<T>(work: impl FnOnce(&Runtime) -> CoreResult<T>) -> CoreResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let rt = incident_core::sim::runtime()?;
        work(&rt)
    }))
    .unwrap_or_else(|p| Err(CoreError::internal(format!("panic: {}", panic_message(p.as_ref())))))
}

/// Run `work` on a fresh paused-clock runtime with the GIL released.
pub(crate) fn block<T: Send>(py: Python<'_>, work: impl FnOnce(&Runtime) -> CoreResult<T> + Send) -> PyResult<T> {
    py.detach(|| run(work)).map_err(|e| to_py(&e))
}

/// An `asyncio.Future` of `work`'s result, computed on the running loop's default executor.
pub(crate) fn awaitable<'py, T>(
    py: Python<'py>,
    work: impl FnOnce(&Runtime) -> CoreResult<T> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    awaitable_then(py, work, |r| r)
}

/// [`awaitable`], with `finish` applied to the result on the executor thread (with the GIL).
pub(crate) fn awaitable_then<'py, T>(
    py: Python<'py>,
    work: impl FnOnce(&Runtime) -> CoreResult<T> + Send + 'static,
    finish: impl FnOnce(PyResult<T>) -> PyResult<T> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let slot = Mutex::new(Some((work, finish)));
    let f = PyCFunction::new_closure(
        py,
        None,
        None,
        move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| -> PyResult<Py<PyAny>> {
            let py = args.py();
            let (work, finish) = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .ok_or_else(|| to_py(&CoreError::internal("async work ran twice")))?;
            let value = finish(block(py, work))?;
            pyo3::IntoPyObjectExt::into_py_any(value, py)
        },
    )?;
    event_loop.call_method1("run_in_executor", (py.None(), f))
}
