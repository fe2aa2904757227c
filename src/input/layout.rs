//! Layout detection: which WAL/snapshot directory pair is in use, where the keys are, and which
//! stale or leftover files exist.
//!
//! Preference follows swarmkit's fixed list: `wal-v3-encrypted`/`snap-v3-encrypted`, then the
//! plaintext `wal-v3`/`snap-v3` (Docker 1.13 dev builds), then legacy `wal`/`snap` (Docker 1.12,
//! unpadded frames). A pair is "in use" when its WAL dir holds `*.wal` files; legacy dirs left
//! behind by a migration are reported as stale, never read as current state.

use crate::error::{Code, Finding, Severity};
use crate::input::source::Source;
use serde::Serialize;

/// The WAL/snapshot directory pair in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutKind {
    /// `wal-v3-encrypted` + `snap-v3-encrypted` (Docker 1.13 and later).
    V3Encrypted,
    /// `wal-v3` + `snap-v3` (plaintext; Docker 1.13 development builds only).
    V3Plain,
    /// `wal` + `snap` (plaintext, unpadded frames; Docker 1.12).
    Legacy,
    /// A bare directory of `.wal`/`.snap` files; encryption is detected from the records.
    Bare,
}

impl LayoutKind {
    /// Whether entry and snapshot data are wrapped in `MaybeEncryptedRecord`.
    pub fn encrypted(self) -> Option<bool> {
        match self {
            LayoutKind::V3Encrypted => Some(true),
            LayoutKind::V3Plain | LayoutKind::Legacy => Some(false),
            LayoutKind::Bare => None,
        }
    }
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::V3Encrypted => "wal-v3-encrypted",
            LayoutKind::V3Plain => "wal-v3 (plaintext)",
            LayoutKind::Legacy => "wal (legacy 1.12, plaintext)",
            LayoutKind::Bare => "bare .wal/.snap directory",
        }
    }
}

/// Where everything is, relative to the source root.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    /// The pair in use.
    pub kind: LayoutKind,
    /// Relative path of the WAL dir ("" = root).
    pub wal_dir: String,
    /// Relative path of the snapshot dir.
    pub snap_dir: String,
    /// `*.wal` segment files, sorted by name, with sizes.
    pub wal_files: Vec<(String, u64)>,
    /// `*.snap` files, sorted by name, with sizes.
    pub snap_files: Vec<(String, u64)>,
    /// `certificates/swarm-node.key`, when present.
    pub key_file: Option<String>,
    /// `certificates/swarm-node.crt`, when present.
    pub cert_file: Option<String>,
    /// Other WAL/snap dir pairs that exist but are not in use.
    pub stale_dirs: Vec<String>,
    /// Leftover `.tmp` files and dirs, and `.broken` files.
    pub leftovers: Vec<String>,
    /// [`DECRYPTED_MARKER`] is present: a plaintext copy written by `swarmsift decrypt`, not a
    /// directory Docker wrote.
    pub decrypted_copy: bool,
    /// In a decrypted copy: the index ranges (inclusive) its marker lists as left encrypted
    /// under a retired DEK ([`RETIRED_DEK_LINE`]).
    pub retired_dek_entries: Vec<(u64, u64)>,
}

/// The file `swarmsift decrypt` writes at the root of its copy, so that the copy is reported
/// as what it is (its `wal-v3` layout is otherwise the one of Docker 1.13 development builds).
pub const DECRYPTED_MARKER: &str = "SWARMSIFT-DECRYPTED-COPY";

/// The line of [`DECRYPTED_MARKER`] that lists the entries `decrypt` left encrypted because a
/// DEK rotation retired their key (sound records the snapshot covers), as ranges `1-40,45`.
pub const RETIRED_DEK_LINE: &str = "left encrypted: retired DEK: ";

/// The retired-DEK ranges of a marker's text: only well-formed ranges of the
/// [`RETIRED_DEK_LINE`] line (at most 4,096 of them), anything else ignored.
pub fn parse_retired_dek(marker: &[u8]) -> Vec<(u64, u64)> {
    let text = String::from_utf8_lossy(marker);
    let Some(line) = text.lines().find_map(|l| l.strip_prefix(RETIRED_DEK_LINE)) else { return vec![] };
    line.split(',')
        .take(4096)
        .filter_map(|r| {
            let (a, b) = r.trim().split_once('-').unwrap_or((r.trim(), r.trim()));
            let (a, b) = (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?);
            (a <= b).then_some((a, b))
        })
        .collect()
}

const PAIRS: &[(LayoutKind, &str, &str)] = &[
    (LayoutKind::V3Encrypted, "wal-v3-encrypted", "snap-v3-encrypted"),
    (LayoutKind::V3Plain, "wal-v3", "snap-v3"),
    (LayoutKind::Legacy, "wal", "snap"),
];

fn join(base: &str, name: &str) -> String {
    if base.is_empty() { name.to_string() } else { format!("{base}/{name}") }
}

/// Parse `%016x-%016x.wal` into (seq, index).
pub fn parse_wal_name(name: &str) -> Option<(u64, u64)> {
    parse_pair(name.strip_suffix(".wal")?)
}

/// Parse `%016x-%016x.snap` into (term, index).
pub fn parse_snap_name(name: &str) -> Option<(u64, u64)> {
    parse_pair(name.strip_suffix(".snap")?)
}

fn parse_pair(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('-')?;
    if a.len() != 16 || b.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
}

/// Detect the layout. Returns findings for stale dirs and leftovers.
pub fn detect(src: &Source) -> (Layout, Vec<Finding>) {
    let mut findings = Vec::new();
    let raft = if src.dir_exists("raft") { "raft" } else { "" };
    let wal_names = |dir: &str| -> Vec<(String, u64)> {
        let mut v: Vec<_> = src.list(dir).into_iter().filter(|(n, _)| parse_wal_name(n).is_some()).collect();
        v.sort();
        v
    };
    let snap_names = |dir: &str| -> Vec<(String, u64)> {
        let mut v: Vec<_> = src.list(dir).into_iter().filter(|(n, _)| parse_snap_name(n).is_some()).collect();
        v.sort();
        v
    };
    let mut chosen: Option<(LayoutKind, String, String)> = None;
    for (kind, w, s) in PAIRS {
        let wd = join(raft, w);
        if !wal_names(&wd).is_empty() {
            chosen = Some((*kind, wd, join(raft, s)));
            break;
        }
    }
    if chosen.is_none() {
        // No WAL anywhere: take the first pair with snapshots, then the first pair whose dir exists.
        for (kind, w, s) in PAIRS {
            let sd = join(raft, s);
            if !snap_names(&sd).is_empty() || src.dir_exists(&join(raft, w)) {
                chosen = Some((*kind, join(raft, w), sd));
                break;
            }
        }
    }
    let (kind, wal_dir, snap_dir) = chosen.unwrap_or_else(|| (LayoutKind::Bare, raft.to_string(), raft.to_string()));
    for (k, w, s) in PAIRS {
        if *k == kind {
            continue;
        }
        for d in [w, s] {
            let p = join(raft, d);
            if src.dir_exists(&p) {
                let n = src.list(&p).len();
                findings.push(
                    Finding::new(
                        Code::LayoutStaleDir,
                        Severity::Info,
                        format!(
                            "stale {} dir ({n} files) left from an older Docker version; it is not read as current state",
                            d
                        ),
                    )
                    .file(src.display(&p)),
                );
            }
        }
    }
    let mut leftovers = Vec::new();
    for e in &src.entries {
        let name = e.rel.rsplit('/').next().unwrap_or(&e.rel);
        let in_raft = raft.is_empty() || e.rel.starts_with("raft/");
        if !in_raft {
            continue;
        }
        if name.ends_with(".broken") {
            leftovers.push(e.rel.clone());
            findings.push(
                Finding::new(
                    Code::LayoutBrokenFile,
                    Severity::Warning,
                    "a .broken file: etcd's repair (or snapshot loader) set this aside after finding damage; the data in it is not used by Docker",
                )
                .file(src.display(&e.rel)),
            );
        } else if name.ends_with(".tmp") && (e.is_dir || !e.rel.starts_with(&format!("{wal_dir}/"))) {
            leftovers.push(e.rel.clone());
            findings.push(
                Finding::new(
                    Code::LayoutTmpLeftover,
                    Severity::Warning,
                    "leftover temporary dir or file from an interrupted WAL/snapshot creation or migration; Docker ignores it",
                )
                .file(src.display(&e.rel)),
            );
        } else if name.ends_with(".tmp") {
            // 0.tmp / 1.tmp in the WAL dir are etcd's preallocated spare segments: normal.
        } else if e.is_dir && (name.starts_with("wal.") || name.starts_with("snap.")) {
            leftovers.push(e.rel.clone());
            findings.push(
                Finding::new(
                    Code::LayoutTmpLeftover,
                    Severity::Info,
                    "a WAL/snap dir moved aside by Docker 1.12 when the node left or was demoted",
                )
                .file(src.display(&e.rel)),
            );
        }
    }
    let key = ["certificates/swarm-node.key", "swarm-node.key"].into_iter().find(|p| src.exists(p)).map(String::from);
    let cert = ["certificates/swarm-node.crt", "swarm-node.crt"].into_iter().find(|p| src.exists(p)).map(String::from);
    let layout = Layout {
        kind,
        wal_files: wal_names(&wal_dir),
        snap_files: snap_names(&snap_dir),
        wal_dir,
        snap_dir,
        key_file: key,
        cert_file: cert,
        stale_dirs: PAIRS
            .iter()
            .filter(|(k, ..)| *k != kind)
            .flat_map(|(_, w, s)| [join(raft, w), join(raft, s)])
            .filter(|p| src.dir_exists(p))
            .collect(),
        leftovers,
        decrypted_copy: src.exists(DECRYPTED_MARKER),
        retired_dek_entries: if src.exists(DECRYPTED_MARKER) {
            src.read(DECRYPTED_MARKER).map(|b| parse_retired_dek(&b)).unwrap_or_default()
        } else {
            vec![]
        },
    };
    (layout, findings)
}
