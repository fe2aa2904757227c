//! Several copies of one swarm's manager state, taken over time, read as one history.
//!
//! Inputs are anything [`Analysis::load`] reads: swarm dirs, raft dirs, tarballs, bare dirs of
//! `.snap` (KeepOldSnapshots archives) or `.wal` files. The archive:
//! - loads and validates each copy (a copy without keys, such as a bare snap dir, is decrypted
//!   with the keys of the others);
//! - orders the copies by their raft position (HardState term and commit, last index, newest
//!   snapshot);
//! - de-duplicates snapshots: same term, index and file CRC-32C is one snapshot found in several
//!   places. Each manager encrypts its own copy (own DEK, nonces, map order), so files of the
//!   same term and index with different CRCs are compared by decoded objects and membership:
//!   equal is still one snapshot; different is a conflict, shown, and the first readable one is
//!   used;
//! - merges WAL entries by index: the same term and (decrypted) data is one entry; a later term at the same
//!   index overwrites an earlier one (as raft does), the loser is kept as overwritten; the same
//!   term with different data is a conflict;
//! - builds one merged [`Analysis`] (entries decoded, final state replayed) that `chart`,
//!   `state`, `diff` and `timeline` read like a single input.
//!
//! Read-only like everything else: no copy is modified, nothing is extracted.

use crate::crypto::Dek;
use crate::decode::entry::{DecodedEntry, decode_entry};
use crate::decode::object::Membership;
use crate::decode::snapshot::decode_snapshot;
use crate::error::{Code, Error, Finding, Result, Severity};
use crate::format::wal::{EntryRec, WalLog};
use crate::replay::analysis::{Analysis, Options, SnapInfo};
use crate::replay::engine::{Log, Replay, Rules, Scope, Start, Visitor, choose_base};
use crate::replay::store::Store;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One input as found.
#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    /// Position in the order (0 = oldest).
    pub order: usize,
    /// File name of the input.
    pub name: String,
    /// The path as given.
    pub path: String,
    /// `swarm-dir`, `raft-dir`, `bare-dir`, `tarball`.
    pub kind: crate::input::source::InputKind,
    /// Layout name.
    pub layout: &'static str,
    /// Data encrypted.
    pub encrypted: bool,
    /// Node ID from the WAL metadata.
    pub node_id: Option<String>,
    /// Live WAL range.
    pub wal_first: Option<u64>,
    /// Live WAL range.
    pub wal_last: Option<u64>,
    /// HardState term.
    pub term: Option<u64>,
    /// HardState commit.
    pub commit: Option<u64>,
    /// Snapshot files.
    pub snapshots: usize,
    /// Readable ones.
    pub valid_snapshots: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Notes (keys borrowed from other copies...).
    pub notes: Vec<String>,
}

/// A distinct snapshot of the archive.
#[derive(Debug, Clone, Serialize)]
pub struct ArchSnapshot {
    /// Term.
    pub term: u64,
    /// Index.
    pub index: u64,
    /// File name.
    pub file: String,
    /// Bytes.
    pub bytes: u64,
    /// CRC-32C of the file (of the first copy found).
    pub crc32c: String,
    /// Copies hold the same objects and membership in different bytes (another manager's DEK,
    /// nonce or map order).
    pub reencrypted: bool,
    /// Readable (container sound, decrypts, decodes).
    pub valid: bool,
    /// Why not.
    pub problem: Option<String>,
    /// Inputs holding this exact file.
    pub found_in: Vec<String>,
    /// Another file with the same term and index but different bytes exists.
    pub conflict: bool,
    /// Used in the merged history.
    pub used: bool,
}

/// A contiguous run of WAL indexes.
#[derive(Debug, Clone, Serialize)]
pub struct WalRange {
    /// First index.
    pub first: u64,
    /// Last index.
    pub last: u64,
    /// Entries.
    pub entries: usize,
    /// Terms seen.
    pub terms: Vec<u64>,
    /// Inputs contributing entries to it.
    pub from: Vec<String>,
}

/// The archive's listing.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Inputs, oldest first.
    pub inputs: Vec<InputSummary>,
    /// Distinct snapshots, by index.
    pub snapshots: Vec<ArchSnapshot>,
    /// Snapshot files read in total.
    pub snapshot_files: usize,
    /// WAL coverage of the merged log.
    pub wal: Vec<WalRange>,
    /// Entries read in total (all copies) and kept after de-duplication.
    pub entries_read: usize,
    /// Live entries in the merged log.
    pub entries_merged: usize,
    /// Entries overwritten by a later term (across copies).
    pub overwritten: usize,
    /// Conflicts.
    pub conflicts: Vec<String>,
    /// Where the merged history starts: `index 1` or a snapshot file.
    pub history_starts: String,
    /// Merged HardState commit.
    pub commit: u64,
    /// Index of the merged final state.
    pub state_index: u64,
}

/// A loaded archive.
pub struct Archive {
    /// The listing.
    pub report: Report,
    /// The merged history (a single input is passed through as loaded).
    pub merged: Analysis,
    /// For each snapshot of `merged.snapshots`, the input it was taken from.
    pub snapshot_sources: Vec<String>,
    /// Input names, oldest first.
    pub names: Vec<String>,
}

fn name_of(p: &Path) -> String {
    crate::input::source::input_name(p)
}

fn load_one(p: &Path, opts: &Options) -> Result<(Analysis, Vec<String>)> {
    match Analysis::load(p, opts) {
        Ok(a) => Ok((a, vec![])),
        Err(Error::Key(why)) if !opts.allow_no_keys => {
            let o2 = Options { unlock_key: opts.unlock_key.clone(), allow_no_keys: true, ..*opts };
            let a = Analysis::load(p, &o2)?;
            Ok((a, vec![format!("no usable key in this copy ({why}); decrypted with the keys of the other copies")]))
        }
        Err(e) => Err(e),
    }
}

fn position(a: &Analysis) -> (u64, u64, u64, u64) {
    let hs = a.wal.hard_state.map(|h| h.0);
    (
        hs.map(|h| h.term).unwrap_or(0),
        hs.map(|h| h.commit).unwrap_or(0),
        a.wal.last_index().unwrap_or(0),
        a.snapshots.iter().map(|s| s.index).max().unwrap_or(0),
    )
}

fn snap_rel(a: &Analysis, file: &str) -> String {
    if a.layout.snap_dir.is_empty() { file.to_string() } else { format!("{}/{}", a.layout.snap_dir, file) }
}

/// Load several copies and merge them. One path gives that input as is (with a listing).
pub fn load(paths: &[PathBuf], opts: &Options) -> Result<Archive> {
    if paths.is_empty() {
        return Err(Error::Usage("give at least one input".into()));
    }
    let mut loaded: Vec<(PathBuf, Analysis, Vec<String>)> = Vec::new();
    for p in paths {
        let (a, notes) = load_one(p, opts)?;
        loaded.push((p.clone(), a, notes));
    }
    loaded.sort_by(|x, y| position(&x.1).cmp(&position(&y.1)).then_with(|| name_of(&x.0).cmp(&name_of(&y.0))));
    // Copies of different clusters are two histories: only the cluster of the newest copy is
    // merged; the others are listed, not merged, and the finding gives the evidence.
    let mut findings: Vec<Finding> = Vec::new();
    let mut apart: Vec<(PathBuf, Analysis, Vec<String>)> = Vec::new();
    {
        let all_names: Vec<String> = loaded.iter().map(|(p, _, _)| p.display().to_string()).collect();
        let g = crate::analyses::identity::group(
            &loaded.iter().zip(&all_names).map(|((_, a, _), n)| (n.as_str(), a)).collect::<Vec<_>>(),
        );
        if g.groups.len() > 1 {
            let keep = g.group_of(loaded.len() - 1);
            let kept: Vec<String> = g.groups[keep].iter().map(|&k| all_names[k].clone()).collect();
            findings.push(Finding::new(
                Code::ArchiveDifferentClusters,
                Severity::Error,
                format!(
                    "the copies come from {} different clusters, and two clusters are two histories: only the cluster of the newest copy is merged ({}); the others are listed, not merged. {}",
                    g.groups.len(),
                    kept.join(", "),
                    g.describe(&all_names).join(". ")
                ),
            ));
            let mut rest = Vec::new();
            for (k, x) in loaded.drain(..).enumerate() {
                if g.group_of(k) == keep {
                    rest.push(x);
                } else {
                    let mut x = x;
                    x.2.push(
                        "not merged: another cluster than the newest copy (see archive.different_clusters)".into(),
                    );
                    apart.push(x);
                }
            }
            loaded = rest;
        }
    }
    // Keys from every copy (de-duplicated by value).
    let mut deks: Vec<Dek> = Vec::new();
    for (_, a, _) in &loaded {
        for d in &a.deks {
            if !deks.iter().any(|x| x.key() == d.key()) {
                deks.push(d.clone());
            }
        }
    }
    let encrypted = loaded.iter().any(|(_, a, _)| a.encrypted);
    // Copies without keys of their own (a bare snap dir, a raft dir without certificates) were
    // read without decrypting: validate their payloads again with the archive's keys.
    if loaded.len() > 1 && !deks.is_empty() {
        for (_, a, notes) in loaded.iter_mut().filter(|(_, a, _)| a.deks.is_empty()) {
            revalidate(a, encrypted, &deks);
            notes.push("validated with the keys of the other copies".into());
        }
    }
    let names: Vec<String> = loaded.iter().map(|(p, _, _)| name_of(p)).collect();
    let mut conflicts: Vec<String> = Vec::new();
    // Snapshots.
    let mut snaps: Vec<ArchSnapshot> = Vec::new();
    let mut chosen: Vec<(SnapInfo, Option<bytes::Bytes>, String)> = Vec::new();
    let mut snapshot_files = 0;
    let mut decoded: Vec<Option<Option<(Store, Membership)>>> = Vec::new();
    let mut snap_payload_of: Vec<Option<bytes::Bytes>> = Vec::new();
    for (k, (_, a, _)) in loaded.iter().enumerate() {
        for (i, s) in a.snapshots.iter().enumerate() {
            snapshot_files += 1;
            let crc = a.source.read(&snap_rel(a, &s.file)).map(|b| crc32c::crc32c(&b)).unwrap_or(0);
            let payload = a.snap_payloads.get(i).cloned().flatten();
            let mut info = s.clone();
            if !info.valid && payload.is_some() {
                // A copy without keys (or of unknown encryption): try with the archive's keys.
                if let Some(p) = &payload {
                    if let Ok((d, dek)) = decode_snapshot(p, encrypted, &deks) {
                        info.valid = true;
                        info.problem = None;
                        info.dek = dek;
                        info.membership = d.membership.as_ref().map(Membership::from_snapshot);
                    }
                }
            }
            // Managers encrypt their own snapshots (own DEK, random nonce) and marshal maps in
            // random order: the same snapshot in two managers' copies differs in bytes. Same
            // term and index with a different file CRC is compared by decoded content.
            let crc_hex = format!("{crc:08x}");
            let decode = |p: &Option<bytes::Bytes>| -> Option<(Store, Membership)> {
                let (d, _) = decode_snapshot(p.as_deref()?, encrypted, &deks).ok()?;
                let m = d.membership.as_ref().map(Membership::from_snapshot).unwrap_or_default();
                Some((Store::from_snapshot(d.store.unwrap_or_default()), m))
            };
            let mut mine: Option<Option<(Store, Membership)>> = None;
            let mut same: Option<usize> = None;
            for j in (0..snaps.len()).filter(|&j| snaps[j].term == s.term && snaps[j].index == s.index) {
                if snaps[j].crc32c == crc_hex {
                    same = Some(j);
                    break;
                }
                if decoded[j].is_none() {
                    decoded[j] = Some(decode(&snap_payload_of[j]));
                }
                let m = mine.get_or_insert_with(|| decode(&payload));
                if let (Some(Some(x)), Some(y)) = (&decoded[j], m.as_ref()) {
                    if x == y {
                        same = Some(j);
                        snaps[j].reencrypted = true;
                        break;
                    }
                }
            }
            if let Some(j) = same {
                let x = &mut snaps[j];
                x.found_in.push(format!("{}:{}", names[k], s.file));
                if !x.valid && info.valid {
                    x.valid = true;
                    x.problem = None;
                }
                continue;
            }
            let clash = snaps.iter().any(|x| x.term == s.term && x.index == s.index);
            if clash {
                for x in snaps.iter_mut().filter(|x| x.term == s.term && x.index == s.index) {
                    x.conflict = true;
                }
                conflicts.push(format!(
                    "snapshot term {} index {}: {} in {} holds different content from another copy (CRC-32C {crc:08x})",
                    s.term, s.index, s.file, names[k]
                ));
            }
            decoded.push(mine);
            snap_payload_of.push(payload.clone());
            snaps.push(ArchSnapshot {
                term: s.term,
                index: s.index,
                file: s.file.clone(),
                bytes: s.bytes,
                crc32c: crc_hex,
                reencrypted: false,
                valid: info.valid,
                problem: info.problem.clone(),
                found_in: vec![format!("{}:{}", names[k], s.file)],
                conflict: clash,
                used: false,
            });
            let already = chosen.iter().position(|c| c.0.term == s.term && c.0.index == s.index);
            match already {
                Some(j) if !chosen[j].0.valid && info.valid => chosen[j] = (info, payload, names[k].clone()),
                Some(_) => {}
                None => chosen.push((info, payload, names[k].clone())),
            }
        }
    }
    chosen.sort_by_key(|a| (a.0.index, a.0.term));
    for c in &chosen {
        if let Some(x) = snaps.iter_mut().find(|x| {
            x.term == c.0.term && x.index == c.0.index && x.found_in.iter().any(|f| f.starts_with(&format!("{}:", c.2)))
        }) {
            x.used = true;
        }
    }
    snaps.sort_by(|a, b| (a.index, a.term, &a.crc32c).cmp(&(b.index, b.term, &b.crc32c)));
    // WAL: segments concatenated, entries merged by index.
    let mut wal = WalLog::default();
    let mut live: BTreeMap<u64, (EntryRec, u32, usize)> = BTreeMap::new();
    let mut over: Vec<EntryRec> = Vec::new();
    let mut entries_read = 0;
    let mut sources_by_index: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    // Entries are compared by content: each manager encrypts its own WAL with its own DEK and
    // nonces, so the same raft entry has different bytes on disk in two managers' copies.
    let fingerprint = |e: &EntryRec| -> u32 {
        if encrypted && !e.data.is_empty() {
            if let Ok(d) = crate::crypto::decrypt_record(&e.data, &deks) {
                return crc32c::crc32c(&d.plaintext);
            }
        }
        crc32c::crc32c(&e.data)
    };
    // (index, loser term, loser input, winner term, winner input)
    let mut replaced: Vec<(u64, u64, usize, u64, usize)> = Vec::new();
    // (index, term, first input, other input)
    let mut clashes: Vec<(u64, u64, usize, usize)> = Vec::new();
    for (k, (_, a, _)) in loaded.iter().enumerate() {
        let base = wal.segments.len();
        wal.segments.extend(a.wal.segments.iter().cloned());
        for m in &a.wal.markers {
            if !wal.markers.iter().any(|x| x.index == m.index && x.term == m.term) {
                let mut m = m.clone();
                m.seg += base;
                wal.markers.push(m);
            }
        }
        if let Some((h, seg, off)) = a.wal.hard_state {
            let better = wal.hard_state.is_none_or(|(w, ..)| (h.term, h.commit) > (w.term, w.commit));
            if better {
                wal.hard_state = Some((h, seg + base, off));
            }
        }
        wal.state_records += a.wal.state_records;
        if a.wal.metadata.is_some() {
            wal.metadata = a.wal.metadata.clone();
        }
        for e in &a.wal.overwritten {
            let mut e = e.clone();
            e.seg += base;
            let fp = fingerprint(&e);
            if !over.iter().any(|x| x.index == e.index && x.term == e.term && fingerprint(x) == fp) {
                over.push(e);
            }
        }
        for e in &a.wal.entries {
            entries_read += 1;
            let mut e = e.clone();
            e.seg += base;
            let crc = fingerprint(&e);
            match live.get(&e.index) {
                None => {
                    sources_by_index.entry(e.index).or_default().push(k);
                    live.insert(e.index, (e, crc, k));
                }
                Some((x, xc, _)) if x.term == e.term && *xc == crc => {
                    let v = sources_by_index.entry(e.index).or_default();
                    if !v.contains(&k) {
                        v.push(k);
                    }
                }
                Some((x, _, xk)) if e.term > x.term => {
                    let mut lost = x.clone();
                    lost.overwritten_by = Some((e.term, e.seg, e.offset));
                    replaced.push((e.index, x.term, *xk, e.term, k));
                    over.push(lost);
                    sources_by_index.insert(e.index, vec![k]);
                    live.insert(e.index, (e, crc, k));
                }
                Some((x, _, xk)) if e.term < x.term => {
                    let mut lost = e.clone();
                    lost.overwritten_by = Some((x.term, x.seg, x.offset));
                    replaced.push((e.index, e.term, k, x.term, *xk));
                    over.push(lost);
                }
                Some((x, _, xk)) => clashes.push((e.index, x.term, *xk, k)),
            }
        }
    }
    // Report runs of consecutive indexes once.
    fn runs<T: PartialEq + Copy>(v: &[(u64, T)]) -> Vec<(u64, u64, T)> {
        let mut out: Vec<(u64, u64, T)> = Vec::new();
        for &(i, t) in v {
            match out.last_mut() {
                Some(r) if r.1 + 1 == i && r.2 == t => r.1 = i,
                _ => out.push((i, i, t)),
            }
        }
        out
    }
    let span = |a: u64, b: u64| if a == b { format!("index {a}") } else { format!("indexes {a}-{b}") };
    replaced.sort();
    let rr: Vec<(u64, (u64, usize, u64, usize))> = replaced.iter().map(|r| (r.0, (r.1, r.2, r.3, r.4))).collect();
    for (a, b, (lt, li, wt, wi)) in runs(&rr) {
        findings.push(
            Finding::new(
                Code::ArchiveEntryOverwritten,
                Severity::Info,
                format!("{} of term {lt} in {} were replaced by term {wt} in {}", span(a, b), names[li], names[wi]),
            )
            .index(a)
            .term(wt),
        );
    }
    clashes.sort();
    let cc: Vec<(u64, (u64, usize, usize))> = clashes.iter().map(|c| (c.0, (c.1, c.2, c.3))).collect();
    for (a, b, (t, x, y)) in runs(&cc) {
        let msg = format!(
            "{} term {t}: {} and {} hold different entries under the same index and term (the first is used)",
            span(a, b),
            names[x],
            names[y]
        );
        conflicts.push(msg.clone());
        findings.push(Finding::new(Code::ArchiveEntryConflict, Severity::Error, msg).index(a).term(t));
    }
    wal.entries = live.into_values().map(|v| v.0).collect();
    wal.overwritten = over;
    wal.markers.sort_by_key(|m| (m.index, m.term));
    // WAL coverage.
    let mut ranges: Vec<WalRange> = Vec::new();
    for e in &wal.entries {
        let src = sources_by_index.get(&e.index).cloned().unwrap_or_default();
        match ranges.last_mut() {
            Some(r) if r.last + 1 == e.index => {
                r.last = e.index;
                r.entries += 1;
                if !r.terms.contains(&e.term) {
                    r.terms.push(e.term);
                }
                for s in src {
                    if !r.from.contains(&names[s]) {
                        r.from.push(names[s].clone());
                    }
                }
            }
            _ => ranges.push(WalRange {
                first: e.index,
                last: e.index,
                entries: 1,
                terms: vec![e.term],
                from: src.iter().map(|&s| names[s].clone()).collect(),
            }),
        }
    }
    for w in ranges.windows(2) {
        let covered = chosen.iter().any(|c| c.0.valid && c.0.index + 1 >= w[1].first && c.0.index >= w[0].last);
        findings.push(
            Finding::new(
                Code::ArchiveWalGap,
                if covered { Severity::Info } else { Severity::Warning },
                format!(
                    "no copy holds entries {}-{}{}",
                    w[0].last + 1,
                    w[1].first - 1,
                    if covered { " (a snapshot covers them)" } else { ": history between them is incomplete" }
                ),
            )
            .index(w[0].last + 1),
        );
    }
    let mut summaries: Vec<InputSummary> = loaded
        .iter()
        .enumerate()
        .map(|(k, (p, a, notes))| {
            let hs = a.wal.hard_state.map(|h| h.0);
            InputSummary {
                order: k,
                name: names[k].clone(),
                path: p.display().to_string(),
                kind: a.source.kind,
                layout: a.layout.kind.name(),
                encrypted: a.encrypted,
                node_id: a.member.as_ref().map(|m| m.node_id.clone()),
                wal_first: a.wal.first_index(),
                wal_last: a.wal.last_index(),
                term: hs.map(|h| h.term),
                commit: hs.map(|h| h.commit),
                snapshots: a.snapshots.len(),
                valid_snapshots: snaps
                    .iter()
                    .filter(|s| s.valid && s.found_in.iter().any(|f| f.starts_with(&format!("{}:", names[k]))))
                    .count(),
                errors: a.findings.iter().filter(|f| f.severity == Severity::Error).count(),
                warnings: a.findings.iter().filter(|f| f.severity == Severity::Warning).count(),
                notes: notes.clone(),
            }
        })
        .collect();
    for (p, a, notes) in &apart {
        let hs = a.wal.hard_state.map(|h| h.0);
        summaries.push(InputSummary {
            order: summaries.len(),
            name: name_of(p),
            path: p.display().to_string(),
            kind: a.source.kind,
            layout: a.layout.kind.name(),
            encrypted: a.encrypted,
            node_id: a.member.as_ref().map(|m| m.node_id.clone()),
            wal_first: a.wal.first_index(),
            wal_last: a.wal.last_index(),
            term: hs.map(|h| h.term),
            commit: hs.map(|h| h.commit),
            snapshots: a.snapshots.len(),
            valid_snapshots: a.snapshots.iter().filter(|s| s.valid).count(),
            errors: a.findings.iter().filter(|f| f.severity == Severity::Error).count(),
            warnings: a.findings.iter().filter(|f| f.severity == Severity::Warning).count(),
            notes: notes.clone(),
        });
    }
    let node_ids: std::collections::BTreeSet<&str> = summaries.iter().filter_map(|s| s.node_id.as_deref()).collect();
    if node_ids.len() > 1 {
        findings.push(Finding::new(
            Code::ArchiveSeveralNodes,
            Severity::Info,
            format!(
                "the copies come from {} different managers ({}): their logs are merged as one raft log",
                node_ids.len(),
                node_ids.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let entries_merged = wal.entries.len();
    let overwritten = wal.overwritten.len();
    // Pass a single input through untouched.
    if loaded.len() == 1 {
        let (_, mut a, _) = loaded.pop().expect("one input");
        a.findings.extend(findings.iter().filter(|f| f.code == Code::ArchiveDifferentClusters).cloned());
        let snapshot_sources = vec![names[0].clone(); a.snapshots.len()];
        for s in snaps.iter_mut() {
            s.used = true;
        }
        let report = Report {
            inputs: summaries,
            snapshots: snaps,
            snapshot_files,
            wal: ranges,
            entries_read,
            entries_merged,
            overwritten,
            conflicts,
            history_starts: history_start(&a),
            commit: a.rules().commit_index(),
            state_index: a.state_index,
        };
        return Ok(Archive { report, merged: a, snapshot_sources, names });
    }
    // The merged analysis takes the newest copy's identity.
    let (_, newest, _) = loaded.pop().expect("inputs");
    for (_, a, _) in &loaded {
        findings.extend(a.findings.iter().cloned());
    }
    findings.extend(newest.findings.iter().cloned());
    let mut snapshots: Vec<SnapInfo> = Vec::new();
    let mut snap_payloads = Vec::new();
    let mut snapshot_sources = Vec::new();
    for (mut info, p, src) in chosen {
        info.has_marker = wal.markers.iter().any(|m| m.index == info.index && m.term == info.term);
        snapshots.push(info);
        snap_payloads.push(p);
        snapshot_sources.push(src);
    }
    // The merged log through the one engine: the base and the commit rule as every command
    // chooses them; every entry visited (summaries kept), the committed ones applied.
    let rules = Rules::new(&wal, false);
    findings.extend(rules.finding(&wal));
    let end = rules.end(&wal, &snapshots);
    let base_snapshot = choose_base(&snapshots, end);
    struct Keep(Vec<DecodedEntry>);
    impl Visitor for Keep {
        fn scope(&self) -> Scope {
            Scope::All
        }
        fn entry(&mut self, e: DecodedEntry, _applied: bool) {
            self.0.push(e);
        }
    }
    let mut keep = Keep(Vec::with_capacity(wal.entries.len() + wal.overwritten.len()));
    let replayed = {
        let log = Log {
            wal: &wal,
            snapshots: &snapshots,
            payloads: &snap_payloads,
            encrypted,
            deks: &deks,
            source: &newest.source,
            entries: &[],
            keep: opts.keep(),
            progress: opts.progress,
        };
        Replay::start(log, rules, Start::For(end)).map(|mut r| {
            r.advance_to(end, &mut keep);
            r.finish()
        })
    };
    let entries = keep.0;
    let (state, membership, state_index) = match replayed {
        Ok(r) => {
            findings.extend(r.findings);
            (r.store, r.membership, r.index)
        }
        Err(e) => {
            findings.push(Finding::new(
                Code::ArchiveNoState,
                Severity::Error,
                format!("the merged history cannot be replayed: {e}"),
            ));
            Default::default()
        }
    };
    let commit = rules.commit_index();
    let merged = Analysis {
        source: newest.source,
        layout: newest.layout,
        keys: newest.keys,
        deks,
        encrypted,
        wal,
        member: newest.member,
        snapshots,
        base_snapshot,
        snap_payloads,
        stats: {
            let mut st = crate::replay::analysis::EntryStats { payloads_read: true, ..Default::default() };
            for e in &entries {
                st.add(e);
            }
            st
        },
        detail: crate::replay::analysis::Detail::Entries,
        entries,
        state,
        membership,
        state_index,
        findings,
        // The merged log is judged by its own coverage findings, not by one member's tear.
        commit_past_damage: None,
        keep: opts.keep(),
        progress: opts.progress,
    };
    let report = Report {
        inputs: summaries,
        snapshots: snaps,
        snapshot_files,
        wal: ranges,
        entries_read,
        entries_merged,
        overwritten,
        conflicts,
        history_starts: history_start(&merged),
        commit,
        state_index: merged.state_index,
    };
    Ok(Archive { report, merged, snapshot_sources, names })
}

/// Check a copy's entries and snapshots again with other keys; replaces its decryption
/// findings.
fn revalidate(a: &mut Analysis, encrypted: bool, deks: &[Dek]) {
    const CODES: [Code; 6] = [
        Code::KeyNoMatch,
        Code::EntryUndecryptable,
        Code::EntryUndecryptableInSnapshot,
        Code::EntryUndecodable,
        Code::EntryConfChangeUndecodable,
        Code::SnapPayload,
    ];
    a.findings.retain(|f| !CODES.contains(&f.code));
    let mut found = Vec::new();
    for e in a.wal.entries.iter().chain(a.wal.overwritten.iter()) {
        let d = decode_entry(e, encrypted, deks, a.wal.seg_display(e.seg));
        let (code, why) = match d.summary.payload {
            crate::decode::entry::Payload::Undecryptable { error } => (Code::EntryUndecryptable, error.to_string()),
            crate::decode::entry::Payload::Undecodable { reason } => (Code::EntryUndecodable, reason),
            _ => continue,
        };
        found.push(
            Finding::new(code, Severity::Error, format!("with the archive's keys: {why}"))
                .file(d.summary.file)
                .offset(e.offset)
                .index(e.index)
                .term(e.term),
        );
    }
    for (i, s) in a.snapshots.iter_mut().enumerate() {
        let Some(p) = a.snap_payloads.get(i).and_then(|p| p.as_deref()) else { continue };
        match decode_snapshot(p, encrypted, deks) {
            Ok((d, dek)) => {
                s.valid = true;
                s.problem = None;
                s.dek = dek;
                s.membership = d.membership.as_ref().map(Membership::from_snapshot);
                if let Some(st) = &d.store {
                    for (k, n) in [
                        ("nodes", st.nodes.len()),
                        ("services", st.services.len()),
                        ("tasks", st.tasks.len()),
                        ("networks", st.networks.len()),
                        ("secrets", st.secrets.len()),
                        ("configs", st.configs.len()),
                        ("clusters", st.clusters.len()),
                        ("volumes", st.volumes.len()),
                        ("resources", st.resources.len()),
                        ("extensions", st.extensions.len()),
                    ] {
                        s.objects.insert(k.to_string(), n);
                    }
                }
            }
            Err(e) => found.push(
                Finding::new(Code::SnapPayload, Severity::Error, format!("snapshot payload: {e}"))
                    .file(s.display.clone())
                    .index(s.index)
                    .term(s.term),
            ),
        }
    }
    a.findings.extend(found);
    a.encrypted = encrypted;
}

fn history_start(a: &Analysis) -> String {
    if a.wal.first_index().is_some_and(|f| f <= 1) {
        return "index 1 (the WAL holds the whole log)".into();
    }
    match a.snapshots.iter().find(|s| s.valid) {
        Some(s) => format!("snapshot {} (index {})", s.file, s.index),
        None => format!("index {} (no readable snapshot before it)", a.wal.first_index().unwrap_or(0)),
    }
}

impl Archive {
    /// JSON listing.
    pub fn json(&self) -> Value {
        let arch: Vec<&Finding> = self.merged.findings.iter().filter(|f| f.code.area() == "archive").collect();
        let mut v = serde_json::to_value(&self.report).unwrap_or(Value::Null);
        v["findings"] = json!(arch);
        v
    }

    /// Any error in any copy, or a conflict.
    pub fn has_errors(&self) -> bool {
        !self.report.conflicts.is_empty()
            || self.merged.findings.iter().any(|f| f.code == Code::ArchiveDifferentClusters)
            || self.report.inputs.iter().any(|i| i.errors > 0)
            || self.report.snapshots.iter().any(|s| !s.valid)
    }
}
