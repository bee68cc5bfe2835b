use chrono::{TimeZone, Utc};

use super::*;
use crate::incident::{DeclareRequest, Incident};
use crate::policy::{LocalTime, Weekday};
use crate::timeline::Timeline;
use crate::{HumanDuration, Policy, Severity};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid time")
}

fn resolved(title: &str, resolved_at: DateTime<Utc>) -> (Incident, Timeline) {
    let declared = resolved_at - TimeDelta::hours(2);
    let req = DeclareRequest {
        id: "INC-1".into(),
        title: title.into(),
        severity: Severity::P1,
        components: vec!["api".into()],
        impact: "errors".into(),
        customer_facing: false,
        customers_affected: false,
        on_call: "alice".into(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: None,
    };
    let (mut incident, mut timeline) = Incident::declare(req, &Policy::default(), declared).expect("declared");
    incident.set_root_cause("bad deploy").expect("root cause");
    incident.set_resolution("rolled back").expect("resolution");
    incident.resolve(resolved_at, "alice", &mut timeline).expect("resolved");
    (incident, timeline)
}

#[test]
fn escaping_table() {
    let cases = [
        ("plain", "plain"),
        ("a,b", "a\\,b"),
        ("a;b", "a\\;b"),
        ("a\\b", "a\\\\b"),
        ("line1\nline2", "line1\\nline2"),
        ("crlf\r\nnext", "crlf\\nnext"),
        ("all ,;\\\n", "all \\,\\;\\\\\\n"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(escape_text(input), want, "escape of {input:?}");
    }
}

#[test]
fn folding_table() {
    let a75 = "a".repeat(75);
    let a76 = "a".repeat(76);
    let a200 = "b".repeat(200);
    // 74 ASCII + a 2-byte character would be 76 octets: the character moves to the next line.
    let split_utf8 = format!("{}é", "x".repeat(74));
    let cases: Vec<(String, String)> = vec![
        ("short".into(), "short\r\n".into()),
        (a75.clone(), format!("{a75}\r\n")),
        (a76, format!("{a75}\r\n a\r\n")),
        (a200, format!("{}\r\n {}\r\n {}\r\n", "b".repeat(75), "b".repeat(74), "b".repeat(51))),
        (split_utf8, format!("{}\r\n é\r\n", "x".repeat(74))),
    ];
    for (input, want) in cases {
        let got = fold_line(&input);
        assert_eq!(got, want, "fold of {input:?}");
        for line in got.split("\r\n") {
            assert!(line.len() <= 75, "line of {} octets: {line:?}", line.len());
        }
        // Unfolding (RFC 5545: remove CRLF + one space) gives the line back.
        assert_eq!(got.trim_end_matches("\r\n").replace("\r\n ", ""), input);
    }
}

#[test]
fn invite_is_rfc5545() {
    // Resolved Friday 2026-11-27 16:00 UTC: the meeting is Monday 10:00 (UTC business hours).
    let (incident, _) = resolved("API errors, 5xx; on \\v2\\ path", at(2026, 11, 27, 16, 0));
    let policy = PostIncidentPolicy {
        timeline_url: Some("https://incidents.example.com/{id}".into()),
        ..PostIncidentPolicy::default()
    };
    let ics = invite_ics(&incident, &BusinessHours::default(), &policy).expect("ics");
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF in {ics:?}");
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{line:?}");
    }
    let unfolded = ics.replace("\r\n ", "");
    let lines: Vec<&str> = unfolded.split("\r\n").collect();
    assert_eq!(lines[0], "BEGIN:VCALENDAR");
    assert!(lines.contains(&"BEGIN:VEVENT"));
    assert!(lines.contains(&"UID:postmortem-INC-1@incident-core"));
    assert!(lines.contains(&"DTSTAMP:20261127T160000Z"));
    assert!(lines.contains(&"DTSTART:20261130T100000Z"), "{lines:?}");
    assert!(lines.contains(&"DTEND:20261130T110000Z"));
    assert!(lines.contains(&"SUMMARY:Post-mortem: [P1] API errors\\, 5xx\\; on \\\\v2\\\\ path"), "{lines:?}");
    let description = lines.iter().find(|l| l.starts_with("DESCRIPTION:")).expect("description");
    assert!(description.contains(&format!("Incident channel: {}", incident.channel)));
    assert!(description.contains("Timeline: https://incidents.example.com/INC-1"));
    assert!(description.contains("\\n"));
}

#[test]
fn invite_needs_a_resolved_incident() {
    let (mut incident, _) = resolved("x", at(2026, 11, 27, 16, 0));
    incident.resolved_at = None;
    let err = invite_ics(&incident, &BusinessHours::default(), &PostIncidentPolicy::default()).expect_err("open");
    assert_eq!(err.kind(), crate::ErrorKind::PreconditionFailed);
}

#[test]
fn meeting_slot_table() {
    let berlin = BusinessHours {
        timezone: "Europe/Berlin".into(),
        holidays: vec![chrono::NaiveDate::from_ymd_opt(2026, 12, 24).expect("date")],
        ..BusinessHours::default()
    };
    let ny_sat = BusinessHours {
        timezone: "America/New_York".into(),
        weekdays: vec![Weekday::Saturday],
        ..BusinessHours::default()
    };
    let early = PostIncidentPolicy { meeting_at: LocalTime::hm(2, 30), ..PostIncidentPolicy::default() };
    let ny_all = BusinessHours {
        timezone: "America/New_York".into(),
        weekdays: vec![
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ],
        start: LocalTime::hm(0, 0),
        ..BusinessHours::default()
    };
    let default = PostIncidentPolicy::default();
    let cases = [
        // Tuesday → Wednesday 10:00 UTC.
        ("utc weekday", BusinessHours::default(), &default, at(2026, 12, 1, 12, 0), at(2026, 12, 2, 10, 0)),
        // Friday → Monday.
        ("utc friday", BusinessHours::default(), &default, at(2026, 11, 27, 23, 0), at(2026, 11, 30, 10, 0)),
        // Saturday → Monday.
        ("utc saturday", BusinessHours::default(), &default, at(2026, 11, 28, 9, 0), at(2026, 11, 30, 10, 0)),
        // Wednesday 23:30 UTC is Thursday 00:30 in Berlin: next working day Friday, 10:00 CET = 09:00Z.
        ("berlin local day", berlin.clone(), &default, at(2026, 12, 2, 23, 30), at(2026, 12, 4, 10 - 1, 0)),
        // Wednesday 23 Dec → Thursday 24 Dec is a holiday → Friday 25th 10:00 CET.
        ("berlin holiday", berlin, &default, at(2026, 12, 23, 12, 0), at(2026, 12, 25, 9, 0)),
        // Only Saturdays work; in summer (EDT, UTC-4).
        ("ny saturdays", ny_sat, &default, at(2026, 7, 1, 12, 0), at(2026, 7, 4, 14, 0)),
        // 2027-03-14 02:30 does not exist in New York: read with the offset before (EST) = 07:30Z.
        ("ny dst gap", ny_all, &early, at(2027, 3, 13, 12, 0), at(2027, 3, 14, 7, 30)),
    ];
    for (name, hours, policy, resolved_at, want) in cases {
        assert_eq!(meeting_start(resolved_at, &hours, policy).expect(name), want, "{name}");
    }
}

#[test]
fn tasks_are_due_within_24h_and_read_back_from_the_timeline() {
    let resolved_at = at(2026, 12, 1, 12, 0);
    let (incident, mut timeline) = resolved("x", resolved_at);
    let policy = PostIncidentPolicy::default();
    let p = PostIncident::of(&incident, &timeline, &policy).expect("resolved");
    assert_eq!(p.tasks.len(), 5);
    assert!(p.tasks.iter().all(|t| t.due == at(2026, 12, 2, 12, 0) && t.done_at.is_none()));
    assert!(p.overdue(at(2026, 12, 2, 12, 0)).is_empty(), "due, not overdue, at the deadline");
    assert_eq!(p.overdue(at(2026, 12, 2, 12, 1)).len(), 5);

    let t1 = resolved_at + TimeDelta::minutes(1);
    let sent = |kind: &str, outcome| EventKind::MessageSent {
        channel: "tracker".into(),
        kind: kind.into(),
        outcome,
        detail: String::new(),
    };
    // A failed ticket does not count.
    timeline.append(t1, "bot", sent(TICKET_KIND, Outcome::Failed)).expect("append");
    timeline.append(t1, "bot", sent(INVITE_KIND, Outcome::Succeeded)).expect("append");
    timeline
        .append(t1, "bob", EventKind::EvidenceAdded { name: TIMELINE_EVIDENCE.into(), sha256: "00".into() })
        .expect("append");
    timeline
        .append(t1, "bob", EventKind::EvidenceAdded { name: "logs/api.txt".into(), sha256: "01".into() })
        .expect("append");
    let p = PostIncident::of(&incident, &timeline, &policy).expect("resolved");
    let open: Vec<Task> = p.open().iter().map(|t| t.task).collect();
    assert_eq!(open, vec![Task::Ticket, Task::PostMortem]);
    let overdue: Vec<Task> = p.overdue(at(2026, 12, 3, 0, 0)).iter().map(|t| t.task).collect();
    assert_eq!(overdue, vec![Task::Ticket, Task::PostMortem]);
    timeline.append(t1, "bot", sent(TICKET_KIND, Outcome::Succeeded)).expect("append");
    timeline
        .append(t1, "bob", EventKind::EvidenceAdded { name: POSTMORTEM_EVIDENCE.into(), sha256: "02".into() })
        .expect("append");
    let p = PostIncident::of(&incident, &timeline, &policy).expect("resolved");
    assert!(p.open().is_empty());
    assert!(p.overdue(at(2027, 1, 1, 0, 0)).is_empty());
}

#[test]
fn evidence_before_resolution_does_not_count_and_open_incidents_have_no_tasks() {
    let resolved_at = at(2026, 12, 1, 12, 0);
    let (mut incident, mut timeline) = resolved("x", resolved_at);
    incident.resolved_at = None;
    assert!(PostIncident::of(&incident, &timeline, &PostIncidentPolicy::default()).is_none());
    incident.resolved_at = Some(resolved_at + TimeDelta::hours(1));
    timeline
        .append(resolved_at, "bob", EventKind::EvidenceAdded { name: "triage.md".into(), sha256: "00".into() })
        .expect("append");
    let p = PostIncident::of(&incident, &timeline, &PostIncidentPolicy::default()).expect("resolved");
    assert!(p.tasks.iter().any(|t| t.task == Task::Evidence && t.done_at.is_none()));
}

#[test]
fn policy_section_parses_with_defaults() {
    let p: PostIncidentPolicy = toml::from_str("within = \"12h\"").expect("toml");
    assert_eq!(p.within, HumanDuration::from_hours(12));
    assert_eq!(p.meeting_at, LocalTime::hm(10, 0));
    assert_eq!(Policy::default().post_incident.within, HumanDuration::from_hours(24));
}

mod driver {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::backend::{Delivery, Notification, Notifier};
    use crate::clock::{Clock, ManualClock};
    use crate::store::{MemoryStore, Store};

    #[derive(Default)]
    struct Recording(Mutex<Vec<Notification>>);

    #[async_trait::async_trait]
    impl Notifier for Recording {
        async fn notify(&self, n: &Notification) -> crate::Result<Delivery> {
            self.0.lock().expect("lock").push(n.clone());
            Ok(Delivery::Delivered { reference: Some("ts".into()) })
        }
    }

    #[tokio::test]
    async fn reminds_once_of_each_overdue_task_and_survives_a_restart() {
        let resolved_at = at(2026, 12, 1, 12, 0);
        let (incident, mut timeline) = resolved("API errors", resolved_at);
        timeline
            .append(
                resolved_at,
                "bot",
                EventKind::MessageSent {
                    channel: "webhook:tracker".into(),
                    kind: TICKET_KIND.into(),
                    outcome: Outcome::Succeeded,
                    detail: "github:acme/platform#1".into(),
                },
            )
            .expect("append");
        let store = Arc::new(MemoryStore::new());
        store.save_incident(&incident).await.expect("save");
        store.append_events(&incident.id, timeline.events()).await.expect("events");
        let clock = Arc::new(ManualClock::new(resolved_at + TimeDelta::hours(1)));
        let notifier = Arc::new(Recording::default());
        let driver = PostIncidentDriver::new(store.clone(), clock.clone(), notifier.clone(), Policy::default());

        let r = driver.tick(clock.now()).await.expect("tick");
        assert_eq!((r.resolved_incidents, r.overdue.len(), r.reminded.len()), (1, 0, 0));
        assert_eq!(r.next_due, Some(at(2026, 12, 2, 12, 0) + TimeDelta::seconds(1)));
        // The timeline and metrics are gathered at once, as an evidence item: that task is done.
        assert_eq!(r.gathered, vec![incident.id.clone()]);
        let item = store.evidence_item(&incident.id, TIMELINE_EVIDENCE).await.expect("read").expect("gathered");
        let json: serde_json::Value = serde_json::from_slice(&item.bytes).expect("json");
        assert_eq!(json["incident_id"], incident.id.as_str());
        assert!(json["metrics"].is_object() && json["timeline"]["events"].is_array(), "{json}");
        let tl = store.timeline(&incident.id).await.expect("timeline");
        let post = PostIncident::of(&incident, &tl, &Policy::default().post_incident).expect("resolved");
        assert!(post.tasks.iter().any(|t| t.task == Task::TimelineAndMetrics && t.done_at.is_some()));
        let r = driver.tick(clock.now()).await.expect("tick");
        assert!(r.gathered.is_empty(), "gathered once");

        clock.set(at(2026, 12, 2, 12, 1));
        let r = driver.tick(clock.now()).await.expect("tick");
        let tasks: Vec<Task> = r.reminded.iter().map(|m| m.task).collect();
        assert_eq!(
            tasks,
            [Task::Meeting, Task::Evidence, Task::PostMortem],
            "not the ticket, nor the gathered timeline and metrics"
        );
        assert!(r.reminded.iter().all(|m| m.outcome == Outcome::Succeeded));
        let sent = notifier.0.lock().expect("lock").clone();
        assert_eq!(sent[0].to, crate::backend::Destination::Channel { name: incident.channel.clone() });
        assert_eq!(sent[0].kind, "postincident_overdue:meeting");
        assert!(sent[0].text.contains("Schedule post-mortem meeting") && sent[0].text.contains("2026-12-02 12:00 UTC"));

        // A restarted driver reads the reminders back: nothing is sent twice.
        let again = PostIncidentDriver::new(store.clone(), clock.clone(), notifier.clone(), Policy::default());
        let r = again.tick(clock.now() + TimeDelta::hours(1)).await.expect("tick");
        assert_eq!((r.overdue.len(), r.reminded.len()), (3, 0));
        assert_eq!(notifier.0.lock().expect("lock").len(), 3);
        store.timeline(&incident.id).await.expect("timeline").verify().expect("chain");

        // Out of the lookback: not looked at.
        let r = again.tick(resolved_at + TimeDelta::days(31)).await.expect("tick");
        assert_eq!(r.resolved_incidents, 0);
    }
}
