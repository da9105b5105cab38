//! Newtypes for the values that cross module boundaries: money, currencies,
//! trace numbers, identifiers, dates and the codes of the dialect.
//!
//! Each type parses from and formats to its wire representation, so a value
//! that exists is a value that can be sent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A value that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {what}: {value:?} ({why})")]
pub struct ValueError {
    /// The type, e.g. "STAN".
    pub what: &'static str,
    /// The offending text.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

fn value_error(what: &'static str, value: &str, why: &'static str) -> ValueError {
    ValueError {
        what,
        value: value.chars().take(64).collect(),
        why,
    }
}

fn parse_digits(what: &'static str, text: &str, len: usize) -> Result<u64, ValueError> {
    if text.len() != len {
        return Err(value_error(what, text, "wrong length"));
    }
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(value_error(what, text, "not all digits"));
    }
    text.parse().map_err(|_| value_error(what, text, "out of range"))
}

/// An amount in minor units of some currency (DE4 is n12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Amount(u64);

impl Amount {
    /// Largest amount DE4 can carry: twelve nines.
    pub const MAX: Amount = Amount(999_999_999_999);
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `minor` units, if it fits twelve digits.
    pub fn new(minor: u64) -> Option<Amount> {
        (minor <= Amount::MAX.0).then_some(Amount(minor))
    }

    /// The number of minor units.
    pub fn minor_units(self) -> u64 {
        self.0
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Sum, if it still fits twelve digits.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).and_then(Amount::new)
    }

    /// Difference, if not negative.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The 12-digit wire form.
    pub fn to_wire(self) -> String {
        format!("{:012}", self.0)
    }

    /// Parse the 12-digit wire form.
    pub fn from_wire(text: &str) -> Result<Amount, ValueError> {
        parse_digits("amount", text, 12).map(Amount)
    }
}

/// An ISO 4217 currency, by its numeric code (DE49).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Currency(u16);

/// The ISO 4217 currencies this dialect knows: (numeric code, alphabetic
/// code, exponent).
const CURRENCIES: &[(u16, &str, u8)] = &[
    (48, "BHD", 3),
    (156, "CNY", 2),
    (344, "HKD", 2),
    (392, "JPY", 0),
    (410, "KRW", 0),
    (414, "KWD", 3),
    (756, "CHF", 2),
    (826, "GBP", 2),
    (840, "USD", 2),
    (978, "EUR", 2),
];

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(978);
    /// US dollar.
    pub const USD: Currency = Currency(840);
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency(392);
    /// Bahraini dinar (three decimals).
    pub const BHD: Currency = Currency(48);
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency(156);

    /// A known currency by numeric code.
    pub fn from_numeric(code: u16) -> Option<Currency> {
        CURRENCIES
            .iter()
            .any(|(numeric, _, _)| *numeric == code)
            .then_some(Currency(code))
    }

    /// A known currency by alphabetic code (`"EUR"`).
    pub fn from_alpha(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(_, alpha, _)| alpha.eq_ignore_ascii_case(code))
            .map(|(numeric, _, _)| Currency(*numeric))
    }

    fn entry(self) -> &'static (u16, &'static str, u8) {
        CURRENCIES
            .iter()
            .find(|(numeric, _, _)| *numeric == self.0)
            .expect("constructed from the table")
    }

    /// The numeric code.
    pub fn numeric(self) -> u16 {
        self.0
    }

    /// The alphabetic code.
    pub fn alpha(self) -> &'static str {
        self.entry().1
    }

    /// Number of decimals of the minor unit (JPY 0, EUR 2, BHD 3).
    pub fn exponent(self) -> u8 {
        self.entry().2
    }

    /// The 3-digit wire form.
    pub fn to_wire(self) -> String {
        format!("{:03}", self.0)
    }

    /// Parse the 3-digit wire form; unknown currencies are errors.
    pub fn from_wire(text: &str) -> Result<Currency, ValueError> {
        let code = parse_digits("currency", text, 3)?;
        Currency::from_numeric(code as u16)
            .ok_or_else(|| value_error("currency", text, "not a known ISO 4217 code"))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha())
    }
}

/// An amount with its currency. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units.
    pub amount: Amount,
    /// Currency of the minor units.
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`; `None` past twelve digits.
    pub fn new(minor: u64, currency: Currency) -> Option<Money> {
        Amount::new(minor).map(|amount| Money { amount, currency })
    }
}

impl fmt::Display for Money {
    /// `12.34 EUR`, `1500 JPY`, `1.250 BHD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = u32::from(self.currency.exponent());
        let minor = self.amount.minor_units();
        if exponent == 0 {
            return write!(f, "{minor} {}", self.currency);
        }
        let scale = 10u64.pow(exponent);
        write!(
            f,
            "{}.{:0width$} {}",
            minor / scale,
            minor % scale,
            self.currency,
            width = exponent as usize
        )
    }
}

impl FromStr for Money {
    type Err = ValueError;

    /// Parse `"12.34 EUR"`. The number of decimals must not exceed the
    /// currency's exponent (`"12.345 EUR"` is an error, not a rounding).
    fn from_str(text: &str) -> Result<Money, ValueError> {
        let (number, code) = text.trim().split_once(' ').ok_or_else(|| {
            value_error(
                "money",
                text,
                "expected \"<amount> <currency>\", e.g. \"12.34 EUR\"",
            )
        })?;
        let currency = Currency::from_alpha(code.trim())
            .ok_or_else(|| value_error("money", text, "unknown currency code"))?;
        let exponent = usize::from(currency.exponent());
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() || !whole.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(value_error(
                "money",
                text,
                "the amount must be a plain decimal number",
            ));
        }
        if !fraction.bytes().all(|byte| byte.is_ascii_digit())
            || (number.contains('.') && fraction.is_empty())
        {
            return Err(value_error(
                "money",
                text,
                "the amount must be a plain decimal number",
            ));
        }
        if fraction.len() > exponent {
            return Err(value_error("money", text, "more decimals than the currency has"));
        }
        let padded = format!("{whole}{fraction:0<exponent$}");
        let minor: u64 = padded
            .parse()
            .map_err(|_| value_error("money", text, "amount too large"))?;
        Money::new(minor, currency)
            .ok_or_else(|| value_error("money", text, "more than twelve digits of minor units"))
    }
}

/// A system trace audit number (DE11): 1..=999999, per terminal, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stan(u32);

impl Stan {
    /// The first STAN a fresh terminal uses.
    pub const FIRST: Stan = Stan(1);

    /// A STAN, if within 1..=999999.
    pub fn new(value: u32) -> Option<Stan> {
        (1..=999_999).contains(&value).then_some(Stan(value))
    }

    /// The number.
    pub fn value(self) -> u32 {
        self.0
    }

    /// The next STAN, wrapping from 999999 to 1.
    pub fn next(self) -> Stan {
        if self.0 >= 999_999 {
            Stan(1)
        } else {
            Stan(self.0 + 1)
        }
    }

    /// Six-digit wire form.
    pub fn to_wire(self) -> String {
        format!("{:06}", self.0)
    }

    /// Parse the wire form.
    pub fn from_wire(text: &str) -> Result<Stan, ValueError> {
        let value = parse_digits("STAN", text, 6)?;
        Stan::new(value as u32).ok_or_else(|| value_error("STAN", text, "zero is not a STAN"))
    }
}

impl fmt::Display for Stan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $min:literal, $max:literal, $check:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parse and validate.
            pub fn new(text: &str) -> Result<$name, ValueError> {
                if text.len() < $min || text.len() > $max {
                    return Err(value_error($what, text, concat!("length must be ", $min, " to ", $max)));
                }
                let check: fn(u8) -> bool = $check;
                if !text.bytes().all(check) {
                    return Err(value_error($what, text, "character not allowed"));
                }
                Ok($name(text.to_string()))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(text: String) -> Result<$name, ValueError> {
                $name::new(&text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(text: &str) -> Result<$name, ValueError> {
                $name::new(text)
            }
        }
    };
}

fn printable(byte: u8) -> bool {
    (0x20..0x7F).contains(&byte)
}

fn alphanumeric(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn digit(byte: u8) -> bool {
    byte.is_ascii_digit()
}

text_id!(
    /// Card acceptor terminal id (DE41): exactly 8 printable characters.
    TerminalId, "terminal id", 8, 8, printable
);
text_id!(
    /// Card acceptor (merchant) id (DE42): exactly 15 printable characters.
    MerchantId, "merchant id", 15, 15, printable
);
text_id!(
    /// Primary account number (DE2): 12 to 19 digits.
    Pan, "PAN", 12, 19, digit
);
text_id!(
    /// Retrieval reference number (DE37): exactly 12 alphanumerics.
    Rrn, "RRN", 12, 12, alphanumeric
);
text_id!(
    /// Approval code (DE38): exactly 6 alphanumerics.
    ApprovalCode, "approval code", 6, 6, alphanumeric
);
text_id!(
    /// Institution id code (DE32, DE33): 1 to 11 digits.
    InstitutionId, "institution id", 1, 11, digit
);

impl Pan {
    /// The bank identification number: the first six digits.
    pub fn bin(&self) -> &str {
        &self.0[..6]
    }

    /// The PAN with all but the first six and last four digits masked.
    pub fn masked(&self) -> String {
        let len = self.0.len();
        format!("{}{}{}", &self.0[..6], "*".repeat(len - 10), &self.0[len - 4..])
    }
}

/// Calendar date without a year, as DE13 carries it (MMDD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalDate {
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
}

impl LocalDate {
    /// Validate month and day.
    pub fn new(month: u8, day: u8) -> Option<LocalDate> {
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(LocalDate { month, day })
    }

    /// MMDD.
    pub fn to_wire(self) -> String {
        format!("{:02}{:02}", self.month, self.day)
    }

    /// Parse MMDD.
    pub fn from_wire(text: &str) -> Result<LocalDate, ValueError> {
        let value = parse_digits("local date", text, 4)?;
        LocalDate::new((value / 100) as u8, (value % 100) as u8)
            .ok_or_else(|| value_error("local date", text, "not a calendar date"))
    }
}

/// Time of day, as DE12 carries it (hhmmss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalTime {
    /// Seconds since midnight, 0..86400.
    pub seconds: u32,
}

impl LocalTime {
    /// hhmmss.
    pub fn to_wire(self) -> String {
        let s = self.seconds;
        format!("{:02}{:02}{:02}", s / 3600, (s / 60) % 60, s % 60)
    }

    /// Parse hhmmss.
    pub fn from_wire(text: &str) -> Result<LocalTime, ValueError> {
        let value = parse_digits("local time", text, 6)? as u32;
        let (hours, minutes, seconds) = (value / 10_000, (value / 100) % 100, value % 100);
        if hours > 23 || minutes > 59 || seconds > 59 {
            return Err(value_error("local time", text, "not a time of day"));
        }
        Ok(LocalTime {
            seconds: hours * 3600 + minutes * 60 + seconds,
        })
    }
}

/// Transmission date and time (DE7, MMDDhhmmss). Changes on retransmission,
/// so it is never part of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TransmissionTime {
    /// Date part.
    pub date: LocalDate,
    /// Time part.
    pub time: LocalTime,
}

impl TransmissionTime {
    /// MMDDhhmmss.
    pub fn to_wire(self) -> String {
        format!("{}{}", self.date.to_wire(), self.time.to_wire())
    }

    /// Parse MMDDhhmmss.
    pub fn from_wire(text: &str) -> Result<TransmissionTime, ValueError> {
        if text.len() != 10 || !text.is_ascii() {
            return Err(value_error("transmission time", text, "wrong length"));
        }
        Ok(TransmissionTime {
            date: LocalDate::from_wire(&text[..4])?,
            time: LocalTime::from_wire(&text[4..])?,
        })
    }
}

/// Card expiry (DE14, YYMM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Expiry {
    /// Two-digit year.
    pub year: u8,
    /// 1..=12.
    pub month: u8,
}

impl Expiry {
    /// YYMM.
    pub fn to_wire(self) -> String {
        format!("{:02}{:02}", self.year, self.month)
    }

    /// Parse YYMM.
    pub fn from_wire(text: &str) -> Result<Expiry, ValueError> {
        let value = parse_digits("expiry", text, 4)?;
        let (year, month) = ((value / 100) as u8, (value % 100) as u8);
        if !(1..=12).contains(&month) {
            return Err(value_error("expiry", text, "month must be 01 to 12"));
        }
        Ok(Expiry { year, month })
    }
}

/// Terminal batch number (DE60), 1..=999999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BatchNumber(u32);

impl BatchNumber {
    /// The first batch of a fresh terminal.
    pub const FIRST: BatchNumber = BatchNumber(1);

    /// A batch number within 1..=999999.
    pub fn new(value: u32) -> Option<BatchNumber> {
        (1..=999_999).contains(&value).then_some(BatchNumber(value))
    }

    /// The number.
    pub fn value(self) -> u32 {
        self.0
    }

    /// The next batch number, wrapping to 1.
    pub fn next(self) -> BatchNumber {
        BatchNumber(if self.0 >= 999_999 { 1 } else { self.0 + 1 })
    }

    /// Six-digit wire form.
    pub fn to_wire(self) -> String {
        format!("{:06}", self.0)
    }

    /// Parse the wire form.
    pub fn from_wire(text: &str) -> Result<BatchNumber, ValueError> {
        let value = parse_digits("batch number", text, 6)?;
        BatchNumber::new(value as u32).ok_or_else(|| value_error("batch number", text, "zero is not a batch"))
    }
}

impl fmt::Display for BatchNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// What a financial request asks for (DE3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingCode {
    /// 000000: purchase.
    Sale,
    /// 200000: refund of an earlier sale.
    Refund,
    /// 020000: void of a sale still in the open batch.
    Void,
    /// 310000: balance inquiry.
    Balance,
}

impl ProcessingCode {
    /// Every processing code, in wire order.
    pub const ALL: [ProcessingCode; 4] = [
        ProcessingCode::Sale,
        ProcessingCode::Refund,
        ProcessingCode::Void,
        ProcessingCode::Balance,
    ];

    /// The six-digit wire form.
    pub fn to_wire(self) -> &'static str {
        match self {
            ProcessingCode::Sale => "000000",
            ProcessingCode::Refund => "200000",
            ProcessingCode::Void => "020000",
            ProcessingCode::Balance => "310000",
        }
    }

    /// Parse the wire form; other codes are errors.
    pub fn from_wire(text: &str) -> Result<ProcessingCode, ValueError> {
        ProcessingCode::ALL
            .into_iter()
            .find(|code| code.to_wire() == text)
            .ok_or_else(|| {
                value_error(
                    "processing code",
                    text,
                    "not one of 000000, 200000, 020000, 310000",
                )
            })
    }

    /// Lower-case name, e.g. `sale`.
    pub fn name(self) -> &'static str {
        match self {
            ProcessingCode::Sale => "sale",
            ProcessingCode::Refund => "refund",
            ProcessingCode::Void => "void",
            ProcessingCode::Balance => "balance",
        }
    }
}

/// Response codes of the dialect (DE39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResponseCode {
    /// 00 approved.
    Approved,
    /// 05 do not honour.
    DoNotHonour,
    /// 12 invalid transaction.
    InvalidTransaction,
    /// 13 invalid amount.
    InvalidAmount,
    /// 14 invalid card number.
    InvalidCard,
    /// 30 format error.
    FormatError,
    /// 51 insufficient funds.
    InsufficientFunds,
    /// 54 expired card.
    ExpiredCard,
    /// 57 not permitted to cardholder.
    NotPermittedToCardholder,
    /// 58 not permitted to terminal or merchant.
    NotPermittedToTerminal,
    /// 61 exceeds amount limit.
    AmountLimit,
    /// 62 restricted card.
    RestrictedCard,
    /// 63 security violation (bad MAC).
    SecurityViolation,
    /// 65 exceeds frequency limit.
    FrequencyLimit,
    /// 68 response received too late.
    ResponseTooLate,
    /// 91 issuer or switch unavailable.
    IssuerUnavailable,
    /// 94 duplicate transmission.
    Duplicate,
    /// 95 reconcile error.
    ReconcileError,
    /// 96 system malfunction.
    SystemMalfunction,
}

impl ResponseCode {
    /// Every code, in numeric order.
    pub const ALL: [ResponseCode; 19] = [
        ResponseCode::Approved,
        ResponseCode::DoNotHonour,
        ResponseCode::InvalidTransaction,
        ResponseCode::InvalidAmount,
        ResponseCode::InvalidCard,
        ResponseCode::FormatError,
        ResponseCode::InsufficientFunds,
        ResponseCode::ExpiredCard,
        ResponseCode::NotPermittedToCardholder,
        ResponseCode::NotPermittedToTerminal,
        ResponseCode::AmountLimit,
        ResponseCode::RestrictedCard,
        ResponseCode::SecurityViolation,
        ResponseCode::FrequencyLimit,
        ResponseCode::ResponseTooLate,
        ResponseCode::IssuerUnavailable,
        ResponseCode::Duplicate,
        ResponseCode::ReconcileError,
        ResponseCode::SystemMalfunction,
    ];

    /// The two-character wire form.
    pub fn to_wire(self) -> &'static str {
        match self {
            ResponseCode::Approved => "00",
            ResponseCode::DoNotHonour => "05",
            ResponseCode::InvalidTransaction => "12",
            ResponseCode::InvalidAmount => "13",
            ResponseCode::InvalidCard => "14",
            ResponseCode::FormatError => "30",
            ResponseCode::InsufficientFunds => "51",
            ResponseCode::ExpiredCard => "54",
            ResponseCode::NotPermittedToCardholder => "57",
            ResponseCode::NotPermittedToTerminal => "58",
            ResponseCode::AmountLimit => "61",
            ResponseCode::RestrictedCard => "62",
            ResponseCode::SecurityViolation => "63",
            ResponseCode::FrequencyLimit => "65",
            ResponseCode::ResponseTooLate => "68",
            ResponseCode::IssuerUnavailable => "91",
            ResponseCode::Duplicate => "94",
            ResponseCode::ReconcileError => "95",
            ResponseCode::SystemMalfunction => "96",
        }
    }

    /// Parse the wire form; codes outside the dialect are errors.
    pub fn from_wire(text: &str) -> Result<ResponseCode, ValueError> {
        ResponseCode::ALL
            .into_iter()
            .find(|code| code.to_wire() == text)
            .ok_or_else(|| value_error("response code", text, "not a code of this dialect"))
    }

    /// Whether the code approves (00).
    pub fn is_approved(self) -> bool {
        self == ResponseCode::Approved
    }

    /// A short human description, as a terminal would display it.
    pub fn description(self) -> &'static str {
        match self {
            ResponseCode::Approved => "approved",
            ResponseCode::DoNotHonour => "do not honour",
            ResponseCode::InvalidTransaction => "invalid transaction",
            ResponseCode::InvalidAmount => "invalid amount",
            ResponseCode::InvalidCard => "invalid card",
            ResponseCode::FormatError => "format error",
            ResponseCode::InsufficientFunds => "insufficient funds",
            ResponseCode::ExpiredCard => "expired card",
            ResponseCode::NotPermittedToCardholder => "not permitted to cardholder",
            ResponseCode::NotPermittedToTerminal => "not permitted to terminal",
            ResponseCode::AmountLimit => "amount limit exceeded",
            ResponseCode::RestrictedCard => "restricted card",
            ResponseCode::SecurityViolation => "security violation",
            ResponseCode::FrequencyLimit => "frequency limit exceeded",
            ResponseCode::ResponseTooLate => "response too late",
            ResponseCode::IssuerUnavailable => "issuer or switch unavailable",
            ResponseCode::Duplicate => "duplicate transmission",
            ResponseCode::ReconcileError => "reconcile error",
            ResponseCode::SystemMalfunction => "system malfunction",
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_wire(), self.description())
    }
}

/// The logical transaction key: (DE41 terminal, DE13 local date, DE11 STAN).
/// The same on every copy, repeat and reversal of a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TransactionKey {
    /// The terminal that started the transaction.
    pub terminal: TerminalId,
    /// Its local date.
    pub local_date: LocalDate,
    /// Its trace number.
    pub stan: Stan,
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.terminal, self.local_date.to_wire(), self.stan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_and_prints_by_currency_exponent() {
        let cases = [
            ("12.34 EUR", 1234, Currency::EUR, "12.34 EUR"),
            ("12 EUR", 1200, Currency::EUR, "12.00 EUR"),
            ("1500 JPY", 1500, Currency::JPY, "1500 JPY"),
            ("1.25 BHD", 1250, Currency::BHD, "1.250 BHD"),
            ("0.001 BHD", 1, Currency::BHD, "0.001 BHD"),
        ];
        for (text, minor, currency, shown) in cases {
            let money: Money = text.parse().unwrap();
            assert_eq!(money, Money::new(minor, currency).unwrap(), "{text}");
            assert_eq!(money.to_string(), shown);
        }
    }

    #[test]
    fn money_rejects_excess_decimals_and_garbage() {
        for text in [
            "12.345 EUR",
            "1.5 JPY",
            "12,34 EUR",
            "12.34",
            "12.34 XXX",
            "-1 EUR",
            "1e3 EUR",
            ". EUR",
            "1. EUR",
            "9999999999999 EUR",
        ] {
            assert!(text.parse::<Money>().is_err(), "{text} accepted");
        }
    }

    #[test]
    fn stan_wraps_and_rejects_zero() {
        assert_eq!(Stan::new(999_999).unwrap().next(), Stan::FIRST);
        assert!(Stan::new(0).is_none());
        assert!(Stan::from_wire("000000").is_err());
        assert_eq!(Stan::from_wire("000042").unwrap().value(), 42);
    }

    #[test]
    fn codes_round_trip_through_wire_form() {
        for code in ResponseCode::ALL {
            assert_eq!(ResponseCode::from_wire(code.to_wire()), Ok(code));
        }
        for code in ProcessingCode::ALL {
            assert_eq!(ProcessingCode::from_wire(code.to_wire()), Ok(code));
        }
        assert!(ResponseCode::from_wire("99").is_err());
    }

    #[test]
    fn identifiers_validate_length_and_characters() {
        assert!(TerminalId::new("TERM0001").is_ok());
        assert!(TerminalId::new("TERM001").is_err());
        assert!(Pan::new("4111111111111111").is_ok());
        assert!(Pan::new("41111111111x1111").is_err());
        assert_eq!(Pan::new("4111111111111111").unwrap().masked(), "411111******1111");
        assert!(LocalDate::from_wire("1332").is_err());
        assert!(LocalTime::from_wire("240000").is_err());
        assert_eq!(LocalTime::from_wire("235959").unwrap().to_wire(), "235959");
    }
}
