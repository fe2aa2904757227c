//! `archive` as text: the copies, their snapshots and WAL ranges, and how they fit together.

use crate::analyses::archive::*;
use crate::error::Finding;
use crate::render::table::Table;

/// Text listing.
pub fn text(ar: &Archive) -> String {
    let r = &ar.report;
    let mut o =
        format!("ARCHIVE: {} input{}, oldest first\n", r.inputs.len(), if r.inputs.len() == 1 { "" } else { "s" });
    let mut t = Table::new(&["#", "INPUT", "KIND", "NODE", "TERM", "COMMIT", "WAL", "SNAPSHOTS", "ERRORS", "WARNINGS"]);
    for i in &r.inputs {
        t.row(vec![
            i.order.to_string(),
            i.name.clone(),
            format!("{:?}", i.kind).to_ascii_lowercase(),
            i.node_id.clone().unwrap_or_else(|| "-".into()),
            i.term.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            i.commit.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            match (i.wal_first, i.wal_last) {
                (Some(a), Some(b)) => format!("{a}-{b}"),
                _ => "-".into(),
            },
            format!("{}/{} valid", i.valid_snapshots, i.snapshots),
            i.errors.to_string(),
            i.warnings.to_string(),
        ]);
    }
    o.push_str(&t.render());
    for i in &r.inputs {
        for n in &i.notes {
            o.push_str(&format!("note: {}: {n}\n", i.name));
        }
    }
    o.push_str(&format!("\nSNAPSHOTS ({} distinct in {} files)\n", r.snapshots.len(), r.snapshot_files));
    let mut t = Table::new(&["TERM", "INDEX", "BYTES", "CRC32C", "VALID", "USED", "FOUND IN", "NOTE"]);
    for s in &r.snapshots {
        let mut note = Vec::new();
        if s.conflict {
            note.push("CONFLICT: same term/index, different content".to_string());
        }
        if s.reencrypted {
            note.push("same content, encrypted differently in some copies".to_string());
        }
        if let Some(p) = &s.problem {
            note.push(p.clone());
        }
        t.row(vec![
            s.term.to_string(),
            s.index.to_string(),
            s.bytes.to_string(),
            s.crc32c.clone(),
            if s.valid { "yes".into() } else { "NO".into() },
            if s.used { "yes".into() } else { "no".into() },
            s.found_in.join(", "),
            note.join("; "),
        ]);
    }
    o.push_str(&t.render());
    o.push_str(&format!(
        "\nWAL ({} entries read, {} distinct live entries, {} overwritten)\n",
        r.entries_read, r.entries_merged, r.overwritten
    ));
    let mut t = Table::new(&["INDEXES", "ENTRIES", "TERMS", "FROM"]);
    for w in &r.wal {
        t.row(vec![
            format!("{}-{}", w.first, w.last),
            w.entries.to_string(),
            w.terms.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","),
            w.from.join(", "),
        ]);
    }
    o.push_str(&t.render());
    o.push_str(&format!(
        "\nmerged history: starts from {}; commit {}; final state at index {}\n",
        r.history_starts, r.commit, r.state_index
    ));
    if r.conflicts.is_empty() {
        o.push_str("conflicts: none\n");
    } else {
        o.push_str(&format!("\nCONFLICTS ({})\n", r.conflicts.len()));
        for c in &r.conflicts {
            o.push_str(&format!("  {c}\n"));
        }
    }
    let arch: Vec<&Finding> = ar.merged.findings.iter().filter(|f| f.code.area() == "archive").collect();
    if !arch.is_empty() {
        o.push_str(&format!("\nARCHIVE FINDINGS ({})\n", arch.len()));
        for f in arch {
            o.push_str(&format!("  {f}\n"));
        }
    }
    o
}
