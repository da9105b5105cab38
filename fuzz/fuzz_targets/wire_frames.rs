//! A byte stream cut into arbitrary pieces, into the frame reader and then
//! the decoder. Nothing may panic, and frames must come out the same however
//! the stream is split.
//!
//! Run: `cargo +nightly fuzz run wire_frames`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use payfault::wire::{decode, FrameReader};

#[derive(Debug, Arbitrary)]
struct Input {
    stream: Vec<u8>,
    piece_len: u8,
}

fn frames(stream: &[u8], piece_len: usize) -> (Vec<Vec<u8>>, bool) {
    let mut reader = FrameReader::new();
    let mut out = Vec::new();
    for piece in stream.chunks(piece_len.max(1)) {
        reader.push(piece);
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => out.push(frame),
                Ok(None) => break,
                Err(_) => return (out, false),
            }
        }
    }
    (out, true)
}

fuzz_target!(|input: Input| {
    let (split, ok_split) = frames(&input.stream, usize::from(input.piece_len));
    let (whole, ok_whole) = frames(&input.stream, input.stream.len());
    assert_eq!(split, whole);
    assert_eq!(ok_split, ok_whole);
    for frame in &split {
        let _ = decode(frame);
    }
});
