//! `wal` and `snapshots`: one line per entry / per snapshot file. `wal` is written as the load
//! decodes ([`WalStream`]); `snapshots` is small and rendered whole.

use super::table::Table;
use crate::decode::entry::{DecodedEntry, Payload};
use crate::decode::object::Kind;
use crate::format::wal::WalLog;
use crate::replay::analysis::Analysis;
use serde_json::{Value, json};
use std::io::Write;

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
        Payload::Undecryptable { error } => format!("UNDECRYPTABLE: {error}"),
        Payload::Undecodable { reason } => format!("UNDECODABLE: {reason}"),
    }
}

fn type_word(etype: &str) -> &'static str {
    match etype {
        "EntryNormal" => "normal",
        "EntryConfChange" => "confchange",
        "EntryConfChangeV2" => "confchangev2",
        _ => "unknown",
    }
}

/// What [`WalStream`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalFormat {
    /// A table, one row per entry.
    Text,
    /// One JSON document: `{"hard_state", "entries": [...]}`.
    Json,
    /// One entry per line (the objects of the JSON document's `entries`), nothing else.
    Ndjson,
}

/// `wal` output written as entries are decoded, so memory does not grow with the log: text rows
/// (column widths fixed up front from the WAL index, which knows every entry's index, term, type
/// and commit status before any payload is decrypted), one JSON document whose `entries` array
/// is streamed, or one NDJSON line per entry. The text output is what a table over all shown
/// rows would print; with a `--kind` or `--id` filter the first four columns are as wide as the
/// unfiltered range needs. After the first write error nothing more is written, and
/// [`WalStream::finish`] returns that error.
pub struct WalStream<W: Write> {
    out: W,
    filter: WalFilter,
    format: WalFormat,
    widths: [usize; 4],
    shown: usize,
    failed: Option<std::io::Error>,
}

impl<W: Write + Send> WalStream<W> {
    /// A stream writing `format` to `out`.
    pub fn new(out: W, filter: WalFilter, format: WalFormat) -> WalStream<W> {
        WalStream { out, filter, format, widths: [0; 4], shown: 0, failed: None }
    }

    fn write(&mut self, s: &str) {
        if self.failed.is_none() {
            if let Err(e) = self.out.write_all(s.as_bytes()) {
                self.failed = Some(e);
            }
        }
    }

    fn in_range(&self, index: u64) -> bool {
        !(self.filter.from.is_some_and(|f| index < f) || self.filter.to.is_some_and(|t| index > t))
    }

    /// Header (text) or document start (JSON), from the scanned WAL; nothing for NDJSON.
    pub fn start(&mut self, wal: &WalLog) {
        if self.format == WalFormat::Ndjson {
            return;
        }
        if self.format == WalFormat::Json {
            let hs = wal.hard_state.map(|h| json!({"term": h.0.term, "vote": h.0.vote, "commit": h.0.commit}));
            let hs = serde_json::to_string_pretty(&hs).unwrap_or_else(|_| "null".into());
            self.write(&format!("{{\n  \"hard_state\": {},\n  \"entries\": [", indent(&hs, 2)));
            return;
        }
        let headers = ["INDEX", "TERM", "TYPE", "COMMITTED"];
        let mut w = headers.map(str::len);
        let rules = crate::replay::engine::Rules::new(wal, false);
        for e in wal.entries.iter().chain(wal.overwritten.iter()).filter(|e| self.in_range(e.index)) {
            let status = match e.overwritten_by {
                Some((t, ..)) => format!("overwritten(term {t})").len(),
                None if rules.committed(e) => 3,
                None => 2,
            };
            let cells = [
                e.index.to_string().len(),
                e.term.to_string().len(),
                type_word(crate::format::wal::entry_type_name(e.etype)).len(),
                status,
            ];
            for (wi, c) in w.iter_mut().zip(cells) {
                *wi = (*wi).max(c);
            }
        }
        self.widths = w;
        let mut line = String::new();
        for (h, wi) in headers.iter().zip(w) {
            line.push_str(&format!("{h:<wi$}   "));
        }
        line.push_str("ACTIONS\n");
        self.write(&line);
    }

    /// One decoded entry (skipped unless the filter passes it).
    pub fn entry(&mut self, e: &DecodedEntry) {
        if !self.filter.matches(e) {
            return;
        }
        self.shown += 1;
        if self.format == WalFormat::Ndjson {
            if self.failed.is_none() {
                if let Err(e) = super::json::line(&mut self.out, e) {
                    self.failed = Some(e);
                }
            }
            return;
        }
        if self.format == WalFormat::Json {
            let v = serde_json::to_string_pretty(e).unwrap_or_else(|_| "null".into());
            let sep = if self.shown > 1 { "," } else { "" };
            self.write(&format!("{sep}\n    {}", indent(&v, 4)));
            return;
        }
        let [wi, wt, wy, wc] = self.widths;
        let line = format!(
            "{:<wi$}   {:<wt$}   {:<wy$}   {:<wc$}   {}",
            e.index,
            e.term,
            type_word(e.etype),
            status(e),
            actions_text(e)
        );
        self.write(line.trim_end());
        self.write("\n");
    }

    /// How many entries passed the filter so far.
    pub fn shown(&self) -> usize {
        self.shown
    }

    /// Close the document; the first write error, if any.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.format == WalFormat::Json {
            self.write(if self.shown > 0 { "\n  ]\n}\n" } else { "]\n}\n" });
        }
        if self.failed.is_none() {
            if let Err(e) = self.out.flush() {
                self.failed = Some(e);
            }
        }
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

impl<W: Write + Send> crate::replay::analysis::EntrySink for WalStream<W> {
    fn start(&mut self, wal: &WalLog) {
        WalStream::start(self, wal)
    }
    fn entry(&mut self, e: &DecodedEntry) {
        WalStream::entry(self, e)
    }
}

/// Indent every line but the first by `n` spaces.
fn indent(s: &str, n: usize) -> String {
    s.replace('\n', &format!("\n{}", " ".repeat(n)))
}

fn stream_all(a: &Analysis, f: &WalFilter, format: WalFormat) -> String {
    let mut st = WalStream::new(Vec::new(), f.clone(), format);
    st.start(&a.wal);
    for e in &a.entries {
        st.entry(e);
    }
    st.finish().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()
}

/// Text form of `wal` for an analysis loaded with [`crate::replay::analysis::Detail::Entries`].
pub fn wal_text(a: &Analysis, f: &WalFilter) -> String {
    stream_all(a, f, WalFormat::Text)
}

/// JSON form of `wal` (the document text), for an analysis loaded with
/// [`crate::replay::analysis::Detail::Entries`].
pub fn wal_json(a: &Analysis, f: &WalFilter) -> String {
    stream_all(a, f, WalFormat::Json)
}

/// The VALID column: `yes` (decrypted and decoded), `NO`, or, for a sound container whose
/// payload was not read, `not checked (no key)` when no key was available and `not checked`
/// when only the structure was asked for.
pub fn validity(a: &Analysis, s: &crate::replay::analysis::SnapInfo) -> &'static str {
    match (s.valid, s.payload_checked) {
        (false, _) => "NO",
        (true, true) => "yes",
        (true, false) if a.encrypted && a.deks.is_empty() => "not checked (no key)",
        (true, false) => "not checked",
    }
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
            validity(a, s).into(),
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
        "sizes": crate::analyses::sizes::snapshots_json(a),
    })
}
