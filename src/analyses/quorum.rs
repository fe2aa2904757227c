//! Quorum and manager placement at a point of the log: how many managers (raft members) there
//! are, how many of them make a quorum, how many failures that tolerates, and how the managers
//! sit on the network, as a hint of whether losing one site loses the swarm.
//!
//! Invariants:
//! - **Managers are the raft members** of the state (the membership the replay built: snapshot
//!   `ConfState` plus the conf changes applied after it), never a count kept elsewhere. A quorum
//!   is a majority of them: `N / 2 + 1`; `N` managers tolerate `(N - 1) / 2` failures.
//! - **Placement is a hint.** Managers are grouped by the subnet of their raft address (IPv4
//!   `/24`, IPv6 `/64`, a hostname by its domain): the data records addresses, not racks or zones.
//!   The check is the chapter's 5(1)-3-2 rule: the layout survives the loss of any one group when
//!   no group holds more managers than the swarm tolerates losing (3 managers as 1+1+1, 5 as
//!   2+2+1, 5 in 4 groups, 6 as 2+2+1+1).
//! - **An even count** tolerates no more failures than the odd count below it; the note says what
//!   the next odd count would add.

use crate::decode::object::Membership;
use serde::Serialize;
use std::collections::BTreeMap;

/// Managers, quorum and tolerated failures: `{"managers": N, "quorum": Q, "tolerates": F}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quorum {
    /// Managers (raft members).
    pub managers: usize,
    /// Managers needed to commit anything: a majority.
    pub quorum: usize,
    /// Managers that can be lost with a quorum left.
    pub tolerates: usize,
}

impl Quorum {
    /// The quorum of `n` managers (0 managers: no quorum at all).
    pub fn of(n: usize) -> Quorum {
        if n == 0 {
            return Quorum { managers: 0, quorum: 0, tolerates: 0 };
        }
        Quorum { managers: n, quorum: n / 2 + 1, tolerates: (n - 1) / 2 }
    }

    /// Of a membership.
    pub fn of_membership(m: &Membership) -> Quorum {
        Quorum::of(m.members.len())
    }

    /// Whether this count tolerates no failure at all (fewer than 3 managers).
    pub fn unsafe_count(&self) -> bool {
        self.managers > 0 && self.tolerates == 0
    }

    /// What an even count costs and what the next odd one would add; `None` when odd.
    pub fn even_note(&self) -> Option<String> {
        let n = self.managers;
        (n > 0 && n.is_multiple_of(2)).then(|| {
            let next = Quorum::of(n + 1);
            format!(
                "{n} managers is an even count: it tolerates {} as {} managers do, with a larger quorum ({} instead of {}); a {} manager would make it tolerate {}",
                failures(self.tolerates),
                n - 1,
                self.quorum,
                Quorum::of(n - 1).quorum,
                ordinal(n + 1),
                failures(next.tolerates)
            )
        })
    }

    /// One line: `3 managers, quorum 2, tolerates 1 failure`.
    pub fn line(&self) -> String {
        format!(
            "{} manager{}, quorum {}, tolerates {}",
            self.managers,
            if self.managers == 1 { "" } else { "s" },
            self.quorum,
            failures(self.tolerates)
        )
    }
}

fn failures(n: usize) -> String {
    match n {
        0 => "no failure".into(),
        1 => "1 failure".into(),
        n => format!("{n} failures"),
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A manager as placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placed {
    /// Raft ID (hex).
    pub raft_id: String,
    /// Node ID.
    pub node_id: String,
    /// Raft address.
    pub addr: String,
}

/// Managers that share a subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// `10.0.1.0/24`, `fd00:1::/64`, `*.example.com`, or the address itself when it cannot be read.
    pub subnet: String,
    /// Its managers.
    pub managers: Vec<Placed>,
}

/// Placement of the managers and the lose-one-group check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// Groups, largest first.
    pub groups: Vec<Group>,
    /// The chapter's notation: `5(3) = 2+2+1` (managers, groups, managers per group).
    pub layout: String,
    /// Whether losing any one group leaves a quorum.
    pub survives_losing_any_group: bool,
    /// The group whose loss hurts most: (subnet, managers left, quorum).
    pub worst_loss: Option<GroupLoss>,
    /// What to know: the even-count note, the one-group note.
    pub notes: Vec<String>,
}

/// Losing one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupLoss {
    /// The group lost.
    pub subnet: String,
    /// Managers left.
    pub left: usize,
    /// Whether they still make a quorum.
    pub keeps_quorum: bool,
}

/// The subnet of a raft address (`host:port`, `[v6]:port`, or a bare host).
pub fn subnet(addr: &str) -> String {
    let host = match addr.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => h,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
        Err(_) => match host.split_once('.') {
            Some((_, domain)) if !domain.is_empty() => format!("*.{domain}"),
            _ => host.to_string(),
        },
    }
}

/// The placement of a membership's managers.
pub fn topology(m: &Membership) -> Topology {
    let q = Quorum::of_membership(m);
    let mut by: BTreeMap<String, Vec<Placed>> = BTreeMap::new();
    for (id, (node, addr)) in &m.members {
        by.entry(subnet(addr)).or_default().push(Placed {
            raft_id: format!("{id:x}"),
            node_id: node.clone(),
            addr: addr.clone(),
        });
    }
    let mut groups: Vec<Group> = by.into_iter().map(|(subnet, managers)| Group { subnet, managers }).collect();
    groups.sort_by(|a, b| b.managers.len().cmp(&a.managers.len()).then(a.subnet.cmp(&b.subnet)));
    let layout = format!(
        "{}({}) = {}",
        q.managers,
        groups.len(),
        if groups.is_empty() {
            "0".to_string()
        } else {
            groups.iter().map(|g| g.managers.len().to_string()).collect::<Vec<_>>().join("+")
        }
    );
    let worst_loss = groups.first().map(|g| {
        let left = q.managers - g.managers.len();
        GroupLoss { subnet: g.subnet.clone(), left, keeps_quorum: q.managers > 0 && left >= q.quorum }
    });
    let survives = worst_loss.as_ref().is_some_and(|w| w.keeps_quorum);
    let mut notes = Vec::new();
    if let Some(n) = q.even_note() {
        notes.push(n);
    }
    match (&worst_loss, groups.len()) {
        (Some(w), 1) if q.managers > 1 => notes.push(format!(
            "all {} managers are on {}: losing that one network loses the swarm; spread them so that no subnet holds more than {} of them (the 5(1)-3-2 rule)",
            q.managers, w.subnet, q.tolerates
        )),
        (Some(w), _) if !w.keeps_quorum && q.managers > 1 => notes.push(format!(
            "losing {} ({} managers) leaves {} of {}, below the quorum of {}",
            w.subnet,
            q.managers - w.left,
            w.left,
            q.managers,
            q.quorum
        )),
        _ => {}
    }
    Topology { groups, layout, survives_losing_any_group: survives, worst_loss, notes }
}

/// Follows the membership through a walk's conf changes and says when the manager count (and so
/// the quorum) changed and when it fell below a safe count (fewer than 3 managers: no failure
/// tolerated) or came back.
#[derive(Debug, Default)]
pub struct Tracker {
    members: BTreeMap<u64, ()>,
    known: bool,
    /// A "below a safe count" line was reported and not yet followed by one of recovery.
    below: bool,
}

impl Tracker {
    /// Start from a base's membership.
    pub fn base(&mut self, m: Option<&Membership>) {
        self.members = m.map(|m| m.members.keys().map(|k| (*k, ())).collect()).unwrap_or_default();
        self.known = m.is_some();
    }

    /// Apply one conf change (its ConfChange type name and raft ID); the lines to report, if the
    /// count changed.
    pub fn conf(&mut self, change: &str, raft_id: u64) -> Vec<String> {
        let before = Quorum::of(self.members.len());
        match change {
            "ConfChangeRemoveNode" => {
                self.members.remove(&raft_id);
            }
            _ => {
                self.members.insert(raft_id, ());
            }
        }
        let now = Quorum::of(self.members.len());
        let mut out = Vec::new();
        if now.managers != before.managers {
            let from =
                if self.known || before.managers > 0 { format!("{} -> ", before.managers) } else { String::new() };
            let mut s = format!(
                "managers {from}{}: quorum {}, tolerates {}",
                now.managers,
                now.quorum,
                failures(now.tolerates)
            );
            if now.quorum != before.quorum && before.managers > 0 {
                s.push_str(&format!(" (quorum was {})", before.quorum));
            }
            out.push(s);
            if now.unsafe_count() && !before.unsafe_count() && before.managers > 0 {
                self.below = true;
                out.push(format!(
                    "below a safe manager count: {} tolerate{} no failure (at least 3 are needed to survive losing one)",
                    now.line().split(',').next().unwrap_or(""),
                    if now.managers == 1 { "s" } else { "" }
                ));
            } else if !now.unsafe_count() && self.below {
                self.below = false;
                out.push(format!("back at a safe manager count: {}", now.line()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(addrs: &[&str]) -> Membership {
        Membership {
            members: addrs.iter().enumerate().map(|(i, a)| (i as u64 + 1, (format!("n{i}"), a.to_string()))).collect(),
            removed: vec![],
        }
    }

    #[test]
    fn quorum_is_a_majority() {
        let t: Vec<(usize, usize)> = (0..=8).map(|n| (Quorum::of(n).quorum, Quorum::of(n).tolerates)).collect();
        assert_eq!(t, [(0, 0), (1, 0), (2, 0), (2, 1), (3, 1), (3, 2), (4, 2), (4, 3), (5, 3)]);
        assert!(Quorum::of(4).even_note().unwrap().contains("a 5th manager would make it tolerate 2 failures"));
        assert!(Quorum::of(3).even_note().is_none());
    }

    #[test]
    fn the_chapters_layouts() {
        // 3(3) 1+1+1, 5(3) 2+2+1, 5(4), 6(4) survive losing any one group; 3 on one subnet does not.
        for (addrs, layout, ok) in [
            (&["10.0.1.1:2377", "10.0.2.1:2377", "10.0.3.1:2377"][..], "3(3) = 1+1+1", true),
            (
                &["10.0.1.1:2377", "10.0.1.2:2377", "10.0.2.1:2377", "10.0.2.2:2377", "10.0.3.1:2377"][..],
                "5(3) = 2+2+1",
                true,
            ),
            (
                &["10.0.1.1:2377", "10.0.1.2:2377", "10.0.2.1:2377", "10.0.3.1:2377", "10.0.4.1:2377"][..],
                "5(4) = 2+1+1+1",
                true,
            ),
            (
                &["10.0.1.1:2377", "10.0.1.2:2377", "10.0.2.1:2377", "10.0.2.2:2377", "10.0.3.1:2377", "10.0.4.1:2377"]
                    [..],
                "6(4) = 2+2+1+1",
                true,
            ),
            (
                &["10.0.1.1:2377", "10.0.1.2:2377", "10.0.1.3:2377", "10.0.2.1:2377", "10.0.3.1:2377"][..],
                "5(3) = 3+1+1",
                false,
            ),
            (&["127.0.0.3:2377", "127.0.0.4:2377", "127.0.0.5:2377"][..], "3(1) = 3", false),
        ] {
            let t = topology(&members(addrs));
            assert_eq!((t.layout.as_str(), t.survives_losing_any_group), (layout, ok), "{addrs:?}");
        }
        let t = topology(&members(&["127.0.0.3:2377", "127.0.0.4:2377", "127.0.0.5:2377"]));
        assert!(t.notes[0].starts_with("all 3 managers are on 127.0.0.0/24"), "{:?}", t.notes);
    }

    #[test]
    fn subnets_of_addresses() {
        assert_eq!(subnet("10.1.2.3:2377"), "10.1.2.0/24");
        assert_eq!(subnet("[fd00:1:2:3::9]:2377"), "fd00:1:2:3::/64");
        assert_eq!(subnet("mgr1.dc1.example.com:2377"), "*.dc1.example.com");
        assert_eq!(subnet("mgr1"), "mgr1");
    }

    #[test]
    fn the_tracker_reports_count_changes_and_unsafe_counts() {
        let mut t = Tracker::default();
        t.base(None);
        assert_eq!(t.conf("ConfChangeAddNode", 1), ["managers 1: quorum 1, tolerates no failure"]);
        assert_eq!(t.conf("ConfChangeAddNode", 2), ["managers 1 -> 2: quorum 2, tolerates no failure (quorum was 1)"]);
        // Growing to 3 from the start is not a recovery.
        assert_eq!(t.conf("ConfChangeAddNode", 3), ["managers 2 -> 3: quorum 2, tolerates 1 failure"]);
        assert!(t.conf("ConfChangeUpdateNode", 3).is_empty());
        let down = t.conf("ConfChangeRemoveNode", 3);
        assert_eq!(down.len(), 2, "{down:?}");
        assert!(down[1].starts_with("below a safe manager count: 2 managers tolerate no failure"), "{down:?}");
        let up = t.conf("ConfChangeAddNode", 4);
        assert_eq!(up[1], "back at a safe manager count: 3 managers, quorum 2, tolerates 1 failure");
    }
}
