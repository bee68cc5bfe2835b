use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::backend::{Delivery, Notification, Notifier};
use crate::clock::ManualClock;
use crate::delivery::deliver_and_record;
use crate::incident::DeclareRequest;
use crate::store::{MemoryStore, Store};
use crate::{Error, ErrorKind};

/// Thursday 2026-11-26 (UTC business hours by default).
fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0).single().expect("valid time")
}

fn ymd_hm(y: i32, mo: u32, d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, m, 0).single().expect("valid time")
}

/// Records every notification; answers from a script, then "delivered".
#[derive(Default)]
struct Recording {
    sent: Mutex<Vec<Notification>>,
    script: Mutex<VecDeque<Result<Delivery>>>,
}

impl Recording {
    fn script(&self, r: Result<Delivery>) {
        self.script.lock().expect("lock").push_back(r);
    }
    fn take(&self) -> Vec<(Destination, String)> {
        std::mem::take(&mut *self.sent.lock().expect("lock")).into_iter().map(|n| (n.to, n.kind)).collect()
    }
}

#[async_trait::async_trait]
impl Notifier for Recording {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        self.sent.lock().expect("lock").push(n.clone());
        self.script.lock().expect("lock").pop_front().unwrap_or(Ok(Delivery::Delivered { reference: None }))
    }
}

type Driver = EscalationDriver<MemoryStore, ManualClock, Recording>;

struct Fixture {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    notifier: Arc<Recording>,
    policy: Policy,
}

fn page(role: Role) -> Destination {
    Destination::Page { role }
}

fn channel(inc: &Incident) -> Destination {
    Destination::Channel { name: inc.channel.clone() }
}

impl Fixture {
    fn new(policy: Policy) -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(ManualClock::new(t(14, 0))),
            notifier: Arc::new(Recording::default()),
            policy,
        }
    }

    /// Declare and, like the receiver, deliver and record the declaration's notifications.
    async fn declare(&self, severity: Severity, at: DateTime<Utc>, announce: bool) -> Incident {
        let req = DeclareRequest {
            id: "INC-1".into(),
            title: "Inference API errors".into(),
            severity,
            components: vec!["ml-inference-api".into()],
            impact: "30% of prediction requests fail".into(),
            customer_facing: false,
            customers_affected: false,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        };
        let (inc, tl) = Incident::declare(req, &self.policy, at).expect("declare");
        self.store.save_incident(&inc).await.expect("save");
        self.store.append_events(&inc.id, tl.events()).await.expect("events");
        if announce {
            self.clock.set(at);
            for n in inc.declaration_notifications(&self.policy) {
                let r = deliver_and_record(&*self.store, &*self.notifier, &*self.clock, "receiver", n).await;
                assert!(r.expect("recorded").is_delivered());
            }
            self.notifier.take();
        }
        inc
    }

    async fn change<F>(&self, f: F)
    where
        F: FnOnce(&mut Incident, &mut Timeline) -> Result<()>,
    {
        let mut inc = self.store.incident("INC-1").await.expect("load").expect("exists");
        let mut tl = self.store.timeline("INC-1").await.expect("timeline");
        let before = tl.len();
        f(&mut inc, &mut tl).expect("change");
        self.store.append_events("INC-1", &tl.events()[before..]).await.expect("append");
        self.store.save_incident(&inc).await.expect("save");
    }

    fn driver(&self) -> Driver {
        EscalationDriver::new(self.store.clone(), self.clock.clone(), self.notifier.clone(), self.policy.clone())
    }

    async fn tick(&self, driver: &Driver, at: DateTime<Utc>) -> EscalationReport {
        self.clock.set(at);
        driver.tick(at).await.expect("tick")
    }

    async fn status(&self, at: DateTime<Utc>) -> EscalationStatus {
        let inc = self.store.incident("INC-1").await.expect("load").expect("exists");
        let tl = self.store.timeline("INC-1").await.expect("timeline");
        status(&self.policy, &inc, &tl, at).expect("status")
    }

    /// `(channel, kind, outcome)` of the escalation messages on the timeline.
    async fn escalation_messages(&self) -> Vec<(String, String, Outcome)> {
        let tl = self.store.timeline("INC-1").await.expect("timeline");
        tl.events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MessageSent { channel, kind, outcome, .. } if parse_kind(kind).is_some() => {
                    Some((channel.clone(), kind.clone(), *outcome))
                }
                _ => None,
            })
            .collect()
    }
}

#[test]
fn kinds_round_trip() {
    assert_eq!(page_kind(2), "escalation_page:2");
    assert_eq!(parse_kind(&page_kind(3)), Some((true, 3)));
    assert_eq!(parse_kind(&mention_kind(1)), Some((false, 1)));
    for other in ["page", "escalation_page", "escalation_page:0", "escalation_page:x", "status_update:1"] {
        assert_eq!(parse_kind(other), None, "{other}");
    }
}

#[test]
fn default_levels_follow_the_severity_table() {
    let p = Policy::default();
    use Role::{Cto, EngineeringManager as Em, OnCallEngineer as OnCall};
    assert_eq!(p.escalation_levels(Severity::P0), [vec![OnCall, Em], vec![Cto]]);
    assert_eq!(p.escalation_levels(Severity::P1), [vec![OnCall], vec![Em], vec![Cto]]);
    assert_eq!(p.escalation_levels(Severity::P2), [vec![OnCall], vec![Em]]);
    assert_eq!(p.escalation_levels(Severity::P3), [vec![OnCall], vec![Em]]);
}

#[tokio::test]
async fn schedule_per_severity_table() {
    // (severity, declared at, now) → (state, level, deadline, next level at)
    let fri_1700 = ymd_hm(2026, 12, 4, 17, 0);
    let fri_1800 = ymd_hm(2026, 12, 4, 18, 0);
    let mon = |h, m| ymd_hm(2026, 12, 7, h, m);
    let cases = [
        (Severity::P0, t(14, 0), t(14, 0), EscalationState::Paging, 1, t(14, 15), Some(t(14, 15))),
        (Severity::P0, t(14, 0), t(14, 15), EscalationState::Paging, 2, t(14, 30), None),
        (Severity::P0, t(14, 0), t(14, 30), EscalationState::Exhausted, 2, t(14, 30), None),
        (Severity::P1, t(14, 0), t(14, 29), EscalationState::Paging, 1, t(14, 30), Some(t(14, 30))),
        (Severity::P1, t(14, 0), t(15, 0), EscalationState::Paging, 3, t(15, 30), None),
        (
            Severity::P1,
            fri_1800,
            fri_1800,
            EscalationState::Paging,
            1,
            ymd_hm(2026, 12, 4, 18, 30),
            Some(ymd_hm(2026, 12, 4, 18, 30)),
        ),
        (Severity::P2, fri_1700, fri_1700, EscalationState::Paging, 1, mon(10, 0), Some(mon(10, 0))),
        (Severity::P2, fri_1800, fri_1800, EscalationState::Waiting, 0, mon(11, 0), Some(mon(9, 0))),
        (Severity::P2, fri_1800, mon(9, 0), EscalationState::Paging, 1, mon(11, 0), Some(mon(11, 0))),
        (Severity::P2, fri_1800, mon(11, 0), EscalationState::Paging, 2, mon(13, 0), None),
        (
            Severity::P3,
            fri_1800,
            mon(9, 0),
            EscalationState::Paging,
            1,
            ymd_hm(2026, 12, 9, 15, 0),
            Some(ymd_hm(2026, 12, 9, 15, 0)),
        ),
    ];
    for (sev, declared, now, state, level, deadline, next_at) in cases {
        let fx = Fixture::new(Policy::default());
        fx.declare(sev, declared, false).await;
        let s = fx.status(now).await;
        let why = format!("{sev} declared {declared} at {now}");
        assert_eq!((s.state, s.level, s.deadline), (state, level, deadline), "{why}");
        assert_eq!(s.next.map(|n| n.at), next_at, "{why}");
    }
}

#[tokio::test]
async fn declaration_pages_follow_the_escalation_window() {
    let policy = Policy::default();
    let pages = |inc: &Incident| -> Vec<Role> {
        inc.declaration_notifications(&policy)
            .into_iter()
            .filter_map(|n| match n.to {
                Destination::Page { role } => Some(role),
                _ => None,
            })
            .collect()
    };
    let fx = Fixture::new(policy.clone());
    // P2 Friday 18:00: nobody of the chain is paged by the declaration.
    let inc = fx.declare(Severity::P2, ymd_hm(2026, 12, 4, 18, 0), false).await;
    assert_eq!(pages(&inc), Vec::<Role>::new());
    let kinds: Vec<String> = inc.declaration_notifications(&policy).into_iter().map(|n| n.kind).collect();
    assert_eq!(kinds, ["channel_intro", "ticket"]);
    // P2 Thursday 14:00: paged at once, as before.
    let fx = Fixture::new(policy.clone());
    assert_eq!(pages(&fx.declare(Severity::P2, t(14, 0), false).await), [Role::OnCallEngineer]);
    // P1 at night: at once, unchanged.
    let fx = Fixture::new(policy.clone());
    let p1 = fx.declare(Severity::P1, ymd_hm(2026, 12, 5, 3, 0), false).await;
    assert_eq!(pages(&p1), [Role::OnCallEngineer, Role::EngineeringManager]);
    // A level-1 role that is no stakeholder is paged too.
    let mut custom = Policy::default();
    custom.severities.p1.escalation.push(Role::CustomerSuccess);
    let fx = Fixture::new(custom.clone());
    let inc = fx.declare(Severity::P1, t(14, 0), false).await;
    let last = inc.declaration_notifications(&custom).pop().expect("pages");
    assert_eq!((last.to, last.kind.as_str()), (page(Role::CustomerSuccess), "page"));
    assert_eq!(last.text, "[P1] Inference API errors — escalation (P1 at any time)");
}

#[tokio::test]
async fn p1_unacknowledged_escalates_to_the_engineering_manager_at_30_min_once() {
    let fx = Fixture::new(Policy::default());
    let inc = fx.declare(Severity::P1, t(14, 0), true).await;
    let driver = fx.driver();

    // The declaration paged the on-call engineer: nothing to do until the response time passes.
    let r = fx.tick(&driver, t(14, 0)).await;
    assert_eq!((r.open_incidents, r.sent.len()), (1, 0));
    assert_eq!(r.next_due, Some(t(14, 30)));
    assert!(fx.tick(&driver, t(14, 29)).await.sent.is_empty());
    assert!(fx.notifier.take().is_empty());

    let r = fx.tick(&driver, t(14, 30)).await;
    assert_eq!(r.sent.len(), 2, "{r:?}");
    assert_eq!(
        fx.notifier.take(),
        [(page(Role::EngineeringManager), "escalation_page:2".into()), (channel(&inc), "escalation_mention:2".into())]
    );
    assert_eq!(r.next_due, Some(t(15, 0)));
    assert_eq!(
        fx.escalation_messages().await,
        [
            ("page:Engineering manager".into(), "escalation_page:2".into(), Outcome::Succeeded),
            (inc.channel.clone(), "escalation_mention:2".into(), Outcome::Succeeded),
        ]
    );
    // Once: neither this driver nor a restarted one pages again.
    assert!(fx.tick(&driver, t(14, 31)).await.sent.is_empty());
    assert!(fx.tick(&fx.driver(), t(14, 45)).await.sent.is_empty());
    assert!(fx.notifier.take().is_empty());

    // The CTO at 15:00, then nobody left.
    let r = fx.tick(&driver, t(15, 0)).await;
    assert_eq!(fx.notifier.take()[0], (page(Role::Cto), "escalation_page:3".into()));
    assert_eq!(r.sent.len(), 2);
    let r = fx.tick(&driver, t(15, 30)).await;
    assert!(r.sent.is_empty());
    assert_eq!(r.exhausted.len(), 1);
    assert_eq!(r.exhausted[0].deadline, t(15, 30));
    assert!(!r.is_clean());
}

#[tokio::test]
async fn acknowledgement_stops_escalation() {
    let fx = Fixture::new(Policy::default());
    fx.declare(Severity::P1, t(14, 0), true).await;
    fx.change(|inc, tl| inc.acknowledge(t(14, 10), "alice", tl)).await;
    let driver = fx.driver();
    let r = fx.tick(&driver, t(14, 45)).await;
    assert!(r.sent.is_empty() && r.next_due.is_none(), "{r:?}");
    assert_eq!(fx.status(t(14, 45)).await.state, EscalationState::Acknowledged);
    assert!(fx.notifier.take().is_empty());
    // Resolved is stopped too (and no longer an open incident).
    fx.change(|inc, tl| inc.resolve(t(15, 0), "alice", tl)).await;
    assert_eq!(fx.status(t(16, 0)).await.state, EscalationState::Resolved);
    assert_eq!(fx.tick(&driver, t(16, 0)).await.open_incidents, 0);
}

#[tokio::test]
async fn raising_to_p0_restarts_the_deadline_at_15_min() {
    let fx = Fixture::new(Policy::default());
    let inc = fx.declare(Severity::P1, t(14, 0), true).await;
    let driver = fx.driver();
    fx.change(|inc, tl| inc.change_severity(Severity::P0, "all regions down", t(14, 20), "bob", tl)).await;

    // P0's level 1 goes out at once, even to those paged at P1: the page now says P0.
    let r = fx.tick(&driver, t(14, 20)).await;
    assert_eq!(
        fx.notifier.take(),
        [
            (page(Role::OnCallEngineer), "escalation_page:1".into()),
            (page(Role::EngineeringManager), "escalation_page:1".into()),
            (channel(&inc), "escalation_mention:1".into()),
        ]
    );
    assert_eq!(r.next_due, Some(t(14, 35)), "15 min after the raise");
    let s = fx.status(t(14, 30)).await;
    assert_eq!((s.severity, s.since, s.deadline), (Severity::P0, t(14, 20), t(14, 35)));
    // P1's 30-minute deadline no longer applies.
    assert!(fx.tick(&driver, t(14, 30)).await.sent.is_empty());
    fx.tick(&driver, t(14, 35)).await;
    assert_eq!(fx.notifier.take()[0], (page(Role::Cto), "escalation_page:2".into()));
}

#[tokio::test]
async fn lowering_keeps_who_was_paged_and_restarts_the_deadline() {
    let fx = Fixture::new(Policy::default());
    fx.declare(Severity::P1, t(14, 0), true).await;
    fx.change(|inc, tl| inc.change_severity(Severity::P2, "only one region", t(14, 10), "bob", tl)).await;
    let driver = fx.driver();
    let r = fx.tick(&driver, t(14, 10)).await;
    assert!(r.sent.is_empty(), "the on-call engineer is not paged again: {r:?}");
    assert_eq!(r.next_due, Some(t(16, 10)), "P2: 2 h of business time from the change");
    fx.tick(&driver, t(16, 10)).await;
    assert_eq!(fx.notifier.take()[0], (page(Role::EngineeringManager), "escalation_page:2".into()));
}

#[tokio::test]
async fn p2_declared_friday_evening_pages_monday_morning() {
    let fx = Fixture::new(Policy::default());
    let fri = ymd_hm(2026, 12, 4, 18, 0);
    let inc = fx.declare(Severity::P2, fri, true).await;
    let driver = fx.driver();
    let r = fx.tick(&driver, fri).await;
    assert!(r.sent.is_empty());
    assert_eq!(r.next_due, Some(ymd_hm(2026, 12, 7, 9, 0)));
    assert_eq!(fx.status(fri).await.state, EscalationState::Waiting);
    assert!(fx.tick(&driver, ymd_hm(2026, 12, 6, 23, 59)).await.sent.is_empty());

    fx.tick(&driver, ymd_hm(2026, 12, 7, 9, 0)).await;
    assert_eq!(
        fx.notifier.take(),
        [(page(Role::OnCallEngineer), "escalation_page:1".into()), (channel(&inc), "escalation_mention:1".into())]
    );
    assert_eq!(fx.status(ymd_hm(2026, 12, 7, 9, 0)).await.deadline, ymd_hm(2026, 12, 7, 11, 0));
    fx.tick(&driver, ymd_hm(2026, 12, 7, 11, 0)).await;
    assert_eq!(fx.notifier.take()[0], (page(Role::EngineeringManager), "escalation_page:2".into()));
}

#[tokio::test]
async fn business_hours_follow_the_policy_time_zone() {
    let mut policy = Policy::default();
    policy.business_hours.timezone = "America/New_York".into();
    policy.business_hours.holidays = vec!["2026-12-07".parse().expect("date")];
    let fx = Fixture::new(policy);
    // Friday 17:00 EST = 22:00 UTC: 1 h on Friday, Monday is a holiday, 1 h on Tuesday → 10:00 EST.
    fx.declare(Severity::P2, ymd_hm(2026, 12, 4, 22, 0), false).await;
    let s = fx.status(ymd_hm(2026, 12, 4, 22, 0)).await;
    assert_eq!((s.state, s.deadline), (EscalationState::Paging, ymd_hm(2026, 12, 8, 15, 0)));
}

#[tokio::test]
async fn failed_pages_are_retried_with_spacing() {
    let fx = Fixture::new(Policy::default());
    fx.declare(Severity::P1, t(14, 0), true).await;
    let driver = fx.driver();
    fx.notifier.script(Err(Error::unavailable("pagerduty: HTTP 503")));
    let r = fx.tick(&driver, t(14, 30)).await;
    assert_eq!((r.failed.len(), r.sent.len()), (1, 1), "the page failed, the mention went out");
    assert_eq!(r.failed[0].error_kind, Some(ErrorKind::Unavailable));
    assert_eq!(r.next_due, Some(t(14, 31)));
    fx.notifier.take();
    assert!(fx.tick(&driver, t(14, 30) + TimeDelta::seconds(30)).await.failed.is_empty());
    assert!(fx.notifier.take().is_empty(), "not before the spacing");
    let r = fx.tick(&driver, t(14, 31)).await;
    assert_eq!(r.sent.len(), 1);
    assert_eq!(fx.notifier.take(), [(page(Role::EngineeringManager), "escalation_page:2".into())]);
    let msgs = fx.escalation_messages().await;
    let outcomes: Vec<Outcome> = msgs.iter().filter(|m| m.1 == "escalation_page:2").map(|m| m.2).collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Succeeded]);
    // A failed page does not hold the next level back.
    fx.notifier.script(Ok(Delivery::Skipped { reason: "no PagerDuty routing key for cto".into() }));
    let r = fx.tick(&driver, t(15, 0)).await;
    assert_eq!((r.skipped.len(), r.next_due), (1, Some(t(15, 15))), "skipped: retried after 15 min");
}

#[tokio::test]
async fn declaration_pages_not_recorded_are_sent_after_the_grace() {
    let fx = Fixture::new(Policy::default());
    fx.declare(Severity::P1, t(14, 0), false).await;
    let driver = fx.driver();
    let r = fx.tick(&driver, t(14, 1)).await;
    assert!(r.sent.is_empty());
    assert_eq!(r.next_due, Some(t(14, 2)));
    fx.tick(&driver, t(14, 2)).await;
    assert_eq!(fx.notifier.take(), [(page(Role::OnCallEngineer), "escalation_page:1".into())]);
}

#[tokio::test]
async fn run_loops_on_the_clock() {
    let fx = Fixture::new(Policy::default());
    fx.declare(Severity::P1, t(14, 0), true).await;
    let driver = fx.driver();
    let mut reports = Vec::new();
    let ticks = driver
        .run(std::time::Duration::from_secs(60), Some(2), |r| {
            reports.push(r.expect("tick"));
            std::ops::ControlFlow::Continue(())
        })
        .await;
    assert_eq!((ticks, reports.len()), (2, 2));
}
