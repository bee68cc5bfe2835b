//! Runbook "Testing and Validation → Monthly Drills": which drill runs on which Friday.
//!
//! The *n*-th Friday of a month (days 1–7 are the first Friday, 8–14 the second, ...) runs the drill the
//! policy assigns to *n* (runbook: 1 database failover, 2 application rollback, 3 regional failover,
//! 4 full disaster recovery). A fifth Friday never has a drill. Drills start at
//! [`DrillPolicy::start_time_utc`] (`HH:MM`, UTC). [`next_drills`] lists upcoming drills strictly after
//! `from`: a drill today counts while `from` is before its start time; at its start time it has begun
//! and is no longer listed.
//!
//! A drill kind's name is also the name of the simulator scenario that rehearses it
//! (`sim::Scenario::builtin`, feature `sim`); `incident drill <kind>` runs it end to end
//! (`drill_run`, feature `sim`).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The kind of a monthly drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DrillKind {
    /// First Friday.
    DatabaseFailover,
    /// Second Friday.
    ApplicationRollback,
    /// Third Friday.
    RegionalFailover,
    /// Fourth Friday.
    FullDisasterRecovery,
}

impl DrillKind {
    /// All kinds.
    pub const ALL: [Self; 4] =
        [Self::DatabaseFailover, Self::ApplicationRollback, Self::RegionalFailover, Self::FullDisasterRecovery];

    /// Kebab-case name (`database-failover`, ...), also the simulator scenario name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DatabaseFailover => "database-failover",
            Self::ApplicationRollback => "application-rollback",
            Self::RegionalFailover => "regional-failover",
            Self::FullDisasterRecovery => "full-disaster-recovery",
        }
    }
}

/// Monthly drill schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DrillPolicy {
    /// Which drill runs on which Friday of the month (1–4; a fifth Friday has none).
    pub schedule: Vec<DrillSlot>,
    /// Start time of day, UTC, `HH:MM`.
    pub start_time_utc: String,
}

impl Default for DrillPolicy {
    fn default() -> Self {
        Self {
            schedule: vec![
                DrillSlot { nth_friday: 1, drill: DrillKind::DatabaseFailover },
                DrillSlot { nth_friday: 2, drill: DrillKind::ApplicationRollback },
                DrillSlot { nth_friday: 3, drill: DrillKind::RegionalFailover },
                DrillSlot { nth_friday: 4, drill: DrillKind::FullDisasterRecovery },
            ],
            start_time_utc: "15:00".into(),
        }
    }
}

/// One slot of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillSlot {
    /// 1 = first Friday of the month … 4 = fourth.
    pub nth_friday: u8,
    /// The drill.
    pub drill: DrillKind,
}

impl DrillPolicy {
    /// The first invalid field as (path, why): `Policy::validate` reports it as a policy field error.
    pub(crate) fn invalid_field(&self) -> Option<(String, String)> {
        let mut seen = BTreeSet::new();
        for (i, slot) in self.schedule.iter().enumerate() {
            let path = format!("drills.schedule[{i}].nth_friday");
            if !(1..=4).contains(&slot.nth_friday) {
                return Some((path, format!("{} is outside 1..=4", slot.nth_friday)));
            }
            if !seen.insert(slot.nth_friday) {
                return Some((path, format!("Friday {} is scheduled twice", slot.nth_friday)));
            }
        }
        if !is_hh_mm(&self.start_time_utc) {
            return Some((
                "drills.start_time_utc".into(),
                format!("{:?} is not a time of day as HH:MM (00:00 to 23:59)", self.start_time_utc),
            ));
        }
        None
    }
}

fn is_hh_mm(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && [b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit)
        && (b[0] - b'0') * 10 + (b[1] - b'0') < 24
        && b[3] < b'6'
}

/// The most drills [`next_drills`] returns in one call (25 years of four a month).
pub const MAX_DRILLS: usize = 1200;

/// One upcoming drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledDrill {
    /// Which drill.
    pub kind: DrillKind,
    /// The Friday it runs on.
    pub date: NaiveDate,
    /// Start instant (UTC).
    pub starts_at: DateTime<Utc>,
    /// Which Friday of the month (1–4).
    pub nth_friday: u8,
}

/// Which Friday of its month `date` is (1–5), or `None` when it is not a Friday.
#[must_use]
pub fn nth_friday(date: NaiveDate) -> Option<u8> {
    if date.weekday() == Weekday::Fri { u8::try_from((date.day() - 1) / 7 + 1).ok() } else { None }
}

/// A validated drill schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillSchedule {
    /// Drill for the 1st … 4th Friday.
    slots: [Option<DrillKind>; 4],
    start: NaiveTime,
}

impl DrillSchedule {
    /// Validate `policy`.
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) when a slot's `nth_friday` is outside 1–4, two
    /// slots share a Friday, or `start_time_utc` is not `HH:MM`.
    pub fn new(policy: &DrillPolicy) -> Result<Self> {
        let start = NaiveTime::parse_from_str(policy.start_time_utc.trim(), "%H:%M").map_err(|_| {
            Error::policy(format!(
                "drills.start_time_utc {:?} is not a time of day as HH:MM (e.g. \"15:00\")",
                policy.start_time_utc
            ))
        })?;
        let mut slots = [None; 4];
        for slot in &policy.schedule {
            let idx = match slot.nth_friday {
                n @ 1..=4 => usize::from(n - 1),
                n => {
                    return Err(Error::policy(format!(
                        "drills.schedule: nth_friday {n} for {} is out of range (1-4; a fifth Friday has no drill)",
                        slot.drill.as_str()
                    )));
                }
            };
            if let Some(existing) = slots[idx] {
                return Err(Error::policy(format!(
                    "drills.schedule: Friday {} has two drills ({} and {})",
                    slot.nth_friday,
                    DrillKind::as_str(existing),
                    slot.drill.as_str()
                )));
            }
            slots[idx] = Some(slot.drill);
        }
        Ok(Self { slots, start })
    }

    /// The drill on `date`, if any.
    #[must_use]
    pub fn drill_on(&self, date: NaiveDate) -> Option<DrillKind> {
        let n = nth_friday(date)?;
        self.slots.get(usize::from(n).checked_sub(1)?).copied().flatten()
    }

    /// Up to `n` (at most [`MAX_DRILLS`]) drills starting strictly after `from`, soonest first.
    #[must_use]
    pub fn next(&self, from: DateTime<Utc>, n: usize) -> Vec<ScheduledDrill> {
        let n = n.min(MAX_DRILLS);
        let mut out = Vec::with_capacity(n);
        if self.slots.iter().all(Option::is_none) {
            return out;
        }
        let today = from.date_naive();
        let days_to_friday = (7 + Weekday::Fri.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
        let mut date = today.checked_add_signed(TimeDelta::days(i64::from(days_to_friday)));
        while let Some(day) = date {
            if out.len() >= n {
                break;
            }
            if let (Some(kind), Some(nth)) = (self.drill_on(day), nth_friday(day)) {
                let starts_at = day.and_time(self.start).and_utc();
                if starts_at > from {
                    out.push(ScheduledDrill { kind, date: day, starts_at, nth_friday: nth });
                }
            }
            date = day.checked_add_signed(TimeDelta::days(7));
        }
        out
    }
}

/// Up to `n` drills starting strictly after `from` (see the [module docs](self)).
///
/// # Errors
/// As [`DrillSchedule::new`].
pub fn next_drills(policy: &DrillPolicy, from: DateTime<Utc>, n: usize) -> Result<Vec<ScheduledDrill>> {
    Ok(DrillSchedule::new(policy)?.next(from, n))
}

/// The drill scheduled on `date`, if any.
///
/// # Errors
/// As [`DrillSchedule::new`].
pub fn drill_on(policy: &DrillPolicy, date: NaiveDate) -> Result<Option<DrillKind>> {
    Ok(DrillSchedule::new(policy)?.drill_on(date))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ErrorKind;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, 0).single().expect("valid time")
    }

    #[test]
    fn nth_friday_counts_from_the_first() {
        assert_eq!(nth_friday(d(2026, 1, 2)), Some(1));
        assert_eq!(nth_friday(d(2026, 1, 9)), Some(2));
        assert_eq!(nth_friday(d(2026, 1, 30)), Some(5));
        assert_eq!(nth_friday(d(2026, 1, 1)), None);
    }

    #[test]
    fn drill_on_follows_the_runbook() {
        let p = DrillPolicy::default();
        assert_eq!(drill_on(&p, d(2026, 1, 2)).expect("ok"), Some(DrillKind::DatabaseFailover));
        assert_eq!(drill_on(&p, d(2026, 1, 9)).expect("ok"), Some(DrillKind::ApplicationRollback));
        assert_eq!(drill_on(&p, d(2026, 1, 16)).expect("ok"), Some(DrillKind::RegionalFailover));
        assert_eq!(drill_on(&p, d(2026, 1, 23)).expect("ok"), Some(DrillKind::FullDisasterRecovery));
        assert_eq!(drill_on(&p, d(2026, 1, 30)).expect("ok"), None, "fifth Friday");
        assert_eq!(drill_on(&p, d(2026, 1, 22)).expect("ok"), None, "Thursday");
    }

    #[test]
    fn a_year_of_drills() {
        let p = DrillPolicy::default();
        let drills = next_drills(&p, utc(2026, 1, 1, 0, 0), 48).expect("valid policy");
        assert_eq!(drills.len(), 48);
        // Every month of 2026 has exactly its four drills, in order, on Fridays 1-4.
        for (month, chunk) in (1..=12).zip(drills.chunks(4)) {
            let kinds: Vec<_> = chunk.iter().map(|s| s.kind).collect();
            assert_eq!(kinds, DrillKind::ALL, "month {month}");
            for (i, s) in chunk.iter().enumerate() {
                assert_eq!(s.date.month(), month);
                assert_eq!(s.date.weekday(), Weekday::Fri);
                assert_eq!(usize::from(s.nth_friday), i + 1);
                assert_eq!(s.starts_at, s.date.and_hms_opt(15, 0, 0).expect("t").and_utc());
            }
        }
        // 2026's five-Friday months: Jan, May, Jul, Oct; their fifth Fridays are skipped.
        for fifth in [d(2026, 1, 30), d(2026, 5, 29), d(2026, 7, 31), d(2026, 10, 30)] {
            assert_eq!(nth_friday(fifth), Some(5));
            assert!(drills.iter().all(|s| s.date != fifth), "{fifth} has no drill");
        }
        assert_eq!(drills[0].date, d(2026, 1, 2));
        assert_eq!(drills[47].date, d(2026, 12, 25));
        assert_eq!(drills.last().map(|s| s.kind), Some(DrillKind::FullDisasterRecovery));
    }

    #[test]
    fn today_counts_only_before_start() {
        let p = DrillPolicy::default();
        // Friday 2026-01-02 is the first Friday; the drill starts 15:00 UTC.
        let before = next_drills(&p, utc(2026, 1, 2, 14, 59), 1).expect("ok");
        assert_eq!(before[0].date, d(2026, 1, 2));
        let at_start = next_drills(&p, utc(2026, 1, 2, 15, 0), 1).expect("ok");
        assert_eq!(at_start[0].date, d(2026, 1, 9));
        // From a Saturday: the following Friday.
        let sat = next_drills(&p, utc(2026, 1, 3, 9, 0), 1).expect("ok");
        assert_eq!((sat[0].date, sat[0].kind), (d(2026, 1, 9), DrillKind::ApplicationRollback));
        // From a fifth Friday: next month's first.
        let fifth = next_drills(&p, utc(2026, 1, 30, 0, 0), 1).expect("ok");
        assert_eq!((fifth[0].date, fifth[0].nth_friday), (d(2026, 2, 6), 1));
    }

    #[test]
    fn schedule_validation() {
        let mut p = DrillPolicy::default();
        p.schedule.push(DrillSlot { nth_friday: 5, drill: DrillKind::DatabaseFailover });
        let err = next_drills(&p, utc(2026, 1, 1, 0, 0), 1).expect_err("fifth");
        assert_eq!(err.kind(), ErrorKind::Policy);
        assert!(err.message().contains("nth_friday 5"), "{err}");

        let mut p = DrillPolicy::default();
        p.schedule.push(DrillSlot { nth_friday: 2, drill: DrillKind::DatabaseFailover });
        assert!(next_drills(&p, utc(2026, 1, 1, 0, 0), 1).expect_err("dup").message().contains("two drills"));

        let p = DrillPolicy { start_time_utc: "3pm".into(), ..DrillPolicy::default() };
        assert!(next_drills(&p, utc(2026, 1, 1, 0, 0), 1).expect_err("time").message().contains("HH:MM"));

        // Partial schedule and empty schedule.
        let p = DrillPolicy {
            schedule: vec![DrillSlot { nth_friday: 3, drill: DrillKind::RegionalFailover }],
            start_time_utc: "09:30".into(),
        };
        let got = next_drills(&p, utc(2026, 1, 1, 0, 0), 2).expect("ok");
        assert_eq!(got.iter().map(|s| s.date).collect::<Vec<_>>(), [d(2026, 1, 16), d(2026, 2, 20)]);
        assert_eq!(got[0].starts_at, utc(2026, 1, 16, 9, 30));
        let empty = DrillPolicy { schedule: vec![], ..DrillPolicy::default() };
        assert!(next_drills(&empty, utc(2026, 1, 1, 0, 0), 5).expect("ok").is_empty());
        assert_eq!(
            next_drills(&DrillPolicy::default(), utc(2026, 1, 1, 0, 0), usize::MAX).expect("ok").len(),
            MAX_DRILLS
        );
    }

    proptest::proptest! {
        #[test]
        fn upcoming_drills_are_fridays_one_to_four_after_from(secs in 0i64..4_102_444_800, n in 0usize..30) {
            let from = DateTime::from_timestamp(secs, 0).expect("in range");
            let drills = next_drills(&DrillPolicy::default(), from, n).expect("valid policy");
            proptest::prop_assert_eq!(drills.len(), n);
            let mut prev = from;
            for s in &drills {
                proptest::prop_assert!(s.starts_at > prev);
                proptest::prop_assert_eq!(s.date.weekday(), Weekday::Fri);
                proptest::prop_assert!((1..=4).contains(&s.nth_friday));
                proptest::prop_assert_eq!(Some(s.nth_friday), nth_friday(s.date));
                prev = s.starts_at;
            }
            // Nothing skipped: no drill Friday lies between `from` and the first listed drill.
            if let Some(first) = drills.first() {
                let mut day = from.date_naive();
                while day < first.date {
                    let skipped = drill_on(&DrillPolicy::default(), day).expect("valid").is_some()
                        && day.and_hms_opt(15, 0, 0).expect("t").and_utc() > from;
                    proptest::prop_assert!(!skipped, "skipped {}", day);
                    day = day.succ_opt().expect("in range");
                }
            }
        }
    }
}
