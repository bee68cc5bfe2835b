//! How async exports run.
//!
//! The simulator's virtual time only behaves on [`incident_core::sim::runtime()`]: a current-thread tokio
//! runtime with paused time, where concurrent sleeps overlap and a 10-minute drill takes milliseconds.
//! napi's own tokio runtime is multi-threaded and not paused, so async exports do not use it (the `async`
//! feature of napi is off). Instead each call is a napi [`Task`]: `compute` runs on a libuv worker thread,
//! builds a fresh paused runtime there and `block_on`s the core future; `resolve` runs back on the JS
//! thread, where core errors become coded JS errors and the Promise settles. Nothing blocks the event
//! loop, each call owns its runtime (no shared clock between unrelated calls), and a panic in the work is
//! caught and rejects the Promise with code `internal`.
//!
//! Values moved into the work are owned clones (`SimPlatform` is an `Arc`, policies and plans are cloned),
//! so the JS objects stay usable while the Promise is pending.

use std::panic::AssertUnwindSafe;

use incident_core::{Error as CoreError, Result as CoreResult};
use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task};
use tokio::runtime::Runtime;

use crate::error::js_error;

/// The work of one async call.
type Work<J> = Box<dyn FnOnce(&Runtime) -> CoreResult<J> + Send>;

/// A napi task that runs its work on a paused-clock simulator runtime in a libuv worker thread.
pub struct SimTask<J> {
    work: Option<Work<J>>,
    thrown: Option<Thrown>,
}

/// Wrap `work` as a Promise-returning task.
pub(crate) fn spawn<J, F>(work: F) -> AsyncTask<SimTask<J>>
where
    J: ToNapiValue + TypeName + Send + 'static,
    F: FnOnce(&Runtime) -> CoreResult<J> + Send + 'static,
{
    AsyncTask::new(SimTask { work: Some(Box::new(work)), thrown: None })
}

/// [`spawn`] for work that calls JS callbacks: the first error a callback threw (kept in `thrown`) rejects
/// the Promise as it was thrown, in place of whatever the work returned.
pub(crate) fn spawn_with_callbacks<J, F>(thrown: Thrown, work: F) -> AsyncTask<SimTask<J>>
where
    J: ToNapiValue + TypeName + Send + 'static,
    F: FnOnce(&Runtime) -> CoreResult<J> + Send + 'static,
{
    AsyncTask::new(SimTask { work: Some(Box::new(work)), thrown: Some(thrown) })
}

/// The first error thrown by a JS callback of an async call. A `napi::Error` from JS holds a reference to
/// the thrown value, which may only be touched on the JS thread: it is stored by the callback (JS thread)
/// and taken in `resolve` (JS thread); the task, dropped on the JS thread, owns the slot's last handle.
#[derive(Clone, Default)]
pub(crate) struct Thrown(std::sync::Arc<std::sync::Mutex<Option<napi::Error>>>);

impl Thrown {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<napi::Error>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keep `e` unless an earlier error is kept (JS thread only). A later error is leaked rather than
    /// released here, so no reference is ever released off the JS thread by accident.
    pub(crate) fn keep(&self, e: napi::Error) {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(e);
        } else {
            std::mem::forget(e);
        }
    }

    /// Whether a callback threw.
    pub(crate) fn is_set(&self) -> bool {
        self.lock().is_some()
    }

    fn take(&self) -> Option<napi::Error> {
        self.lock().take()
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

impl<J> Task for SimTask<J>
where
    J: ToNapiValue + TypeName + Send + 'static,
{
    type Output = CoreResult<J>;
    type JsValue = J;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let Some(work) = self.work.take() else {
            return Ok(Err(CoreError::internal("async task computed twice")));
        };
        let run = move || {
            let rt = incident_core::sim::runtime()?;
            work(&rt)
        };
        Ok(std::panic::catch_unwind(AssertUnwindSafe(run))
            .unwrap_or_else(|p| Err(CoreError::internal(format!("panic: {}", panic_message(p.as_ref()))))))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<J> {
        if let Some(e) = self.thrown.as_ref().and_then(Thrown::take) {
            return Err(e);
        }
        output.map_err(|e| js_error(&env, &e))
    }
}
