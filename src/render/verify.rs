//! `verify` as text: the verdict, then every finding with its consequence.

use crate::analyses::verify::*;
use crate::error::Severity;

/// Where a finding is: `file, offset N, index N, term N` (what it has of these), or `-`.
pub fn location(f: &VFinding) -> String {
    let mut loc = Vec::new();
    if let Some(p) = &f.file {
        loc.push(p.clone());
    }
    if let Some(o) = f.offset {
        loc.push(format!("offset {o}"));
    }
    if let Some(i) = f.index {
        loc.push(format!("index {i}"));
    }
    if let Some(t) = f.term {
        loc.push(format!("term {t}"));
    }
    if loc.is_empty() { "-".into() } else { loc.join(", ") }
}

/// Text: the verdict first, then findings grouped by severity, each with its consequence.
pub fn text(v: &Verification) -> String {
    let mut s = String::new();
    s.push_str(&v.verdict);
    s.push('\n');
    s.push_str(&format!("Assuming: {}\n", v.docker.flavor.describe()));
    if v.findings.is_empty() {
        s.push_str("\nNo findings.\n");
        return s;
    }
    for (sev, title) in [(Severity::Error, "ERRORS"), (Severity::Warning, "WARNINGS"), (Severity::Info, "INFO")] {
        let group: Vec<&VFinding> = v.findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        s.push_str(&format!("\n{title} ({})\n", group.len()));
        for f in group {
            s.push_str(&format!("  [{}] {}\n", f.code, location(f)));
            s.push_str(&format!("      {}\n", f.message));
            s.push_str(&format!("      Docker: {}\n", f.consequence));
        }
    }
    s
}
