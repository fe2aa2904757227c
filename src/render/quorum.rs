//! Quorum and manager placement as text: the lines `state`, `info` and `managers` print under
//! QUORUM ([`crate::analyses::quorum`] computes them).

use crate::analyses::quorum::{Quorum, Topology, topology};
use crate::decode::object::Membership;

/// The QUORUM section of a membership: count, quorum, tolerated failures, the placement by
/// subnet with the lose-one-group check, and the notes (even count, one subnet).
pub fn text(m: &Membership) -> String {
    text_of(&Quorum::of_membership(m), &topology(m))
}

/// [`text`] of a computed quorum and placement.
pub fn text_of(q: &Quorum, t: &Topology) -> String {
    let mut o = format!("\nQUORUM\n  {}\n", q.line());
    if q.managers > 0 {
        o.push_str(&format!(
            "  placement by subnet: {} ({})\n",
            t.layout,
            t.groups.iter().map(|g| format!("{}: {}", g.subnet, g.managers.len())).collect::<Vec<_>>().join(", ")
        ));
        if let Some(w) = &t.worst_loss {
            if q.managers > 1 {
                o.push_str(&format!(
                    "  losing any one subnet {}: the worst, {}, leaves {} of {} (quorum {})\n",
                    if t.survives_losing_any_group { "keeps quorum" } else { "can lose quorum" },
                    w.subnet,
                    w.left,
                    q.managers,
                    q.quorum
                ));
            }
        }
    }
    for n in &t.notes {
        o.push_str(&format!("  note: {n}\n"));
    }
    o
}
