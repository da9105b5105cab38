//! Encoding what the switch sends: typed messages signed with a link key,
//! and error answers (63, 30, 12) built from the raw fields of a request
//! that could not be trusted or lifted into a typed message.

use crate::wire::types::ResponseCode;
use crate::wire::{decode, sign, MacKey, Message, Mti, WireMessage};

/// Lower a typed message and sign it with `key`.
pub fn signed(message: &WireMessage, key: &MacKey) -> Vec<u8> {
    let mut raw = message.to_message();
    sign(&mut raw, key).expect("typed messages always encode")
}

/// The response MTI of a request and the fields its response echoes.
fn echo_fields(request: Mti) -> Option<(u16, &'static [u8])> {
    Some(match request.value() {
        200 | 201 => (210, &[3, 4, 7, 11, 12, 13, 37, 41, 49]),
        420 | 421 => (430, &[4, 7, 11, 12, 13, 37, 41, 49]),
        500 | 501 => (510, &[7, 11, 12, 13, 41, 60]),
        320 => (330, &[7, 11, 12, 13, 41, 60, 71]),
        800 => (810, &[7, 11, 70]),
        _ => return None,
    })
}

/// An error answer to `request` (response MTI, echoed fields, DE39 `code`)
/// signed with `key`; `None` when the MTI has no response.
pub fn error_answer(request: &Message, code: ResponseCode, key: &MacKey) -> Option<Vec<u8>> {
    let (response_mti, fields) = echo_fields(request.mti)?;
    let mut answer = Message::new(Mti::from_value(response_mti)?);
    for field in fields {
        if let Some(data) = request.get(*field) {
            answer.set(*field, data.to_vec());
        }
    }
    answer.set_text(39, code.to_wire());
    sign(&mut answer, key).ok()
}

/// The 63 answer to bytes whose MAC failed, if they decode at all.
pub fn security_answer(bytes: &[u8], key: &MacKey) -> Option<Vec<u8>> {
    let message = decode(bytes).ok()?;
    error_answer(&message, ResponseCode::SecurityViolation, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::verify;

    #[test]
    fn error_answers_echo_the_request_and_carry_the_code() {
        let key = MacKey([7; 16]);
        let mut request = Message::new(Mti::parse("0201").unwrap());
        request
            .set_text(11, "000042")
            .set_text(41, "TERM0001")
            .set_text(2, "4111111111111111");
        let bytes = error_answer(&request, ResponseCode::FormatError, &key).unwrap();
        let answer = verify(&bytes, &key).unwrap();
        assert_eq!(answer.mti.as_str(), "0210");
        assert_eq!(answer.text(39), Some("30"));
        assert_eq!(answer.text(11), Some("000042"));
        assert_eq!(answer.text(41), Some("TERM0001"));
        assert!(!answer.has(2), "the PAN is not echoed");
    }

    #[test]
    fn responses_get_no_error_answer() {
        let key = MacKey([7; 16]);
        let response = Message::new(Mti::parse("0210").unwrap());
        assert_eq!(
            error_answer(&response, ResponseCode::SecurityViolation, &key),
            None
        );
        assert_eq!(security_answer(b"garbage", &key), None);
    }
}
