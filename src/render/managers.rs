//! `managers` as text: the comparison of a cluster's managers, and what to recover from.

use crate::analyses::managers::*;

/// Text report.
pub fn text(r: &ManagersReport) -> String {
    let mut t = crate::render::table::Table::new(&[
        "MANAGER",
        "RAFT ID",
        "NODE ID",
        "ADDRESS",
        "TERM",
        "VOTE",
        "COMMIT",
        "LOG",
        "LAST TERM",
        "SNAPSHOT",
        "DOCKER",
    ]);
    for m in &r.managers {
        let o = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
        let n = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        t.row(vec![
            m.name.clone(),
            o(&m.raft_id),
            o(&m.node_id),
            o(&m.addr),
            n(m.term),
            o(&m.vote),
            m.commit.to_string(),
            match (m.first_index, m.last_index) {
                (Some(f), Some(l)) => format!("{f}-{l}"),
                _ => "empty".into(),
            },
            n(m.last_term),
            n(m.snapshot_index),
            m.docker.clone(),
        ]);
    }
    let mut s = String::new();
    s.push_str(&t.render());
    for (n, e) in &r.unreadable {
        s.push_str(&format!("{n}: cannot be read: {e}\n"));
    }
    if !r.clusters.is_empty() {
        s.push_str(&format!("\nDIFFERENT CLUSTERS ({})\n", r.clusters.len()));
        for c in &r.clusters {
            s.push_str(&format!("  {c}\n"));
        }
        agreement_then_recovery(&mut s, r);
        s.push_str("  No recommendation: these managers are not of one cluster. Run `managers` again with the managers of one cluster.\n");
        return s;
    }
    s.push_str(&format!(
        "\nCommitted for sure up to index {} (highest commit: {}).\n",
        r.cluster_commit,
        r.commit_from.join(", ")
    ));
    s.push_str(&format!(
        "Holding every committed entry: {}\n",
        if r.holders.is_empty() { "none".to_string() } else { r.holders.join(", ") }
    ));
    agreement_then_recovery(&mut s, r);
    match &r.recommendation {
        Some(rec) => {
            s.push_str(&format!("  Recover from {}: `{}` there.\n", rec.manager, rec.command));
            if !rec.equally_good.is_empty() {
                s.push_str(&format!("  Just as good: {}.\n", rec.equally_good.join(", ")));
            }
            s.push_str(&format!("  Why: {}.\n", rec.reason));
        }
        None => s.push_str("  No manager here can be started by Docker as it is; salvage one first.\n"),
    }
    for l in &r.losses {
        s.push_str(&format!("  From {}: {}\n", l.manager, l.note));
    }
    if let (Some(q), Some(t)) = (&r.quorum, &r.topology) {
        // The membership the most advanced manager holds at its end.
        s.push_str(&crate::render::quorum::text_of(q, t).replacen(
            "QUORUM\n",
            "QUORUM (the raft members in the most advanced manager's final state)\n",
            1,
        ));
    }
    if !r.behind.is_empty() {
        s.push_str("\nBEHIND WHAT THE CLUSTER BELIEVES\n");
        for b in &r.behind {
            s.push_str(&format!("  {}\n", b.explanation));
        }
    }
    s
}

/// The AGREEMENT section (each pair's note, then the notes) and the RECOVERY heading.
fn agreement_then_recovery(s: &mut String, r: &ManagersReport) {
    s.push_str("\nAGREEMENT\n");
    for p in &r.pairs {
        s.push_str(&format!("  {}\n", p.note));
    }
    for n in &r.notes {
        s.push_str(&format!("  {n}\n"));
    }
    s.push_str("\nRECOVERY (docker swarm init --force-new-cluster)\n");
}
