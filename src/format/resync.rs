//! Finding intact records after damage.
//!
//! [`crate::format::wal::scan_segment`] stops at a frame whose length runs past the end of the file, at a
//! torn write and at a zero length field. Records may still follow such a point: a zeroed sector in
//! the middle of a segment, a flipped bit in a length field. To say what Docker would lose there
//! (and to let `salvage` keep them, and the analysis judge a tear with records after it as
//! damage), [`records_from`] looks for the next place where frames make sense again and scans on
//! from it.
//!
//! A candidate frame start is accepted only when the record it holds decodes and the *next* record's
//! stored CRC continues the chain from the candidate's stored CRC (or the candidate is the last
//! record before the end of the data and its payload decodes as its type says). Encrypted payloads
//! are random bytes, so a false match needs a 32-bit CRC collision on top of two well-formed frames.
//!
//! Invariants: never panics, never allocates from a length read from the data, and the work is
//! linear in the bytes searched (runs of zero bytes are skipped, not probed one by one).

use crate::format::wal::{self, ScannedRecord, rtype};
use crate::pb::{raftpb, walpb};
use bytes::Bytes;
use prost::Message;

/// Records larger than this are not believed during a resync (etcd 3.3.25/3.4 refuse records of
/// 10 MiB and more; swarmkit proposals are at most 1.5 MiB).
const MAX_RESYNC_RECORD: u64 = 16 * 1024 * 1024;

/// One frame parsed at an offset, without any CRC chain check.
struct Frame {
    rtype: i64,
    crc: u32,
    data: Bytes,
    end: u64,
}

fn frame_at(data: &Bytes, off: u64, legacy: bool) -> Option<Frame> {
    let len = data.len() as u64;
    let body = off.checked_add(8)?;
    if body > len {
        return None;
    }
    let o = usize::try_from(off).ok()?;
    let l = crate::format::cursor::Cursor::new(data.get(o..)?, off).u64_le("frame length field").ok()?;
    if l == 0 {
        return None;
    }
    let f = crate::format::cursor::FrameLen::new(l);
    let (rec, top) = (f.rec, f.top);
    let pad = if legacy {
        if top != 0 {
            return None;
        }
        0
    } else if top == 0 {
        if rec % 8 != 0 {
            return None;
        }
        0
    } else {
        if top & 0xF8 != 0x80 {
            return None;
        }
        let p = u64::from(top & 0x07);
        if p != (8 - rec % 8) % 8 {
            return None;
        }
        p
    };
    if rec == 0 || rec > MAX_RESYNC_RECORD {
        return None;
    }
    let end = body.checked_add(rec)?.checked_add(pad)?;
    if end > len {
        return None;
    }
    let r = walpb::Record::decode(data.slice(body as usize..(body + rec) as usize)).ok()?;
    let rt = r.r#type.unwrap_or(0);
    if !(1..=5).contains(&rt) {
        return None;
    }
    let payload = r.data.unwrap_or_default();
    if rt == rtype::CRC && !payload.is_empty() {
        return None;
    }
    Some(Frame { rtype: rt, crc: r.crc.unwrap_or(0), data: payload, end })
}

/// Whether a record's payload decodes as its type says (used when no next record can vouch for it).
fn payload_plausible(f: &Frame) -> bool {
    match f.rtype {
        rtype::ENTRY => raftpb::Entry::decode(f.data.clone()).is_ok_and(|e| e.index() > 0),
        rtype::STATE => raftpb::HardState::decode(f.data.clone()).is_ok(),
        rtype::SNAPSHOT => walpb::Snapshot::decode(f.data.clone()).is_ok(),
        rtype::METADATA => !f.data.is_empty(),
        _ => false,
    }
}

/// Whether a frame start at `off` is confirmed by the chain (see the module doc).
fn confirmed(data: &Bytes, off: u64, legacy: bool) -> Option<Frame> {
    let f = frame_at(data, off, legacy)?;
    match frame_at(data, f.end, legacy) {
        Some(next) => {
            let ok = if next.rtype == rtype::CRC {
                next.crc == f.crc
            } else {
                crc32c::crc32c_append(f.crc, &next.data) == next.crc
            };
            ok.then_some(f)
        }
        None => {
            // Last record before zeros or the end of the data.
            let tail_ok = {
                let e = f.end as usize;
                let stop = (e + 8).min(data.len());
                data.get(e..stop).is_some_and(|b| b.iter().all(|&x| x == 0))
            };
            (tail_ok && payload_plausible(&f)).then_some(f)
        }
    }
}

/// The first offset at or after `from` where a confirmed frame starts (8-byte aligned unless
/// `legacy`), or `None`.
pub fn find_frame(data: &Bytes, from: u64, legacy: bool) -> Option<u64> {
    let len = data.len() as u64;
    let step = if legacy { 1 } else { 8 };
    let mut off = if legacy { from } else { from.div_ceil(8) * 8 };
    while off.checked_add(8).is_some_and(|e| e <= len) {
        let o = off as usize;
        let window = data.get(o..o + 8)?;
        if window.iter().all(|&b| b == 0) {
            // Skip the run of zeros quickly.
            let rest = data.get(o..)?;
            match rest.iter().position(|&b| b != 0) {
                Some(p) => {
                    let nz = off + p as u64;
                    // Frames start at or before the first non-zero byte (the length field's low
                    // bytes come first, but its high bytes may be zero).
                    let back = nz.saturating_sub(7).max(off + step);
                    off = if legacy { back } else { back.div_ceil(8) * 8 };
                    continue;
                }
                None => return None,
            }
        }
        if confirmed(data, off, legacy).is_some() {
            return Some(off);
        }
        off += step;
    }
    None
}

/// Every record found at or after `from` (absolute offsets), resyncing past damage as often as
/// needed. The first record found has `crc_ok == false` (nothing before it vouches for it) unless it
/// is a crc record; the ones after are chain-checked as usual.
pub fn records_from(name: &str, data: &Bytes, from: u64, legacy: bool) -> Vec<ScannedRecord> {
    let mut out = Vec::new();
    let mut pos = from;
    let len = data.len() as u64;
    // Each round advances `pos` by at least one byte, so this terminates; the cap is a guard.
    for _ in 0..1_000_000 {
        if pos >= len {
            break;
        }
        let Some(start) = find_frame(data, pos, legacy) else { break };
        let slice = data.slice(start as usize..);
        let scan = wal::scan_segment(name, name, &slice, false);
        let mut end = start;
        for (i, r) in scan.records.iter().enumerate() {
            let mut r = r.clone();
            r.offset += start;
            r.end += start;
            if i == 0 && r.rtype != rtype::CRC {
                r.crc_ok = false;
            }
            end = r.end;
            out.push(r);
        }
        pos = end.max(start + 1).max(start + scan.end.offset());
    }
    out
}

/// Recover the one frame that should fill `[start, end)` when only its length field is damaged:
/// the body is tried with every possible padding and accepted when its CRC continues the chain
/// from `prev_crc` (the stored CRC of the record before it).
pub fn recover_frame(data: &Bytes, start: u64, end: u64, prev_crc: u32, legacy: bool) -> Option<ScannedRecord> {
    let body = start.checked_add(8)?;
    if end <= body || end > data.len() as u64 || end - body > MAX_RESYNC_RECORD {
        return None;
    }
    let pads: &[u64] = if legacy { &[0] } else { &[0, 1, 2, 3, 4, 5, 6, 7] };
    for &pad in pads {
        let Some(rec_end) = end.checked_sub(pad) else { continue };
        if rec_end <= body {
            continue;
        }
        if !legacy && (rec_end - body + pad) % 8 != 0 {
            continue;
        }
        let bytes = data.slice(body as usize..rec_end as usize);
        if data[rec_end as usize..end as usize].iter().any(|&b| b != 0) {
            continue;
        }
        let Ok(r) = walpb::Record::decode(bytes) else { continue };
        let rt = r.r#type.unwrap_or(0);
        if !(1..=5).contains(&rt) || rt == rtype::CRC {
            continue;
        }
        let payload = r.data.unwrap_or_default();
        let crc = r.crc.unwrap_or(0);
        if crc32c::crc32c_append(prev_crc, &payload) == crc {
            return Some(ScannedRecord { offset: start, end, rtype: rt, crc, data: payload, crc_ok: true });
        }
    }
    None
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let x = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(x & 0x7f) << shift;
        if x & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Index and term of a partly written entry record at `off`: the frame header and the first
/// bytes of the record (type, crc, then the entry's type, term and index) are enough, even when
/// the rest of the frame is torn or missing.
pub fn partial_entry(data: &[u8], off: u64) -> Option<(u64, u64)> {
    let o = usize::try_from(off).ok()?;
    let body = data.get(o.checked_add(8)?..)?;
    let body = &body[..body.len().min(64)];
    let mut p = 0usize;
    let (mut rt, mut entry) = (None, None);
    while p < body.len() && entry.is_none() {
        let key = varint(body, &mut p)?;
        match (key >> 3, key & 7) {
            (1, 0) => rt = Some(varint(body, &mut p)?),
            (2, 0) => {
                varint(body, &mut p)?;
            }
            (3, 2) => {
                let _len = varint(body, &mut p)?;
                entry = Some(p);
            }
            _ => return None,
        }
    }
    if rt != Some(rtype::ENTRY as u64) {
        return None;
    }
    let e = body.get(entry?..)?;
    let mut q = 0usize;
    let (mut term, mut index) = (None, None);
    while q < e.len() && index.is_none() {
        let key = varint(e, &mut q)?;
        match (key >> 3, key & 7) {
            (1, 0) => {
                varint(e, &mut q)?;
            }
            (2, 0) => term = Some(varint(e, &mut q)?),
            (3, 0) => index = Some(varint(e, &mut q)?),
            _ => return None,
        }
    }
    Some((index?, term.unwrap_or(0))).filter(|x| x.0 > 0)
}

/// Entry index and term of an entry record, if it decodes.
pub fn entry_index(r: &ScannedRecord) -> Option<(u64, u64)> {
    if r.rtype != rtype::ENTRY {
        return None;
    }
    raftpb::Entry::decode(r.data.clone()).ok().map(|e| (e.index(), e.term()))
}

/// HardState commit of a state record, if it decodes.
pub fn state_commit(r: &ScannedRecord) -> Option<u64> {
    if r.rtype != rtype::STATE {
        return None;
    }
    raftpb::HardState::decode(r.data.clone()).ok().map(|h| h.commit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::wal::encode::SegmentWriter;

    fn segment(n: u64) -> (Vec<u8>, Vec<u64>) {
        let mut w = SegmentWriter::new(0, false);
        w.record(rtype::METADATA, Some(b"meta"));
        let mut offs = Vec::new();
        for i in 1..=n {
            offs.push(w.buf.len() as u64);
            let e = raftpb::Entry { r#type: Some(0), term: Some(2), index: Some(i), data: Some(vec![7u8; 40].into()) };
            w.record(rtype::ENTRY, Some(&e.encode_to_vec()));
        }
        (w.buf, offs)
    }

    #[test]
    fn finds_records_after_a_destroyed_frame() {
        let (mut buf, offs) = segment(10);
        // Destroy entry 4's length field with garbage.
        let o = offs[3] as usize;
        buf[o..o + 8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44]);
        buf.extend(std::iter::repeat_n(0u8, 4096));
        let data = Bytes::from(buf);
        let recs = records_from("x", &data, offs[3], false);
        let idx: Vec<u64> = recs.iter().filter_map(entry_index).map(|e| e.0).collect();
        assert_eq!(idx, (5..=10).collect::<Vec<_>>());
        assert_eq!(recs[0].offset, offs[4]);
    }

    #[test]
    fn recovers_a_frame_whose_length_field_is_gone() {
        let (mut buf, offs) = segment(6);
        let o = offs[2] as usize;
        buf[o..o + 8].copy_from_slice(&[0u8; 8]);
        let data = Bytes::from(buf);
        let prev = scan_prefix(&data, offs[2]);
        let r = recover_frame(&data, offs[2], offs[3], prev, false).expect("recovered");
        assert_eq!(entry_index(&r), Some((3, 2)));
        assert!(recover_frame(&data, offs[2], offs[3], prev ^ 1, false).is_none());
    }

    fn scan_prefix(data: &Bytes, upto: u64) -> u32 {
        let s = wal::scan_segment("x", "x", &data.slice(..upto as usize), false);
        s.records.last().unwrap().crc
    }

    #[test]
    fn nothing_in_zeros_or_garbage() {
        let zeros = Bytes::from(vec![0u8; 1 << 16]);
        assert!(records_from("x", &zeros, 0, false).is_empty());
        let mut s: u32 = 1;
        let junk: Vec<u8> = (0..(1 << 16))
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (s >> 16) as u8
            })
            .collect();
        assert!(records_from("x", &Bytes::from(junk), 0, false).is_empty());
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        let mut v = vec![0u8; 64];
        v[..8].copy_from_slice(&(1u64 << 55).to_le_bytes());
        v[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(records_from("x", &Bytes::from(v), 0, false).is_empty());
    }
}
