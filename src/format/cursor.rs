//! One cursor over untrusted bytes, for every reader of the format layer and above: WAL frame
//! length fields, protobuf keys, varints and length-delimited fields.
//!
//! In the spirit of evtx's cursor, it knows where it is: [`Cursor::offset`] is the position in
//! the file (or payload) it reads, so an error names the byte it happened at.
//!
//! Invariants:
//! - Never panics and never allocates: every read checks the bytes that remain first, and a
//!   length read from the data is compared with what remains before anything is sliced.
//! - The protobuf rules are prost's own (`prost::encoding::{decode_key, decode_varint,
//!   skip_field}`), so a cursor accepts and rejects exactly what prost does. prost's recursion
//!   budget cannot be handed to its `skip_field` from outside; [`skip_within`] is that function
//!   with the budget as an argument, for fields below a message's top level.

use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

/// Why a read failed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at offset {offset:#x}")]
pub struct CursorError {
    /// What could not be read.
    pub what: &'static str,
    /// Where (the cursor's offset when the read began).
    pub offset: u64,
}

/// A position in a byte slice that sits at `base` in its file.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, which begins at offset `base` of its file.
    pub fn new(buf: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor { buf, pos: 0, base }
    }

    /// The offset of the next byte, in the file.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// No bytes left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes left, without moving.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn err(&self, what: &'static str) -> CursorError {
        CursorError { what, offset: self.offset() }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CursorError> {
        if n > self.remaining() {
            return Err(self.err(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A little-endian u64 (a WAL frame's length field).
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64, CursorError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A protobuf varint.
    pub fn varint(&mut self) -> Result<u64, CursorError> {
        self.proto(decode_varint, "invalid varint")
    }

    /// A protobuf field key.
    pub fn key(&mut self) -> Result<(u32, WireType), CursorError> {
        self.proto(decode_key, "invalid field key")
    }

    /// A length-delimited field's body: its length is checked against what remains.
    pub fn delimited(&mut self) -> Result<&'a [u8], CursorError> {
        let at = *self;
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            *self = at;
            return Err(at.err("length-delimited field runs past the end"));
        }
        self.take(len as usize, "length-delimited field runs past the end")
    }

    /// Skip a field of this wire type (prost's rules, nesting included), as a field at the top
    /// level of the message prost decodes.
    pub fn skip(&mut self, tag: u32, wt: WireType) -> Result<(), CursorError> {
        self.proto(|b| skip_field(wt, tag, b, DecodeContext::default()), "invalid field")
    }

    /// [`Cursor::skip`] for a field where prost's recursion budget is `budget` (100 at the top
    /// of the decoded message, one less per level of nested message): see [`skip_within`].
    pub fn skip_within(&mut self, tag: u32, wt: WireType, budget: u32) -> Result<(), CursorError> {
        self.proto(|b| skip_within(wt, tag, b, budget).ok_or(()), "invalid field")
    }

    fn proto<T, E>(
        &mut self,
        f: impl FnOnce(&mut &'a [u8]) -> Result<T, E>,
        what: &'static str,
    ) -> Result<T, CursorError> {
        let mut b = self.rest();
        let before = b.len();
        match f(&mut b) {
            Ok(v) => {
                self.pos += before - b.len();
                Ok(v)
            }
            Err(_) => Err(self.err(what)),
        }
    }
}

/// prost's `skip_field` with its recursion budget given: refused when the budget is 0 (prost's
/// `RecursionLimitReached`), and each nested group's fields have one less. `None` wherever prost
/// returns an error. Recursion is bounded by `budget`.
pub fn skip_within(wt: WireType, tag: u32, buf: &mut &[u8], budget: u32) -> Option<()> {
    if budget == 0 {
        return None;
    }
    let len = match wt {
        WireType::Varint => {
            decode_varint(buf).ok()?;
            0
        }
        WireType::ThirtyTwoBit => 4,
        WireType::SixtyFourBit => 8,
        WireType::LengthDelimited => decode_varint(buf).ok()?,
        WireType::StartGroup => loop {
            let (inner_tag, inner_wt) = decode_key(buf).ok()?;
            if inner_wt == WireType::EndGroup {
                if inner_tag != tag {
                    return None;
                }
                break 0;
            }
            skip_within(inner_wt, inner_tag, buf, budget - 1)?;
        },
        WireType::EndGroup => return None,
    };
    if len > buf.len() as u64 {
        return None;
    }
    *buf = &buf[len as usize..];
    Some(())
}

/// A WAL frame's 8-byte length field, split: etcd writes the record length in the low 56 bits
/// and, when the record is padded to 8 bytes, `0x80 | padding` in the top byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLen {
    /// The field as read.
    pub raw: u64,
    /// Record length (low 56 bits).
    pub rec: u64,
    /// The top byte.
    pub top: u8,
}

impl FrameLen {
    /// Split a length field.
    pub fn new(raw: u64) -> FrameLen {
        FrameLen { raw, rec: raw & 0x00FF_FFFF_FFFF_FFFF, top: (raw >> 56) as u8 }
    }
    /// The padding flag is set.
    pub fn padded(&self) -> bool {
        self.top & 0x80 != 0
    }
    /// The padding the top byte gives (0 without the flag).
    pub fn pad(&self) -> u64 {
        if self.padded() { u64::from(self.top & 0x07) } else { 0 }
    }
    /// The padding an aligned writer would have used for this record length.
    pub fn expected_pad(&self) -> u64 {
        (8 - self.rec % 8) % 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_fields() {
        // etcd's TestReadRecord style: the bytes as they are on disk.
        let f = FrameLen::new(u64::from_le_bytes([0x0d, 0, 0, 0, 0, 0, 0, 0x83]));
        assert_eq!((f.rec, f.pad(), f.padded(), f.expected_pad()), (13, 3, true, 3));
        let f = FrameLen::new(u64::from_le_bytes([0x10, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!((f.rec, f.pad(), f.padded()), (16, 0, false));
    }

    #[test]
    fn reads_name_their_offset() {
        let b = [0x08, 0x96, 0x01, 0x12, 0x03, b'a', b'b', b'c', 0x1a, 0x05, b'x'];
        let mut c = Cursor::new(&b, 0x100);
        assert_eq!(c.key().unwrap(), (1, WireType::Varint));
        assert_eq!(c.varint().unwrap(), 150);
        assert_eq!(c.key().unwrap(), (2, WireType::LengthDelimited));
        assert_eq!(c.delimited().unwrap(), b"abc");
        assert_eq!(c.key().unwrap(), (3, WireType::LengthDelimited));
        let e = c.delimited().unwrap_err();
        assert_eq!(e, CursorError { what: "length-delimited field runs past the end", offset: 0x109 });
        // A failed read does not move the cursor.
        assert_eq!(c.offset(), 0x109);
        let mut c = Cursor::new(&[0x01, 0x02], 0);
        assert!(c.u64_le("length field").is_err());
        assert_eq!(c.remaining(), 2);
    }

    #[test]
    fn skip_within_is_prosts_skip_field_with_its_budget() {
        // At the full budget: the same answer and the same bytes consumed as prost's, over
        // pseudo-random bytes rich in keys of every wire type.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            let mut b = Vec::new();
            for _ in 0..(x % 16) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(
                    [0x08, 0x0b, 0x0c, 0x13, 0x14, 0x0d, 0x09, 0x0a, 0x02, 0x80, 0x01, 0x00, 0xff, 0x0e]
                        [(x % 14) as usize],
                );
            }
            x = x.wrapping_add(1);
            let Some((&k, rest)) = b.split_first() else { continue };
            let Ok(wt) = WireType::try_from(u64::from(k & 7)) else { continue };
            let tag = u32::from(k >> 3).max(1);
            let (mut ours, mut theirs) = (rest, rest);
            let a = skip_within(wt, tag, &mut ours, 100).is_some();
            let p = skip_field(wt, tag, &mut theirs, DecodeContext::default()).is_ok();
            assert_eq!(a, p, "{b:02x?}");
            if a {
                assert_eq!(ours.len(), theirs.len(), "{b:02x?}");
            }
        }
        // Nested groups: each level takes one; an empty group needs a budget of one.
        let nested = |n: usize| [vec![0x0b; n - 1], vec![0x0c; n]].concat();
        for budget in 1..=5u32 {
            for n in 1..=6usize {
                let b = nested(n);
                assert_eq!(skip_within(WireType::StartGroup, 1, &mut &b[..], budget).is_some(), n as u32 <= budget);
            }
        }
        assert_eq!(skip_within(WireType::Varint, 1, &mut &[0x01][..], 0), None, "budget 0 refuses any field");
        let deep = nested(100);
        let mut c = Cursor::new(&deep, 0);
        assert!(c.clone().skip(1, WireType::StartGroup).is_ok());
        assert!(c.skip_within(1, WireType::StartGroup, 99).is_err());
    }
}
