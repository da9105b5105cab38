//! The wire: ISO 8583:1987 as pyiso8583's `iso8583.specs.default` lays it
//! out, 2-byte length framing, AES-128-CMAC, and a typed layer for the nodes.
//!
//! - [`spec`]: the 128-field table.
//! - [`message`] and [`codec`]: raw messages, [`encode`] and [`decode`].
//! - [`frame`]: length-prefixed frames on a byte stream.
//! - [`mac`]: signing and verifying DE64/DE128.
//! - [`types`] and [`typed`]: newtypes and the messages of the dialect.
//! - [`json`]: pyiso8583-style JSON for `payfault wire`.

pub mod codec;
pub mod frame;
pub mod json;
pub mod mac;
pub mod message;
pub mod spec;
pub mod typed;
pub mod types;

pub use codec::{decode, encode, DecodeError, EncodeError, Part};
pub use frame::{encode_frame, FrameError, FrameReader, FRAME_LEN_MAX};
pub use mac::{sign, verify, MacError, MacKey};
pub use message::{Message, Mti};
pub use typed::{FieldError, WireMessage};
