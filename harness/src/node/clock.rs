//! Simulated time and the calendar the nodes see.
//!
//! Nodes never read a clock: every input carries `now`, the host's local
//! clock in milliseconds since the run's epoch (clock skew is applied by the
//! driver before the node sees it). This module turns that into the
//! calendar fields of the wire (DE7, DE12, DE13) and expiry comparisons.

use serde::{Deserialize, Serialize};

use super::bug::{Bug, Bugs};
use crate::wire::types::{Expiry, LocalDate, LocalTime, TransmissionTime};

/// A host's local time: milliseconds since the run's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + duration_ms`, saturating.
    pub fn plus(self, duration_ms: u64) -> Millis {
        Millis(self.0.saturating_add(duration_ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Where the run's epoch (`Millis(0)`) sits on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Days since 1970-01-01 of the epoch's date.
    pub epoch_day: i64,
    /// Seconds after midnight of the epoch.
    pub epoch_second: u32,
}

impl Default for Calendar {
    /// 2026-11-22 09:00:00 local time.
    fn default() -> Calendar {
        Calendar {
            epoch_day: days_from_civil(2026, 11, 22),
            epoch_second: 9 * 3600,
        }
    }
}

/// A date on the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CivilDate {
    /// Full year.
    pub year: i64,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
}

impl Calendar {
    fn split(&self, now: Millis) -> (i64, u32) {
        let seconds = i64::from(self.epoch_second) + (now.0 / 1000) as i64;
        (self.epoch_day + seconds / 86_400, (seconds % 86_400) as u32)
    }

    /// The same calendar for a clock that reads `origin_ms` more: local time
    /// `Millis(origin_ms)` shows what `Millis(0)` showed before.
    pub fn with_origin(&self, origin_ms: u64) -> Calendar {
        let seconds = i64::from(self.epoch_second) - (origin_ms / 1000) as i64;
        Calendar {
            epoch_day: self.epoch_day + seconds.div_euclid(86_400),
            epoch_second: seconds.rem_euclid(86_400) as u32,
        }
    }

    /// The calendar date at `now`.
    pub fn date(&self, now: Millis) -> CivilDate {
        civil_from_days(self.split(now).0)
    }

    /// DE13 at `now`.
    pub fn local_date(&self, now: Millis) -> LocalDate {
        let date = self.date(now);
        LocalDate::new(date.month, date.day).expect("civil dates are valid")
    }

    /// DE12 at `now`.
    pub fn local_time(&self, now: Millis) -> LocalTime {
        LocalTime {
            seconds: self.split(now).1,
        }
    }

    /// DE7 at `now`.
    pub fn transmission_time(&self, now: Millis) -> TransmissionTime {
        TransmissionTime {
            date: self.local_date(now),
            time: self.local_time(now),
        }
    }

    /// Whether a card with this expiry is expired at `now` (valid through
    /// the last day of its month), for a bank running with `bugs`.
    pub fn is_expired(&self, expiry: Expiry, now: Millis, bugs: &Bugs) -> bool {
        let date = self.date(now);
        let year = 2000 + i64::from(expiry.year);
        if bugs.has(Bug::BankExpiryOffByOneMonth) {
            // The month after the expiry month still counts as valid.
            let month_after = if expiry.month == 12 {
                (year + 1, 1)
            } else {
                (year, expiry.month + 1)
            };
            return (date.year, date.month) > month_after;
        }
        (date.year, date.month) > (year, expiry.month)
    }

    /// Day number at `now` (for daily limits).
    pub fn day_number(&self, now: Millis) -> i64 {
        self.split(now).0
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> CivilDate {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    CivilDate { year, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_conversion_round_trips_across_leap_years() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in (-800_000..800_000).step_by(37) {
            let date = civil_from_days(days);
            assert_eq!(days_from_civil(date.year, date.month, date.day), days);
        }
        assert_eq!(
            civil_from_days(days_from_civil(2028, 2, 29)),
            CivilDate {
                year: 2028,
                month: 2,
                day: 29
            }
        );
    }

    #[test]
    fn calendar_crosses_midnight() {
        let calendar = Calendar::default();
        assert_eq!(calendar.transmission_time(Millis(0)).to_wire(), "1122090000");
        let next_day = Millis(15 * 3600 * 1000 + 1000);
        assert_eq!(calendar.transmission_time(next_day).to_wire(), "1123000001");
    }

    #[test]
    fn a_shifted_origin_shows_the_same_time() {
        let calendar = Calendar::default();
        let shifted = calendar.with_origin(86_400_000 + 1_500);
        assert_eq!(
            shifted.transmission_time(Millis(86_400_000 + 1_500)),
            calendar.transmission_time(Millis(0))
        );
        assert_eq!(
            shifted.day_number(Millis(86_400_000 + 1_500)),
            calendar.day_number(Millis(0))
        );
    }

    #[test]
    fn expiry_is_valid_through_its_month() {
        let calendar = Calendar::default();
        let correct = Bugs::none();
        assert!(!calendar.is_expired(Expiry { year: 26, month: 11 }, Millis(0), &correct));
        assert!(calendar.is_expired(Expiry { year: 26, month: 10 }, Millis(0), &correct));
        assert!(!calendar.is_expired(Expiry { year: 30, month: 1 }, Millis(0), &correct));
    }

    #[test]
    fn the_planted_bug_accepts_the_month_after_expiry() {
        let calendar = Calendar::default();
        let buggy = Bugs::of([Bug::BankExpiryOffByOneMonth]);
        assert!(!calendar.is_expired(Expiry { year: 26, month: 10 }, Millis(0), &buggy));
        assert!(calendar.is_expired(Expiry { year: 26, month: 9 }, Millis(0), &buggy));
        let new_year = Calendar {
            epoch_day: days_from_civil(2027, 1, 15),
            epoch_second: 0,
        };
        assert!(!new_year.is_expired(Expiry { year: 26, month: 12 }, Millis(0), &buggy));
        assert!(new_year.is_expired(Expiry { year: 26, month: 12 }, Millis(0), &Bugs::none()));
    }
}
