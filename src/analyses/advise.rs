//! `advise`: the production checklist of the Swarm2k/Swarm3k chapter and Docker's docs, judged
//! on what the data holds.
//!
//! Every item is always judged and listed, `ok` included, so the output is a checklist and not
//! only a list of complaints. Each has a stable `code`, a severity (`ok`, `info`, `warning`,
//! `critical`), one line of judgement, the evidence (objects with their IDs and names, raft
//! indexes) and its source (the chapter's lesson or Docker's documentation).
//!
//! Invariants:
//! - **One truth.** The final state is the load's (the one engine's end of the log); what
//!   happened over time (peak node count, when a cluster setting changed, membership runs) comes
//!   from the one walk ([`crate::analyses::history::walk`]), committed entries only. Quorum and
//!   placement are [`crate::analyses::quorum`]'s, sizes and limits [`crate::analyses::sizes`]'s.
//! - **Never invent.** An item the data cannot judge says so (`info`, "cannot be judged") rather
//!   than passing or failing. Certificates are judged at the time of the log's last entry (the
//!   moment the data describes), never at the machine's clock, so the verdict does not drift.
//! - A lost quorum leaves a trace in a manager's log only when it was recovered with
//!   `docker swarm init --force-new-cluster`: swarmkit then appends the removal of every other
//!   member, in consecutive entries of the old term with no demotion before them. That pattern is
//!   what the `quorum.lost` item looks for; a quorum lost and regained when the managers came
//!   back writes nothing, and the item says so.

use crate::analyses::history::{Step, walk};
use crate::analyses::quorum::{Quorum, topology};
use crate::analyses::sizes::{DEFAULT_TASK_HISTORY, GRPC_LIMIT, TXN_LIMIT};
use crate::decode::docker_api as dapi;
use crate::decode::object::{Kind, Object, Verb};
use crate::pb::docker::swarmkit::v1 as api;
use crate::replay::analysis::Analysis;
use serde::Serialize;
use std::collections::BTreeMap;

/// How much an item matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing to do.
    Ok,
    /// Worth knowing; not a risk by itself.
    Info,
    /// A risk to act on.
    Warning,
    /// Act now.
    Critical,
}

impl Severity {
    /// The word printed.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One piece of evidence: an object and/or a raft index, and what it shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Object kind, when the evidence is an object.
    pub kind: Option<&'static str>,
    /// Its ID.
    pub id: Option<String>,
    /// Its name (hostname for nodes, file for snapshots).
    pub name: Option<String>,
    /// The raft index the fact is at.
    pub index: Option<u64>,
    /// What it shows.
    pub detail: String,
}

impl Evidence {
    fn at(index: u64, detail: impl Into<String>) -> Evidence {
        Evidence { kind: None, id: None, name: None, index: Some(index), detail: detail.into() }
    }
    fn object(kind: Kind, id: &str, name: &str, index: u64, detail: impl Into<String>) -> Evidence {
        Evidence {
            kind: Some(kind.name()),
            id: Some(id.to_string()),
            name: (!name.is_empty()).then(|| name.to_string()),
            index: Some(index),
            detail: detail.into(),
        }
    }
}

/// Where an item's advice comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// `chapter` (the Swarm2k/Swarm3k production lessons), `docker-docs` or `swarmkit`.
    pub from: &'static str,
    /// The lesson, in a sentence.
    pub lesson: &'static str,
    /// A reference (URL or issue), when there is one.
    pub reference: Option<&'static str>,
}

/// One checklist item, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// Stable code (`managers.not_drained`, ...).
    pub code: &'static str,
    /// How much it matters here.
    pub severity: Severity,
    /// What is checked.
    pub title: &'static str,
    /// The judgement on this data, one line.
    pub judgement: String,
    /// What it rests on.
    pub evidence: Vec<Evidence>,
    /// Where the advice comes from.
    pub sources: Vec<Source>,
}

const CHAPTER: &str = "chapter";
const DOCS: &str = "docker-docs";
const ADMIN_GUIDE: &str = "https://docs.docker.com/engine/swarm/admin_guide/";

/// The node count the chapter gives for a stable production swarm, at most.
pub const STABLE_NODES: usize = 1_000;
/// Past this many nodes the chapter's managers were CPU-bound in raft recovery...
pub const BIG_SWARM_NODES: usize = 2_000;
/// ...and needed this many vCPUs.
pub const BIG_SWARM_VCPUS: i64 = 16;
/// Docker's recommended maximum of managers.
pub const MAX_MANAGERS: usize = 7;
/// swarmkit's default snapshot interval (entries).
pub const DEFAULT_SNAPSHOT_INTERVAL: u64 = 10_000;

/// A run of member removals that looks like a forced new cluster: (first index, last index,
/// members before, removed raft IDs, the members left).
type Forced = (u64, u64, usize, Vec<u64>, Vec<u64>);

/// What the walk over the history found.
#[derive(Default)]
struct History {
    /// (count, index) of the most nodes at once.
    peak_nodes: (usize, u64),
    /// Cluster setting changes: (setting, index, old, new).
    settings: Vec<(&'static str, u64, String, String)>,
    /// Runs of member removals that look like a forced new cluster.
    forced: Vec<Forced>,
    findings: usize,
}

fn role_of(n: &api::Node) -> i32 {
    n.spec.as_ref().map(|s| s.desired_role).unwrap_or(n.role)
}

fn raft_settings(o: &Object) -> Option<(u64, u64, i64)> {
    let Object::Cluster(c) = o else { return None };
    let spec = c.spec.as_ref()?;
    let r = spec.raft.unwrap_or_default();
    let hist = spec.orchestration.map(|o| o.task_history_retention_limit).unwrap_or(DEFAULT_TASK_HISTORY);
    Some((r.snapshot_interval, r.keep_old_snapshots, hist))
}

fn history(a: &Analysis) -> History {
    let mut h = History::default();
    let mut nodes = 0usize;
    let mut members: BTreeMap<u64, String> = BTreeMap::new();
    // The run of consecutive removals being followed: (first, last, members before, removed).
    let mut run: Option<(u64, u64, usize, Vec<u64>)> = None;
    // Node IDs demoted lately (role manager -> worker), with the index.
    let mut demoted: BTreeMap<String, u64> = BTreeMap::new();
    let close = |run: &mut Option<(u64, u64, usize, Vec<u64>)>, members: &BTreeMap<u64, String>, h: &mut History| {
        if let Some((first, last, before, removed)) = run.take() {
            if before >= 2 && members.len() == 1 {
                h.forced.push((first, last, before, removed, members.keys().copied().collect()));
            }
        }
    };
    let found = walk(a, false, |s| match s {
        Step::Base { index, store, file } => {
            nodes = store.count(Kind::Node);
            if nodes > h.peak_nodes.0 {
                h.peak_nodes = (nodes, index);
            }
            members = a
                .snapshots
                .iter()
                .find(|x| x.file == file)
                .and_then(|x| x.membership.as_ref())
                .map(|m| m.members.iter().map(|(k, v)| (*k, v.0.clone())).collect())
                .unwrap_or_default();
            run = None;
        }
        Step::Action { at, verb, before, after } if at.committed && at.overwritten_by_term.is_none() => {
            close(&mut run, &members, &mut h);
            if after.kind() == Kind::Node && verb != Verb::Unknown {
                let stays = verb != Verb::Remove;
                nodes = (nodes + stays as usize).saturating_sub(before.is_some() as usize);
                if nodes > h.peak_nodes.0 {
                    h.peak_nodes = (nodes, at.index);
                }
                if let (Some(Object::Node(b)), Object::Node(n)) = (before, after) {
                    if role_of(b) == api::NodeRole::Manager as i32 && role_of(n) == api::NodeRole::Worker as i32 {
                        demoted.insert(n.id.clone(), at.index);
                    }
                }
            }
            if let (Some(b), Some(n)) = (before.and_then(raft_settings), raft_settings(after)) {
                for (name, o, v) in [
                    ("snapshot interval", b.0.to_string(), n.0.to_string()),
                    ("keep old snapshots", b.1.to_string(), n.1.to_string()),
                    ("task history limit", b.2.to_string(), n.2.to_string()),
                ] {
                    if o != v {
                        h.settings.push((name, at.index, o, v));
                    }
                }
            }
        }
        Step::Conf { at, change, raft_id, member } if at.committed && at.overwritten_by_term.is_none() => {
            if change == "ConfChangeRemoveNode" {
                let node = members.get(&raft_id).cloned().unwrap_or_default();
                // A removal right after the node's demotion is the normal path.
                let after_demotion = demoted.get(&node).is_some_and(|d| at.index.saturating_sub(*d) <= 16);
                let extends = !after_demotion && run.as_ref().is_some_and(|r| r.1 + 1 == at.index);
                if !extends {
                    close(&mut run, &members, &mut h);
                }
                let before = members.len();
                members.remove(&raft_id);
                if let Some(r) = run.as_mut().filter(|_| extends) {
                    r.1 = at.index;
                    r.3.push(raft_id);
                } else if !after_demotion {
                    run = Some((at.index, at.index, before, vec![raft_id]));
                }
            } else {
                close(&mut run, &members, &mut h);
                members.insert(raft_id, member.map(|m| m.0).unwrap_or_default());
            }
        }
        _ => {}
    });
    close(&mut run, &members, &mut h);
    h.findings = found.len();
    h
}

fn src(from: &'static str, lesson: &'static str, reference: Option<&'static str>) -> Source {
    Source { from, lesson, reference }
}

fn hostname(n: &api::Node) -> String {
    n.description.as_ref().map(|d| d.hostname.clone()).unwrap_or_default()
}

/// The time the data describes: the log's last committed entry's time.
fn data_time(a: &Analysis) -> Option<jiff::Timestamp> {
    let commit = a.rules().commit_index();
    a.entries.iter().filter(|e| e.overwritten_by_term.is_none() && e.index <= commit).filter_map(|e| e.time).max()
}

/// Judge every checklist item on a loaded input (entries decoded: `Detail::Entries`).
pub fn advise(a: &Analysis) -> Vec<Advice> {
    let h = history(a);
    let at = a.state_index;
    let q = Quorum::of_membership(&a.membership);
    let mut out = Vec::new();
    let manager_ids: Vec<String> = a.membership.members.values().map(|m| m.0.clone()).collect();

    // Managers not drained while tasks run on them.
    let mut ev = Vec::new();
    for n in a.state.nodes().filter(|n| manager_ids.contains(&n.id) || role_of(n) == api::NodeRole::Manager as i32) {
        let avail = n.spec.as_ref().map(|s| s.availability).unwrap_or(0);
        let running =
            a.state.task_keys().filter(|(_, t)| t.node_id == n.id && t.state == api::TaskState::Running as i32).count();
        if avail != api::node_spec::Availability::Drain as i32 && running > 0 {
            ev.push(Evidence::object(
                Kind::Node,
                &n.id,
                &hostname(&n),
                at,
                format!("manager, availability {}, {running} task(s) running on it", dapi::availability(avail)),
            ));
        }
    }
    out.push(Advice {
        code: "managers.not_drained",
        severity: if ev.is_empty() { Severity::Ok } else { Severity::Warning },
        title: "Managers are drained (no tasks run on them)",
        judgement: if ev.is_empty() {
            "no manager runs tasks".into()
        } else {
            format!(
                "{} manager(s) run tasks: a busy manager misses raft heartbeats and slows the whole swarm; `docker node update --availability drain`",
                ev.len()
            )
        },
        evidence: ev,
        sources: vec![
            src(CHAPTER, "keep managers drained: run the workload on workers only", None),
            src(
                DOCS,
                "run manager-only nodes: drain managers so the scheduler places no tasks on them",
                Some("https://docs.docker.com/engine/swarm/admin_guide/#run-manager-only-nodes"),
            ),
        ],
    });

    // Manager count: even, 1, more than 7.
    let members_ev: Vec<Evidence> = a
        .membership
        .members
        .iter()
        .map(|(id, (node, addr))| Evidence::object(Kind::Node, node, "", at, format!("raft member {id:x} at {addr}")))
        .collect();
    let (sev, judgement) = match q.managers {
        0 => {
            (Severity::Info, "the final state holds no raft membership: the manager count cannot be judged".to_string())
        }
        1 => (Severity::Warning, "1 manager: losing it loses the swarm (no failure tolerated); run 3 or 5".to_string()),
        n if n > MAX_MANAGERS => (
            Severity::Warning,
            format!(
                "{n} managers: more than {MAX_MANAGERS} adds replication work to every write without a useful gain in tolerance"
            ),
        ),
        _ if q.even_note().is_some() => (Severity::Warning, q.even_note().unwrap_or_default()),
        _ => (Severity::Ok, q.line()),
    };
    out.push(Advice {
        code: "managers.count",
        severity: sev,
        title: "An odd number of managers, at least 3 and at most 7",
        judgement,
        evidence: members_ev.clone(),
        sources: vec![
            src(CHAPTER, "an odd number of managers: 3 or 5 (the 5(1)-3-2 rule)", None),
            src(
                DOCS,
                "maintain an odd number of managers; a maximum of seven is recommended",
                Some("https://docs.docker.com/engine/swarm/admin_guide/#add-manager-nodes-for-fault-tolerance"),
            ),
        ],
    });

    // Placement: all managers on one subnet / losing one group loses quorum.
    let t = topology(&a.membership);
    let group_ev: Vec<Evidence> = t
        .groups
        .iter()
        .map(|g| {
            Evidence::at(
                at,
                format!(
                    "{}: {} manager(s) ({})",
                    g.subnet,
                    g.managers.len(),
                    g.managers.iter().map(|m| m.addr.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })
        .collect();
    let (sev, judgement) = if q.managers <= 1 {
        (Severity::Info, "one manager or none: placement cannot help until there are 3".to_string())
    } else if t.groups.len() == 1 {
        (Severity::Warning, t.notes.iter().find(|n| n.starts_with("all ")).cloned().unwrap_or_default())
    } else if !t.survives_losing_any_group {
        (
            Severity::Warning,
            t.worst_loss
                .as_ref()
                .map(|w| {
                    format!(
                        "{}: losing {} leaves {} of {} managers, below the quorum of {}",
                        t.layout, w.subnet, w.left, q.managers, q.quorum
                    )
                })
                .unwrap_or_default(),
        )
    } else {
        (Severity::Ok, format!("{}: losing any one subnet leaves a quorum", t.layout))
    };
    out.push(Advice {
        code: "managers.placement",
        severity: sev,
        title: "Managers spread so that losing one site keeps quorum",
        judgement,
        evidence: group_ev,
        sources: vec![
            src(
                CHAPTER,
                "place managers so that no one site holds a quorum's worth: 3 as 1+1+1, 5 as 2+2+1 (the 5(1)-3-2 rule)",
                None,
            ),
            src(
                DOCS,
                "distribute manager nodes across availability zones",
                Some("https://docs.docker.com/engine/swarm/admin_guide/#distribute-manager-nodes"),
            ),
        ],
    });

    // Cluster raft settings.
    let cluster = a.state.clusters().next().map(|c| (c.id.clone(), Object::Cluster(c.clone())));
    let setting_ev = |name: &str| -> Vec<Evidence> {
        h.settings
            .iter()
            .filter(|s| s.0 == name)
            .map(|(n, i, o, v)| Evidence::at(*i, format!("{n} changed from {o} to {v}")))
            .collect()
    };
    match cluster.as_ref().and_then(|(id, o)| raft_settings(o).map(|s| (id.clone(), o.name(), s))) {
        Some((id, name, (interval, keep, hist))) => {
            let mut ev = vec![Evidence::object(Kind::Cluster, &id, &name, at, format!("KeepOldSnapshots {keep}"))];
            ev.extend(setting_ev("keep old snapshots"));
            out.push(Advice {
                code: "raft.keep_old_snapshots",
                severity: if keep > 0 { Severity::Warning } else { Severity::Ok },
                title: "Snapshot retention kept low (KeepOldSnapshots 0)",
                judgement: if keep > 0 {
                    format!("{keep} old snapshots are kept besides the newest: each costs disk and the manager CPU to write and clean up; `docker swarm update --max-snapshots 0`")
                } else {
                    "no old snapshot is kept".into()
                },
                evidence: ev,
                sources: vec![src(CHAPTER, "keep snapshot retention low: KeepOldSnapshots costs CPU", None)],
            });
            let mut ev = vec![Evidence::object(Kind::Cluster, &id, &name, at, format!("SnapshotInterval {interval}"))];
            ev.extend(setting_ev("snapshot interval"));
            out.push(Advice {
                code: "raft.snapshot_interval",
                severity: if interval == DEFAULT_SNAPSHOT_INTERVAL { Severity::Ok } else { Severity::Info },
                title: "Snapshot interval at its default of 10,000 entries",
                judgement: if interval == DEFAULT_SNAPSHOT_INTERVAL {
                    "the default".into()
                } else if interval < DEFAULT_SNAPSHOT_INTERVAL {
                    format!("{interval} entries: snapshots are taken more often than the default (more CPU and disk writes), restarts replay fewer entries")
                } else {
                    format!("{interval} entries: snapshots are taken less often than the default, so a restarting manager replays up to {interval} entries")
                },
                evidence: ev,
                sources: vec![src(
                    DOCS,
                    "docker swarm update --snapshot-interval: number of log entries between raft snapshots (default 10000)",
                    Some("https://docs.docker.com/reference/cli/docker/swarm/update/"),
                )],
            });
            let dead = a.state.task_keys().filter(|(_, t)| t.state > api::TaskState::Running as i32).count();
            let mut ev = vec![Evidence::object(
                Kind::Cluster,
                &id,
                &name,
                at,
                format!("TaskHistoryRetentionLimit {hist}; {dead} finished task(s) kept in the store"),
            )];
            ev.extend(setting_ev("task history limit"));
            out.push(Advice {
                code: "orchestration.task_history",
                severity: if hist > DEFAULT_TASK_HISTORY { Severity::Warning } else { Severity::Ok },
                title: "Task history limit at most the default of 5",
                judgement: if hist > DEFAULT_TASK_HISTORY {
                    format!("{hist} finished tasks are kept per slot: every one is in the store, every snapshot and every restart")
                } else {
                    format!("{hist} per slot")
                },
                evidence: ev,
                sources: vec![src(
                    DOCS,
                    "docker swarm update --task-history-limit: task history retention limit (default 5)",
                    Some("https://docs.docker.com/reference/cli/docker/swarm/update/"),
                )],
            });
        }
        None => {
            for (code, title) in [
                ("raft.keep_old_snapshots", "Snapshot retention kept low (KeepOldSnapshots 0)"),
                ("raft.snapshot_interval", "Snapshot interval at its default of 10,000 entries"),
                ("orchestration.task_history", "Task history limit at most the default of 5"),
            ] {
                out.push(Advice {
                    code,
                    severity: Severity::Info,
                    title,
                    judgement: "the final state holds no cluster object: cannot be judged".into(),
                    evidence: vec![],
                    sources: vec![],
                });
            }
        }
    }

    // Node count past 1,000 (at its peak).
    let now_nodes = a.state.count(Kind::Node);
    out.push(Advice {
        code: "nodes.count",
        severity: if h.peak_nodes.0 > STABLE_NODES { Severity::Warning } else { Severity::Ok },
        title: "At most 1,000 nodes",
        judgement: format!(
            "{} nodes at most (index {}), {now_nodes} at the end{}",
            h.peak_nodes.0,
            h.peak_nodes.1,
            if h.peak_nodes.0 > STABLE_NODES { ": past what the chapter found stable; split the swarm" } else { "" }
        ),
        evidence: vec![
            Evidence::at(h.peak_nodes.1, format!("{} nodes", h.peak_nodes.0)),
            Evidence::at(at, format!("{now_nodes} nodes at the end")),
        ],
        sources: vec![src(CHAPTER, "500 to 1,000 nodes for a stable production swarm", None)],
    });

    // Manager CPUs past 2,000 nodes.
    let mgr_cpu: Vec<(String, String, i64)> = a
        .state
        .nodes()
        .filter(|n| manager_ids.contains(&n.id))
        .map(|n| {
            let cpu = n.description.as_ref().and_then(|d| d.resources.as_ref()).map(|r| r.nano_cpus).unwrap_or(0);
            (n.id.clone(), hostname(&n), cpu)
        })
        .collect();
    let small: Vec<&(String, String, i64)> = mgr_cpu.iter().filter(|m| m.2 < BIG_SWARM_VCPUS * 1_000_000_000).collect();
    let big = h.peak_nodes.0 > BIG_SWARM_NODES;
    out.push(Advice {
        code: "managers.cpu",
        severity: if big && !small.is_empty() { Severity::Warning } else { Severity::Ok },
        title: "Managers of a swarm past 2,000 nodes have 16-20 vCPUs",
        judgement: if !big {
            format!("{} nodes at most: below the size where the chapter's managers were CPU-bound", h.peak_nodes.0)
        } else if small.is_empty() {
            "every manager has at least 16 vCPUs".into()
        } else {
            format!("{} manager(s) with fewer than 16 vCPUs: raft recovery is CPU-bound at this size", small.len())
        },
        evidence: mgr_cpu
            .iter()
            .map(|(id, host, cpu)| Evidence::object(Kind::Node, id, host, at, format!("{} vCPUs", *cpu as f64 / 1e9)))
            .collect(),
        sources: vec![src(CHAPTER, "managers are CPU-bound during raft recovery: 16-20 vCPUs past 2,000 nodes", None)],
    });

    // Certificates close to expiry, at the time the data describes.
    let when = data_time(a);
    let mut ev = Vec::new();
    let mut worst = Severity::Ok;
    let mut lines = Vec::new();
    let mut judge =
        |what: &str, not_after: jiff::Timestamp, warn_days: i64, ev: &mut Vec<Evidence>, lines: &mut Vec<String>| {
            let Some(t) = when else { return };
            let days = not_after.duration_since(t).as_secs() / 86_400;
            let sev = if not_after <= t || days < 7 {
                Severity::Critical
            } else if days < warn_days {
                Severity::Warning
            } else {
                Severity::Ok
            };
            worst = worst.max(sev);
            if sev != Severity::Ok {
                lines.push(format!("{what} expires {not_after} ({days} days after the log's last entry)"));
            }
            ev.push(Evidence::at(
                at,
                format!("{what}: not after {not_after}, {days} days after the log's last entry ({t})"),
            ));
        };
    if let Some(c) = &a.keys.cert {
        if let Ok(t) = c.not_after.parse::<jiff::Timestamp>() {
            judge(&format!("node certificate of {} ({})", c.node_id, c.file), t, 30, &mut ev, &mut lines);
        }
    }
    if let Some(ca) = a.state.clusters().next().and_then(|c| c.root_ca.as_ref().map(|r| r.ca_cert.clone())) {
        if let Ok(ci) = crate::crypto::keys::parse_node_cert(&ca) {
            judge("root CA certificate", ci.not_after, 90, &mut ev, &mut lines);
        }
    }
    out.push(Advice {
        code: "certificates.expiry",
        severity: if when.is_none() || ev.is_empty() { Severity::Info } else { worst },
        title: "Certificates far from expiry",
        judgement: if when.is_none() {
            "no entry of the log carries a time: expiry cannot be judged".into()
        } else if ev.is_empty() {
            "no certificate in this input (no swarm-node.crt, no root CA in the cluster object)".into()
        } else if lines.is_empty() {
            "every certificate is valid for weeks past the log's last entry".into()
        } else {
            lines.join("; ")
        },
        evidence: ev,
        sources: vec![src(
            DOCS,
            "node certificates are rotated automatically (default expiry 90 days); an expired one stops the node from joining; rotate the root CA with docker swarm ca --rotate",
            Some("https://docs.docker.com/engine/swarm/how-swarm-mode-works/pki/"),
        )],
    });

    // The largest transaction and snapshot against swarmkit's limits.
    let commit = a.rules().commit_index();
    let largest_entry =
        a.wal.entries.iter().filter(|e| e.index <= commit).max_by_key(|e| (e.data.len(), std::cmp::Reverse(e.index)));
    let largest_snap = a.snapshots.iter().filter(|s| s.valid).max_by_key(|s| s.bytes);
    let mut ev = Vec::new();
    let mut sev = Severity::Ok;
    let mut lines = Vec::new();
    if let Some(e) = largest_entry {
        let r = e.data.len() as f64 / TXN_LIMIT as f64;
        ev.push(Evidence::at(
            e.index,
            format!(
                "largest raft entry: {} bytes (term {}), {:.0}% of the 1.5 MiB transaction limit",
                e.data.len(),
                e.term,
                r * 100.0
            ),
        ));
        if r > 0.8 {
            sev = sev.max(Severity::Warning);
            lines.push(format!(
                "entry {} is {:.0}% of the 1.5 MiB transaction limit: a slightly larger write would be refused",
                e.index,
                r * 100.0
            ));
        }
    }
    if let Some(s) = largest_snap {
        let r = s.bytes as f64 / GRPC_LIMIT as f64;
        ev.push(Evidence {
            kind: None,
            id: None,
            name: Some(s.file.clone()),
            index: Some(s.index),
            detail: format!("largest snapshot: {} bytes, {:.0}% of the 4 MiB gRPC message limit", s.bytes, r * 100.0),
        });
        if r > 1.0 {
            sev = sev.max(Severity::Info);
            lines.push(format!(
                "snapshot {} is past the 4 MiB gRPC message limit: engines from before swarmkit streamed snapshots could not send it to a joining manager",
                s.file
            ));
        }
    }
    out.push(Advice {
        code: "raft.sizes",
        severity: if ev.is_empty() { Severity::Info } else { sev },
        title: "The largest transaction and snapshot well within swarmkit's limits",
        judgement: if ev.is_empty() {
            "no entry and no readable snapshot".into()
        } else if lines.is_empty() {
            "well within both".into()
        } else {
            lines.join("; ")
        },
        evidence: ev,
        sources: vec![src(
            "swarmkit",
            "a raft proposal may not exceed MaxTransactionBytes (1.5 MiB); manager gRPC messages are limited to 4 MiB (moby/swarmkit#2374)",
            Some("https://github.com/moby/swarmkit/pull/2374"),
        )],
    });

    // A swarm that once ran without quorum (recovered with --force-new-cluster).
    let ev: Vec<Evidence> = h
        .forced
        .iter()
        .map(|(first, last, before, removed, left)| {
            Evidence::at(
                *first,
                format!(
                    "entries {first}-{last}: raft member(s) {} removed in a row with no demotion, leaving only {} of {before}",
                    removed.iter().map(|r| format!("{r:x}")).collect::<Vec<_>>().join(", "),
                    left.iter().map(|r| format!("{r:x}")).collect::<Vec<_>>().join(", ")
                ),
            )
        })
        .collect();
    out.push(Advice {
        code: "quorum.lost",
        severity: if ev.is_empty() { Severity::Ok } else { Severity::Warning },
        title: "The swarm never ran without quorum",
        judgement: if ev.is_empty() {
            "the log shows no forced new cluster (how a swarm that lost quorum is recovered); a quorum lost and regained when the managers came back leaves no trace in the log".into()
        } else {
            format!(
                "{} forced new cluster(s): what `docker swarm init --force-new-cluster` writes when a swarm that lost quorum is recovered from one manager; entries only the lost managers held are gone",
                ev.len()
            )
        },
        evidence: ev,
        sources: vec![src(
            DOCS,
            "recover from losing the quorum: docker swarm init --force-new-cluster on a surviving manager",
            Some(ADMIN_GUIDE),
        )],
    });
    let _ = h.findings;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_by_weight() {
        assert!(
            Severity::Ok < Severity::Info
                && Severity::Info < Severity::Warning
                && Severity::Warning < Severity::Critical
        );
        assert_eq!(serde_json::to_value(Severity::Warning).unwrap(), "warning");
    }
}
