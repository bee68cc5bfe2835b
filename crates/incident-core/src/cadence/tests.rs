use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::TimeZone;

use super::*;
use crate::backend::Delivery;
use crate::clock::ManualClock;
use crate::incident::DeclareRequest;
use crate::store::MemoryStore;
use crate::timeline::EventKind;
use crate::{Error, Severity};

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0).single().expect("valid time")
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
    fn take(&self) -> Vec<Notification> {
        std::mem::take(&mut *self.sent.lock().expect("lock"))
    }
}

#[async_trait::async_trait]
impl Notifier for Recording {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        let mut sent = self.sent.lock().expect("lock");
        sent.push(n.clone());
        let reference = Some(format!("ref-{}", sent.len()));
        self.script.lock().expect("lock").pop_front().unwrap_or(Ok(Delivery::Delivered { reference }))
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    notifier: Arc<Recording>,
}

impl Fixture {
    async fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(ManualClock::new(t(14, 0))),
            notifier: Arc::new(Recording::default()),
        }
    }

    async fn declare(&self, id: &str, severity: Severity, at: DateTime<Utc>) -> Incident {
        let req = DeclareRequest {
            id: id.into(),
            title: "Inference API errors".into(),
            severity,
            components: vec!["ml-inference-api".into()],
            impact: "30% of prediction requests fail".into(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        };
        let (inc, tl) = Incident::declare(req, &Policy::default(), at).expect("declare");
        self.store.save_incident(&inc).await.expect("save");
        self.store.append_events(&inc.id, tl.events()).await.expect("events");
        inc
    }

    fn driver(&self) -> CadenceDriver<MemoryStore, ManualClock, Recording> {
        CadenceDriver::new(self.store.clone(), self.clock.clone(), self.notifier.clone(), Policy::default())
    }

    async fn tick_at(
        &self,
        driver: &CadenceDriver<MemoryStore, ManualClock, Recording>,
        at: DateTime<Utc>,
    ) -> CadenceReport {
        self.clock.set(at);
        driver.tick(at).await.expect("tick")
    }

    async fn messages(&self, id: &str) -> Vec<(String, String, Outcome)> {
        let tl = self.store.timeline(id).await.expect("timeline");
        tl.events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MessageSent { channel, kind, outcome, .. } => {
                    Some((channel.clone(), kind.clone(), *outcome))
                }
                _ => None,
            })
            .collect()
    }
}

fn kinds(attempts: &[UpdateAttempt]) -> Vec<(&str, UpdateKind)> {
    attempts.iter().map(|a| (a.incident_id.as_str(), a.kind)).collect()
}

#[tokio::test]
async fn p0_updates_follow_the_cadence_and_are_not_resent() {
    let fx = Fixture::new().await;
    fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    let driver = fx.driver();

    let r = fx.tick_at(&driver, t(14, 0)).await;
    assert_eq!((r.open_incidents, r.sent.len()), (1, 0));
    assert_eq!(r.next_due, Some(t(14, 14)), "one minute of lead before 14:15");
    assert!(r.is_clean());

    let r = fx.tick_at(&driver, t(14, 14)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::Internal), ("INC-1", UpdateKind::StatusPage)]);
    assert_eq!(r.sent[0].due_at, t(14, 15));
    assert_eq!(r.sent[0].channel, "#incident-2026-11-26-1400");
    assert_eq!(r.sent[1].detail, "ref-2");
    assert_eq!(r.next_due, Some(t(14, 28)));
    let sent = fx.notifier.take();
    assert_eq!(sent[0].kind, "internal_update");
    assert_eq!(sent[0].to, Destination::Channel { name: "#incident-2026-11-26-1400".into() });
    assert_eq!(
        sent[0].text,
        "Time: 2026-11-26 14:14 UTC\nStatus: investigating\nImpact: 30% of prediction requests fail\n\
         Next Update: 2026-11-26 14:29 UTC\n\nDetails:\n\
         - 14:00 Detected via manual: Inference API errors\n\
         - 14:00 Declared [P0] Inference API errors (#incident-2026-11-26-1400)\n\
         - 14:00 Incident commander: alice"
    );
    assert_eq!(sent[1].to, Destination::StatusPage);
    assert_eq!(sent[1].kind, "status_page_update");
    assert_eq!(
        sent[1].text,
        "We are investigating reports of issues with ml-inference-api.\nWe will provide updates as we learn more."
    );

    // Recorded, so neither this driver nor a restarted one sends again before the next due time.
    assert!(fx.tick_at(&driver, t(14, 20)).await.sent.is_empty());
    assert!(fx.tick_at(&fx.driver(), t(14, 27)).await.sent.is_empty());
    let r = fx.tick_at(&fx.driver(), t(14, 28)).await;
    assert_eq!(r.sent.len(), 2);
    let sent = fx.notifier.take();
    assert!(sent[0].text.contains("Details:\nNo changes since the last update."), "{}", sent[0].text);
    assert!(
        sent[1].text.starts_with("Time: 2026-11-26 14:28 UTC\nStatus: investigating"),
        "later status-page updates use the template"
    );
    assert_eq!(
        fx.messages("INC-1").await,
        [
            ("#incident-2026-11-26-1400".into(), "internal_update".into(), Outcome::Succeeded),
            ("status-page".into(), "status_page_update".into(), Outcome::Succeeded),
            ("#incident-2026-11-26-1400".into(), "internal_update".into(), Outcome::Succeeded),
            ("status-page".into(), "status_page_update".into(), Outcome::Succeeded),
        ]
    );
}

#[tokio::test]
async fn severities_have_their_own_cadence() {
    let fx = Fixture::new().await;
    fx.declare("P1", Severity::P1, t(14, 0)).await;
    fx.declare("P2", Severity::P2, t(14, 0)).await;
    fx.declare("P3", Severity::P3, t(14, 0)).await;
    let driver = fx.driver();
    let r = fx.tick_at(&driver, t(14, 14)).await;
    assert_eq!(r.open_incidents, 3);
    let mut sent = kinds(&r.sent);
    sent.sort_by_key(|(id, _)| *id);
    assert_eq!(sent, [("P1", UpdateKind::StatusPage), ("P2", UpdateKind::StatusPage)], "status page within 15 min");
    let r = fx.tick_at(&driver, t(14, 29)).await;
    assert_eq!(kinds(&r.sent), [("P1", UpdateKind::Internal)], "P1 internal every 30 min");
    let r = fx.tick_at(&driver, t(14, 59)).await;
    let mut sent = kinds(&r.sent);
    sent.sort_by_key(|(id, k)| (*id, *k == UpdateKind::StatusPage));
    assert_eq!(
        sent,
        [("P1", UpdateKind::Internal), ("P1", UpdateKind::StatusPage), ("P2", UpdateKind::Internal)],
        "P2 hourly; P1's status page follows the 30 min cadence from 14:14"
    );
}

#[tokio::test]
async fn failures_are_reported_retried_later_and_overdue() {
    let fx = Fixture::new().await;
    fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    let driver = fx.driver();
    fx.notifier.script(Ok(Delivery::Delivered { reference: None }));
    fx.notifier.script(Err(Error::unavailable("statuspage create incident: HTTP 503 after 4 attempts")));
    let r = fx.tick_at(&driver, t(14, 14)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::Internal)]);
    assert_eq!(kinds(&r.failed), [("INC-1", UpdateKind::StatusPage)]);
    assert_eq!(r.failed[0].error_kind, Some(ErrorKind::Unavailable));
    assert_eq!(r.failed[0].detail, "unavailable: statuspage create incident: HTTP 503 after 4 attempts");
    assert!(r.overdue.is_empty(), "not late yet");
    assert_eq!(r.next_due, Some(t(14, 16)), "retry in 2 minutes");

    // Within the retry spacing: not resent, but overdue once past 14:15.
    let r = fx.tick_at(&driver, t(14, 15) + TimeDelta::seconds(30)).await;
    assert!(r.sent.is_empty() && r.failed.is_empty());
    assert_eq!(r.overdue.len(), 1);
    let o = &r.overdue[0];
    assert_eq!((o.kind, o.due_at, o.late_by), (UpdateKind::StatusPage, t(14, 15), HumanDuration::from_secs(30)));
    assert_eq!(o.last_attempt, Some((t(14, 14), Outcome::Failed)));

    // Skipped (no provider): visible, retried only after 15 minutes.
    fx.notifier.script(Ok(Delivery::Skipped { reason: "no status page provider configured".into() }));
    let r = fx.tick_at(&driver, t(14, 16)).await;
    assert_eq!(kinds(&r.skipped), [("INC-1", UpdateKind::StatusPage)]);
    assert_eq!(r.overdue.len(), 1, "skipped is still overdue");
    assert!(fx.tick_at(&driver, t(14, 30)).await.skipped.is_empty());
    let r = fx.tick_at(&driver, t(14, 31)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::StatusPage)], "internal was sent at 14:30");
    assert!(r.overdue.is_empty());
    let outcomes: Vec<_> =
        fx.messages("INC-1").await.into_iter().filter(|m| m.0 == "status-page").map(|m| m.2).collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Skipped, Outcome::Succeeded]);
}

#[tokio::test]
async fn drill_records_count_as_updates_and_resolved_incidents_are_ignored() {
    let fx = Fixture::new().await;
    let mut inc = fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    let sent = |channel: &str, kind: &str| EventKind::MessageSent {
        channel: channel.into(),
        kind: kind.into(),
        outcome: Outcome::Succeeded,
        detail: String::new(),
    };
    delivery::append_event(&*fx.store, "INC-1", t(14, 10), "drill", sent("status-page", "status_update"))
        .await
        .expect("append");
    delivery::append_event(&*fx.store, "INC-1", t(14, 12), "drill", sent(&inc.channel, "status_update"))
        .await
        .expect("append");
    let driver = fx.driver();
    assert!(fx.tick_at(&driver, t(14, 20)).await.sent.is_empty());
    let r = fx.tick_at(&driver, t(14, 24)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::StatusPage)], "due 14:25 from the drill's 14:10 update");

    let mut tl = fx.store.timeline("INC-1").await.expect("timeline");
    let before = tl.len();
    inc.resolve(t(14, 26), "alice", &mut tl).expect("resolve");
    fx.store.append_events("INC-1", &tl.events()[before..]).await.expect("events");
    fx.store.save_incident(&inc).await.expect("save");
    let r = fx.tick_at(&driver, t(16, 0)).await;
    assert_eq!((r.open_incidents, r.sent.len(), r.overdue.len()), (0, 0, 0));
}

#[tokio::test]
async fn remind_mode_posts_reminders_until_someone_updates() {
    let fx = Fixture::new().await;
    let inc = fx.declare("INC-1", Severity::P1, t(14, 0)).await;
    let options = CadenceOptions { status_page: CadenceMode::Remind, ..CadenceOptions::default() };
    let driver = fx.driver().with_options(options);
    let r = fx.tick_at(&driver, t(14, 14)).await;
    assert_eq!(r.sent.len(), 1);
    assert!(r.sent[0].reminder);
    let n = fx.notifier.take().remove(0);
    assert_eq!(n.to, Destination::Channel { name: inc.channel.clone() });
    assert_eq!(n.kind, "status_page_update_reminder");
    assert!(
        n.text.starts_with(
            "Reminder: the status page update for INC-1 [P1] is due at 2026-11-26 14:15 UTC. Suggested text:\n\n\
             We are investigating reports of issues with ml-inference-api."
        ),
        "{}",
        n.text
    );
    assert!(fx.tick_at(&driver, t(14, 20)).await.sent.is_empty(), "reminders are spaced");
    let r = fx.tick_at(&driver, t(14, 24)).await;
    assert_eq!(r.sent.len(), 1, "reminded again after 10 min");
    assert_eq!(r.overdue.len(), 1);

    // A person posts the update (recorded like any delivery): reminders stop.
    let human = Notification {
        incident_id: "INC-1".into(),
        to: Destination::StatusPage,
        kind: UpdateKind::StatusPage.as_str().into(),
        text: "We are investigating.".into(),
    };
    let rec = delivery::deliver_and_record(&*fx.store, &*fx.notifier, &*fx.clock, "bob", human).await.expect("record");
    assert!(rec.is_delivered());
    let r = fx.tick_at(&driver, t(14, 35)).await;
    assert!(r.sent.iter().all(|a| !a.reminder) && r.overdue.is_empty(), "{r:?}");
}

#[tokio::test]
async fn internal_incidents_get_no_public_status_page() {
    let fx = Fixture::new().await;
    let mut inc = fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    inc.customer_facing = false;
    fx.store.save_incident(&inc).await.expect("save");
    let driver = fx.driver();
    let r = fx.tick_at(&driver, t(14, 20)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::Internal)]);
    assert!(r.overdue.is_empty());
    let all = CadenceOptions { status_page_only_customer_facing: false, ..CadenceOptions::default() };
    let r = fx.tick_at(&fx.driver().with_options(all), t(14, 21)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::StatusPage)]);
}

#[tokio::test]
async fn report_only_sends_nothing_and_reports_overdue() {
    let fx = Fixture::new().await;
    fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    let options = CadenceOptions {
        internal: CadenceMode::ReportOnly,
        status_page: CadenceMode::ReportOnly,
        ..Default::default()
    };
    let driver = fx.driver().with_options(options);
    let r = fx.tick_at(&driver, t(14, 40)).await;
    assert!(r.sent.is_empty() && fx.notifier.take().is_empty());
    let late: Vec<_> = r.overdue.iter().map(|o| (o.kind, o.late_by)).collect();
    assert_eq!(
        late,
        [(UpdateKind::Internal, HumanDuration::from_mins(25)), (UpdateKind::StatusPage, HumanDuration::from_mins(25))]
    );
    assert!(!r.is_clean());
}

#[tokio::test]
async fn loop_sleeps_until_the_next_due_update() {
    let fx = Fixture::new().await;
    fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    let driver = fx.driver();
    let mut reports = Vec::new();
    let ticks = driver
        .run(Duration::from_secs(300), Some(20), |r| {
            let r = r.expect("tick");
            let done = r.at >= t(15, 0);
            reports.push(r);
            if done { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .await;
    let internal: Vec<_> = reports
        .iter()
        .flat_map(|r| r.sent.iter().filter(|a| a.kind == UpdateKind::Internal).map(|a| a.due_at))
        .collect();
    assert_eq!(internal, [t(14, 15), t(14, 29), t(14, 43), t(14, 57)], "every 15 min from the last update");
    assert!(reports.iter().all(CadenceReport::is_clean));
    assert!(ticks <= 20, "sleeps until due (or the poll interval), not every second: {ticks} ticks");
}

#[tokio::test]
async fn an_update_sent_now_counts_for_the_cadence_and_a_failed_one_is_retried_before_it_is_due() {
    let fx = Fixture::new().await;
    fx.declare("INC-1", Severity::P0, t(14, 0)).await;
    let driver = fx.driver();

    // A status change is news: the internal update goes out at 14:05 with the given details.
    fx.clock.set(t(14, 5));
    let a = driver.send_update("INC-1", UpdateKind::Internal, t(14, 5), Some("rolled back to v2.0.3")).await;
    let a = a.expect("sent");
    assert_eq!((a.outcome, a.due_at), (Outcome::Succeeded, t(14, 15)));
    let sent = fx.notifier.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.ends_with("Details:\nrolled back to v2.0.3"), "{}", sent[0].text);
    assert!(sent[0].text.contains("Next Update: 2026-11-26 14:20 UTC"), "{}", sent[0].text);
    // It counts: the next internal update is due 15 minutes after it, not at 14:15.
    let r = fx.tick_at(&driver, t(14, 14)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::StatusPage)]);

    // A status-page update sent early that fails is retried after retry_failed_after (2 min), before
    // the next one falls due.
    fx.notifier.script(Err(Error::unavailable("status page provider down")));
    fx.clock.set(t(14, 16));
    let a = driver.send_update("INC-1", UpdateKind::StatusPage, t(14, 16), None).await.expect("attempted");
    assert_eq!(a.outcome, Outcome::Failed);
    let r = fx.tick_at(&driver, t(14, 17)).await;
    assert!(r.sent.is_empty() && r.failed.is_empty(), "not before the retry spacing");
    assert_eq!(r.next_due, Some(t(14, 18)));
    let r = fx.tick_at(&driver, t(14, 18)).await;
    assert_eq!(kinds(&r.sent), [("INC-1", UpdateKind::StatusPage)]);
}

#[tokio::test]
async fn send_update_refuses_what_must_not_go_out() {
    let fx = Fixture::new().await;
    let mut inc = fx.declare("INC-1", Severity::P1, t(14, 0)).await;
    let driver = fx.driver();
    let err = driver.send_update("INC-404", UpdateKind::Internal, t(14, 1), None).await.expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::NotFound);

    inc.customer_facing = false;
    fx.store.save_incident(&inc).await.expect("save");
    let err = driver.send_update("INC-1", UpdateKind::StatusPage, t(14, 1), None).await.expect_err("internal");
    assert_eq!(err.kind(), ErrorKind::Refused);

    let mut tl = fx.store.timeline("INC-1").await.expect("timeline");
    let n = tl.len();
    inc.resolve(t(14, 2), "alice", &mut tl).expect("resolve");
    fx.store.append_events("INC-1", &tl.events()[n..]).await.expect("append");
    fx.store.save_incident(&inc).await.expect("save");
    let err = driver.send_update("INC-1", UpdateKind::Internal, t(14, 3), None).await.expect_err("resolved");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(fx.notifier.take().is_empty(), "nothing went out");
}
