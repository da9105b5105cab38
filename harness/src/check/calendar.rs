//! The checker's own calendar: which local day a bank's clock reading falls
//! on, and whether a card is expired then.
//!
//! Written from the protocol's rules, not from the bank's code, so a bank
//! that gets its calendar wrong is judged by one that does not share the
//! mistake: a card is valid through the last day of its expiry month
//! (DE14 YYMM, years 2000-2099), and daily limits reset at local midnight
//! of the bank's clock. The bank's clock reads milliseconds since an
//! [`Epoch`]: a day count from 1970-01-01 and a time of day. This module
//! walks forward from 1970-01-01 a month at a time (after skipping whole
//! 400-year Gregorian cycles, which repeat exactly), where the nodes
//! convert day numbers with a closed formula.

use crate::history::Epoch;
use crate::wire::types::Expiry;

/// Milliseconds in a civil day (no leap seconds on a bank's clock).
const DAY_MS: u64 = 86_400_000;

/// Days in 400 Gregorian years: the calendar repeats after them.
const CYCLE_DAYS: u64 = 400 * 365 + 100 - 4 + 1;

/// A date on the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Date {
    year: i64,
    month: u8,
    day: u8,
}

/// Whether `year` has a February 29th.
fn is_leap(year: i64) -> bool {
    let divisible = |by: i64| year.rem_euclid(by) == 0;
    divisible(4) && (!divisible(100) || divisible(400))
}

/// Days in `month` (1..=12) of `year`.
fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// A valid date, or none.
    #[cfg(test)]
    fn new(year: i64, month: u8, day: u8) -> Option<Date> {
        let valid = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
        valid.then_some(Date { year, month, day })
    }

    /// The date `days` days later.
    fn plus_days(self, days: u64) -> Date {
        let cycles = days / CYCLE_DAYS;
        let mut left = days % CYCLE_DAYS;
        let mut date = Date {
            year: self.year + 400 * cycles as i64,
            ..self
        };
        loop {
            // From `date` to the first of the next month.
            let to_next_month = u64::from(days_in_month(date.year, date.month) - date.day) + 1;
            if left < to_next_month {
                date.day += left as u8;
                return date;
            }
            left -= to_next_month;
            date.day = 1;
            if date.month == 12 {
                date.month = 1;
                date.year += 1;
            } else {
                date.month += 1;
            }
        }
    }

    /// The last day a card expiring in `expiry` may be used.
    fn last_valid_day(expiry: Expiry) -> Date {
        let year = 2000 + i64::from(expiry.year);
        let month = expiry.month.clamp(1, 12);
        Date {
            year,
            month,
            day: days_in_month(year, month),
        }
    }
}

impl Date {
    /// 1970-01-01, where day counts start.
    const UNIX: Date = Date {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// The date `days` days after 1970-01-01 (before it when negative).
    fn from_days_since_1970(days: i64) -> Date {
        if days >= 0 {
            return Date::UNIX.plus_days(days as u64);
        }
        // Start whole 400-year cycles earlier, then walk forward.
        let cycles = days.unsigned_abs().div_ceil(CYCLE_DAYS);
        let start = Date {
            year: 1970 - 400 * cycles as i64,
            ..Date::UNIX
        };
        start.plus_days((cycles * CYCLE_DAYS).saturating_add_signed(days))
    }
}

/// A bank's clock on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BankCalendar {
    /// Days since 1970-01-01 of the local date at the start.
    epoch_days: i64,
    /// Milliseconds after local midnight at the start.
    epoch_ms_of_day: i64,
    /// What the bank's clock read at the start.
    clock_reads_ms: i64,
}

impl BankCalendar {
    /// The calendar of a bank whose clock started at `epoch`, or none if
    /// its time of day is no time of day.
    pub(super) fn new(epoch: &Epoch) -> Option<BankCalendar> {
        let epoch_ms_of_day = i64::from(epoch.second_of_day) * 1000;
        (epoch_ms_of_day < DAY_MS as i64).then_some(BankCalendar {
            epoch_days: epoch.days_since_1970,
            epoch_ms_of_day,
            clock_reads_ms: i64::try_from(epoch.clock_reads_ms).ok()?,
        })
    }

    /// The local day at the clock reading `at_ms`, as days since 1970: it
    /// changes at every local midnight, which is when daily limits reset.
    pub(super) fn day(&self, at_ms: u64) -> i64 {
        let since_start_ms = i64::try_from(at_ms).unwrap_or(i64::MAX) - self.clock_reads_ms;
        self.epoch_days + (self.epoch_ms_of_day + since_start_ms).div_euclid(DAY_MS as i64)
    }

    /// The local date at the clock reading `at_ms`.
    pub(super) fn date(&self, at_ms: u64) -> Date {
        Date::from_days_since_1970(self.day(at_ms))
    }

    /// Whether a card expiring in `expiry` is expired at `at_ms`: it is
    /// valid through the last day of its month.
    pub(super) fn is_expired(&self, expiry: Expiry, at_ms: u64) -> bool {
        self.date(at_ms) > Date::last_valid_day(expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;

    fn date(year: i64, month: u8, day: u8) -> Date {
        Date::new(year, month, day).expect("a real date")
    }

    /// Days since 1970-01-01 of dates the tests start from, from Python's
    /// `datetime.date`.
    fn days_since_1970(year: i64, month: u8, day: u8) -> i64 {
        match (year, month, day) {
            (2026, 11, 22) => 20_779,
            (2026, 12, 31) => 20_818,
            (2027, 2, 28) => 20_877,
            (2028, 2, 29) => 21_243,
            other => panic!("no anchor for {other:?}"),
        }
    }

    fn clock_from(year: i64, month: u8, day: u8, second_of_day: u32) -> BankCalendar {
        BankCalendar::new(&Epoch {
            days_since_1970: days_since_1970(year, month, day),
            second_of_day,
            clock_reads_ms: 0,
        })
        .expect("a real time of day")
    }

    fn expiry(yymm: &str) -> Expiry {
        Expiry::from_wire(yymm).expect("a valid expiry")
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap(2024) && is_leap(2000) && is_leap(2400) && is_leap(-4));
        assert!(!is_leap(2026) && !is_leap(1900) && !is_leap(2100));
        assert_eq!(date(2024, 2, 28).plus_days(1), date(2024, 2, 29));
        assert_eq!(date(2024, 2, 28).plus_days(2), date(2024, 3, 1));
        assert_eq!(date(2100, 2, 28).plus_days(1), date(2100, 3, 1));
        assert_eq!(date(2000, 2, 28).plus_days(1), date(2000, 2, 29));
        assert!(Date::new(2026, 2, 29).is_none());
        assert!(Date::new(2028, 2, 29).is_some());
    }

    #[test]
    fn days_carry_over_month_and_year_ends() {
        assert_eq!(date(2026, 1, 31).plus_days(1), date(2026, 2, 1));
        assert_eq!(date(2026, 4, 30).plus_days(1), date(2026, 5, 1));
        assert_eq!(date(2026, 12, 31).plus_days(1), date(2027, 1, 1));
        assert_eq!(date(2026, 11, 22).plus_days(0), date(2026, 11, 22));
        assert_eq!(date(2026, 11, 22).plus_days(39), date(2026, 12, 31));
        assert_eq!(date(2026, 11, 22).plus_days(40), date(2027, 1, 1));
        assert_eq!(date(2025, 1, 1).plus_days(365), date(2026, 1, 1));
        assert_eq!(date(2024, 1, 1).plus_days(365), date(2024, 12, 31));
    }

    #[test]
    fn long_spans_agree_with_independent_anchors() {
        // Day counts from Python's datetime.date.
        assert_eq!(date(1970, 1, 1).plus_days(20_779), date(2026, 11, 22));
        assert_eq!(date(1970, 1, 1).plus_days(11_017), date(2000, 3, 1));
        assert_eq!(date(2026, 11, 22).plus_days(136_334), date(2400, 2, 29));
        assert_eq!(date(2026, 11, 22).plus_days(100_000), date(2300, 9, 7));
        assert_eq!(date(2026, 11, 22).plus_days(CYCLE_DAYS), date(2426, 11, 22));
    }

    #[test]
    fn a_jump_equals_as_many_single_days() {
        let start = date(2023, 12, 30);
        let mut stepped = start;
        for days in 1..=3_000u64 {
            stepped = stepped.plus_days(1);
            assert_eq!(start.plus_days(days), stepped, "{days} days after {start:?}");
        }
    }

    #[test]
    fn the_day_changes_at_local_midnight() {
        let calendar = clock_from(2026, 11, 22, 9 * 3600);
        assert_eq!(calendar.day(0), 20_779);
        assert_eq!(calendar.day(15 * HOUR_MS - 1), 20_779);
        assert_eq!(calendar.day(15 * HOUR_MS), 20_780);
        assert_eq!(calendar.date(15 * HOUR_MS), date(2026, 11, 23));
        assert_eq!(calendar.day(39 * HOUR_MS - 1), 20_780);
        assert_eq!(calendar.day(39 * HOUR_MS), 20_781);
        let midnight = clock_from(2026, 12, 31, 0);
        assert_eq!(midnight.date(24 * HOUR_MS - 1), date(2026, 12, 31));
        assert_eq!(midnight.date(24 * HOUR_MS), date(2027, 1, 1));
    }

    #[test]
    fn a_card_is_valid_through_the_last_day_of_its_month() {
        let november = clock_from(2026, 11, 22, 9 * 3600);
        assert!(!november.is_expired(expiry("2611"), 0));
        assert!(november.is_expired(expiry("2610"), 0));
        assert!(!november.is_expired(expiry("2612"), 0));
        assert!(!november.is_expired(expiry("3001"), 0));
        assert!(november.is_expired(expiry("2512"), 0));
        // 2026-11-30 ends 8 days and 15 hours after the epoch.
        let end_of_month = 8 * 24 * HOUR_MS + 15 * HOUR_MS;
        assert!(!november.is_expired(expiry("2611"), end_of_month - 1));
        assert!(november.is_expired(expiry("2611"), end_of_month));
    }

    #[test]
    fn expiry_crosses_year_ends_and_leap_days() {
        let new_year = clock_from(2026, 12, 31, 23 * 3600);
        assert!(!new_year.is_expired(expiry("2612"), HOUR_MS - 1));
        assert!(new_year.is_expired(expiry("2612"), HOUR_MS));
        assert!(!new_year.is_expired(expiry("2701"), HOUR_MS));
        let leap = clock_from(2028, 2, 29, 0);
        assert!(!leap.is_expired(expiry("2802"), 24 * HOUR_MS - 1));
        assert!(leap.is_expired(expiry("2802"), 24 * HOUR_MS));
        let common = clock_from(2027, 2, 28, 0);
        assert!(!common.is_expired(expiry("2702"), 24 * HOUR_MS - 1));
        assert!(common.is_expired(expiry("2702"), 24 * HOUR_MS));
    }

    #[test]
    fn day_counts_start_at_1970_both_ways() {
        assert_eq!(Date::from_days_since_1970(0), date(1970, 1, 1));
        assert_eq!(Date::from_days_since_1970(20_779), date(2026, 11, 22));
        // From Python's datetime.date: 1969-12-31, 1900-03-01, 1600-02-29.
        assert_eq!(Date::from_days_since_1970(-1), date(1969, 12, 31));
        assert_eq!(Date::from_days_since_1970(-25_508), date(1900, 3, 1));
        assert_eq!(Date::from_days_since_1970(-135_081), date(1600, 2, 29));
        for days in (-200_000..200_000).step_by(997) {
            assert_eq!(
                Date::from_days_since_1970(days).plus_days(1),
                Date::from_days_since_1970(days + 1),
                "{days}"
            );
        }
    }

    #[test]
    fn a_clock_that_reads_more_at_the_start_shows_the_same_dates() {
        // The simulation's clocks read a day at the start: the same 09:00
        // on 2026-11-22 is then the reading 86,400,000.
        let shifted = BankCalendar::new(&Epoch {
            days_since_1970: 20_779,
            second_of_day: 9 * 3600,
            clock_reads_ms: 86_400_000,
        })
        .unwrap();
        let plain = clock_from(2026, 11, 22, 9 * 3600);
        for at_ms in [0, 15 * HOUR_MS - 1, 15 * HOUR_MS, 40 * HOUR_MS] {
            assert_eq!(shifted.date(86_400_000 + at_ms), plain.date(at_ms), "{at_ms}");
        }
        // A clock set back below its start reading still has a date.
        assert_eq!(shifted.date(86_400_000 - 10 * HOUR_MS), date(2026, 11, 21));
    }

    #[test]
    fn an_impossible_time_of_day_is_refused() {
        let epoch = |second_of_day| Epoch {
            days_since_1970: 20_779,
            second_of_day,
            clock_reads_ms: 0,
        };
        assert!(BankCalendar::new(&epoch(86_400)).is_none());
        assert!(BankCalendar::new(&epoch(86_399)).is_some());
    }
}
