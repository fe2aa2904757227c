//! The damaged variants that the real Docker engine is started on (`scripts/docker-predictions.sh`)
//! and that `tests/docker_predictions.rs` holds `verify`'s predictions to. Each variant is one
//! fixture capture with the corruption matrix's named mutators (`corrupt.rs`) applied, and says
//! where the damage is: the file, and the frame offset or raft index a finding must name.
//! Offsets and indexes come from a clean analysis of the unmutated capture, never hardcoded, and
//! every mutation is deterministic: the script's copy and the test's copy are the same bytes.
//!
//! Only fixtures whose stored addresses are all on loopback belong here (the script checks that
//! again from the data before it starts an engine).
#![allow(dead_code)]

use super::corrupt;
use std::path::{Path, PathBuf};
use swarmsift::replay::analysis::{Analysis, Options};

/// Where a variant's damage is: what the finding that explains it must name.
#[derive(Debug, Clone, Default)]
pub struct Damage {
    /// The damaged file (absolute path inside the unpacked variant), if one file is.
    pub file: Option<PathBuf>,
    /// Frame offset in it.
    pub offset: Option<u64>,
    /// Raft index concerned.
    pub index: Option<u64>,
}

/// One damaged variant.
pub struct Variant {
    /// Stable name (the golden file's key).
    pub name: &'static str,
    /// Fixture scenario.
    pub scenario: &'static str,
    /// Capture file in the scenario dir.
    pub capture: &'static str,
    /// What was done, in words.
    pub what: &'static str,
    /// The mutation; `None` is the undamaged control.
    pub mutate: Option<fn(&Path) -> Damage>,
}

impl Variant {
    /// The capture tarball.
    pub fn tarball(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(self.scenario).join(self.capture)
    }
    /// Unpack the capture into `dir` (which gets `swarm/`) and apply the mutation. Returns the
    /// swarm dir and where the damage is.
    pub fn materialize(&self, dir: &Path) -> (PathBuf, Damage) {
        let f = std::fs::File::open(self.tarball()).unwrap_or_else(|e| panic!("{}: {e}", self.tarball().display()));
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        ar.set_preserve_permissions(true);
        ar.unpack(dir).expect("unpack");
        let swarm = dir.join("swarm");
        let damage = self.mutate.map(|m| m(&swarm)).unwrap_or_default();
        (swarm, damage)
    }
}

/// Facts of a clean capture.
struct Clean {
    seg: PathBuf,
    /// (index, frame offset) of every live entry.
    entries: Vec<(u64, u64)>,
    last: u64,
    newest_snapshot: u64,
}

impl Clean {
    fn of(swarm: &Path) -> Clean {
        let a = Analysis::load(swarm, &Options::default()).expect("clean capture loads");
        Clean {
            seg: corrupt::segments(swarm).last().unwrap().clone(),
            entries: a.wal.entries.iter().map(|e| (e.index, e.offset)).collect(),
            last: a.wal.last_index().unwrap(),
            newest_snapshot: a.snapshots.iter().map(|s| s.index).max().unwrap_or(0),
        }
    }
    fn offset_of(&self, index: u64) -> u64 {
        self.entries.iter().find(|e| e.0 == index).unwrap().1
    }
    fn at(&self, index: u64) -> Damage {
        Damage { file: Some(self.seg.clone()), offset: Some(self.offset_of(index)), index: Some(index) }
    }
    /// End of the last record of the last segment (where the preallocated zeros start).
    fn tail(&self) -> u64 {
        corrupt::records(&self.seg, true).last().unwrap().end
    }
}

fn flip_after_snapshot(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.newest_snapshot + 5;
    corrupt::flip_bit(&c.seg, c.offset_of(k) + 40, 3);
    c.at(k)
}

fn flip_old_entry(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.newest_snapshot / 2;
    corrupt::flip_bit(&c.seg, c.offset_of(k) + 30, 0);
    c.at(k)
}

fn overwrite_entry(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.last - 3;
    corrupt::overwrite_bytes(&c.seg, c.offset_of(k) + 24, 32);
    c.at(k)
}

fn zero_sector_before_snapshot(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.newest_snapshot - 30;
    let recs = corrupt::records(&c.seg, true);
    let rec = recs.iter().find(|r| r.offset == c.offset_of(k)).unwrap();
    let target = (rec.offset + 8).div_ceil(512) * 512;
    corrupt::zero_sector(&c.seg, target);
    // The record whose body the sector starts in; or, when it starts on a frame, that frame (its
    // length field now reads zero).
    let offset = recs.iter().find(|r| r.offset + 8 <= target && target < r.end).map(|r| r.offset).unwrap_or(target);
    Damage { file: Some(c.seg.clone()), offset: Some(offset), index: None }
}

fn truncate_at_boundary(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.last - 5;
    corrupt::truncate_at(&c.seg, c.offset_of(k));
    c.at(k)
}

fn truncate_inside_record(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.last - 5;
    corrupt::truncate_at(&c.seg, c.offset_of(k) + 13);
    c.at(k)
}

fn absurd_length_mid_log(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.newest_snapshot + 2;
    corrupt::set_len_field(&c.seg, c.offset_of(k), 1u64 << 55);
    c.at(k)
}

fn huge_length_after_last_record(s: &Path) -> Damage {
    let c = Clean::of(s);
    let off = c.tail();
    corrupt::set_len_field(&c.seg, off, 0x00FF_FFFF_FFFF_FFF0);
    Damage { file: Some(c.seg.clone()), offset: Some(off), index: None }
}

fn length_past_end_after_last_record(s: &Path) -> Damage {
    let c = Clean::of(s);
    let off = c.tail();
    // 100 MiB: more than the 64,000,000-byte segment holds, far below Go's allocation limit.
    corrupt::set_len_field(&c.seg, off, 100 << 20);
    Damage { file: Some(c.seg.clone()), offset: Some(off), index: None }
}

fn zero_length_field(s: &Path) -> Damage {
    let c = Clean::of(s);
    let k = c.last - 10;
    corrupt::set_len_field(&c.seg, c.offset_of(k), 0);
    c.at(k)
}

fn delete_only_segment(s: &Path) -> Damage {
    let c = Clean::of(s);
    corrupt::delete_segment(&c.seg);
    Damage { file: None, offset: None, index: None }
}

fn delete_newest_snapshot(s: &Path) -> Damage {
    let c = Clean::of(s);
    let snaps = corrupt::snapshots(s);
    corrupt::delete_snapshot(snaps.last().unwrap());
    Damage { file: Some(c.seg.clone()), offset: None, index: Some(c.newest_snapshot) }
}

fn damage_newest_snapshot(s: &Path) -> Damage {
    let snaps = corrupt::snapshots(s);
    let newest = snaps.last().unwrap();
    let len = std::fs::metadata(newest).unwrap().len();
    corrupt::flip_bit(newest, len / 2, 5);
    Damage { file: Some(newest.clone()), offset: None, index: None }
}

fn strip_dek(s: &Path) -> Damage {
    corrupt::strip_dek_headers(s);
    Damage { file: Some(s.join("certificates/swarm-node.key")), offset: None, index: None }
}

fn swap_first_two_segments(s: &Path) -> Damage {
    let segs = corrupt::segments(s);
    corrupt::swap_segments(&segs[0], &segs[1]);
    Damage { file: None, offset: None, index: None }
}

fn delete_first_segment(s: &Path) -> Damage {
    let segs = corrupt::segments(s);
    corrupt::delete_segment(&segs[0]);
    Damage { file: None, offset: None, index: None }
}

fn delete_last_segment(s: &Path) -> Damage {
    let segs = corrupt::segments(s);
    corrupt::delete_segment(segs.last().unwrap());
    Damage { file: Some(segs[segs.len() - 2].clone()), offset: None, index: None }
}

fn expire_cert(s: &Path) -> Damage {
    corrupt::expire_certificate(s);
    Damage { file: Some(s.join("certificates/swarm-node.crt")), offset: None, index: None }
}

const CHURN: (&str, &str) = ("churn", "swarm.tar.gz");
const BIGWAL: (&str, &str) = ("big-wal", "swarm.tar.gz");

macro_rules! v {
    ($name:literal, $fx:expr, $what:literal, $m:expr) => {
        Variant { name: $name, scenario: $fx.0, capture: $fx.1, what: $what, mutate: $m }
    };
}

/// Every variant, in a fixed order.
pub fn all() -> Vec<Variant> {
    vec![
        v!("churn-clean", CHURN, "the capture as recorded (control)", None),
        v!(
            "churn-flip-bit-after-snapshot",
            CHURN,
            "one bit flipped inside entry newest-snapshot+5",
            Some(flip_after_snapshot)
        ),
        v!(
            "churn-flip-bit-old-entry",
            CHURN,
            "one bit flipped inside an entry the newest snapshot covers",
            Some(flip_old_entry)
        ),
        v!("churn-overwrite-entry", CHURN, "32 bytes of 0xAA inside entry last-3", Some(overwrite_entry)),
        v!(
            "churn-zero-sector",
            CHURN,
            "a 512-byte sector zeroed inside entry newest-snapshot-30",
            Some(zero_sector_before_snapshot)
        ),
        v!(
            "churn-truncate-at-boundary",
            CHURN,
            "the segment cut at the frame of entry last-5",
            Some(truncate_at_boundary)
        ),
        v!(
            "churn-truncate-inside-record",
            CHURN,
            "the segment cut 13 bytes into the frame of entry last-5",
            Some(truncate_inside_record)
        ),
        v!(
            "churn-absurd-length",
            CHURN,
            "length field of entry newest-snapshot+2 set to 2^55",
            Some(absurd_length_mid_log)
        ),
        v!(
            "churn-huge-length-after-last-record",
            CHURN,
            "length field 0x00FFFFFFFFFFFFF0 written after the last record",
            Some(huge_length_after_last_record)
        ),
        v!(
            "churn-length-past-end-after-last-record",
            CHURN,
            "length field 100 MiB (past the end of the file) written after the last record",
            Some(length_past_end_after_last_record)
        ),
        v!("churn-zero-length", CHURN, "length field of entry last-10 set to 0", Some(zero_length_field)),
        v!("churn-deleted-segment", CHURN, "the only WAL segment deleted", Some(delete_only_segment)),
        v!("churn-deleted-newest-snapshot", CHURN, "the newest .snap file deleted", Some(delete_newest_snapshot)),
        v!(
            "churn-damaged-newest-snapshot",
            CHURN,
            "one bit flipped in the middle of the newest .snap",
            Some(damage_newest_snapshot)
        ),
        v!("churn-stripped-dek", CHURN, "raft-dek headers removed from swarm-node.key", Some(strip_dek)),
        v!("churn-expired-certificate", CHURN, "swarm-node.crt replaced by an expired one", Some(expire_cert)),
        v!("autolock-no-key", ("autolock", "swarm.tar.gz"), "an autolocked capture, started without its key", None),
        v!(
            "big-wal-swapped-segments",
            BIGWAL,
            "the first two segments' contents swapped",
            Some(swap_first_two_segments)
        ),
        v!("big-wal-deleted-first-segment", BIGWAL, "the first segment deleted", Some(delete_first_segment)),
        v!("big-wal-deleted-last-segment", BIGWAL, "the last segment deleted", Some(delete_last_segment)),
    ]
}
