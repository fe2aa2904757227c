//! Render: text tables (docker CLI style), JSON and charts, from what the lower layers computed.
//!
//! Layer: above the analyses, below [`crate::cli`]. Nothing here decodes data or replays the log
//! on its own terms: state comes from [`crate::replay::point`]. The big outputs (`state`, `wal`,
//! `history`, `diff`, `timeline`) are written into a writer piece by piece ([`json`] for the JSON
//! side), never built whole in memory.

pub mod advise;
pub mod archive;
pub mod changes;
pub mod chart;
pub mod decrypt;
pub mod info;
pub mod json;
pub mod managers;
pub mod metrics;
pub mod quorum;
pub mod report;
pub mod salvage;
pub mod sizes;
pub mod state;
pub mod table;
pub mod verify;
pub mod walcmd;

use crate::error::Finding;

/// Human size: bytes as the docker CLI prints them (`1.5MB` uses decimal units there; we print
/// exact bytes in tables and IEC units in prose).
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n}B") } else { format!("{v:.1}{}", U[i]) }
}

/// Render findings as text lines.
pub fn findings_text(f: &[Finding]) -> String {
    let mut out = String::new();
    for x in f {
        out.push_str(&format!("  {x}\n"));
    }
    out
}

/// A timestamp as RFC 3339 (UTC, seconds precision unless nanos are set).
pub fn ts(t: &Option<prost_types::Timestamp>) -> Option<String> {
    let t = t.as_ref()?;
    jiff::Timestamp::new(t.seconds, t.nanos).ok().map(|x| x.to_string())
}
