//! `wal` and `snapshots`: one line per entry / per snapshot file.

use super::table::Table;
use crate::analysis::{Analysis, DecodedEntry, Payload};
use crate::store::Kind;
use serde_json::{Value, json};

/// Filters for `wal`.
#[derive(Debug, Default, Clone)]
pub struct WalFilter {
    /// Lowest index shown.
    pub from: Option<u64>,
    /// Highest index shown.
    pub to: Option<u64>,
    /// Only entries with an action on this kind.
    pub kind: Option<Kind>,
    /// Only entries with an action on an object whose ID starts with this (or whose name is this).
    pub id: Option<String>,
}

impl WalFilter {
    /// Does the entry pass?
    pub fn matches(&self, e: &DecodedEntry) -> bool {
        if self.from.is_some_and(|f| e.index < f) || self.to.is_some_and(|t| e.index > t) {
            return false;
        }
        if self.kind.is_none() && self.id.is_none() {
            return true;
        }
        match &e.payload {
            Payload::Request { actions, .. } => actions.iter().any(|a| {
                self.kind.is_none_or(|k| a.kind == k)
                    && self.id.as_ref().is_none_or(|id| a.id.starts_with(id.as_str()) || a.name == *id)
            }),
            Payload::ConfChange { node_id, raft_id, .. } => {
                self.kind.is_none_or(|k| k == Kind::Node)
                    && self.id.as_ref().is_none_or(|id| {
                        node_id.as_deref().is_some_and(|n| n.starts_with(id.as_str())) || format!("{raft_id:x}") == *id
                    })
            }
            _ => false,
        }
    }
}

fn status(e: &DecodedEntry) -> String {
    if let Some(t) = e.overwritten_by_term {
        format!("overwritten(term {t})")
    } else if e.committed {
        "yes".into()
    } else {
        "no".into()
    }
}

fn actions_text(e: &DecodedEntry) -> String {
    match &e.payload {
        Payload::Empty => "(no-op)".into(),
        Payload::Request { actions, .. } => actions
            .iter()
            .map(|a| {
                if a.name.is_empty() {
                    format!("{} {} {}", a.verb.name(), a.kind.name(), a.id)
                } else {
                    format!("{} {} {} {}", a.verb.name(), a.kind.name(), a.id, a.name)
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Payload::ConfChange { change, raft_id, node_id, addr } => {
            let mut s = format!("{change} raft {raft_id:x}");
            if let Some(n) = node_id {
                s.push_str(&format!(" node {n}"));
            }
            if let Some(a) = addr {
                s.push_str(&format!(" addr {a}"));
            }
            s
        }
        Payload::Undecryptable { reason } => format!("UNDECRYPTABLE: {reason}"),
        Payload::Undecodable { reason } => format!("UNDECODABLE: {reason}"),
    }
}

/// Text form of `wal`.
pub fn wal_text(a: &Analysis, f: &WalFilter) -> String {
    let mut t = Table::new(&["INDEX", "TERM", "TYPE", "COMMITTED", "ACTIONS"]);
    for e in a.entries.iter().filter(|e| f.matches(e)) {
        let ty = match e.etype {
            "EntryNormal" => "normal",
            "EntryConfChange" => "confchange",
            "EntryConfChangeV2" => "confchangev2",
            _ => "unknown",
        };
        t.row(vec![e.index.to_string(), e.term.to_string(), ty.into(), status(e), actions_text(e)]);
    }
    t.render()
}

/// JSON form of `wal`.
pub fn wal_json(a: &Analysis, f: &WalFilter) -> Value {
    json!({
        "hard_state": a.wal.hard_state.map(|h| json!({"term": h.0.term, "vote": h.0.vote, "commit": h.0.commit})),
        "entries": a.entries.iter().filter(|e| f.matches(e)).collect::<Vec<_>>(),
    })
}

/// The snapshots table (shared with `info`).
pub fn snapshots_table(a: &Analysis) -> String {
    let mut t = Table::new(&[
        "FILE", "TERM", "INDEX", "BYTES", "VALID", "NODES", "SERVICES", "TASKS", "NETWORKS", "SECRETS", "CONFIGS",
        "MEMBERS", "NOTE",
    ]);
    for (i, s) in a.snapshots.iter().enumerate() {
        let c = |k: &str| s.objects.get(k).map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let mut note = Vec::new();
        if a.base_snapshot == Some(i) {
            note.push("base of final state".to_string());
        }
        if !s.has_marker {
            note.push("no WAL marker".into());
        }
        if let Some(p) = &s.problem {
            note.push(p.clone());
        }
        t.row(vec![
            s.file.clone(),
            s.term.to_string(),
            s.index.to_string(),
            s.bytes.to_string(),
            if s.valid { "yes".into() } else { "NO".into() },
            c("nodes"),
            c("services"),
            c("tasks"),
            c("networks"),
            c("secrets"),
            c("configs"),
            s.membership.as_ref().map(|m| m.members.len().to_string()).unwrap_or_else(|| "-".into()),
            note.join("; "),
        ]);
    }
    t.render()
}

/// JSON form of `snapshots`.
pub fn snapshots_json(a: &Analysis) -> Value {
    json!({
        "snapshots": a.snapshots,
        "base_snapshot": a.base_snapshot.map(|i| a.snapshots[i].file.clone()),
        "sizes": crate::sizes::snapshots_json(a),
    })
}
