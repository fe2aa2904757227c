//! Named mutators for the corruption matrix. Each one damages an unpacked swarm dir in one
//! precise way, the way disks, crashes, bad backups and people do. Record boundaries come from
//! the crate's own scanner on the clean file, so tests never hardcode offsets.
#![allow(dead_code)]

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use swarmsift::format::wal::{ScannedRecord, scan_segment};

/// `raft/wal-v3-encrypted` of a swarm dir.
pub fn wal_dir(swarm: &Path) -> PathBuf {
    swarm.join("raft/wal-v3-encrypted")
}

/// `raft/snap-v3-encrypted` of a swarm dir.
pub fn snap_dir(swarm: &Path) -> PathBuf {
    swarm.join("raft/snap-v3-encrypted")
}

fn sorted(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == ext)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// WAL segments, in name order.
pub fn segments(swarm: &Path) -> Vec<PathBuf> {
    sorted(&wal_dir(swarm), "wal")
}

/// Snapshot files, in name order (oldest first).
pub fn snapshots(swarm: &Path) -> Vec<PathBuf> {
    sorted(&snap_dir(swarm), "snap")
}

/// The records of a segment as the scanner finds them (offset, end, type, data).
pub fn records(seg: &Path, is_last: bool) -> Vec<ScannedRecord> {
    let data = bytes::Bytes::from(std::fs::read(seg).unwrap());
    let name = seg.file_name().unwrap().to_str().unwrap();
    scan_segment(name, name, &data, is_last).records
}

/// The display path the library uses for a file of an unpacked dir.
pub fn display(p: &Path) -> String {
    p.display().to_string()
}

fn patch(file: &Path, offset: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

/// Flip one bit.
pub fn flip_bit(file: &Path, offset: u64, bit: u8) {
    let data = std::fs::read(file).unwrap();
    let b = data[offset as usize] ^ (1 << (bit % 8));
    patch(file, offset, &[b]);
}

/// Zero the 512-byte sector that contains `offset` (etcd's sector size).
pub fn zero_sector(file: &Path, offset: u64) -> u64 {
    let start = offset / 512 * 512;
    patch(file, start, &[0u8; 512]);
    start
}

/// Cut the file to `len` bytes.
pub fn truncate_at(file: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(file).unwrap().set_len(len).unwrap();
}

/// Overwrite the 8-byte frame length field at `offset`.
pub fn set_len_field(file: &Path, offset: u64, value: u64) {
    patch(file, offset, &value.to_le_bytes());
}

/// Remove a segment file.
pub fn delete_segment(file: &Path) {
    std::fs::remove_file(file).unwrap();
}

/// Swap the contents of two segment files (their names stay).
pub fn swap_segments(a: &Path, b: &Path) {
    let tmp = a.with_extension("swap");
    std::fs::rename(a, &tmp).unwrap();
    std::fs::rename(b, a).unwrap();
    std::fs::rename(&tmp, b).unwrap();
}

/// Remove a snapshot file.
pub fn delete_snapshot(file: &Path) {
    std::fs::remove_file(file).unwrap();
}

/// Remove the `raft-dek` and `raft-dek-pending` headers from `certificates/swarm-node.key`.
pub fn strip_dek_headers(swarm: &Path) {
    let p = swarm.join("certificates/swarm-node.key");
    let text = std::fs::read_to_string(&p).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("raft-dek")).collect();
    std::fs::write(&p, kept.join("\n") + "\n").unwrap();
}

/// Remove every record of type `rtype` from the WAL and re-chain the CRCs, the way a tool that
/// rewrites segments (or a person with a hex editor and patience) would: the result scans clean,
/// with those records simply absent. Each segment keeps its length (preallocated space stays).
pub fn drop_records(swarm: &Path, rtype: i64) {
    drop_records_where(swarm, |r| r.rtype == rtype)
}

/// [`drop_records`] for every record `drop` picks.
pub fn drop_records_where(swarm: &Path, drop: impl Fn(&ScannedRecord) -> bool) {
    use swarmsift::format::wal::{encode::SegmentWriter, rtype as rt};
    let segs = segments(swarm);
    let mut prev = 0u32;
    for (i, seg) in segs.iter().enumerate() {
        let len = std::fs::metadata(seg).unwrap().len();
        let recs = records(seg, i + 1 == segs.len());
        let mut w = SegmentWriter::new(prev, false);
        for r in recs.iter().filter(|r| r.rtype != rt::CRC && !drop(r)) {
            w.record(r.rtype, Some(&r.data));
        }
        prev = w.crc;
        let mut buf = w.buf;
        if (buf.len() as u64) < len {
            buf.resize(len as usize, 0);
        }
        std::fs::write(seg, buf).unwrap();
    }
}

/// Overwrite `n` bytes at `offset` with 0xAA (a bad sector read back as garbage, or a stray write).
pub fn overwrite_bytes(file: &Path, offset: u64, n: usize) {
    patch(file, offset, &vec![0xAA; n]);
}

/// Replace `certificates/swarm-node.crt` with an expired certificate for the same node, role and
/// cluster (issued by a throwaway CA in 2020 for swarmkit's 90 days): a node that was down past
/// its certificate's life.
pub fn expire_certificate(swarm: &Path) {
    let p = swarm.join("certificates/swarm-node.crt");
    let pem = swarmsift::analyses::synth::expired_copy_of_node_certificate(&std::fs::read(&p).unwrap()).unwrap();
    std::fs::write(&p, pem).unwrap();
}

/// Cut the single segment of a capture into several, as etcd would have had it cut: a new
/// segment starts at each entry index of `firsts` (its name is `seq-index` with that index), with
/// a crc record carrying the chain on, then the metadata record; the last keeps the preallocated
/// length. Returns the new segment paths, in order.
pub fn split_segment(swarm: &Path, firsts: &[u64]) -> Vec<PathBuf> {
    use swarmsift::format::wal::{encode::SegmentWriter, rtype as rt};
    use swarmsift::replay::analysis::{Analysis, Options};
    let segs = segments(swarm);
    assert_eq!(segs.len(), 1, "split_segment takes a one-segment capture");
    let a = Analysis::load(swarm, &Options::default()).unwrap();
    let offset_of = |i: u64| a.wal.entries.iter().find(|e| e.index == i).unwrap().offset;
    let cuts: Vec<u64> = firsts.iter().map(|&i| offset_of(i)).collect();
    let len = std::fs::metadata(&segs[0]).unwrap().len();
    let recs = records(&segs[0], true);
    let metadata = recs.iter().find(|r| r.rtype == rt::METADATA).map(|r| r.data.clone()).unwrap();
    std::fs::remove_file(&segs[0]).unwrap();
    let mut out = Vec::new();
    let mut prev = 0u32;
    let mut part = 0usize;
    let mut w = SegmentWriter::new(0, false);
    let mut name_index = 0u64;
    let flush = |w: SegmentWriter, seq: usize, index: u64, last: bool, out: &mut Vec<PathBuf>| -> u32 {
        let crc = w.crc;
        let mut buf = w.buf;
        if last && (buf.len() as u64) < len {
            buf.resize(len as usize, 0);
        }
        let p = wal_dir(swarm).join(format!("{seq:016x}-{index:016x}.wal"));
        std::fs::write(&p, buf).unwrap();
        out.push(p);
        crc
    };
    for r in recs.iter().filter(|r| r.rtype != rt::CRC) {
        if part < cuts.len() && r.offset >= cuts[part] {
            prev = flush(w, part, name_index, false, &mut out);
            name_index = firsts[part];
            part += 1;
            w = SegmentWriter::new(prev, false);
            w.record(rt::METADATA, Some(&metadata));
        }
        w.record(r.rtype, Some(&r.data));
    }
    let _ = prev;
    flush(w, part, name_index, true, &mut out);
    out
}

/// The tar stream of a `.tar.gz` capture, decompressed.
pub fn tar_bytes(tarball: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut v = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(tarball).unwrap()).read_to_end(&mut v).unwrap();
    v
}

/// (name, header offset, data offset, size) of every member of a tar stream, from its ustar
/// headers (enough for the captures, which have no long names).
pub fn tar_members(tar: &[u8]) -> Vec<(String, u64, u64, u64)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let name = String::from_utf8_lossy(&h[..100]).trim_end_matches('\0').to_string();
        let size =
            u64::from_str_radix(String::from_utf8_lossy(&h[124..136]).trim_matches(|c: char| c == '\0' || c == ' '), 8)
                .unwrap_or(0);
        out.push((name, at as u64, at as u64 + 512, size));
        at += 512 + (size as usize).div_ceil(512) * 512;
    }
    out
}

/// A backup cut short: the capture's tar stream cut `into` bytes into the data of the member whose
/// name ends with `member`, written uncompressed to `out` (an interrupted copy, a full disk).
/// Returns the offset of the cut in the tar stream.
pub fn cut_tarball(tarball: &Path, out: &Path, member: &str, into: u64) -> u64 {
    let tar = tar_bytes(tarball);
    let m = tar_members(&tar).into_iter().find(|m| m.0.ends_with(member)).unwrap();
    let cut = m.2 + into.min(m.3);
    std::fs::write(out, &tar[..cut as usize]).unwrap();
    cut
}

/// A backup cut right after the data of its last member: every member is whole, the
/// end-of-archive blocks are gone. Returns the length written.
pub fn cut_tarball_after_last_member(tarball: &Path, out: &Path) -> u64 {
    let tar = tar_bytes(tarball);
    let last = tar_members(&tar).pop().unwrap();
    let end = last.2 + last.3.div_ceil(512) * 512;
    std::fs::write(out, &tar[..end as usize]).unwrap();
    end
}

/// The compressed capture itself cut to `len` bytes (a `.tar.gz` copy interrupted).
pub fn cut_file_copy(src: &Path, out: &Path, len: u64) {
    let data = std::fs::read(src).unwrap();
    std::fs::write(out, &data[..(len as usize).min(data.len())]).unwrap();
}

/// A raft log wiped: every entry record dropped and every snapshot file removed (the WAL keeps its
/// metadata and HardState), as a demotion leaves a node that then comes back.
pub fn empty_raft_log(swarm: &Path) {
    use swarmsift::format::wal::rtype;
    // walpb.Snapshot: field 1 is the index; the marker of index 0 (written when the WAL is
    // created) stays, as etcd needs it to open the WAL with no snapshot.
    let index_of = |d: &[u8]| -> u64 {
        if d.first() != Some(&0x08) {
            return 0;
        }
        let (mut v, mut shift) = (0u64, 0);
        for &b in &d[1..] {
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        v
    };
    drop_records_where(swarm, |r| r.rtype == rtype::ENTRY || (r.rtype == rtype::SNAPSHOT && index_of(&r.data) > 0));
    for s in snapshots(swarm) {
        delete_snapshot(&s);
    }
}

/// Put the node certificate of another node (`other`, an unpacked swarm dir) beside this one's
/// `swarm-node.key`: files of two nodes mixed while copying.
pub fn cert_of_another_node(swarm: &Path, other: &Path) {
    std::fs::copy(other.join("certificates/swarm-node.crt"), swarm.join("certificates/swarm-node.crt")).unwrap();
}

/// Change the value the leading crc record of `seg` stores (its lowest bit flipped): the segment
/// no longer continues the CRC chain of the one before it, as when that record's bytes rot.
/// The record keeps its length.
pub fn break_crc_chain(seg: &Path) {
    use swarmsift::format::wal::rtype;
    let first = records(seg, false).into_iter().next().unwrap();
    assert_eq!(first.rtype, rtype::CRC, "{}: a segment starts with its crc record", seg.display());
    // walpb.Record after the 8-byte length field: 0x08 type, 0x10 crc (varint), ...
    let data = std::fs::read(seg).unwrap();
    let at = first.offset as usize + 8;
    assert_eq!((data[at], data[at + 1], data[at + 2]), (0x08, rtype::CRC as u8, 0x10));
    flip_bit(seg, at as u64 + 3, 0);
}

/// Flip bit `bit` of the type field of the record at `offset` (a snapshot marker, type 5, with
/// bit 0 flipped reads as a crc record, type 4): one bit gone bad in a record's header.
pub fn flip_record_type(file: &Path, offset: u64, bit: u8) {
    let data = std::fs::read(file).unwrap();
    assert_eq!(data[offset as usize + 8], 0x08, "a walpb.Record starts with its type field");
    flip_bit(file, offset + 9, bit);
}

/// A genuine torn write at the true end of the log: zero `file` from the body of the frame at
/// `frame` through the end of the last record, so nothing readable follows the torn frame (the
/// preallocated zeros go on from there).
pub fn tear_tail(file: &Path, frame: u64) {
    let end = records(file, true).last().unwrap().end;
    let from = frame + 8;
    patch(file, from, &vec![0u8; (end - from) as usize]);
}
