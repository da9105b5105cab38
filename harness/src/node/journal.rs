//! Journal records on disk: append-only, length-prefixed, checksummed.
//!
//! Each record is `[length: u32 LE][crc32 of payload: u32 LE][payload]`,
//! the payload being the record serialized with postcard. Recovery reads
//! records in order and stops at the first one that is incomplete or whose
//! checksum fails (a torn or lost write at the tail); everything before it
//! is returned, and the offset where the valid prefix ends tells the driver
//! where to truncate before appending again.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest payload a record may have, in bytes.
pub const RECORD_LEN_MAX: usize = 64 * 1024;
/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 8;

/// Serialize one record with its header.
pub fn encode_record<R: Serialize>(record: &R) -> Vec<u8> {
    let payload = postcard::to_stdvec(record).expect("journal records serialize");
    assert!(
        payload.len() <= RECORD_LEN_MAX,
        "journal record of {} bytes",
        payload.len()
    );
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// How the journal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belonged to a valid record.
    Clean,
    /// Recovery stopped at `offset`: a torn, partial or corrupt record.
    Damaged {
        /// Where the valid prefix ends.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
}

/// What recovery found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered<R> {
    /// The valid records, in order.
    pub records: Vec<R>,
    /// Bytes of the valid prefix.
    pub valid_len: usize,
    /// Whether anything after the valid prefix was discarded.
    pub tail: Tail,
}

/// Read a journal, stopping at the first bad record.
pub fn decode_journal<R: DeserializeOwned>(bytes: &[u8]) -> Recovered<R> {
    let mut records = Vec::new();
    let mut offset = 0;
    let damaged = |offset, reason| Tail::Damaged { offset, reason };
    let tail = loop {
        let rest = &bytes[offset..];
        if rest.is_empty() {
            break Tail::Clean;
        }
        if rest.len() < RECORD_HEADER_LEN {
            break damaged(offset, "partial record header");
        }
        let length = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let checksum = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if length > RECORD_LEN_MAX {
            break damaged(offset, "record length over the limit");
        }
        if rest.len() < RECORD_HEADER_LEN + length {
            break damaged(offset, "partial record payload");
        }
        let payload = &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + length];
        if crc32fast::hash(payload) != checksum {
            break damaged(offset, "checksum mismatch");
        }
        match postcard::from_bytes(payload) {
            Ok(record) => records.push(record),
            Err(_) => break damaged(offset, "record does not deserialize"),
        }
        offset += RECORD_HEADER_LEN + length;
    };
    if tail != Tail::Clean {
        crate::cover::hit(crate::cover::Mark::JournalTailDiscarded);
    }
    Recovered {
        records,
        valid_len: offset,
        tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(records: &[(u32, String)]) -> Vec<u8> {
        records.iter().flat_map(encode_record).collect()
    }

    #[test]
    fn every_prefix_recovers_the_complete_records_before_it() {
        let records: Vec<(u32, String)> = (0..6).map(|n| (n, "x".repeat(n as usize * 3))).collect();
        let bytes = journal(&records);
        let mut boundaries = vec![0];
        for record in &records {
            boundaries.push(boundaries.last().unwrap() + encode_record(record).len());
        }
        for cut in 0..=bytes.len() {
            let recovered: Recovered<(u32, String)> = decode_journal(&bytes[..cut]);
            let complete = boundaries.iter().filter(|b| **b <= cut).count() - 1;
            assert_eq!(recovered.records, records[..complete], "cut {cut}");
            assert_eq!(recovered.valid_len, boundaries[complete]);
            assert_eq!(
                recovered.tail == Tail::Clean,
                cut == boundaries[complete],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_stops_recovery_at_that_record() {
        let records: Vec<(u32, String)> = (0..4).map(|n| (n, format!("record {n}"))).collect();
        let bytes = journal(&records);
        let second = encode_record(&records[0]).len();
        let mut corrupt = bytes.clone();
        corrupt[second + RECORD_HEADER_LEN + 1] ^= 0x20;
        let recovered: Recovered<(u32, String)> = decode_journal(&corrupt);
        assert_eq!(recovered.records, records[..1]);
        assert_eq!(
            recovered.tail,
            Tail::Damaged {
                offset: second,
                reason: "checksum mismatch"
            }
        );
    }
}
