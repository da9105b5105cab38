//! Encoding and decoding of raw messages, byte-compatible with pyiso8583's
//! `iso8583.specs.default`.
//!
//! Layout: 4 ASCII MTI digits, an 8-byte binary primary bitmap, an 8-byte
//! binary secondary bitmap when any field 65-128 is present, then the fields
//! in ascending order; LLVAR/LLLVAR fields carry an ASCII decimal length
//! prefix. Decoding never panics: every malformed input is a [`DecodeError`]
//! naming the part of the message and the byte offset where it went wrong.

use std::fmt;

use thiserror::Error;

use super::message::{Message, Mti};
use super::spec::{
    field_spec, is_data_field, Charset, FieldSpec, LengthKind, FIELD_COUNT_MAX, TERTIARY_BITMAP_BIT,
};

/// Length of the MTI in bytes.
pub const MTI_LEN: usize = 4;
/// Length of one binary bitmap in bytes.
pub const BITMAP_LEN: usize = 8;

/// The part of a message an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The message type indicator.
    Mti,
    /// The primary bitmap (fields 1-64).
    PrimaryBitmap,
    /// The secondary bitmap (fields 65-128).
    SecondaryBitmap,
    /// Data element `n`.
    Field(u8),
    /// Bytes after the last field.
    Trailer,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Mti => f.write_str("MTI"),
            Part::PrimaryBitmap => f.write_str("primary bitmap"),
            Part::SecondaryBitmap => f.write_str("secondary bitmap"),
            Part::Field(number) => write!(f, "DE{number}"),
            Part::Trailer => f.write_str("end of message"),
        }
    }
}

/// Why a message could not be decoded. Every variant names where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The message ends before a part is complete (also: a bitmap names a
    /// field whose data is absent, or a length prefix runs past the end).
    #[error("{part} at byte {offset}: needs {needed} bytes, only {available} left")]
    Truncated {
        /// What was being read.
        part: Part,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left in the message.
        available: usize,
    },
    /// A length prefix that is not all ASCII digits.
    #[error("{part} at byte {offset}: length prefix {found:?} is not decimal digits")]
    BadLengthPrefix {
        /// The field.
        part: Part,
        /// Offset of the prefix.
        offset: usize,
        /// The prefix bytes, escaped.
        found: String,
    },
    /// A length prefix larger than the field's maximum.
    #[error("{part} at byte {offset}: length {length} exceeds the maximum {max}")]
    TooLong {
        /// The field.
        part: Part,
        /// Offset of the prefix.
        offset: usize,
        /// Declared length.
        length: usize,
        /// Maximum length of the field.
        max: usize,
    },
    /// A byte the field's character class does not allow.
    #[error("{part} at byte {offset}: byte 0x{byte:02X} is not {expected}")]
    BadCharacter {
        /// The field.
        part: Part,
        /// Offset of the offending byte.
        offset: usize,
        /// The byte.
        byte: u8,
        /// What was expected, e.g. "a decimal digit".
        expected: &'static str,
    },
    /// A bitmap bit for a field this dialect does not define.
    #[error(
        "{part} at byte {offset}: bit {field} is set, but field {field} is not defined by this dialect{hint}"
    )]
    UnknownField {
        /// The bitmap holding the bit.
        part: Part,
        /// Offset of that bitmap.
        offset: usize,
        /// The field number.
        field: u8,
        /// Extra explanation.
        hint: &'static str,
    },
    /// Bytes left over after the last field the bitmaps announce.
    #[error("{count} extra bytes after the last field, at byte {offset}")]
    TrailingBytes {
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
}

impl DecodeError {
    /// The part of the message the error is about.
    pub fn part(&self) -> Part {
        match self {
            DecodeError::Truncated { part, .. }
            | DecodeError::BadLengthPrefix { part, .. }
            | DecodeError::TooLong { part, .. }
            | DecodeError::BadCharacter { part, .. }
            | DecodeError::UnknownField { part, .. } => *part,
            DecodeError::TrailingBytes { .. } => Part::Trailer,
        }
    }

    /// The byte offset the error is about.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::BadLengthPrefix { offset, .. }
            | DecodeError::TooLong { offset, .. }
            | DecodeError::BadCharacter { offset, .. }
            | DecodeError::UnknownField { offset, .. }
            | DecodeError::TrailingBytes { offset, .. } => *offset,
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// Field 1, 65 or a number outside 2..=128 was set.
    #[error("field {0} cannot carry data (1 and 65 are bitmap bits; fields are 2-128)")]
    NotADataField(u8),
    /// A fixed-length field of the wrong length.
    #[error("DE{field}: is {length} bytes, must be exactly {expected}")]
    WrongLength {
        /// The field.
        field: u8,
        /// Its length.
        length: usize,
        /// The fixed length.
        expected: usize,
    },
    /// A variable field longer than its maximum.
    #[error("DE{field}: is {length} bytes, the maximum is {max}")]
    TooLong {
        /// The field.
        field: u8,
        /// Its length.
        length: usize,
        /// The maximum.
        max: usize,
    },
    /// A byte the field's character class does not allow.
    #[error("DE{field}: byte 0x{byte:02X} at position {position} is not {expected}")]
    BadCharacter {
        /// The field.
        field: u8,
        /// Position within the field data.
        position: usize,
        /// The byte.
        byte: u8,
        /// What was expected.
        expected: &'static str,
    },
}

/// Check `data` against the field's character class; returns the position
/// and byte of the first violation and what was expected.
fn check_charset(spec: &FieldSpec, data: &[u8]) -> Result<(), (usize, u8, &'static str)> {
    match spec.charset {
        Charset::Binary => Ok(()),
        Charset::Text => match data.iter().position(|byte| !byte.is_ascii()) {
            Some(position) => Err((position, data[position], "7-bit ASCII")),
            None => Ok(()),
        },
        Charset::Numeric => match data.iter().position(|byte| !byte.is_ascii_digit()) {
            Some(position) => Err((position, data[position], "a decimal digit")),
            None => Ok(()),
        },
        Charset::SignedNumeric => {
            if let Some(&sign) = data.first() {
                if sign != b'C' && sign != b'D' {
                    return Err((0, sign, "a sign C or D"));
                }
            }
            match data.iter().skip(1).position(|byte| !byte.is_ascii_digit()) {
                Some(position) => Err((position + 1, data[position + 1], "a decimal digit")),
                None => Ok(()),
            }
        }
    }
}

fn validate_field(number: u8, data: &[u8]) -> Result<&'static FieldSpec, EncodeError> {
    if !is_data_field(number) {
        return Err(EncodeError::NotADataField(number));
    }
    let spec = field_spec(number).ok_or(EncodeError::NotADataField(number))?;
    match spec.length {
        LengthKind::Fixed(expected) if data.len() != expected => {
            return Err(EncodeError::WrongLength {
                field: number,
                length: data.len(),
                expected,
            });
        }
        LengthKind::LlVar(max) | LengthKind::LllVar(max) if data.len() > max => {
            return Err(EncodeError::TooLong {
                field: number,
                length: data.len(),
                max,
            });
        }
        _ => {}
    }
    check_charset(spec, data).map_err(|(position, byte, expected)| EncodeError::BadCharacter {
        field: number,
        position,
        byte,
        expected,
    })?;
    Ok(spec)
}

/// Upper bound of an encoded message's size, for buffer reservation.
fn encoded_len_hint(message: &Message) -> usize {
    let data: usize = message.fields().map(|(_, data)| data.len() + 3).sum();
    MTI_LEN + 2 * BITMAP_LEN + data
}

/// Encode a message. Fails on fields the spec does not allow.
pub fn encode(message: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(encoded_len_hint(message));
    encode_into(message, &mut out)?;
    Ok(out)
}

/// Encode a message, appending to `out`. On error `out` may hold a prefix.
pub fn encode_into(message: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut bitmap = [0u8; 2 * BITMAP_LEN];
    for (number, data) in message.fields() {
        validate_field(number, data)?;
        let bit = usize::from(number - 1);
        bitmap[bit / 8] |= 0x80 >> (bit % 8);
    }
    let secondary = message.has_secondary_fields();
    if secondary {
        bitmap[0] |= 0x80;
    }
    out.extend_from_slice(message.mti.as_bytes());
    let bitmap_len = if secondary { 2 * BITMAP_LEN } else { BITMAP_LEN };
    out.extend_from_slice(&bitmap[..bitmap_len]);
    for (number, data) in message.fields() {
        let spec = field_spec(number).expect("validated above");
        match spec.length {
            LengthKind::Fixed(_) => {}
            LengthKind::LlVar(_) => push_decimal(out, data.len(), 2),
            LengthKind::LllVar(_) => push_decimal(out, data.len(), 3),
        }
        out.extend_from_slice(data);
    }
    Ok(())
}

fn push_decimal(out: &mut Vec<u8>, value: usize, digits: usize) {
    debug_assert!(value < 10usize.pow(digits as u32));
    let mut divisor = 10usize.pow(digits as u32 - 1);
    for _ in 0..digits {
        out.push(b'0' + ((value / divisor) % 10) as u8);
        divisor /= 10;
    }
}

/// A cursor over the input that turns every short read into an error.
struct Reader<'a> {
    input: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, part: Part, count: usize) -> Result<&'a [u8], DecodeError> {
        let available = self.input.len() - self.offset;
        if count > available {
            return Err(DecodeError::Truncated {
                part,
                offset: self.offset,
                needed: count,
                available,
            });
        }
        let slice = &self.input[self.offset..self.offset + count];
        self.offset += count;
        Ok(slice)
    }
}

/// Decode one message. Never panics; see [`DecodeError`].
pub fn decode(input: &[u8]) -> Result<Message, DecodeError> {
    let mut reader = Reader { input, offset: 0 };
    let mti_bytes = reader.take(Part::Mti, MTI_LEN)?;
    let mti = decode_mti(mti_bytes)?;
    let primary_offset = reader.offset;
    let mut bitmap = [0u8; 2 * BITMAP_LEN];
    bitmap[..BITMAP_LEN].copy_from_slice(reader.take(Part::PrimaryBitmap, BITMAP_LEN)?);
    let secondary_offset = reader.offset;
    let secondary = bitmap[0] & 0x80 != 0;
    if secondary {
        bitmap[BITMAP_LEN..].copy_from_slice(reader.take(Part::SecondaryBitmap, BITMAP_LEN)?);
        if bitmap[BITMAP_LEN] & 0x80 != 0 {
            return Err(DecodeError::UnknownField {
                part: Part::SecondaryBitmap,
                offset: secondary_offset,
                field: TERTIARY_BITMAP_BIT,
                hint: " (in pyiso8583's default spec bit 65 announces a tertiary bitmap, which is not supported)",
            });
        }
    }
    debug_assert!(secondary || primary_offset + BITMAP_LEN == reader.offset);
    let mut message = Message::new(mti);
    for number in 2..=FIELD_COUNT_MAX {
        let bit = usize::from(number - 1);
        if bitmap[bit / 8] & (0x80 >> (bit % 8)) == 0 {
            continue;
        }
        let spec = field_spec(number).expect("2..=128 is in the table");
        let data = decode_field(&mut reader, spec)?;
        message.insert_decoded(number, data.to_vec());
    }
    if reader.offset != input.len() {
        return Err(DecodeError::TrailingBytes {
            offset: reader.offset,
            count: input.len() - reader.offset,
        });
    }
    Ok(message)
}

fn decode_mti(bytes: &[u8]) -> Result<Mti, DecodeError> {
    if let Some(position) = bytes.iter().position(|byte| !byte.is_ascii_digit()) {
        return Err(DecodeError::BadCharacter {
            part: Part::Mti,
            offset: position,
            byte: bytes[position],
            expected: "a decimal digit",
        });
    }
    let digits: [u8; MTI_LEN] = bytes.try_into().expect("took exactly 4 bytes");
    Ok(Mti::from_digits(digits).expect("checked digits"))
}

fn decode_field<'a>(reader: &mut Reader<'a>, spec: &FieldSpec) -> Result<&'a [u8], DecodeError> {
    let part = Part::Field(spec.number);
    let prefix_offset = reader.offset;
    let length = match spec.length {
        LengthKind::Fixed(length) => length,
        LengthKind::LlVar(max) | LengthKind::LllVar(max) => {
            let prefix = reader.take(part, spec.length.prefix_digits())?;
            if !prefix.iter().all(u8::is_ascii_digit) {
                return Err(DecodeError::BadLengthPrefix {
                    part,
                    offset: prefix_offset,
                    found: prefix.escape_ascii().to_string(),
                });
            }
            let length = prefix
                .iter()
                .fold(0usize, |acc, digit| acc * 10 + usize::from(digit - b'0'));
            if length > max {
                return Err(DecodeError::TooLong {
                    part,
                    offset: prefix_offset,
                    length,
                    max,
                });
            }
            length
        }
    };
    let data_offset = reader.offset;
    let data = reader.take(part, length)?;
    check_charset(spec, data).map_err(|(position, byte, expected)| DecodeError::BadCharacter {
        part,
        offset: data_offset + position,
        byte,
        expected,
    })?;
    Ok(data)
}
