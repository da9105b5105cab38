//! Bad input never panics: each malformed message is a typed error naming
//! the part of the message and the byte offset.

use payfault::wire::{decode, encode, DecodeError, Message, Mti, Part};
use proptest::prelude::*;

/// 0200 with DE2 (LLVAR), DE3, DE4 and DE41: the bytes are
/// `0200` + bitmap(8) + `16` + PAN(16) + `000000` + `000000001250` + `TERM0001`.
fn sample() -> (Message, Vec<u8>) {
    let mut message = Message::new(Mti::parse("0200").unwrap());
    message
        .set_text(2, "4111111111111111")
        .set_text(3, "000000")
        .set_text(4, "000000001250")
        .set_text(41, "TERM0001");
    let bytes = encode(&message).unwrap();
    (message, bytes)
}

const DE2_PREFIX: usize = 12;
const DE2_DATA: usize = 14;
const DE3: usize = 30;
const DE4: usize = 36;
const DE41: usize = 48;

#[test]
fn sample_layout_is_as_documented() {
    let (message, bytes) = sample();
    assert_eq!(&bytes[..4], b"0200");
    assert_eq!(&bytes[DE2_PREFIX..DE2_DATA], b"16");
    assert_eq!(&bytes[DE3..DE4], b"000000");
    assert_eq!(&bytes[DE41..], b"TERM0001");
    assert_eq!(decode(&bytes).unwrap(), message);
}

#[test]
fn every_truncation_is_an_error_at_the_part_being_read() {
    let (_, bytes) = sample();
    for cut in 0..bytes.len() {
        let error = decode(&bytes[..cut]).unwrap_err();
        let expected_part = match cut {
            0..=3 => Part::Mti,
            4..=11 => Part::PrimaryBitmap,
            12..=29 => Part::Field(2),
            30..=35 => Part::Field(3),
            36..=47 => Part::Field(4),
            _ => Part::Field(41),
        };
        assert!(
            matches!(error, DecodeError::Truncated { .. }),
            "cut {cut}: {error}"
        );
        assert_eq!(error.part(), expected_part, "cut {cut}: {error}");
    }
}

#[test]
fn bitmap_naming_absent_data_is_truncation_of_that_field() {
    let (_, mut bytes) = sample();
    bytes[4 + 5] |= 0x80; // bit 41 is already set; set bit 41+? -> byte 5 bit 0 = field 41
    let mut with_de42 = bytes.clone();
    with_de42[4 + 5] |= 0x40; // field 42
    let error = decode(&with_de42).unwrap_err();
    assert_eq!(
        error,
        DecodeError::Truncated {
            part: Part::Field(42),
            offset: bytes.len(),
            needed: 15,
            available: 0
        }
    );
}

#[test]
fn secondary_bitmap_bit_without_secondary_bitmap_is_truncation() {
    let (_, mut bytes) = sample();
    bytes[4] |= 0x80;
    let error = decode(&bytes).unwrap_err();
    // The secondary bitmap is read from the bytes of DE2 onward: 8 bytes are
    // there, so the damage shows as a bad field further on, never a panic.
    assert!(error.offset() <= bytes.len(), "{error}");
    let short = &bytes[..14];
    assert_eq!(
        decode(short).unwrap_err(),
        DecodeError::Truncated {
            part: Part::SecondaryBitmap,
            offset: 12,
            needed: 8,
            available: 2
        }
    );
}

#[test]
fn length_prefix_past_the_end_is_truncation() {
    let (_, mut bytes) = sample();
    bytes[DE2_PREFIX..DE2_DATA].copy_from_slice(b"19");
    bytes.truncate(DE2_DATA + 17);
    assert_eq!(
        decode(&bytes).unwrap_err(),
        DecodeError::Truncated {
            part: Part::Field(2),
            offset: DE2_DATA,
            needed: 19,
            available: 17
        }
    );
}

#[test]
fn non_digit_length_prefix_is_an_error() {
    let (_, mut bytes) = sample();
    bytes[DE2_PREFIX..DE2_DATA].copy_from_slice(b"1A");
    assert_eq!(
        decode(&bytes).unwrap_err(),
        DecodeError::BadLengthPrefix {
            part: Part::Field(2),
            offset: DE2_PREFIX,
            found: "1A".into()
        }
    );
    bytes[DE2_PREFIX..DE2_DATA].copy_from_slice(b" 5");
    assert!(matches!(
        decode(&bytes).unwrap_err(),
        DecodeError::BadLengthPrefix { .. }
    ));
}

#[test]
fn over_long_field_is_an_error() {
    let (_, mut bytes) = sample();
    bytes[DE2_PREFIX..DE2_DATA].copy_from_slice(b"20");
    assert_eq!(
        decode(&bytes).unwrap_err(),
        DecodeError::TooLong {
            part: Part::Field(2),
            offset: DE2_PREFIX,
            length: 20,
            max: 19
        }
    );
}

#[test]
fn non_digits_in_numeric_fields_are_errors() {
    let (_, mut bytes) = sample();
    bytes[DE4 + 7] = b'X';
    assert_eq!(
        decode(&bytes).unwrap_err(),
        DecodeError::BadCharacter {
            part: Part::Field(4),
            offset: DE4 + 7,
            byte: b'X',
            expected: "a decimal digit"
        }
    );
    let (_, mut bytes) = sample();
    bytes[1] = b'x';
    assert_eq!(decode(&bytes).unwrap_err().part(), Part::Mti);
}

#[test]
fn non_ascii_in_text_fields_is_an_error() {
    let (_, mut bytes) = sample();
    bytes[DE41 + 2] = 0xC3;
    assert_eq!(
        decode(&bytes).unwrap_err(),
        DecodeError::BadCharacter {
            part: Part::Field(41),
            offset: DE41 + 2,
            byte: 0xC3,
            expected: "7-bit ASCII"
        }
    );
}

#[test]
fn field_the_spec_does_not_know_is_an_error() {
    let mut message = Message::new(Mti::parse("0800").unwrap());
    message.set_text(70, "301");
    let mut bytes = encode(&message).unwrap();
    bytes[12] |= 0x80; // bit 65: a tertiary bitmap in pyiso8583's default spec
    assert!(matches!(
        decode(&bytes).unwrap_err(),
        DecodeError::UnknownField {
            part: Part::SecondaryBitmap,
            offset: 12,
            field: 65,
            ..
        }
    ));
}

#[test]
fn trailing_bytes_are_an_error() {
    let (_, mut bytes) = sample();
    let end = bytes.len();
    bytes.extend_from_slice(b"XY");
    assert_eq!(
        decode(&bytes).unwrap_err(),
        DecodeError::TrailingBytes {
            offset: end,
            count: 2
        }
    );
}

#[test]
fn encoder_refuses_what_the_spec_forbids() {
    use payfault::wire::EncodeError;
    let mti = Mti::parse("0200").unwrap();
    let cases: Vec<(Message, EncodeError)> = vec![
        (
            {
                let mut m = Message::new(mti);
                m.set_text(4, "1250");
                m
            },
            EncodeError::WrongLength {
                field: 4,
                length: 4,
                expected: 12,
            },
        ),
        (
            {
                let mut m = Message::new(mti);
                m.set_text(2, &"4".repeat(20));
                m
            },
            EncodeError::TooLong {
                field: 2,
                length: 20,
                max: 19,
            },
        ),
        (
            {
                let mut m = Message::new(mti);
                m.set_text(11, "00001A");
                m
            },
            EncodeError::BadCharacter {
                field: 11,
                position: 5,
                byte: b'A',
                expected: "a decimal digit",
            },
        ),
        (
            {
                let mut m = Message::new(mti);
                m.set(65, vec![0; 8]);
                m
            },
            EncodeError::NotADataField(65),
        ),
        (
            {
                let mut m = Message::new(mti);
                m.set(1, vec![0; 8]);
                m
            },
            EncodeError::NotADataField(1),
        ),
        (
            {
                let mut m = Message::new(mti);
                m.set(129, vec![0; 8]);
                m
            },
            EncodeError::NotADataField(129),
        ),
        (
            {
                let mut m = Message::new(mti);
                m.set_text(97, "X0000000000000001");
                m
            },
            EncodeError::BadCharacter {
                field: 97,
                position: 0,
                byte: b'X',
                expected: "a sign C or D",
            },
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(encode(&message).unwrap_err(), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(message) = decode(&bytes) {
            let again = encode(&message).expect("a decoded message re-encodes");
            prop_assert_eq!(decode(&again).unwrap(), message);
        }
    }

    #[test]
    fn mutated_valid_messages_never_panic(index in 0usize..56, byte in any::<u8>(), cut in 0usize..57) {
        let (_, mut bytes) = sample();
        bytes[index] = byte;
        bytes.truncate(cut);
        let _ = decode(&bytes);
    }
}
