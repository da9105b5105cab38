//! Byte-for-byte compatibility with pyiso8583 4.0.1 (`iso8583.specs.default`).
//!
//! `tests/vectors/pyiso8583.json` was made by
//! `tools/vectors/generate_pyiso8583.py` with pyiso8583 itself; this test
//! needs no Python. Each valid vector must decode to pyiso8583's fields and
//! encode back to pyiso8583's bytes; each message pyiso8583 rejects must be
//! rejected here too, at the same part of the message.

use payfault::wire::json::{from_json, to_json};
use payfault::wire::{decode, encode, DecodeError, Part};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("vectors/pyiso8583.json");
    let vectors: Value = serde_json::from_str(text).expect("vector file is JSON");
    assert_eq!(vectors["pyiso8583"], "4.0.1");
    vectors
}

fn bytes_of(vector: &Value) -> Vec<u8> {
    hex::decode(vector["hex"].as_str().unwrap()).unwrap()
}

#[test]
fn decoding_pyiso8583_bytes_gives_pyiso8583_fields() {
    let vectors = vectors();
    let valid = vectors["valid"].as_array().unwrap();
    assert!(valid.len() >= 300, "only {} valid vectors", valid.len());
    for vector in valid {
        let name = vector["name"].as_str().unwrap();
        let message = decode(&bytes_of(vector)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Value::Object(to_json(&message)), vector["fields"], "{name}");
    }
}

#[test]
fn encoding_pyiso8583_fields_gives_pyiso8583_bytes() {
    for vector in vectors()["valid"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        let message = from_json(&vector["fields"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = encode(&message).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex::encode_upper(&bytes),
            vector["hex"].as_str().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn vectors_cover_every_field_and_both_bitmap_layouts() {
    let vectors = vectors();
    let mut seen = [0usize; 129];
    let (mut primary_only, mut secondary) = (0, 0);
    for vector in vectors["valid"].as_array().unwrap() {
        let fields = vector["fields"].as_object().unwrap();
        let mut has_secondary = false;
        for key in fields.keys().filter(|key| *key != "t") {
            let number: usize = key.parse().unwrap();
            seen[number] += 1;
            has_secondary |= number > 64;
        }
        if has_secondary {
            secondary += 1
        } else {
            primary_only += 1
        }
    }
    for number in (2..=128).filter(|n| *n != 65) {
        assert!(
            seen[number] >= 5,
            "field {number} appears in {} vectors",
            seen[number]
        );
    }
    assert!(
        primary_only >= 20 && secondary >= 20,
        "{primary_only} primary-only, {secondary} secondary"
    );
}

fn part_of(pyiso_field: &str) -> Part {
    match pyiso_field {
        "t" => Part::Mti,
        "p" => Part::PrimaryBitmap,
        "1" => Part::SecondaryBitmap,
        number => Part::Field(number.parse().unwrap()),
    }
}

#[test]
fn messages_pyiso8583_rejects_are_rejected_at_the_same_part() {
    let vectors = vectors();
    let invalid = vectors["invalid"].as_array().unwrap();
    assert!(invalid.len() >= 50, "only {} invalid vectors", invalid.len());
    for vector in invalid {
        let name = vector["name"].as_str().unwrap();
        let error = decode(&bytes_of(vector)).expect_err(name);
        let pyiso_field = vector["field"].as_str().unwrap();
        if let DecodeError::TrailingBytes { offset, .. } = error {
            // pyiso8583 names the last field it read; the offset agrees.
            assert_eq!(offset as u64, vector["pos"].as_u64().unwrap(), "{name}");
            continue;
        }
        assert_eq!(
            error.part(),
            part_of(pyiso_field),
            "{name}: ours {error}, theirs {}",
            vector["error"]
        );
    }
}
