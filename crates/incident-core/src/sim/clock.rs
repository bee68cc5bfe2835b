//! The virtual clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::platform::Inner;
use crate::backend::Clock;

/// The simulator's [`Clock`]: `now` is the world's virtual time; `sleep` passes virtual time (see
/// [`super::TimeMode`]). Under a paused tokio runtime concurrent sleeps overlap, so two 5-minute waits
/// in parallel take 5 virtual minutes.
#[derive(Clone)]
pub struct SimClock {
    pub(crate) inner: std::sync::Arc<Inner>,
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClock").field("now", &self.now()).finish()
    }
}

#[async_trait::async_trait]
impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().now
    }

    async fn sleep(&self, d: Duration) {
        self.inner.sleep(d).await;
    }
}
