//! Message framing on a byte stream: a 2-byte big-endian length, then the
//! message. Frames longer than [`FRAME_LEN_MAX`] are refused both ways.

use thiserror::Error;

/// Largest message a frame may carry, in bytes (8 KiB).
pub const FRAME_LEN_MAX: usize = 8 * 1024;
/// Size of the length header.
pub const FRAME_HEADER_LEN: usize = 2;

/// A framing failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The length header announces more than [`FRAME_LEN_MAX`] bytes.
    #[error("frame of {length} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced or attempted length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// A frame with a zero length header: no message to decode.
    #[error("empty frame (length header is zero)")]
    Empty,
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame: have {have} of {need} bytes")]
    Truncated {
        /// Bytes received of the frame, header included.
        have: usize,
        /// Bytes the frame needs, header included.
        need: usize,
    },
}

/// Put a message into a frame.
pub fn encode_frame(message: &[u8]) -> Result<Vec<u8>, FrameError> {
    check_length(message.len())?;
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + message.len());
    frame.extend_from_slice(&(message.len() as u16).to_be_bytes());
    frame.extend_from_slice(message);
    Ok(frame)
}

fn check_length(length: usize) -> Result<(), FrameError> {
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > FRAME_LEN_MAX {
        return Err(FrameError::TooLarge {
            length,
            max: FRAME_LEN_MAX,
        });
    }
    Ok(())
}

/// Cuts frames out of a byte stream that arrives in arbitrary pieces.
///
/// Feed bytes with [`FrameReader::push`], take messages with
/// [`FrameReader::next_frame`]. After an error the stream is out of step and
/// the connection should be closed, as real hosts do.
#[derive(Debug, Default, Clone)]
pub struct FrameReader {
    buffer: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// A reader with an empty buffer.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Append bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let pending = &self.buffer[self.start..];
        if pending.len() < FRAME_HEADER_LEN {
            return Ok(None);
        }
        let length = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
        check_length(length)?;
        if pending.len() < FRAME_HEADER_LEN + length {
            return Ok(None);
        }
        let message = pending[FRAME_HEADER_LEN..FRAME_HEADER_LEN + length].to_vec();
        self.start += FRAME_HEADER_LEN + length;
        if self.start > FRAME_LEN_MAX {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(message))
    }

    /// Call at end of stream: an error if a frame was cut off.
    pub fn finish(&self) -> Result<(), FrameError> {
        let have = self.buffered();
        if have == 0 {
            return Ok(());
        }
        let pending = &self.buffer[self.start..];
        let need = if pending.len() >= FRAME_HEADER_LEN {
            FRAME_HEADER_LEN + usize::from(u16::from_be_bytes([pending[0], pending[1]]))
        } else {
            FRAME_HEADER_LEN
        };
        Err(FrameError::Truncated { have, need })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_arbitrary_splits() {
        let messages: Vec<Vec<u8>> = (1..40u8).map(|n| vec![n; usize::from(n) * 7]).collect();
        let stream: Vec<u8> = messages
            .iter()
            .flat_map(|message| encode_frame(message).unwrap())
            .collect();
        for piece in [1usize, 2, 3, 7, 64, 4096] {
            let mut reader = FrameReader::new();
            let mut out = Vec::new();
            for chunk in stream.chunks(piece) {
                reader.push(chunk);
                while let Some(frame) = reader.next_frame().unwrap() {
                    out.push(frame);
                }
            }
            reader.finish().unwrap();
            assert_eq!(out, messages, "piece size {piece}");
        }
    }

    #[test]
    fn oversized_frames_are_refused_both_ways() {
        assert_eq!(
            encode_frame(&vec![0; FRAME_LEN_MAX + 1]),
            Err(FrameError::TooLarge {
                length: FRAME_LEN_MAX + 1,
                max: FRAME_LEN_MAX
            })
        );
        assert!(encode_frame(&vec![0; FRAME_LEN_MAX]).is_ok());
        let mut reader = FrameReader::new();
        reader.push(&[0x20, 0x01]);
        assert_eq!(
            reader.next_frame(),
            Err(FrameError::TooLarge {
                length: 0x2001,
                max: FRAME_LEN_MAX
            })
        );
    }

    #[test]
    fn empty_and_truncated_frames_are_errors() {
        assert_eq!(encode_frame(&[]), Err(FrameError::Empty));
        let mut reader = FrameReader::new();
        reader.push(&[0, 0]);
        assert_eq!(reader.next_frame(), Err(FrameError::Empty));

        let mut reader = FrameReader::new();
        reader.push(&[0, 10, 1, 2, 3]);
        assert_eq!(reader.next_frame(), Ok(None));
        assert_eq!(reader.finish(), Err(FrameError::Truncated { have: 5, need: 12 }));

        let mut reader = FrameReader::new();
        reader.push(&[0]);
        assert_eq!(reader.finish(), Err(FrameError::Truncated { have: 1, need: 2 }));
    }
}
