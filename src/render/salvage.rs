//! `salvage` as text: what was copied, what was dropped, and whether the copy verifies.

use crate::analyses::salvage::*;
use crate::analyses::verify;
use crate::error::Severity;

/// Text report.
pub fn text(r: &SalvageReport) -> String {
    if r.no_swarm_data {
        return format!("Nothing salvaged from {}: {}\n", r.input, r.verify_verdict);
    }
    let mut s = String::new();
    s.push_str(&format!(
        "Wrote {}: {} WAL segment(s) ({}), {} snapshot(s)\n",
        r.output,
        r.segments.len(),
        match (r.first_index, r.last_index) {
            (Some(f), Some(l)) => format!("entries {f}-{l}"),
            _ => "no entries".into(),
        },
        r.snapshots.len()
    ));
    if !r.payloads_checked {
        s.push_str("Payloads not checked (no usable key): damaged entries could not be told from intact ones.\n");
    }
    if r.dropped.is_empty() {
        s.push_str("Nothing was dropped.\n");
    } else {
        s.push_str("\nDROPPED\n");
        for d in &r.dropped {
            s.push_str(&format!("  {}", d.what));
            if let Some(f) = &d.file {
                s.push_str(&format!(" in {f}"));
            }
            if let Some(o) = d.offset {
                s.push_str(&format!(" at offset {o}"));
            }
            if !d.indexes.is_empty() {
                s.push_str(&format!(": indexes {}", verify::ranges(&d.indexes)));
                if !d.committed.is_empty() {
                    s.push_str(&format!(" (committed: {})", verify::ranges(&d.committed)));
                }
            }
            s.push('\n');
            s.push_str(&format!("      {}\n", d.reason));
            for o in &d.objects {
                s.push_str(&format!("      {o}\n"));
            }
        }
    }
    if !r.placeholders_in_snapshot.is_empty() {
        s.push_str(&format!(
            "Empty placeholders written at {} (covered by the snapshot: nothing lost)\n",
            verify::ranges(&r.placeholders_in_snapshot)
        ));
    }
    if !r.segments_reordered.is_empty() {
        s.push_str(&format!(
            "Segment files were not in the order of their content; read them as: {}\n",
            r.segments_reordered.join(", ")
        ));
    }
    for (f, o) in &r.recovered_frames {
        s.push_str(&format!("Recovered the record at offset {o} of {f} whole (only its length field was damaged)\n"));
    }
    if let Some(m) = r.marker_added {
        s.push_str(&format!("Added the snapshot marker for index {m}, which Docker needs to open the WAL\n"));
    }
    if let Some(h) = &r.hard_state {
        if let Some(w) = h.was_commit {
            s.push_str(&format!("HardState commit set to {} (was {w})\n", h.commit));
        }
    }
    if !r.not_copied.is_empty() {
        s.push_str("\nNOT COPIED\n");
        for n in &r.not_copied {
            s.push_str(&format!("  {n}\n"));
        }
    }
    s.push_str(&format!("\nVerification of the copy: {}\n", r.verify_verdict));
    for f in r.verify_findings.iter().filter(|f| f.severity >= Severity::Warning) {
        s.push_str(&format!("  {} [{}] {}\n", f.severity, f.code, f.message));
    }
    s
}
