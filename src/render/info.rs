//! `info`: the whole picture of one input on one screen, or as JSON.

use super::table::Table;
use super::{findings_text, human_bytes};
use crate::decode::object::Kind;
use crate::format::wal::SegmentEnd;
use crate::replay::analysis::Analysis;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Per-segment facts.
fn segment_rows(a: &Analysis) -> Vec<Value> {
    a.wal
        .segments
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let idx: Vec<u64> =
                a.wal.entries.iter().chain(a.wal.overwritten.iter()).filter(|e| e.seg == si).map(|e| e.index).collect();
            json!({
                "file": s.name,
                "seq": s.seq,
                "name_index": s.name_index,
                "first_index": idx.iter().min(),
                "last_index": idx.iter().max(),
                "entries": idx.len(),
                "records": s.records.len(),
                "bytes": s.size,
                "valid_bytes": s.end.offset(),
                "end": s.end,
            })
        })
        .collect()
}

fn counts(a: &Analysis) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    (a.stats.by_type.clone(), a.stats.by_action.clone())
}

/// Object counts in the final state.
pub fn object_counts(a: &Analysis) -> Value {
    let mut m = serde_json::Map::new();
    for k in
        [Kind::Node, Kind::Service, Kind::Task, Kind::Network, Kind::Secret, Kind::Config, Kind::Cluster, Kind::Volume]
    {
        m.insert(k.plural().into(), json!(a.state.count(k)));
    }
    Value::Object(m)
}

fn cluster_id(a: &Analysis) -> Option<String> {
    a.state.clusters().next().map(|c| c.id.clone()).or_else(|| a.keys.cert.as_ref().map(|c| c.cluster_id.clone()))
}

/// JSON form of `info`.
pub fn json(a: &Analysis) -> Value {
    let (by_type, by_action) = counts(a);
    let hs = a.wal.hard_state.map(|h| h.0);
    let live = a.wal.entries.len();
    let committed = a.stats.committed;
    json!({
        "input": { "path": a.source.input.display().to_string(), "kind": a.source.kind },
        "layout": {
            "kind": a.layout.kind,
            "encrypted": a.encrypted,
            "wal_dir": a.layout.wal_dir,
            "snap_dir": a.layout.snap_dir,
            "stale_dirs": a.layout.stale_dirs,
            "leftovers": a.layout.leftovers,
        },
        "era": a.era(),
        "node": a.member.as_ref().map(|m| json!({
            "node_id": m.node_id,
            "raft_id": format!("{:x}", m.raft_id),
            "addr": m.addr,
            "role": a.keys.cert.as_ref().map(|c| c.role.clone()),
        })),
        "cluster_id": cluster_id(a),
        "certificate": a.keys.cert,
        "keys": {
            "key_file": a.keys.key_file,
            "block_type": a.keys.block_type,
            "autolock": a.keys.autolock,
            "kek_version": a.keys.kek_version,
            "raft_dek": a.keys.has_dek,
            "rotation_pending": a.keys.rotation_pending,
            "needs_rotation": a.keys.needs_rotation,
            "deks_usable": a.keys.deks_usable,
            "problem": a.keys.problem,
            "cert_matches_key": a.keys.cert_matches_key,
        },
        "hard_state": hs.map(|h| json!({"term": h.term, "vote": h.vote, "vote_hex": format!("{:x}", h.vote), "commit": h.commit})),
        "wal": {
            "first_index": a.wal.first_index(),
            "last_index": a.wal.last_index(),
            "entries": live,
            "overwritten": a.wal.overwritten.len(),
            "committed": committed,
            "uncommitted": live.saturating_sub(committed),
            "state_records": a.wal.state_records,
            "snapshot_markers": a.wal.markers,
            "segments": segment_rows(a),
        },
        "snapshots": a.snapshots,
        "base_snapshot": a.base_snapshot.map(|i| a.snapshots[i].file.clone()),
        "entry_counts": { "by_type": by_type, "by_action": by_action },
        "state_index": a.state_index,
        "objects": object_counts(a),
        "membership": a.membership,
        "quorum": crate::analyses::quorum::Quorum::of_membership(&a.membership),
        "topology": crate::analyses::quorum::topology(&a.membership),
        "sizes": crate::analyses::sizes::info_json(a),
        "findings": a.findings,
    })
}

fn end_text(e: &SegmentEnd) -> String {
    match e {
        SegmentEnd::Eof { offset } => format!("eof at {offset}"),
        SegmentEnd::ZeroTail { offset } => format!("zero tail from {offset}"),
        SegmentEnd::Torn { offset, .. } => format!("TORN at {offset}"),
        SegmentEnd::Corrupt { offset, .. } => format!("CORRUPT at {offset}"),
    }
}

/// Text form of `info`.
pub fn text(a: &Analysis) -> String {
    let mut o = String::new();
    let kv = |o: &mut String, k: &str, v: String| o.push_str(&format!("{:<15}{v}\n", format!("{k}:")));
    kv(
        &mut o,
        "Input",
        format!("{} ({:?})", a.source.input.display(), a.source.kind)
            .replace("SwarmDir", "swarm dir")
            .replace("RaftDir", "raft dir")
            .replace("BareDir", "bare dir")
            .replace("Tarball", "tarball"),
    );
    kv(
        &mut o,
        "Layout",
        format!("{}{}", a.layout.kind.name(), if a.encrypted { ", encrypted" } else { ", plaintext" }),
    );
    let era = a.era();
    if !era.is_empty() {
        kv(&mut o, "Docker era", era.join("; "));
    }
    if let Some(m) = &a.member {
        kv(&mut o, "Node", format!("{} (raft ID {:x}, address {})", m.node_id, m.raft_id, m.addr));
    }
    if let Some(c) = &a.keys.cert {
        kv(
            &mut o,
            "Certificate",
            format!(
                "CN={} role={} expires {}{}; {}",
                c.node_id,
                c.role,
                c.not_after,
                if c.expired { " (EXPIRED)" } else { "" },
                match a.keys.cert_matches_key {
                    Some(true) => "holds the public key of swarm-node.key",
                    Some(false) => "does NOT hold the public key of swarm-node.key",
                    None => "not checked against swarm-node.key (the key could not be read)",
                }
            ),
        );
    }
    if let Some(c) = cluster_id(a) {
        kv(&mut o, "Cluster", c);
    }
    let autolock = match a.keys.autolock {
        Some(true) => format!("on (key and DEK headers encrypted, kek-version {})", a.keys.kek_version.unwrap_or(0)),
        Some(false) => "off".into(),
        None if a.layout.decrypted_copy => "not applicable (plaintext copy made by `swarmsift decrypt`)".into(),
        None => "unknown (no swarm-node.key)".into(),
    };
    kv(&mut o, "Autolock", autolock);
    kv(
        &mut o,
        "DEK rotation",
        if a.keys.rotation_pending {
            "PENDING (raft-dek-pending present: entries may be under either DEK)".into()
        } else if a.keys.needs_rotation {
            "needed (raft-dek-needs-rotation set)".into()
        } else {
            "none pending".into()
        },
    );
    // A plaintext copy made by `decrypt` needs no key: its missing key is no problem.
    if let Some(p) = a.keys.problem.as_ref().filter(|_| !a.layout.decrypted_copy || a.encrypted) {
        kv(&mut o, "Key problem", p.clone());
    }
    match a.wal.hard_state {
        Some((h, ..)) => kv(&mut o, "HardState", format!("term {}, vote {:x}, commit {}", h.term, h.vote, h.commit)),
        None => kv(
            &mut o,
            "HardState",
            format!("none recorded: commit index unknown, taken as {} (the end of the log)", a.rules().commit_index()),
        ),
    }
    let live = a.wal.entries.len();
    let committed = a.stats.committed;
    kv(
        &mut o,
        "Log",
        format!(
            "indexes {}-{}, {} entries ({} committed, {} uncommitted, {} overwritten)",
            a.wal.first_index().map(|x| x.to_string()).unwrap_or("-".into()),
            a.wal.last_index().map(|x| x.to_string()).unwrap_or("-".into()),
            live,
            committed,
            live.saturating_sub(committed),
            a.wal.overwritten.len()
        ),
    );
    o.push_str("\nWAL SEGMENTS\n");
    let mut t = Table::new(&["FILE", "SEQ", "INDEXES", "ENTRIES", "RECORDS", "BYTES", "END"]);
    for (si, s) in a.wal.segments.iter().enumerate() {
        let idx: Vec<u64> =
            a.wal.entries.iter().chain(a.wal.overwritten.iter()).filter(|e| e.seg == si).map(|e| e.index).collect();
        let range = match (idx.iter().min(), idx.iter().max()) {
            (Some(x), Some(y)) => format!("{x}-{y}"),
            _ => "-".into(),
        };
        t.row(vec![
            s.name.clone(),
            s.seq.to_string(),
            range,
            idx.len().to_string(),
            s.records.len().to_string(),
            s.size.to_string(),
            end_text(&s.end),
        ]);
    }
    o.push_str(&t.render());
    o.push_str("\nSNAPSHOTS\n");
    if a.snapshots.is_empty() {
        o.push_str("(none)\n");
    } else {
        o.push_str(&super::walcmd::snapshots_table(a));
    }
    let (by_type, by_action) = counts(a);
    o.push_str("\nENTRIES BY TYPE\n");
    let mut t = Table::new(&["TYPE", "COUNT"]);
    for (k, v) in by_type {
        t.row(vec![k, v.to_string()]);
    }
    o.push_str(&t.render());
    o.push_str("\nSTORE ACTIONS\n");
    let mut t = Table::new(&["ACTION", "COUNT"]);
    for (k, v) in by_action {
        t.row(vec![k, v.to_string()]);
    }
    o.push_str(&t.render());
    let base = a.base_snapshot.map(|i| format!("snapshot {} + ", a.snapshots[i].file)).unwrap_or_default();
    o.push_str(&format!("\nOBJECTS at index {} ({}committed WAL entries)\n", a.state_index, base));
    let mut t = Table::new(&["KIND", "COUNT"]);
    if let Value::Object(m) = object_counts(a) {
        for (k, v) in m {
            t.row(vec![k, v.to_string()]);
        }
    }
    o.push_str(&t.render());
    o.push_str("\nRAFT MEMBERS\n");
    let mut t = Table::new(&["RAFT ID", "NODE ID", "ADDRESS"]);
    for (id, (n, addr)) in &a.membership.members {
        t.row(vec![format!("{id:x}"), n.clone(), addr.clone()]);
    }
    o.push_str(&t.render());
    if !a.membership.removed.is_empty() {
        o.push_str(&format!(
            "removed: {}\n",
            a.membership.removed.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(", ")
        ));
    }
    o.push_str(&crate::render::quorum::text(&a.membership));
    if a.findings.is_empty() {
        o.push_str("\nFINDINGS: none\n");
    } else {
        o.push_str(&format!("\nFINDINGS ({})\n", a.findings.len()));
        o.push_str(&findings_text(&a.findings));
    }
    o.push_str(&crate::render::sizes::info_text(a));
    let _ = human_bytes;
    o
}
