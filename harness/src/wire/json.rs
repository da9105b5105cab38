//! Messages as JSON objects in pyiso8583's naming, for QA tools.
//!
//! `{"t": "0200", "2": "4111111111111111", "64": "A1B2C3D4E5F60718"}`: the MTI
//! under `"t"`, every field under its number as a string, text fields as
//! their text, binary fields as uppercase hex. Bitmaps (`"p"`, `"1"`) are
//! derived, so they are ignored on input and never printed.

use serde_json::{Map, Value};
use thiserror::Error;

use super::message::{Message, Mti};
use super::spec::{field_spec, is_data_field, Charset};

/// Why a JSON object is not a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonError {
    /// Not a JSON object.
    #[error("expected a JSON object like {{\"t\": \"0200\", \"3\": \"000000\"}}")]
    NotAnObject,
    /// `"t"` is absent or not four digits.
    #[error("\"t\" (the MTI) must be a string of four digits")]
    BadMti,
    /// A key that is neither `"t"`, a bitmap, nor a field number 2-128 (not 65).
    #[error(
        "key {0:?} is not a field: use \"t\" for the MTI and field numbers \"2\" to \"128\" (not \"65\")"
    )]
    UnknownKey(String),
    /// A value that is not a string.
    #[error("field {0}: the value must be a string")]
    NotAString(String),
    /// A binary field whose value is not hex.
    #[error("field {0}: a binary field takes hex digits, e.g. \"00FF00FF00FF00FF\"")]
    BadHex(String),
}

/// Render a message as a JSON object in pyiso8583's naming.
pub fn to_json(message: &Message) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("t".to_string(), Value::String(message.mti.to_string()));
    for (number, data) in message.fields() {
        let binary = field_spec(number).is_some_and(|spec| spec.charset == Charset::Binary);
        let text = if binary {
            hex::encode_upper(data)
        } else {
            String::from_utf8_lossy(data).into_owned()
        };
        object.insert(number.to_string(), Value::String(text));
    }
    object
}

/// Build a message from a JSON object in pyiso8583's naming. Field contents
/// are checked when the message is encoded.
pub fn from_json(value: &Value) -> Result<Message, JsonError> {
    let object = value.as_object().ok_or(JsonError::NotAnObject)?;
    let mti = object
        .get("t")
        .and_then(Value::as_str)
        .and_then(Mti::parse)
        .ok_or(JsonError::BadMti)?;
    let mut message = Message::new(mti);
    for (key, value) in object {
        if key == "t" || key == "p" || key == "1" {
            continue;
        }
        let number = key
            .parse::<u8>()
            .ok()
            .filter(|number| is_data_field(*number) && key == &number.to_string())
            .ok_or_else(|| JsonError::UnknownKey(key.clone()))?;
        let text = value.as_str().ok_or_else(|| JsonError::NotAString(key.clone()))?;
        let spec = field_spec(number).expect("data field has a spec");
        let data = if spec.charset == Charset::Binary {
            hex::decode(text).map_err(|_| JsonError::BadHex(key.clone()))?
        } else {
            text.as_bytes().to_vec()
        };
        message.set(number, data);
    }
    Ok(message)
}
