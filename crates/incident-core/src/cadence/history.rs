//! What a timeline says about an incident's updates: when each kind last went out, and the unsuccessful
//! attempts and reminders since.

use chrono::{DateTime, Utc};

use crate::comms::{CadenceStatus, UpdateKind, cadence_status};
use crate::incident::Incident;
use crate::timeline::{Event, EventKind, Outcome, Timeline};
use crate::{Policy, delivery};

/// An attempt: when, and how it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// How it went.
    pub outcome: Outcome,
}

/// One update kind's history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindHistory {
    /// The last time an update of this kind was delivered.
    pub last_sent: Option<DateTime<Utc>>,
    /// The newest unsuccessful attempt (failed, skipped, unknown) after `last_sent`.
    pub last_attempt: Option<Attempt>,
    /// The newest reminder after `last_sent`.
    pub last_reminder: Option<Attempt>,
}

/// Both kinds' histories, read from a timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// Internal updates.
    pub internal: KindHistory,
    /// Status-page updates.
    pub status_page: KindHistory,
}

/// Which update a `message_sent` event is, and whether it is a reminder: `None` for other messages
/// (see the rules in the [module docs](super)).
#[must_use]
pub fn classify_message(channel: &str, kind: &str) -> Option<(UpdateKind, bool)> {
    let status_page = delivery::destination_label(&crate::backend::Destination::StatusPage);
    match kind {
        "internal_update" => Some((UpdateKind::Internal, false)),
        "status_page_update" | "status_page_initial" => Some((UpdateKind::StatusPage, false)),
        "status_update" if channel == status_page => Some((UpdateKind::StatusPage, false)),
        "status_update" => Some((UpdateKind::Internal, false)),
        "internal_update_reminder" => Some((UpdateKind::Internal, true)),
        "status_page_update_reminder" => Some((UpdateKind::StatusPage, true)),
        _ => None,
    }
}

impl History {
    /// Read every `message_sent` event of `timeline`.
    #[must_use]
    pub fn from_timeline(timeline: &Timeline) -> Self {
        let mut h = Self::default();
        for ev in timeline.events() {
            h.observe(ev);
        }
        h
    }

    /// Take one more event into account (events must come in timeline order).
    pub fn observe(&mut self, ev: &Event) {
        let EventKind::MessageSent { channel, kind, outcome, .. } = &ev.kind else { return };
        let Some((kind, reminder)) = classify_message(channel, kind) else { return };
        let h = self.get_mut(kind);
        let attempt = Attempt { at: ev.at, outcome: *outcome };
        match (reminder, outcome) {
            (true, _) => h.last_reminder = Some(attempt),
            (false, Outcome::Succeeded) => *h = KindHistory { last_sent: Some(ev.at), ..KindHistory::default() },
            (false, _) => h.last_attempt = Some(attempt),
        }
    }

    /// One kind's history.
    #[must_use]
    pub fn get(&self, kind: UpdateKind) -> &KindHistory {
        match kind {
            UpdateKind::Internal => &self.internal,
            UpdateKind::StatusPage => &self.status_page,
        }
    }

    fn get_mut(&mut self, kind: UpdateKind) -> &mut KindHistory {
        match kind {
            UpdateKind::Internal => &mut self.internal,
            UpdateKind::StatusPage => &mut self.status_page,
        }
    }

    /// [`cadence_status`] with the last delivered updates.
    #[must_use]
    pub fn status(&self, policy: &Policy, incident: &Incident, now: DateTime<Utc>) -> CadenceStatus {
        cadence_status(policy, incident, self.internal.last_sent, self.status_page.last_sent, now)
    }
}

/// The details of an internal update: what happened after `since`, one line per event (messages left
/// out), oldest first, at most `max_lines` (the newest; an ellipsis line says how many were left out).
pub(super) fn details_since(timeline: &Timeline, since: DateTime<Utc>, max_lines: usize) -> String {
    let lines: Vec<String> = timeline
        .events()
        .iter()
        .filter(|e| e.at > since && !matches!(e.kind, EventKind::MessageSent { .. }))
        .map(|e| format!("- {} {}", e.at.format("%H:%M"), e.kind.describe()))
        .collect();
    if lines.is_empty() {
        return "No changes since the last update.".into();
    }
    let skip = lines.len().saturating_sub(max_lines.max(1));
    let mut out = Vec::with_capacity(lines.len() - skip + 1);
    if skip > 0 {
        out.push(format!("- ... {skip} earlier event(s)"));
    }
    out.extend(lines.into_iter().skip(skip));
    out.join("\n")
}
