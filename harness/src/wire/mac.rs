//! Message authentication: AES-128-CMAC truncated to 8 bytes.
//!
//! The MAC covers the whole encoded message with the MAC field present and
//! zero-filled. It sits in DE64 when the message has only a primary bitmap
//! and in DE128 when it has a secondary one, so it is always the last 8
//! bytes of the encoding. Keys are per terminal (terminal-switch) and per
//! link (switch-bank).

use aes::Aes128;
use cmac::{Cmac, Mac};
use thiserror::Error;

use super::codec::{decode, encode, DecodeError, EncodeError};
use super::message::Message;
use super::spec::{MAC_PRIMARY, MAC_SECONDARY};

/// Length of the truncated MAC in bytes.
pub const MAC_LEN: usize = 8;

/// A 128-bit AES key for message authentication.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MacKey(pub [u8; 16]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are test material here, but never print them whole.
        write!(f, "MacKey({:02X}{:02X}..)", self.0[0], self.0[1])
    }
}

/// Why a message failed authentication.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MacError {
    /// The message itself is malformed.
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// Neither DE64 nor DE128 is present.
    #[error("no MAC: DE{expected} is absent")]
    Missing {
        /// Where the MAC should be.
        expected: u8,
    },
    /// The MAC sits in the field the bitmap layout does not call for.
    #[error("MAC in DE{found}, but this message's layout puts it in DE{expected}")]
    WrongField {
        /// The field that holds a MAC.
        found: u8,
        /// The field that should.
        expected: u8,
    },
    /// The MAC does not match: tampered, corrupted or the wrong key.
    #[error("MAC does not match the message")]
    Mismatch,
}

/// The field that carries the MAC for this message's layout.
pub fn mac_field(message: &Message) -> u8 {
    if message.has_secondary_fields() {
        MAC_SECONDARY
    } else {
        MAC_PRIMARY
    }
}

fn cmac(key: &MacKey) -> Cmac<Aes128> {
    <Cmac<Aes128> as Mac>::new_from_slice(&key.0).expect("AES-128 takes 16-byte keys")
}

/// Put a MAC into `message` (replacing any old one) and return its encoding.
pub fn sign(message: &mut Message, key: &MacKey) -> Result<Vec<u8>, EncodeError> {
    message.remove(MAC_PRIMARY);
    message.remove(MAC_SECONDARY);
    let field = mac_field(message);
    message.set(field, vec![0u8; MAC_LEN]);
    let mut encoded = encode(message)?;
    let mut mac = cmac(key);
    mac.update(&encoded);
    let tag = mac.finalize().into_bytes();
    let tail = encoded.len() - MAC_LEN;
    encoded[tail..].copy_from_slice(&tag[..MAC_LEN]);
    message.set(field, tag[..MAC_LEN].to_vec());
    Ok(encoded)
}

/// Decode `encoded` and check its MAC under `key`.
pub fn verify(encoded: &[u8], key: &MacKey) -> Result<Message, MacError> {
    let message = decode(encoded)?;
    check_layout(&message)?;
    let mut zeroed = encoded.to_vec();
    let tail = zeroed.len() - MAC_LEN;
    zeroed[tail..].fill(0);
    let mut mac = cmac(key);
    mac.update(&zeroed);
    mac.verify_truncated_left(&encoded[tail..])
        .map_err(|_| MacError::Mismatch)?;
    Ok(message)
}

/// The MAC must be in the field the layout calls for, and be the last field.
fn check_layout(message: &Message) -> Result<(), MacError> {
    let expected = mac_field(message);
    let other = if expected == MAC_PRIMARY {
        MAC_SECONDARY
    } else {
        MAC_PRIMARY
    };
    if message.has(other) && !message.has(expected) {
        return Err(MacError::WrongField {
            found: other,
            expected,
        });
    }
    if !message.has(expected) {
        return Err(MacError::Missing { expected });
    }
    // With a secondary bitmap, DE64 followed by more fields would not be last.
    if message.has(other) {
        return Err(MacError::WrongField {
            found: other,
            expected,
        });
    }
    let last = message.fields().last().map(|(number, _)| number);
    debug_assert_eq!(last, Some(expected));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message::Mti;

    fn key() -> MacKey {
        MacKey(*b"0123456789ABCDEF")
    }

    fn sale() -> Message {
        let mut message = Message::new(Mti::parse("0200").unwrap());
        message
            .set_text(3, "000000")
            .set_text(4, "000000001234")
            .set_text(11, "000001")
            .set_text(41, "TERM0001");
        message
    }

    #[test]
    fn cmac_matches_rfc4493_example() {
        // RFC 4493, example 2: 16-byte message.
        let key = MacKey(
            hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        let mut mac = cmac(&key);
        mac.update(&hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap());
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "070a16b46b4d4144f79bdd9dd04a287c"
        );
    }

    #[test]
    fn signed_message_verifies_and_mac_is_last() {
        let mut message = sale();
        let encoded = sign(&mut message, &key()).unwrap();
        assert_eq!(&encoded[encoded.len() - MAC_LEN..], message.get(64).unwrap());
        assert_eq!(verify(&encoded, &key()).unwrap(), message);
    }

    #[test]
    fn secondary_bitmap_moves_mac_to_de128() {
        let mut message = sale();
        message.set_text(90, &"0".repeat(42));
        sign(&mut message, &key()).unwrap();
        assert!(message.has(128));
        assert!(!message.has(64));
    }

    #[test]
    fn any_flipped_bit_or_wrong_key_is_rejected() {
        let mut message = sale();
        let encoded = sign(&mut message, &key()).unwrap();
        assert_eq!(verify(&encoded, &MacKey([7; 16])), Err(MacError::Mismatch));
        for index in 0..encoded.len() {
            let mut tampered = encoded.clone();
            tampered[index] ^= 0x01;
            assert!(
                verify(&tampered, &key()).is_err(),
                "flip at byte {index} accepted"
            );
        }
    }

    #[test]
    fn missing_or_misplaced_mac_is_rejected() {
        let encoded = encode(&sale()).unwrap();
        assert_eq!(verify(&encoded, &key()), Err(MacError::Missing { expected: 64 }));
        let mut message = sale();
        message.set_text(90, &"0".repeat(42)).set(64, vec![0; 8]);
        let encoded = encode(&message).unwrap();
        assert_eq!(
            verify(&encoded, &key()),
            Err(MacError::WrongField {
                found: 64,
                expected: 128
            })
        );
    }
}
