//! Format: the on-disk containers, with no key and no swarmkit semantics: WAL frames, records
//! and the CRC-32C chain, `.snap` containers, and protobuf validation on the wire.
//!
//! Layer: above [`crate::input`]. Every length read from the data is checked against the bytes
//! that remain before it is used.

pub mod cursor;
pub mod resync;
pub mod snap;
pub mod wal;
pub mod wirecheck;

/// Bytes a protobuf varint takes.
pub fn varint_len(v: u64) -> u64 {
    let mut n = 1;
    let mut v = v >> 7;
    while v > 0 {
        n += 1;
        v >>= 7;
    }
    n
}

/// Bytes of a length-delimited field (tag below 16) holding `len` bytes.
pub fn field_len(len: u64) -> u64 {
    1 + varint_len(len) + len
}

/// Serialize a list of raft IDs as hex strings (as swarm-rafttool prints them; JSON numbers lose
/// precision above 2^53).
pub fn hex_ids<S: serde::Serializer>(ids: &[u64], ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_seq(ids.iter().map(|i| format!("{i:x}")))
}
