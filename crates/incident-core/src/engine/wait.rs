//! Waits that end when their condition holds: a [`StepKind::WaitUntil`](super::StepKind::WaitUntil)
//! follows the object its check reads (a watch, as `kubectl rollout status` does) when the backend can,
//! and otherwise polls with a backoff that starts at [`FIRST_POLL`]; a Route53 change is followed with
//! `GetChange` until it is `INSYNC`. Both are bounded by the step's deadline and sleep on the backends'
//! clock, so the simulator keeps its virtual time.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::check::Check;
use crate::backend::{Backends, ChangeStatus};
use crate::policy::Policy;
use crate::{Error, HumanDuration, Result};

/// The first pause between two polls; each later pause doubles, up to the wait's interval.
pub const FIRST_POLL: Duration = Duration::from_millis(250);

/// The longest pause between two `GetChange` calls (Route53 allows five a second per account).
pub const DNS_POLL_CAP: Duration = Duration::from_secs(5);

/// Pause after poll `n` (1-based): [`FIRST_POLL`] doubled `n - 1` times, at most `cap` (and at least
/// [`FIRST_POLL`] when `cap` is shorter).
#[must_use]
pub fn poll_pause(n: u32, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
    FIRST_POLL.saturating_mul(factor).min(cap.max(FIRST_POLL))
}

fn left(b: &Backends, until: DateTime<Utc>) -> Duration {
    (until - b.clock.now()).to_std().unwrap_or(Duration::ZERO)
}

/// Wait until `check` passes, at most `timeout` and never past `deadline_at`. Returns the passing
/// outcome's detail. A check failing to read with a retryable error is treated as "not yet".
///
/// # Errors
/// `Timeout` naming the last reading; a non-retryable backend error at once.
pub(super) async fn wait_until(
    b: &Backends,
    policy: &Policy,
    check: &Check,
    timeout: HumanDuration,
    interval: HumanDuration,
    deadline_at: DateTime<Utc>,
) -> Result<String> {
    let until = (b.clock.now() + timeout.as_delta()).min(deadline_at);
    let mut polls = 0u32;
    loop {
        polls += 1;
        let mut last = match check.evaluate(b, policy).await {
            Ok(o) if o.passed => return Ok(format!("{} (after {polls} poll(s))", o.detail)),
            Ok(o) => o.detail,
            Err(e) if e.is_retryable() => e.to_string(),
            Err(e) => return Err(e),
        };
        if b.clock.now() >= until {
            return Err(Error::timeout(format!(
                "waited {timeout} for {}: still not satisfied ({last})",
                check.describe()
            )));
        }
        // Follow the object until the condition holds (ends the wait the moment it does), or poll.
        match check.follow(b, left(b, until)).await {
            Ok(Some(o)) if o.passed => {
                return Ok(format!("{} (followed after {polls} poll(s))", o.detail));
            }
            Ok(Some(o)) => last = o.detail,
            Ok(None) => {}
            Err(e) if e.is_retryable() => last = e.to_string(),
            Err(e) => return Err(e),
        }
        let remaining = left(b, until);
        if remaining.is_zero() {
            return Err(Error::timeout(format!(
                "waited {timeout} for {}: still not satisfied ({last})",
                check.describe()
            )));
        }
        b.clock.sleep(poll_pause(polls, interval.as_std()).min(remaining)).await;
    }
}

/// Follow Route53 change `id` with `GetChange` until it is `INSYNC`, never past `deadline_at`. Returns
/// how it ended for the step's detail.
///
/// # Errors
/// `Timeout` when the change is still `PENDING` at the deadline; a non-retryable `GetChange` error.
pub(super) async fn dns_insync(b: &Backends, id: &str, deadline_at: DateTime<Utc>) -> Result<String> {
    let started = b.clock.now();
    let mut polls = 0u32;
    loop {
        polls += 1;
        let last = match b.dns.change_status(id).await {
            Ok(info) if info.status == ChangeStatus::Insync => {
                let ms = (b.clock.now() - started).num_milliseconds();
                return Ok(format!("change {id} INSYNC after {polls} GetChange call(s), {ms} ms"));
            }
            Ok(info) => info.status.to_string(),
            Err(e) if e.is_retryable() => e.to_string(),
            Err(e) => return Err(e),
        };
        let remaining = left(b, deadline_at);
        if remaining.is_zero() {
            let ms = (b.clock.now() - started).num_milliseconds();
            return Err(Error::timeout(format!(
                "route53 change {id} not INSYNC by the step deadline ({last} after {polls} GetChange call(s), {ms} ms)"
            )));
        }
        b.clock.sleep(poll_pause(polls, DNS_POLL_CAP).min(remaining)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ErrorKind;
    use crate::backend::{ChangeInfo, MockCluster, MockDns, RolloutStatus};
    use crate::engine::testutil::{MockSet, t0};

    fn info(status: ChangeStatus) -> ChangeInfo {
        ChangeInfo { id: "/change/C1".into(), status, submitted_at: t0() }
    }

    #[tokio::test]
    async fn dns_insync_polls_with_backoff_and_times_out_typed_at_the_deadline() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&calls);
        let mut dns = MockDns::new();
        dns.expect_change_status().returning(move |_| {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(info(if n < 3 { ChangeStatus::Pending } else { ChangeStatus::Insync }))
        });
        let (b, _clock) = MockSet { dns: Some(dns), ..Default::default() }.backends();
        let detail = dns_insync(&b, "/change/C1", t0() + chrono::TimeDelta::minutes(1)).await.expect("insync");
        assert_eq!(detail, "change /change/C1 INSYNC after 3 GetChange call(s), 750 ms");
        assert_eq!(b.clock.now(), t0() + chrono::TimeDelta::milliseconds(750));

        let mut dns = MockDns::new();
        dns.expect_change_status().returning(|_| Ok(info(ChangeStatus::Pending)));
        let (b, _clock) = MockSet { dns: Some(dns), ..Default::default() }.backends();
        let e = dns_insync(&b, "/change/C1", t0() + chrono::TimeDelta::seconds(2)).await.expect_err("pending");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(
            e.to_string().contains("not INSYNC by the step deadline (PENDING after 5 GetChange call(s), 2000 ms)"),
            "{e}"
        );
        assert_eq!(b.clock.now(), t0() + chrono::TimeDelta::seconds(2), "never sleeps past the deadline");
    }

    #[tokio::test]
    async fn a_followed_rollout_ends_the_wait_without_sleeping() {
        let mut cluster = MockCluster::new();
        let not_yet = RolloutStatus { complete: false, failed: false, message: "Waiting for rollout".into() };
        cluster.expect_rollout_status().times(1).returning(move |_, _| Ok(not_yet.clone()));
        cluster.expect_follow_rollout().times(1).returning(|_, _, timeout| {
            assert_eq!(timeout, Duration::from_secs(60), "bounded by the wait's timeout");
            Ok(Some(RolloutStatus { complete: true, failed: false, message: "successfully rolled out".into() }))
        });
        let (b, _clock) = MockSet { cluster: Some(Arc::new(cluster)), ..Default::default() }.backends();
        let check = Check::RolloutComplete { context: "c".into(), namespace: "ns".into(), name: "api".into() };
        let policy = Policy::default();
        let far = t0() + chrono::TimeDelta::hours(1);
        let detail = wait_until(&b, &policy, &check, HumanDuration::from_secs(60), HumanDuration::from_secs(10), far)
            .await
            .expect("followed");
        assert_eq!(detail, "successfully rolled out (followed after 1 poll(s))");
        assert_eq!(b.clock.now(), t0(), "no poll interval slept");
    }

    #[tokio::test]
    async fn without_a_watch_the_wait_polls_from_a_quarter_second_and_ends_when_the_check_passes() {
        let polls = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&polls);
        let mut cluster = MockCluster::new();
        cluster.expect_rollout_status().returning(move |_, _| {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(RolloutStatus { complete: n == 4, failed: false, message: format!("reading {n}") })
        });
        cluster.expect_follow_rollout().returning(|_, _, _| Ok(None));
        let (b, _clock) = MockSet { cluster: Some(Arc::new(cluster)), ..Default::default() }.backends();
        let check = Check::RolloutComplete { context: "c".into(), namespace: "ns".into(), name: "api".into() };
        let policy = Policy::default();
        let far = t0() + chrono::TimeDelta::hours(1);
        let ten = HumanDuration::from_secs(10);
        let detail = wait_until(&b, &policy, &check, HumanDuration::from_secs(60), ten, far).await.expect("passes");
        assert_eq!(detail, "reading 4 (after 4 poll(s))");
        // 250 + 500 + 1000 ms, not 3 x 10 s.
        assert_eq!(b.clock.now(), t0() + chrono::TimeDelta::milliseconds(1750));
        let e = wait_until(&b, &policy, &check, HumanDuration::from_secs(3), ten, far).await.expect_err("times out");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert_eq!(b.clock.now(), t0() + chrono::TimeDelta::milliseconds(4750), "ends at the timeout exactly");
    }

    #[test]
    fn pauses_start_at_a_quarter_second_and_double_to_the_cap() {
        let cap = Duration::from_secs(10);
        let ms: Vec<u128> = (1..=8).map(|n| poll_pause(n, cap).as_millis()).collect();
        assert_eq!(ms, vec![250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(poll_pause(u32::MAX, cap), cap);
        assert_eq!(poll_pause(1, Duration::ZERO), FIRST_POLL);
    }
}
