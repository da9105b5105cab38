//! Arbitrary bytes into the ISO 8583 decoder. Nothing may panic; whatever
//! decodes must re-encode, and decode again to the same message; the typed
//! layer must accept or refuse it without panicking.
//!
//! Run: `cargo +nightly fuzz run wire_decode` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;
use payfault::wire::{decode, encode, verify, MacKey, WireMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = decode(data) else {
        return;
    };
    let bytes = encode(&message).expect("a decoded message re-encodes");
    let again = decode(&bytes).expect("a re-encoded message decodes");
    assert_eq!(again, message);
    let _ = WireMessage::from_message(&message);
    let _ = verify(data, &MacKey([0x42; 16]));
});
