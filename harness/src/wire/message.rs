//! A raw ISO 8583 message: the MTI and the data elements as bytes.
//!
//! This is the layer pyiso8583 works at: no meaning, just fields. The typed
//! layer in [`crate::wire::typed`] gives the fields their meaning.

use std::collections::BTreeMap;
use std::fmt;

/// A message type indicator: four ASCII digits such as `0200`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mti([u8; 4]);

impl Mti {
    /// Build from four ASCII digits; `None` if any byte is not a digit.
    pub fn from_digits(digits: [u8; 4]) -> Option<Mti> {
        digits.iter().all(u8::is_ascii_digit).then_some(Mti(digits))
    }

    /// Parse from text such as `"0200"`.
    pub fn parse(text: &str) -> Option<Mti> {
        let bytes: [u8; 4] = text.as_bytes().try_into().ok()?;
        Mti::from_digits(bytes)
    }

    /// The four ASCII digits.
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// The MTI as text.
    pub fn as_str(&self) -> &str {
        // Invariant: the constructor only admits ASCII digits.
        std::str::from_utf8(&self.0).expect("MTI is ASCII digits")
    }

    /// The MTI as a number, e.g. 200 for `0200`.
    pub fn value(&self) -> u16 {
        self.0
            .iter()
            .fold(0u16, |acc, digit| acc * 10 + u16::from(digit - b'0'))
    }

    /// Build from a number 0..=9999.
    pub fn from_value(value: u16) -> Option<Mti> {
        if value > 9999 {
            return None;
        }
        let text = format!("{value:04}");
        Mti::parse(&text)
    }
}

impl serde::Serialize for Mti {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Mti {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Mti, D::Error> {
        let text = String::deserialize(deserializer)?;
        Mti::parse(&text).ok_or_else(|| serde::de::Error::custom("an MTI is four digits"))
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ISO 8583 message: an MTI and its data elements.
///
/// Fields are kept ordered by number. Text fields hold their ASCII bytes,
/// binary fields (DE52, DE55, DE64, DE96, DE128) their raw bytes. Bitmaps
/// are not stored: the encoder derives them from the fields present.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    /// Message type indicator.
    pub mti: Mti,
    fields: BTreeMap<u8, Vec<u8>>,
}

impl Message {
    /// An empty message of the given type.
    pub fn new(mti: Mti) -> Message {
        Message {
            mti,
            fields: BTreeMap::new(),
        }
    }

    /// Set field `number` to raw bytes (validated by the encoder).
    pub fn set(&mut self, number: u8, data: impl Into<Vec<u8>>) -> &mut Message {
        self.fields.insert(number, data.into());
        self
    }

    /// Set a text field.
    pub fn set_text(&mut self, number: u8, text: &str) -> &mut Message {
        self.set(number, text.as_bytes().to_vec())
    }

    /// Remove a field, returning its bytes.
    pub fn remove(&mut self, number: u8) -> Option<Vec<u8>> {
        self.fields.remove(&number)
    }

    /// The raw bytes of field `number`.
    pub fn get(&self, number: u8) -> Option<&[u8]> {
        self.fields.get(&number).map(Vec::as_slice)
    }

    /// Field `number` as text, if present and valid UTF-8 (ASCII in practice).
    pub fn text(&self, number: u8) -> Option<&str> {
        self.get(number).and_then(|bytes| std::str::from_utf8(bytes).ok())
    }

    /// Whether field `number` is present.
    pub fn has(&self, number: u8) -> bool {
        self.fields.contains_key(&number)
    }

    /// Present fields in ascending order.
    pub fn fields(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.fields
            .iter()
            .map(|(number, data)| (*number, data.as_slice()))
    }

    /// Whether the encoding needs a secondary bitmap (any field 66..=128).
    pub fn has_secondary_fields(&self) -> bool {
        self.fields.range(66..).next().is_some()
    }

    pub(crate) fn insert_decoded(&mut self, number: u8, data: Vec<u8>) {
        self.fields.insert(number, data);
    }
}
