//! Size forensics as text: what the analyses in [`crate::analyses::sizes`] measured, as tables
//! and sentences.

use crate::analyses::sizes::*;
use crate::render::table::Table;
use crate::replay::analysis::Analysis;

/// Bytes with an IEC unit and the exact count: `13.0 KiB (13358 B)`.
pub fn bytes_text(n: u64) -> String {
    if n < 1024 { format!("{n} B") } else { format!("{} ({n} B)", crate::render::human_bytes(n)) }
}

/// Text rendering of forensics.
pub fn forensics_text(f: &Forensics) -> String {
    let mut o = format!("\nSIZE FORENSICS ({}; store {})\n", f.at, bytes_text(f.store_bytes));
    let mut t = Table::new(&["KIND", "COUNT", "BYTES", "SHARE"]);
    for k in f.by_kind.iter().filter(|k| k.count > 0) {
        let share = if f.store_bytes > 0 { k.bytes as f64 / f.store_bytes as f64 } else { 0.0 };
        t.row(vec![k.kind.into(), k.count.to_string(), k.bytes.to_string(), pct(share)]);
    }
    o.push_str(&t.render());
    if !f.tasks_by_state.is_empty() {
        o.push_str(&format!(
            "tasks by state: {}\n",
            f.tasks_by_state.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if !f.by_service.is_empty() {
        o.push_str("\nBYTES BY SERVICE\n");
        let mut t = Table::new(&["SERVICE", "ID", "SERVICE BYTES", "TASKS", "TASK BYTES", "LIVE", "DEAD"]);
        for s in f.by_service.iter().take(TOP) {
            t.row(vec![
                s.name.clone(),
                s.id.clone(),
                s.service_bytes.to_string(),
                s.tasks.to_string(),
                s.task_bytes.to_string(),
                s.live_tasks.to_string(),
                s.dead_tasks.to_string(),
            ]);
        }
        o.push_str(&t.render());
        if f.by_service.len() > TOP {
            o.push_str(&format!("({} more services)\n", f.by_service.len() - TOP));
        }
    }
    if !f.by_node.is_empty() {
        o.push_str("\nBYTES BY NODE (assignments: what the dispatcher sends when the node connects)\n");
        let mut t =
            Table::new(&["NODE", "HOSTNAME", "TASKS", "TASK BYTES", "ASSIGNED", "SECRETS+CONFIGS", "ASSIGNMENTS"]);
        for n in f.by_node.iter().take(TOP) {
            t.row(vec![
                n.id.clone(),
                n.hostname.clone(),
                n.tasks.to_string(),
                n.task_bytes.to_string(),
                n.assigned_tasks.to_string(),
                n.dependencies.to_string(),
                n.assignments_bytes.to_string(),
            ]);
        }
        o.push_str(&t.render());
    }
    o.push_str("\nLARGEST OBJECTS\n");
    let mut t = Table::new(&["KIND", "ID", "NAME", "BYTES"]);
    for x in &f.largest {
        t.row(vec![x.kind.name().into(), x.id.clone(), x.name.clone(), x.bytes.to_string()]);
    }
    o.push_str(&t.render());
    if f.unreferenced.is_empty() {
        o.push_str("\nUNREFERENCED CONFIGS AND SECRETS: none\n");
    } else {
        let total: u64 = f.unreferenced.iter().map(|x| x.bytes).sum();
        o.push_str(&format!(
            "\nUNREFERENCED CONFIGS AND SECRETS ({}, {}: no service spec, previous spec or live task uses them)\n",
            f.unreferenced.len(),
            bytes_text(total)
        ));
        let mut t = Table::new(&["KIND", "ID", "NAME", "BYTES"]);
        for x in f.unreferenced.iter().take(TOP) {
            t.row(vec![x.kind.name().into(), x.id.clone(), x.name.clone(), x.bytes.to_string()]);
        }
        o.push_str(&t.render());
        if f.unreferenced.len() > TOP {
            o.push_str(&format!("({} more: --format json lists them all)\n", f.unreferenced.len() - TOP));
        }
    }
    let d = &f.dead_history;
    o.push_str(&format!(
        "\nDEAD TASK HISTORY: retention limit {} per slot; {} dead tasks ({}); {} beyond the limit ({}); {} tasks of removed services ({})\n",
        d.limit,
        d.dead_tasks,
        bytes_text(d.dead_bytes),
        d.beyond_limit,
        bytes_text(d.beyond_limit_bytes),
        d.of_removed_services,
        bytes_text(d.of_removed_services_bytes)
    ));
    if !d.fullest_slots.is_empty() {
        o.push_str(&format!(
            "fullest slots: {}\n",
            d.fullest_slots.iter().map(|(s, slot, n)| format!("{s}.{slot} {n}")).collect::<Vec<_>>().join(", ")
        ));
    }
    o.push_str("\nLIMITS (swarmkit: 4 MiB gRPC message, 1.5 MiB raft transaction)\n");
    let mut t = Table::new(&["MEASURED", "BYTES", "LIMIT", "USE"]);
    for l in &f.limits {
        t.row(vec![
            l.what.clone(),
            l.bytes.to_string(),
            l.limit_name.into(),
            format!("{}{}", pct(l.ratio), if l.over { " OVER" } else { "" }),
        ]);
    }
    o.push_str(&t.render());
    o
}

/// Text for the end of `info`.
pub fn info_text(a: &Analysis) -> String {
    forensics_text(&info_forensics(a).0)
}

/// Text for the end of `snapshots`: bytes by kind of every snapshot, and the limits.
pub fn snapshots_text(a: &Analysis) -> String {
    snapshot_sizes_text(&all_snapshot_sizes(a))
}

/// The bytes-by-kind table for a list of snapshots.
pub fn snapshot_sizes_text(v: &[SnapshotSizes]) -> String {
    if v.is_empty() {
        return String::new();
    }
    let mut o = String::from("\nSNAPSHOT BYTES BY KIND\n");
    let mut t = Table::new(&[
        "FILE",
        "BYTES",
        "TASKS",
        "SERVICES",
        "NODES",
        "NETWORKS",
        "SECRETS",
        "CONFIGS",
        "CLUSTER",
        "OTHER",
        "MEMBERSHIP",
        "FRAMING",
    ]);
    for s in v {
        if !s.valid {
            t.row(vec![s.file.clone(), s.bytes.to_string(), "(payload not readable)".into()]);
            continue;
        }
        let other = s.kind("volumes") + s.kind("resources") + s.kind("extensions");
        t.row(vec![
            s.file.clone(),
            s.bytes.to_string(),
            s.kind("tasks").to_string(),
            s.kind("services").to_string(),
            s.kind("nodes").to_string(),
            s.kind("networks").to_string(),
            s.kind("secrets").to_string(),
            s.kind("configs").to_string(),
            s.kind("clusters").to_string(),
            other.to_string(),
            s.membership_bytes.to_string(),
            s.framing_bytes.to_string(),
        ]);
    }
    o.push_str(&t.render());
    if let Some(big) = v.iter().max_by_key(|s| (s.bytes, s.index)) {
        o.push_str(&format!(
            "largest: {} = {} of the 4 MiB gRPC message limit, {} of the 1.5 MiB transaction limit\n",
            bytes_text(big.bytes),
            pct(big.bytes as f64 / GRPC_LIMIT as f64),
            pct(big.bytes as f64 / TXN_LIMIT as f64)
        ));
    }
    o
}

fn pct(r: f64) -> String {
    let p = r * 100.0;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 0.1 {
        format!("{p:.1}%")
    } else {
        format!("{p:.3}%")
    }
}
