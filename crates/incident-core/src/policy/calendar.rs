//! Business time: the policy's [`BusinessHours`] as pure functions of instants (no clock).
//!
//! A *working day* is a local date whose weekday is listed and which is not a holiday; its business
//! interval is `[start, end)` local time, turned into instants in the policy's time zone. Business time
//! is the real time elapsed inside those intervals, so a working day that contains a DST change (only
//! possible with hours around 01:00–04:00) is an hour shorter or longer, as the clock on the wall says.
//!
//! Local times that do not exist (the hour skipped when DST starts) are read with the offset in force
//! before the change (02:30 on the day New York springs forward is 03:30 EDT), and local times that
//! happen twice (when DST ends) mean the first of the two: the same rules as RFC 5545.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::BusinessHours;
use crate::Result;

/// How far ahead (in days) the calendar looks for a working day before giving up. Ten years: a valid
/// calendar (at least one weekday, finitely many holidays) never gets near it.
const HORIZON_DAYS: u32 = 3660;

/// A business calendar ready for arithmetic (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    tz: Tz,
    weekdays: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    holidays: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// The calendar of `hours`.
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) naming the field: an unknown time zone, no
    /// weekday, or `start` not before `end`.
    pub fn new(hours: &BusinessHours) -> Result<Self> {
        let tz = hours.tz()?;
        if hours.weekdays.is_empty() {
            return Err(crate::Error::policy(
                "policy field `business_hours.weekdays`: empty: name at least one working day",
            ));
        }
        if hours.start >= hours.end {
            return Err(crate::Error::policy(format!(
                "policy field `business_hours.start`: {} is not before end {} (a working day never spans midnight)",
                hours.start, hours.end
            )));
        }
        let mut weekdays = [false; 7];
        for d in &hours.weekdays {
            weekdays[chrono::Weekday::from(*d).num_days_from_monday() as usize] = true;
        }
        Ok(Self {
            tz,
            weekdays,
            start: hours.start.time(),
            end: hours.end.time(),
            holidays: hours.holidays.iter().copied().collect(),
        })
    }

    /// The time zone.
    #[must_use]
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether the local date `day` is a working day (a listed weekday, not a holiday).
    #[must_use]
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        self.weekdays[day.weekday().num_days_from_monday() as usize] && !self.holidays.contains(&day)
    }

    /// The business interval `[open, close)` of local date `day`, `None` when it is not a working day.
    #[must_use]
    pub fn working_hours(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(day) {
            return None;
        }
        let open = self.instant(day.and_time(self.start));
        let close = self.instant(day.and_time(self.end));
        (open < close).then_some((open, close))
    }

    /// Whether `t` is inside business hours (`open <= t < close` of its local date).
    #[must_use]
    pub fn is_business_time(&self, t: DateTime<Utc>) -> bool {
        self.working_hours(self.local_date(t)).is_some_and(|(open, close)| open <= t && t < close)
    }

    /// The first business instant at or after `t`: `t` itself inside business hours, else the next
    /// opening (a P2 declared Friday 18:00 pages Monday 09:00).
    #[must_use]
    pub fn next_business_instant(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.intervals_from(t).next().map_or(DateTime::<Utc>::MAX_UTC, |(open, _)| open.max(t))
    }

    /// `t + d` counted in business time: only time inside business hours counts, starting at the first
    /// business instant at or after `t` (so `d = 0` is [`BusinessCalendar::next_business_instant`]). A
    /// P2's 2 h response time from Friday 17:00 runs to Monday 10:00; a deadline that uses up a day's
    /// hours exactly falls on its closing time.
    #[must_use]
    pub fn add(&self, t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
        let mut remaining = d.max(TimeDelta::zero());
        for (open, close) in self.intervals_from(t) {
            let from = open.max(t);
            let available = close - from;
            if remaining <= available {
                return from + remaining;
            }
            remaining -= available;
        }
        DateTime::<Utc>::MAX_UTC
    }

    /// Business time between `a` and `b` (zero when `b <= a`).
    #[must_use]
    pub fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        for (open, close) in self.intervals_from(a) {
            if open >= b {
                break;
            }
            total += close.min(b) - open.max(a);
        }
        total.max(TimeDelta::zero())
    }

    /// `t` as a local date-time in the calendar's zone.
    #[must_use]
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.tz)
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local(t).date_naive()
    }

    /// The business intervals that end after `t`, in order (at most [`HORIZON_DAYS`] days ahead).
    fn intervals_from(&self, t: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        self.local_date(t)
            .iter_days()
            .take(HORIZON_DAYS as usize)
            .filter_map(|day| self.working_hours(day))
            .filter(move |(_, close)| *close > t)
    }

    /// The instant of local date-time `local` (see the [module docs](self) for skipped and repeated
    /// times).
    fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => {
                // In a DST gap: use the offset in force before the change (no zone changes twice in 6 h).
                let before = self.tz.offset_from_local_datetime(&(local - TimeDelta::hours(6))).earliest();
                let secs = before.map_or(0, |o| o.fix().local_minus_utc());
                Utc.from_utc_datetime(&(local - TimeDelta::seconds(i64::from(secs))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{LocalTime, Weekday};

    fn cal(tz: &str, weekdays: &[Weekday], hours: (u32, u32, u32, u32), holidays: &[&str]) -> BusinessCalendar {
        let b = BusinessHours {
            timezone: tz.into(),
            weekdays: if weekdays.is_empty() { BusinessHours::default().weekdays } else { weekdays.to_vec() },
            start: LocalTime::hm(hours.0, hours.1),
            end: LocalTime::hm(hours.2, hours.3),
            holidays: holidays.iter().map(|d| d.parse().expect("date")).collect(),
        };
        BusinessCalendar::new(&b).expect("calendar")
    }

    fn office(tz: &str, holidays: &[&str]) -> BusinessCalendar {
        cal(tz, &[], (9, 0, 18, 0), holidays)
    }

    /// `YYYY-MM-DD HH:MM` local time in `c`'s zone (the first of two, the later for a skipped one).
    fn at(c: &BusinessCalendar, local: &str) -> DateTime<Utc> {
        c.instant(NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").expect("local time"))
    }

    fn show(c: &BusinessCalendar, t: DateTime<Utc>) -> String {
        c.local(t).format("%a %Y-%m-%d %H:%M %Z").to_string()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("rfc3339").with_timezone(&Utc)
    }

    fn mins(m: i64) -> TimeDelta {
        TimeDelta::minutes(m)
    }

    #[test]
    fn add_business_time_table() {
        let berlin_holidays = ["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"];
        let sun_thu = [Weekday::Sunday, Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday];
        let all_week = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ];
        // (why, calendar, from (local), business time, expected (local, shown), expected UTC)
        let cases: Vec<(&str, BusinessCalendar, &str, TimeDelta, &str, &str)> = vec![
            (
                "P2 Friday 17:00",
                office("UTC", &[]),
                "2026-12-04 17:00",
                mins(120),
                "Mon 2026-12-07 10:00 UTC",
                "2026-12-07T10:00:00Z",
            ),
            (
                "P2 Friday 18:00 (closed)",
                office("UTC", &[]),
                "2026-12-04 18:00",
                mins(120),
                "Mon 2026-12-07 11:00 UTC",
                "2026-12-07T11:00:00Z",
            ),
            (
                "Saturday night, d = 0",
                office("UTC", &[]),
                "2026-12-05 03:00",
                mins(0),
                "Mon 2026-12-07 09:00 UTC",
                "2026-12-07T09:00:00Z",
            ),
            (
                "inside one day",
                office("UTC", &[]),
                "2026-12-08 10:00",
                mins(120),
                "Tue 2026-12-08 12:00 UTC",
                "2026-12-08T12:00:00Z",
            ),
            (
                "ends exactly at closing",
                office("UTC", &[]),
                "2026-12-08 16:00",
                mins(120),
                "Tue 2026-12-08 18:00 UTC",
                "2026-12-08T18:00:00Z",
            ),
            (
                "P3 24 h over three days",
                office("UTC", &[]),
                "2026-12-08 17:00",
                mins(24 * 60),
                "Fri 2026-12-11 14:00 UTC",
                "2026-12-11T14:00:00Z",
            ),
            (
                "one minute before midnight",
                office("UTC", &[]),
                "2026-12-08 23:59",
                mins(30),
                "Wed 2026-12-09 09:30 UTC",
                "2026-12-09T09:30:00Z",
            ),
            (
                "at midnight",
                office("UTC", &[]),
                "2026-12-09 00:00",
                mins(60),
                "Wed 2026-12-09 10:00 UTC",
                "2026-12-09T10:00:00Z",
            ),
            (
                "before opening",
                office("UTC", &[]),
                "2026-12-09 08:59",
                mins(1),
                "Wed 2026-12-09 09:01 UTC",
                "2026-12-09T09:01:00Z",
            ),
            // New York: DST starts Sunday 2026-03-08, ends Sunday 2026-11-01.
            (
                "NY over spring-forward weekend",
                office("America/New_York", &[]),
                "2026-03-06 17:00",
                mins(120),
                "Mon 2026-03-09 10:00 EDT",
                "2026-03-09T14:00:00Z",
            ),
            (
                "NY over fall-back weekend",
                office("America/New_York", &[]),
                "2026-10-30 17:00",
                mins(120),
                "Mon 2026-11-02 10:00 EST",
                "2026-11-02T15:00:00Z",
            ),
            (
                "NY 24 h ends at Monday's close",
                office("America/New_York", &[]),
                "2026-03-05 12:00",
                mins(24 * 60),
                "Mon 2026-03-09 18:00 EDT",
                "2026-03-09T22:00:00Z",
            ),
            (
                "NY 25 h across spring-forward",
                office("America/New_York", &[]),
                "2026-03-05 12:00",
                mins(25 * 60),
                "Tue 2026-03-10 10:00 EDT",
                "2026-03-10T14:00:00Z",
            ),
            // Berlin: DST starts Sunday 2026-03-29, ends Sunday 2026-10-25.
            (
                "Berlin over spring-forward",
                office("Europe/Berlin", &[]),
                "2026-03-27 17:30",
                mins(120),
                "Mon 2026-03-30 10:30 CEST",
                "2026-03-30T08:30:00Z",
            ),
            (
                "Berlin over fall-back",
                office("Europe/Berlin", &[]),
                "2026-10-23 17:00",
                mins(120),
                "Mon 2026-10-26 10:00 CET",
                "2026-10-26T09:00:00Z",
            ),
            (
                "Berlin Christmas holidays",
                office("Europe/Berlin", &berlin_holidays),
                "2026-12-23 17:00",
                mins(120),
                "Mon 2026-12-28 10:00 CET",
                "2026-12-28T09:00:00Z",
            ),
            (
                "Berlin New Year",
                office("Europe/Berlin", &berlin_holidays),
                "2026-12-30 17:30",
                mins(60),
                "Mon 2027-01-04 09:30 CET",
                "2027-01-04T08:30:00Z",
            ),
            (
                "holiday on a Monday",
                office("UTC", &["2026-12-07"]),
                "2026-12-04 17:00",
                mins(120),
                "Tue 2026-12-08 10:00 UTC",
                "2026-12-08T10:00:00Z",
            ),
            // Tokyo (no DST) and Sydney (southern hemisphere: DST ends Sunday 2026-04-05).
            (
                "Tokyo Friday evening",
                office("Asia/Tokyo", &[]),
                "2026-12-04 17:00",
                mins(120),
                "Mon 2026-12-07 10:00 JST",
                "2026-12-07T01:00:00Z",
            ),
            (
                "Sydney over DST end",
                office("Australia/Sydney", &[]),
                "2026-04-03 17:00",
                mins(120),
                "Mon 2026-04-06 10:00 AEST",
                "2026-04-06T00:00:00Z",
            ),
            // A Sunday–Thursday week.
            (
                "Sunday-Thursday week",
                cal("Asia/Jerusalem", &sun_thu, (9, 0, 18, 0), &[]),
                "2026-12-03 17:00",
                mins(120),
                "Sun 2026-12-06 10:00 IST",
                "2026-12-06T08:00:00Z",
            ),
            // Hours around the DST change itself: business time is real elapsed time.
            (
                "01:00-04:00 on spring-forward day is 2 h",
                cal("America/New_York", &all_week, (1, 0, 4, 0), &[]),
                "2026-03-08 01:00",
                mins(120),
                "Sun 2026-03-08 04:00 EDT",
                "2026-03-08T08:00:00Z",
            ),
            (
                "spring-forward day's hours used up",
                cal("America/New_York", &all_week, (1, 0, 4, 0), &[]),
                "2026-03-08 01:00",
                mins(150),
                "Mon 2026-03-09 01:30 EDT",
                "2026-03-09T05:30:00Z",
            ),
            (
                "01:00-04:00 on fall-back day is 4 h",
                cal("America/New_York", &all_week, (1, 0, 4, 0), &[]),
                "2026-11-01 01:00",
                mins(210),
                "Sun 2026-11-01 03:30 EST",
                "2026-11-01T08:30:00Z",
            ),
            (
                "opening inside the skipped hour",
                cal("America/New_York", &all_week, (2, 30, 5, 0), &[]),
                "2026-03-08 00:00",
                mins(0),
                "Sun 2026-03-08 03:30 EDT",
                "2026-03-08T07:30:00Z",
            ),
        ];
        for (why, c, from, d, want_local, want_utc) in cases {
            let got = c.add(at(&c, from), d);
            assert_eq!(show(&c, got), want_local, "{why}");
            assert_eq!(got, utc(want_utc), "{why}");
        }
    }

    #[test]
    fn next_business_instant_table() {
        let ny = office("America/New_York", &["2026-11-26"]);
        let cases = [
            ("inside hours: itself", "2026-12-08 10:15", "Tue 2026-12-08 10:15 EST"),
            ("opening: itself", "2026-12-08 09:00", "Tue 2026-12-08 09:00 EST"),
            ("closing is outside", "2026-12-08 18:00", "Wed 2026-12-09 09:00 EST"),
            ("Friday 18:00 → Monday 09:00", "2026-12-04 18:00", "Mon 2026-12-07 09:00 EST"),
            ("Sunday during spring-forward", "2026-03-08 02:00", "Mon 2026-03-09 09:00 EDT"),
            ("Sunday during fall-back", "2026-11-01 01:30", "Mon 2026-11-02 09:00 EST"),
            ("Thanksgiving holiday", "2026-11-25 18:30", "Fri 2026-11-27 09:00 EST"),
            ("just before midnight", "2026-12-08 23:59", "Wed 2026-12-09 09:00 EST"),
        ];
        for (why, from, want) in cases {
            assert_eq!(show(&ny, ny.next_business_instant(at(&ny, from))), want, "{why}");
        }
        // Midnight boundaries in UTC while the calendar's zone is far from it.
        let tokyo = office("Asia/Tokyo", &[]);
        assert_eq!(show(&tokyo, tokyo.next_business_instant(utc("2026-12-04T23:59:00Z"))), "Mon 2026-12-07 09:00 JST");
        assert_eq!(show(&tokyo, tokyo.next_business_instant(utc("2026-12-07T00:30:00Z"))), "Mon 2026-12-07 09:30 JST");
    }

    #[test]
    fn business_time_between_and_membership() {
        let c = office("Europe/Berlin", &["2026-12-25"]);
        let fri = at(&c, "2026-12-04 17:00");
        assert_eq!(c.between(fri, at(&c, "2026-12-07 10:00")), mins(120));
        assert_eq!(c.between(fri, fri), TimeDelta::zero());
        assert_eq!(c.between(at(&c, "2026-12-24 12:00"), at(&c, "2026-12-28 09:30")), mins(6 * 60 + 30));
        assert!(c.is_business_time(at(&c, "2026-12-04 09:00")));
        assert!(!c.is_business_time(at(&c, "2026-12-04 18:00")));
        assert!(!c.is_business_time(at(&c, "2026-12-05 12:00")), "Saturday");
        assert!(!c.is_business_time(at(&c, "2026-12-25 12:00")), "holiday");
        // add and between agree: between(t, add(t, d)) = d.
        for (from, m) in [("2026-12-04 17:00", 120), ("2026-12-23 11:00", 24 * 60), ("2026-03-27 08:00", 1000)] {
            let t = at(&c, from);
            assert_eq!(c.between(t, c.add(t, mins(m))), mins(m), "{from} + {m}m");
        }
    }

    #[test]
    fn invalid_calendars_are_policy_errors_naming_the_field() {
        let mut b = BusinessHours { timezone: "Europe/Berlinn".into(), ..BusinessHours::default() };
        let e = BusinessCalendar::new(&b).expect_err("bad zone");
        assert_eq!(e.kind(), crate::ErrorKind::Policy);
        assert!(e.message().contains("`business_hours.timezone`"), "{e}");
        b.timezone = "UTC".into();
        b.weekdays.clear();
        assert!(BusinessCalendar::new(&b).expect_err("no days").message().contains("`business_hours.weekdays`"));
        b = BusinessHours { start: LocalTime::hm(18, 0), end: LocalTime::hm(9, 0), ..BusinessHours::default() };
        assert!(BusinessCalendar::new(&b).expect_err("backwards").message().contains("`business_hours.start`"));
    }
}
