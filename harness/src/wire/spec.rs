//! The field table: how each of the 128 data elements is laid out on the wire.
//!
//! This mirrors `iso8583.specs.default` of pyiso8583 4.0.1 field for field
//! (length type, maximum length, ASCII or binary), and adds the ISO 8583:1987
//! character class of each field so that numeric fields reject non-digits.

/// How a field's length is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthKind {
    /// Always exactly this many bytes (ASCII characters or binary bytes).
    Fixed(usize),
    /// A 2-digit ASCII length prefix, then up to this many bytes.
    LlVar(usize),
    /// A 3-digit ASCII length prefix, then up to this many bytes.
    LllVar(usize),
}

impl LengthKind {
    /// Number of ASCII digits in the length prefix (0 for fixed fields).
    pub const fn prefix_digits(self) -> usize {
        match self {
            LengthKind::Fixed(_) => 0,
            LengthKind::LlVar(_) => 2,
            LengthKind::LllVar(_) => 3,
        }
    }

    /// Largest number of data bytes the field may hold.
    pub const fn max_len(self) -> usize {
        match self {
            LengthKind::Fixed(n) | LengthKind::LlVar(n) | LengthKind::LllVar(n) => n,
        }
    }
}

/// Which bytes a field's data may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// ISO type `n`: ASCII digits only.
    Numeric,
    /// ISO type `x+n`: a `C` (credit) or `D` (debit) sign, then digits.
    SignedNumeric,
    /// ISO types `a`, `an`, `ans`, `z`: any 7-bit ASCII (pyiso8583's `ascii`).
    Text,
    /// ISO type `b`: raw bytes, shown as uppercase hex.
    Binary,
}

/// The layout of one data element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Data element number, 1 to 128.
    pub number: u8,
    /// Length layout.
    pub length: LengthKind,
    /// Allowed content.
    pub charset: Charset,
    /// Name as pyiso8583 describes it.
    pub name: &'static str,
}

const fn field(number: u8, length: LengthKind, charset: Charset, name: &'static str) -> FieldSpec {
    FieldSpec {
        number,
        length,
        charset,
        name,
    }
}

use Charset::{Binary as B, Numeric as N, SignedNumeric as XN, Text as T};
use LengthKind::{Fixed as F, LlVar as LL, LllVar as LLL};

/// Highest data element number this dialect knows.
pub const FIELD_COUNT_MAX: u8 = 128;

/// Field 65 is not data in pyiso8583's default spec: its bit announces a
/// tertiary bitmap (fields 129-192), which this dialect does not have.
pub const TERTIARY_BITMAP_BIT: u8 = 65;

/// The MAC field when the message has only a primary bitmap.
pub const MAC_PRIMARY: u8 = 64;
/// The MAC field when the message has a secondary bitmap.
pub const MAC_SECONDARY: u8 = 128;

/// Every data element 1..=128, indexed by `number - 1`.
pub static FIELDS: [FieldSpec; 128] = [
    field(1, F(8), B, "Bitmap, Secondary"),
    field(2, LL(19), N, "Primary Account Number (PAN)"),
    field(3, F(6), N, "Processing Code"),
    field(4, F(12), N, "Amount, Transaction"),
    field(5, F(12), N, "Amount, Settlement"),
    field(6, F(12), N, "Amount, Cardholder Billing"),
    field(7, F(10), N, "Transmission Date and Time"),
    field(8, F(8), N, "Amount, Cardholder Billing Fee"),
    field(9, F(8), N, "Conversion Rate, Settlement"),
    field(10, F(8), N, "Conversion Rate, Cardholder Billing"),
    field(11, F(6), N, "System Trace Audit Number"),
    field(12, F(6), N, "Time, Local Transaction"),
    field(13, F(4), N, "Date, Local Transaction"),
    field(14, F(4), N, "Date, Expiration"),
    field(15, F(4), N, "Date, Settlement"),
    field(16, F(4), N, "Date, Conversion"),
    field(17, F(4), N, "Date, Capture"),
    field(18, F(4), N, "Merchant Type"),
    field(19, F(3), N, "Acquiring Institution Country Code"),
    field(20, F(3), N, "PAN Country Code"),
    field(21, F(3), N, "Forwarding Institution Country Code"),
    field(22, F(3), N, "Point-of-Service Entry Mode"),
    field(23, F(3), N, "PAN Sequence Number"),
    field(24, F(3), N, "Network International ID (NII)"),
    field(25, F(2), N, "Point-of-Service Condition Code"),
    field(26, F(2), N, "Point-of-Service Capture Code"),
    field(27, F(1), N, "Authorizing ID Response Length"),
    field(28, F(9), XN, "Amount, Transaction Fee"),
    field(29, F(9), XN, "Amount, Settlement Fee"),
    field(30, F(9), XN, "Amount, Transaction Processing Fee"),
    field(31, F(9), XN, "Amount, Settlement Processing Fee"),
    field(32, LL(11), N, "Acquiring Institution ID Code"),
    field(33, LL(11), N, "Forwarding Institution ID Code"),
    field(34, LL(28), T, "Primary Account Number, Extended"),
    field(35, LL(37), T, "Track 2 Data"),
    field(36, LLL(104), T, "Track 3 Data"),
    field(37, F(12), T, "Retrieval Reference Number"),
    field(38, F(6), T, "Authorization ID Response"),
    field(39, F(2), T, "Response Code"),
    field(40, F(3), T, "Service Restriction Code"),
    field(41, F(8), T, "Card Acceptor Terminal ID"),
    field(42, F(15), T, "Card Acceptor ID Code"),
    field(43, F(40), T, "Card Acceptor Name/Location"),
    field(44, LL(25), T, "Additional Response Data"),
    field(45, LL(76), T, "Track 1 Data"),
    field(46, LLL(999), T, "Additional Data - ISO"),
    field(47, LLL(999), T, "Additional Data - National"),
    field(48, LLL(999), T, "Additional Data - Private"),
    field(49, F(3), N, "Currency Code, Transaction"),
    field(50, F(3), N, "Currency Code, Settlement"),
    field(51, F(3), N, "Currency Code, Cardholder Billing"),
    field(52, F(8), B, "PIN"),
    field(53, F(16), N, "Security-Related Control Information"),
    field(54, LLL(240), T, "Additional Amounts"),
    field(55, LLL(255), B, "ICC data"),
    field(56, LLL(999), T, "Reserved ISO"),
    field(57, LLL(999), T, "Reserved National"),
    field(58, LLL(999), T, "Reserved National"),
    field(59, LLL(999), T, "Reserved National"),
    field(60, LLL(999), T, "Reserved National"),
    field(61, LLL(999), T, "Reserved Private"),
    field(62, LLL(999), T, "Reserved Private"),
    field(63, LLL(999), T, "Reserved Private"),
    field(64, F(8), B, "MAC"),
    field(65, F(8), B, "Bitmap, Extended"),
    field(66, F(1), N, "Settlement Code"),
    field(67, F(2), N, "Extended Payment Code"),
    field(68, F(3), N, "Receiving Institution Country Code"),
    field(69, F(3), N, "Settlement Institution Country Code"),
    field(70, F(3), N, "Network Management Information Code"),
    field(71, F(4), N, "Message Number"),
    field(72, F(4), N, "Message Number, Last"),
    field(73, F(6), N, "Date, Action"),
    field(74, F(10), N, "Credits, Number"),
    field(75, F(10), N, "Credits, Reversal Number"),
    field(76, F(10), N, "Debits, Number"),
    field(77, F(10), N, "Debits, Reversal Number"),
    field(78, F(10), N, "Transfer, Number"),
    field(79, F(10), N, "Transfer, Reversal Number"),
    field(80, F(10), N, "Inquiries, Number"),
    field(81, F(10), N, "Authorizations, Number"),
    field(82, F(12), N, "Credits, Processing Fee Amount"),
    field(83, F(12), N, "Credits, Transaction Fee Amount"),
    field(84, F(12), N, "Debits, Processing Fee Amount"),
    field(85, F(12), N, "Debits, Transaction Fee Amount"),
    field(86, F(16), N, "Credits, Amount"),
    field(87, F(16), N, "Credits, Reversal Amount"),
    field(88, F(16), N, "Debits, Amount"),
    field(89, F(16), N, "Debits, Reversal Amount"),
    field(90, F(42), N, "Original Data Elements"),
    field(91, F(1), T, "File Update Code"),
    field(92, F(2), T, "File Security Code"),
    field(93, F(5), T, "Response Indicator"),
    field(94, F(7), T, "Service Indicator"),
    field(95, F(42), T, "Replacement Amounts"),
    field(96, F(8), B, "Message Security Code"),
    field(97, F(17), XN, "Amount, Net Settlement"),
    field(98, F(25), T, "Payee"),
    field(99, LL(11), N, "Settlement Institution ID Code"),
    field(100, LL(11), N, "Receiving Institution ID Code"),
    field(101, LL(17), T, "File Name"),
    field(102, LL(28), T, "Account ID 1"),
    field(103, LL(28), T, "Account ID 2"),
    field(104, LLL(100), T, "Transaction Description"),
    field(105, LLL(999), T, "Reserved for ISO Use"),
    field(106, LLL(999), T, "Reserved for ISO Use"),
    field(107, LLL(999), T, "Reserved for ISO Use"),
    field(108, LLL(999), T, "Reserved for ISO Use"),
    field(109, LLL(999), T, "Reserved for ISO Use"),
    field(110, LLL(999), T, "Reserved for ISO Use"),
    field(111, LLL(999), T, "Reserved for ISO Use"),
    field(112, LLL(999), T, "Reserved for National Use"),
    field(113, LLL(999), T, "Reserved for National Use"),
    field(114, LLL(999), T, "Reserved for National Use"),
    field(115, LLL(999), T, "Reserved for National Use"),
    field(116, LLL(999), T, "Reserved for National Use"),
    field(117, LLL(999), T, "Reserved for National Use"),
    field(118, LLL(999), T, "Reserved for National Use"),
    field(119, LLL(999), T, "Reserved for National Use"),
    field(120, LLL(999), T, "Reserved for Private Use"),
    field(121, LLL(999), T, "Reserved for Private Use"),
    field(122, LLL(999), T, "Reserved for Private Use"),
    field(123, LLL(999), T, "Reserved for Private Use"),
    field(124, LLL(999), T, "Reserved for Private Use"),
    field(125, LLL(999), T, "Reserved for Private Use"),
    field(126, LLL(999), T, "Reserved for Private Use"),
    field(127, LLL(999), T, "Reserved for Private Use"),
    field(128, F(8), B, "MAC"),
];

/// The layout of data element `number`, or `None` outside 1..=128.
pub fn field_spec(number: u8) -> Option<&'static FieldSpec> {
    if number == 0 || number > FIELD_COUNT_MAX {
        return None;
    }
    let spec = &FIELDS[usize::from(number) - 1];
    debug_assert_eq!(spec.number, number);
    Some(spec)
}

/// Whether `number` may carry data in a message (1 and 65 are bitmap bits).
pub fn is_data_field(number: u8) -> bool {
    (2..=FIELD_COUNT_MAX).contains(&number) && number != TERTIARY_BITMAP_BIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_field_number() {
        for (index, spec) in FIELDS.iter().enumerate() {
            assert_eq!(usize::from(spec.number), index + 1, "{}", spec.name);
        }
        assert!(field_spec(0).is_none());
        assert!(field_spec(129).is_none());
        assert_eq!(field_spec(4).unwrap().length, LengthKind::Fixed(12));
    }

    #[test]
    fn bitmap_bits_are_not_data_fields() {
        assert!(!is_data_field(1));
        assert!(!is_data_field(65));
        assert!(!is_data_field(0));
        assert!(!is_data_field(129));
        assert!(is_data_field(2));
        assert!(is_data_field(128));
    }
}
