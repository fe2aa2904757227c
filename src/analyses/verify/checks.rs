//! Checks that `verify` adds to the analysis' own findings: snapshot markers against `.snap`
//! files, WAL coverage of kept snapshots (GC rules), HardState against the snapshot, the rebuilt
//! store's integrity, and certificate expiry.

use crate::decode::object::Kind;
use crate::error::{Code, Finding, Severity};
use crate::pb::docker::swarmkit::v1 as api;
use crate::replay::analysis::Analysis;
use std::collections::BTreeMap;

/// `TaskState` values used here.
const TASK_RUNNING: i32 = 512;
const TASK_REMOVE: i32 = 800;
/// `UpdateConfig.UpdateOrder.START_FIRST`.
const START_FIRST: i32 = 1;

/// Markers with no `.snap`, and kept snapshots the WAL does not reach back to.
pub fn snapshot_coverage(a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    let snap_dir_display =
        if a.layout.snap_dir.is_empty() { a.source.display("") } else { a.source.display(&a.layout.snap_dir) };
    // Snapshot files whose container is sound (etcd could load them).
    let files: Vec<(u64, u64, &str)> =
        a.snapshots.iter().filter(|s| s.index > 0).map(|s| (s.index, s.term, s.display.as_str())).collect();
    // swarmkit's SaveSnapshot writes the WAL's snapshot marker first and the .snap file after it
    // (`manager/state/raft/storage/storage.go`), so one crash explains at most one missing file:
    // the newest marker's. KeepOldSnapshots GC deletes files from the old end only: markers older
    // than the oldest kept file are explained by it. With no file at all, the file of the marker
    // before the newest one was the current snapshot at the last GC and was kept.
    let mut markers: Vec<(u64, u64, usize, u64)> =
        a.wal.markers.iter().filter(|m| m.index > 0).map(|m| (m.index, m.term, m.seg, m.offset)).collect();
    markers.sort_unstable();
    markers.dedup_by_key(|m| m.0);
    let newest_marker = markers.last().map(|m| m.0);
    let floor = match files.iter().map(|f| f.0).min() {
        Some(o) => Some(o),
        None => markers.len().checked_sub(2).map(|i| markers[i].0),
    };
    let missing: Vec<&(u64, u64, usize, u64)> = markers
        .iter()
        .filter(|m| !files.iter().any(|f| f.0 == m.0))
        .filter(|m| Some(m.0) == newest_marker || floor.is_some_and(|o| m.0 >= o))
        .collect();
    let name = |m: &(u64, u64, usize, u64)| format!("{:016x}-{:016x}.snap", m.1, m.0);
    let mut deleted = Vec::new();
    for m in missing {
        if Some(m.0) == newest_marker && files.iter().all(|f| f.0 < m.0) {
            out.push(
                Finding::new(
                    Code::SnapMarkerWithoutFile,
                    Severity::Warning,
                    format!(
                        "the WAL has a snapshot marker for index {} (term {}) but there is no .snap file for it: the newest snapshot, whose file swarmkit writes after the marker (a stop between the two explains it)",
                        m.0, m.1
                    ),
                )
                .file(a.wal.seg_display(m.2).to_string())
                .offset(m.3)
                .index(m.0)
                .term(m.1),
            );
        } else {
            deleted.push(m);
        }
    }
    if let Some(first) = deleted.first() {
        let names: Vec<String> = deleted.iter().map(|m| name(m)).collect();
        let markers_at: Vec<String> = deleted
            .iter()
            .map(|m| {
                let seg = a.wal.segments.get(m.2).map(|g| g.name.as_str()).unwrap_or("the WAL");
                format!("{} at offset {} of {seg}", m.0, m.3)
            })
            .collect();
        let gone =
            if a.layout.snap_dir.is_empty() { name(first) } else { format!("{}/{}", a.layout.snap_dir, name(first)) };
        out.push(
            Finding::new(
                Code::SnapFilesDeleted,
                Severity::Error,
                format!(
                    "snapshot file{} {} {} gone, although the WAL has {} marker{} (index {}): a crash explains only the newest snapshot's file (its marker is written first) and KeepOldSnapshots GC deletes only files older than the oldest one kept, so {} deleted",
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    if names.len() == 1 { "is" } else { "are" },
                    if names.len() == 1 { "its" } else { "their" },
                    if names.len() == 1 { "" } else { "s" },
                    markers_at.join("; "),
                    if names.len() == 1 { "it was" } else { "they were" },
                ),
            )
            .file(a.source.display(&gone))
            .index(first.0)
            .term(first.1),
        );
    }
    // Coverage: for each kept snapshot S, the WAL must hold a segment whose name index is <= S, or
    // entries from S+1 on.
    let first_live = a.wal.first_index();
    if !a.wal.segments.is_empty() {
        for s in a.snapshots.iter().filter(|s| s.index > 0) {
            let seg_ok = a.wal.segments.iter().any(|g| g.name_index <= s.index);
            let ent_ok = first_live.is_some_and(|f| f <= s.index + 1);
            if seg_ok || ent_ok {
                continue;
            }
            let oldest_seg = a.wal.segments.first().map(|g| g.name_index).unwrap_or(0);
            out.push(
                Finding::new(
                    Code::WalSnapshotNotCovered,
                    Severity::Warning,
                    format!(
                        "no WAL segment reaches back to this snapshot (index {}): the oldest segment starts at index {oldest_seg}{}; entries {}-{} are in neither",
                        s.index,
                        first_live.map(|f| format!(" and the oldest entry is {f}")).unwrap_or_default(),
                        s.index + 1,
                        first_live.map(|f| f.saturating_sub(1)).unwrap_or(oldest_seg).max(s.index + 1)
                    ),
                )
                .file(s.display.clone())
                .index(s.index)
                .term(s.term),
            );
        }
        if a.snapshots.is_empty() {
            let seg_ok = a.wal.segments.iter().any(|g| g.name_index == 0);
            if !seg_ok && first_live.is_some_and(|f| f > 1) {
                out.push(
                    Finding::new(
                        Code::WalHeadMissing,
                        Severity::Error,
                        format!(
                            "there is no snapshot and the WAL does not start at the beginning: entries 1-{} are missing (the first segment was deleted)",
                            first_live.unwrap_or(1) - 1
                        ),
                    )
                    .file(snap_dir_display.clone())
                    .index(1),
                );
            }
        }
    } else if !a.layout.wal_files.is_empty() || !a.snapshots.is_empty() {
        out.push(
            Finding::new(
                Code::WalMissing,
                Severity::Error,
                "there are snapshots but no WAL segment at all: the raft log is gone (deleted segment, or an incomplete backup)",
            )
            .file(if a.layout.wal_dir.is_empty() { a.source.display("") } else { a.source.display(&a.layout.wal_dir) }),
        );
    }
    out
}

/// The last segment: a closed one (etcd cut a newer segment that is missing), or one cut short.
pub fn last_segment(a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(last) = a.wal.segments.last() else { return out };
    if !matches!(last.end, crate::format::wal::SegmentEnd::Eof { .. }) || last.records.is_empty() {
        return out;
    }
    if last.size >= crate::format::wal::SEGMENT_SIZE {
        out.push(
            Finding::new(
                Code::WalTailSegmentMissing,
                Severity::Error,
                format!(
                    "the last segment is a closed one ({} bytes, no preallocated tail): etcd cut a newer segment after it, and that segment is missing, with every entry after index {}",
                    last.size,
                    a.wal.last_index().unwrap_or(0)
                ),
            )
            .file(last.display.clone())
            .offset(last.size),
        );
    } else if a.layout.kind == crate::input::layout::LayoutKind::V3Encrypted {
        // Only Docker's own layout is preallocated; plaintext copies (`decrypt`, swarm-rafttool)
        // and Docker 1.12's etcd 2.3 WAL are not.
        let repaired = a.layout.leftovers.iter().any(|l| l.ends_with(&format!("{}.broken", last.name)));
        if !repaired {
            out.push(
                Finding::new(
                    Code::WalSegmentCutShort,
                    Severity::Warning,
                    format!(
                        "the last segment ends at {} bytes, exactly after a record, with no preallocated zero tail and no .broken copy from an etcd repair: it was probably truncated, and whatever followed is gone",
                        last.size
                    ),
                )
                .file(last.display.clone())
                .offset(last.size),
            );
        }
    }
    out
}

/// HardState against the base snapshot and the log, beyond what the analysis reports.
pub fn hard_state(a: &Analysis, loaded_snapshot: u64) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((hs, si, off)) = a.wal.hard_state else { return out };
    if hs.commit < loaded_snapshot {
        out.push(
            Finding::new(
                Code::WalCommitBehindSnapshot,
                Severity::Error,
                format!(
                    "HardState.commit is {} but the snapshot Docker loads is at index {loaded_snapshot}: the snapshot is ahead of what this log says was committed",
                    hs.commit
                ),
            )
            .file(a.wal.seg_display(si).to_string())
            .offset(off)
            .index(hs.commit)
            .term(hs.term),
        );
    }
    if a.wal.entries.is_empty() && hs.commit > loaded_snapshot {
        out.push(
            Finding::new(
                Code::WalCommitBeyondLog,
                Severity::Error,
                format!(
                    "HardState.commit is {} but the WAL holds no entries after the snapshot at {loaded_snapshot}: committed entries {}-{} are missing here",
                    hs.commit,
                    loaded_snapshot + 1,
                    hs.commit
                ),
            )
            .file(a.wal.seg_display(si).to_string())
            .offset(off)
            .index(hs.commit),
        );
    }
    out
}

fn group<'a>(m: &mut BTreeMap<String, Vec<&'a str>>, k: &str, id: &'a str) {
    m.entry(k.to_string()).or_default().push(id);
}

/// The first three tasks as `name (id)`, decoded only for their names.
fn names(st: &crate::replay::store::Store, ids: &[&str]) -> String {
    let mut v: Vec<String> = ids
        .iter()
        .take(3)
        .map(|id| {
            let name = st.task(id).map(|t| crate::decode::object::task_name(&t)).unwrap_or_default();
            format!("{name} ({id})")
        })
        .collect();
    if ids.len() > 3 {
        v.push(format!("and {} more", ids.len() - 3));
    }
    v.join(", ")
}

/// Integrity of the rebuilt store.
pub fn store(a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    let st = &a.state;
    let at = a.state_index;
    if a.base_snapshot.is_none() && a.wal.entries.is_empty() && a.wal.overwritten.is_empty() {
        return out;
    }
    if st.count(Kind::Cluster) == 0 && (st.count(Kind::Node) > 0 || st.count(Kind::Service) > 0 || at > 0) {
        out.push(
            Finding::new(
                Code::StoreNoCluster,
                Severity::Error,
                format!(
                    "the state rebuilt at index {at} has no cluster object: the swarm's CA key, join tokens, raft and autolock settings live there"
                ),
            )
            .index(at),
        );
    }
    let mut missing_service: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut missing_node: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut slots: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for (id, t) in st.task_keys() {
        let live_desired = t.desired_state <= TASK_RUNNING;
        let live_state = t.state <= TASK_RUNNING;
        if !t.service_id.is_empty() && !st.contains(Kind::Service, &t.service_id) && t.desired_state < TASK_REMOVE {
            group(&mut missing_service, &t.service_id, id);
        }
        if !t.node_id.is_empty() && !st.contains(Kind::Node, &t.node_id) && live_desired {
            group(&mut missing_node, &t.node_id, id);
        }
        if live_desired && live_state && !t.service_id.is_empty() {
            let key = if t.slot != 0 { format!("slot {}", t.slot) } else { format!("node {}", t.node_id) };
            if t.slot != 0 || !t.node_id.is_empty() {
                slots.entry((t.service_id.clone(), key)).or_default().push(id);
            }
        }
    }
    for (svc, ts) in &missing_service {
        out.push(
            Finding::new(
                Code::StoreTaskMissingService,
                Severity::Warning,
                format!(
                    "{} task(s) point at service {svc}, which is not in the store, and are not marked for removal: {}",
                    ts.len(),
                    names(st, ts)
                ),
            )
            .index(at),
        );
    }
    for (node, ts) in &missing_node {
        out.push(
            Finding::new(
                Code::StoreTaskMissingNode,
                Severity::Warning,
                format!(
                    "{} task(s) meant to run are assigned to node {node}, which is not in the store: {}",
                    ts.len(),
                    names(st, ts)
                ),
            )
            .index(at),
        );
    }
    for ((svc, key), ts) in &slots {
        if ts.len() < 2 {
            continue;
        }
        let start_first = st.service(svc).is_some_and(|s| {
            s.spec.as_ref().is_some_and(|sp| {
                sp.update.as_ref().is_some_and(|u| u.order == START_FIRST)
                    || sp.rollback.as_ref().is_some_and(|u| u.order == START_FIRST)
            })
        });
        if start_first {
            continue;
        }
        out.push(
            Finding::new(
                Code::StoreDuplicateSlot,
                Severity::Warning,
                format!(
                    "service {svc} has {} live tasks in {key} (one expected; the service does not update start-first): {}",
                    ts.len(),
                    names(st, ts)
                ),
            )
            .index(at),
        );
    }
    // References from services to secrets, configs and networks.
    for s in st.services() {
        let Some(spec) = &s.spec else { continue };
        let sname = spec.annotations.as_ref().map(|x| x.name.clone()).unwrap_or_default();
        let mut dangling: Vec<String> = Vec::new();
        if let Some(task) = &spec.task {
            if let Some(api::task_spec::Runtime::Container(c)) = &task.runtime {
                for r in &c.secrets {
                    if !r.secret_id.is_empty() && !st.contains(Kind::Secret, &r.secret_id) {
                        dangling.push(format!("secret {} ({})", r.secret_name, r.secret_id));
                    }
                }
                for r in &c.configs {
                    if !r.config_id.is_empty() && !st.contains(Kind::Config, &r.config_id) {
                        dangling.push(format!("config {} ({})", r.config_name, r.config_id));
                    }
                }
            }
            for n in &task.networks {
                if !n.target.is_empty()
                    && !st.contains(Kind::Network, &n.target)
                    && !st.iter(Kind::Network).any(|o| o.name() == n.target)
                {
                    dangling.push(format!("network {}", n.target));
                }
            }
        }
        if !dangling.is_empty() {
            out.push(
                Finding::new(
                    Code::StoreDanglingReference,
                    Severity::Warning,
                    format!(
                        "service {sname} ({}) refers to objects that are not in the store: {}",
                        s.id,
                        dangling.join(", ")
                    ),
                )
                .index(at),
            );
        }
    }
    out
}

/// Certificate expiry.
pub fn certificate(a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(c) = &a.keys.cert {
        if c.expired {
            out.push(
                Finding::new(
                    Code::KeyCertExpired,
                    Severity::Error,
                    format!("the node certificate (CN {}) expired on {}", c.node_id, c.not_after),
                )
                .file(c.file.clone()),
            );
        }
    }
    out
}

/// One manager peer of `state.json` (swarmkit `api.Peer`, as the node saves its known managers).
#[derive(serde::Deserialize)]
struct Peer {
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    addr: String,
}

/// An empty raft log (no entry, no snapshot) on a node whose `state.json` lists other managers:
/// the cluster knows this raft member, and the leader remembers how far its log went (raft's
/// `Match`). Its first heartbeat carries `commit = min(Match, committed)`, and the follower's
/// `commitTo` panics `tocommit(N) is out of range [lastIndex(0)]` (etcd `raft/log.go`), on every
/// start (moby/moby#29180: demote, raft data wiped, promote again under the same raft ID).
pub fn empty_log_member(a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(m) = &a.member else { return out };
    let empty = a.wal.entries.is_empty() && a.wal.overwritten.is_empty() && a.snapshots.iter().all(|s| s.index == 0);
    if a.wal.segments.is_empty() || !empty || !a.source.exists("state.json") {
        return out;
    }
    let Ok(bytes) = a.source.read("state.json") else { return out };
    let Ok(peers) = serde_json::from_slice::<Vec<Peer>>(&bytes) else { return out };
    let others: Vec<String> =
        peers.iter().filter(|p| p.node_id != m.node_id).map(|p| format!("{} ({})", p.node_id, p.addr)).collect();
    if others.is_empty() {
        return out;
    }
    out.push(
        Finding::new(
            Code::WalEmptyLogMember,
            Severity::Error,
            format!(
                "the raft log is empty (no entry, no snapshot) on raft member {:x} (node {}), yet state.json says it belongs to a cluster with {} other manager{}: {}. The cluster's leader remembers how far this member's log went, and its first heartbeat asks it to commit up to there: raft panics `tocommit(N) is out of range [lastIndex(0)]` on every start (the raft data was wiped, e.g. by a demotion, and the node came back under the same raft ID). Fix: from a healthy manager demote or remove this node, run `docker swarm leave --force` on it, and join it again",
                m.raft_id,
                m.node_id,
                others.len(),
                if others.len() == 1 { "" } else { "s" },
                others.join(", ")
            ),
        )
        .file(a.source.display("state.json"))
        .index(0),
    );
    out
}
