//! Injected time. The core never reads the wall clock directly: it asks a [`Clock`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A source of "now" and a way to wait.
#[async_trait::async_trait]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Wait `d` on this clock (a virtual clock advances instead of sleeping).
    async fn sleep(&self, d: Duration);
}

/// The loop of the drivers that keep incidents on schedule ([`crate::cadence`], [`crate::escalation`]):
/// `tick` at the clock's time, hand the result to `on_tick`, then sleep until the report's `next_due`
/// (at most `poll`, at least one second), until `on_tick` breaks or `max_ticks` ticks ran. Returns the
/// number of ticks. An error (a store outage) does not stop the loop unless `on_tick` says so.
pub(crate) async fn drive<C, R, T, Fut, F>(
    clock: &C,
    poll: Duration,
    max_ticks: Option<u64>,
    mut tick: T,
    next_due: fn(&R) -> Option<DateTime<Utc>>,
    mut on_tick: F,
) -> u64
where
    C: Clock + ?Sized,
    T: FnMut(DateTime<Utc>) -> Fut,
    Fut: std::future::Future<Output = crate::Result<R>>,
    F: FnMut(crate::Result<R>) -> std::ops::ControlFlow<()>,
{
    let mut ticks = 0u64;
    loop {
        let now = clock.now();
        let result = tick(now).await;
        ticks += 1;
        let due = result.as_ref().ok().and_then(next_due);
        if on_tick(result).is_break() || max_ticks.is_some_and(|m| ticks >= m) {
            return ticks;
        }
        let until_due = due.and_then(|t| (t - now).to_std().ok()).unwrap_or(poll);
        clock.sleep(until_due.clamp(Duration::from_secs(1), poll.max(Duration::from_secs(1)))).await;
    }
}

/// The real wall clock and tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned wall-clock read
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock that only moves when told to (or when something sleeps on it): deterministic tests and the
/// simulator's virtual time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock reading `start`.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Arc::new(Mutex::new(start)) }
    }

    /// Move forward by `d`.
    pub fn advance(&self, d: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += d;
    }

    /// Set the time (never backwards: an earlier time is ignored).
    pub fn set(&self, t: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if t > *now {
            *now = t;
        }
    }
}

#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn sleep(&self, d: Duration) {
        self.advance(TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX));
        tokio::task::yield_now().await;
    }
}

/// Render `at` as `YYYY-MM-DD HH:MM UTC`, the one timestamp form of every message and report.
#[must_use]
pub fn format_utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
