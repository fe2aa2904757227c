//! Text and JSON renderings of `history`, `diff` and `timeline`.

use super::table::Table;
use crate::analyses::history::{Event, StoreDiff, Version, short};
use serde_json::{Value, json};

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

/// `history` as text.
pub fn history_text(v: &[Version]) -> String {
    let mut o = String::new();
    for x in v {
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
    }
    if v.is_empty() {
        o.push_str("no versions found\n");
    }
    o
}

/// `history` as JSON.
pub fn history_json(kind: &str, id: &str, name: &str, v: &[Version]) -> Value {
    json!({"object": {"kind": kind, "ID": id, "name": name}, "versions": v})
}

/// `diff` as text.
pub fn diff_text(from: &str, to: &str, d: &StoreDiff) -> String {
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
        o.push_str(&t.render());
    }
    if !d.removed.is_empty() {
        o.push_str("\nREMOVED\n");
        let mut t = Table::new(&["KIND", "ID", "NAME", "LAST VERSION"]);
        for x in &d.removed {
            t.row(vec![x.kind.name().into(), x.id.clone(), x.name.clone(), x.version.to_string()]);
        }
        o.push_str(&t.render());
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
        }
    }
    o
}

/// `diff` as JSON.
pub fn diff_json(from: Value, to: Value, d: &StoreDiff) -> Value {
    json!({"from": from, "to": to, "created": d.created, "removed": d.removed, "updated": d.updated})
}

/// `timeline` as text.
pub fn timeline_text(ev: &[Event]) -> String {
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
    t.render()
}
