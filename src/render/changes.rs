//! Text, JSON and NDJSON renderings of `history`, `diff` and `timeline`, written into a writer
//! record by record: the JSON documents serialize the analyses' lists in place (no document
//! `Value` is built), the NDJSON forms write one line per version, change or event.

use super::json::{Record, line, pretty};
use super::table::Table;
use crate::analyses::history::{Event, StoreDiff, Version, short};
use serde::Serialize;
use std::io::{self, Write};

fn when(t: &Option<jiff::Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

fn status(committed: bool, over: Option<u64>) -> &'static str {
    match (committed, over) {
        (_, Some(_)) => " [OVERWRITTEN: never applied]",
        (false, None) => " [UNCOMMITTED]",
        _ => "",
    }
}

/// Write `history` as text: a title line for the object, then each version and its changes.
pub fn write_history_text<W: Write + ?Sized>(
    w: &mut W,
    kind: &str,
    id: &str,
    name: &str,
    v: &[Version],
) -> io::Result<()> {
    writeln!(w, "{kind} {id} ({name})")?;
    for x in v {
        let mut o = String::new();
        o.push_str(&format!(
            "index {:<6} term {:<3} {:<32} {:<8} {} {} ({}) version {}{}\n",
            x.at.index,
            x.at.term,
            when(&x.at.time),
            x.action,
            x.kind.name(),
            x.id,
            x.name,
            x.version,
            status(x.at.committed, x.at.overwritten_by_term)
        ));
        for c in &x.changes {
            o.push_str(&format!("    {}: {} -> {}\n", c.path, short(&c.old), short(&c.new)));
        }
        w.write_all(o.as_bytes())?;
    }
    if v.is_empty() {
        w.write_all(b"no versions found\n")?;
    }
    Ok(())
}

/// The object a history is about.
#[derive(Serialize)]
struct HistoryOf<'a> {
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
}

/// The `history` document.
#[derive(Serialize)]
struct HistoryDoc<'a> {
    object: HistoryOf<'a>,
    versions: &'a [Version],
}

/// Write `history` as JSON: `{"object": {"kind", "ID", "name"}, "versions": [Version]}`.
pub fn write_history_json<W: Write + ?Sized>(
    w: &mut W,
    kind: &str,
    id: &str,
    name: &str,
    v: &[Version],
) -> io::Result<()> {
    pretty(w, &HistoryDoc { object: HistoryOf { kind, id, name }, versions: v })
}

/// Write `history` as NDJSON: one version per line, as in the JSON document's `versions`.
pub fn write_history_ndjson<W: Write + ?Sized>(w: &mut W, v: &[Version]) -> io::Result<()> {
    v.iter().try_for_each(|x| line(w, x))
}

/// One end of a diff: what it was taken at.
#[derive(Debug, Clone, Serialize)]
pub struct DiffEnd {
    /// `index N`, or `PATH @N` for the final state of an input.
    pub label: String,
    /// Raft index of the state.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// What the reader should know about this state (damage met, a log cut short), as `state`
    /// says it; left out when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Write `diff` as text.
pub fn write_diff_text<W: Write + ?Sized>(w: &mut W, from: &str, to: &str, d: &StoreDiff) -> io::Result<()> {
    let mut o = format!(
        "DIFF {from} -> {to}: {} created, {} removed, {} updated\n",
        d.created.len(),
        d.removed.len(),
        d.updated.len()
    );
    if !d.created.is_empty() {
        o.push_str("\nCREATED\n");
        let mut t = Table::new(&["KIND", "ID", "NAME", "VERSION"]);
        for x in &d.created {
            t.row(vec![x.kind.name().into(), x.id.clone(), x.name.clone(), x.version.to_string()]);
        }
        w.write_all(o.as_bytes())?;
        o.clear();
        t.write(w)?;
    }
    if !d.removed.is_empty() {
        o.push_str("\nREMOVED\n");
        let mut t = Table::new(&["KIND", "ID", "NAME", "LAST VERSION"]);
        for x in &d.removed {
            t.row(vec![x.kind.name().into(), x.id.clone(), x.name.clone(), x.version.to_string()]);
        }
        w.write_all(o.as_bytes())?;
        o.clear();
        t.write(w)?;
    }
    if !d.updated.is_empty() {
        o.push_str("\nUPDATED\n");
        for u in &d.updated {
            o.push_str(&format!(
                "{} {} ({}) version {} -> {}\n",
                u.obj.kind.name(),
                u.obj.id,
                u.obj.name,
                u.from_version,
                u.obj.version
            ));
            for c in &u.changes {
                o.push_str(&format!("    {}: {} -> {}\n", c.path, short(&c.old), short(&c.new)));
            }
            w.write_all(o.as_bytes())?;
            o.clear();
        }
    }
    w.write_all(o.as_bytes())
}

/// The `diff` document.
#[derive(Serialize)]
struct DiffDoc<'a> {
    from: &'a DiffEnd,
    to: &'a DiffEnd,
    #[serde(flatten)]
    d: &'a StoreDiff,
}

/// The NDJSON header of `diff`.
#[derive(Serialize)]
struct DiffHeader<'a> {
    kind: &'static str,
    from: &'a DiffEnd,
    to: &'a DiffEnd,
}

/// Write `diff` as JSON: `{"from", "to", "created", "removed", "updated"}`.
pub fn write_diff_json<W: Write + ?Sized>(w: &mut W, from: &DiffEnd, to: &DiffEnd, d: &StoreDiff) -> io::Result<()> {
    pretty(w, &DiffDoc { from, to, d })
}

/// Write `diff` as NDJSON: a header `{"kind": "header", "from", "to"}`, then one record per
/// change, `{"kind": "created" | "removed" | "updated", "object": ...}` with the objects of the
/// JSON document's arrays of those names, in that order.
pub fn write_diff_ndjson<W: Write + ?Sized>(w: &mut W, from: &DiffEnd, to: &DiffEnd, d: &StoreDiff) -> io::Result<()> {
    line(w, &DiffHeader { kind: "header", from, to })?;
    d.created.iter().try_for_each(|o| line(w, &Record { kind: "created", object: o }))?;
    d.removed.iter().try_for_each(|o| line(w, &Record { kind: "removed", object: o }))?;
    d.updated.iter().try_for_each(|o| line(w, &Record { kind: "updated", object: o }))
}

/// Write `timeline` as text.
pub fn write_timeline_text<W: Write + ?Sized>(w: &mut W, ev: &[Event]) -> io::Result<()> {
    let mut t = Table::new(&["INDEX", "TERM", "TIME", "CLASS", "EVENT"]);
    for e in ev {
        t.row(vec![
            e.at.index.to_string(),
            if e.at.term == 0 { "-".into() } else { e.at.term.to_string() },
            when(&e.at.time),
            e.class.into(),
            format!("{}{}", e.text, status(e.at.committed, e.at.overwritten_by_term)),
        ]);
    }
    t.write(w)
}

/// The `timeline` document.
#[derive(Serialize)]
struct TimelineDoc<'a> {
    events: &'a [Event],
}

/// Write `timeline` as JSON: `{"events": [Event]}`.
pub fn write_timeline_json<W: Write + ?Sized>(w: &mut W, ev: &[Event]) -> io::Result<()> {
    pretty(w, &TimelineDoc { events: ev })
}

/// Write `timeline` as NDJSON: one event per line, as in the JSON document's `events`.
pub fn write_timeline_ndjson<W: Write + ?Sized>(w: &mut W, ev: &[Event]) -> io::Result<()> {
    ev.iter().try_for_each(|e| line(w, e))
}
