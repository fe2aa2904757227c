//! `managers`: compare the swarm dirs of several managers of one cluster.
//!
//! Raft's log matching property does the work: when two logs hold an entry with the same index
//! and term, they are identical up to it. So for every pair of managers the highest index where
//! their terms agree is where they agree, and the lowest index where both have an entry with
//! different terms is where they diverge. An entry is committed once a majority stored it, so
//! the highest `HardState.commit` (or snapshot index) across managers is a lower bound of what
//! the cluster committed; a manager "holds every committed entry" when its log reaches that index
//! with the same term there.
//!
//! `docker swarm init --force-new-cluster` keeps only what the chosen manager itself knows to be
//! committed (swarmkit drops its entries past its own `HardState.commit`), so the recommendation
//! is the startable manager with the highest own commit.
//!
//! A manager whose log is behind what the leader believes it has is explained too: the leader
//! tracks, per member, the highest index that member acknowledged (`Match`); when a member's log
//! is wiped (demote, restart, promote) but it comes back under the same raft ID, the leader's
//! next heartbeat tells it to commit up to `min(Match, commit)` and raft panics with
//! `tocommit(N) is out of range [lastIndex(M)]` (moby/moby#29180).

use crate::analyses::verify::{self, Verification};
use crate::crypto::keys::UnlockKey;
use crate::decode::entry::Payload;
use crate::error::Result;
use crate::input::source::ReadOptions;
use crate::replay::analysis::{Analysis, Options};
use serde::Serialize;
use std::path::PathBuf;

/// One manager's facts.
#[derive(Debug, Clone, Serialize)]
pub struct ManagerView {
    /// Short name (file or dir name).
    pub name: String,
    /// Input path.
    pub input: String,
    /// Raft ID (hex), from the WAL metadata.
    pub raft_id: Option<String>,
    /// Node ID.
    pub node_id: Option<String>,
    /// Address.
    pub addr: Option<String>,
    /// HardState term.
    pub term: Option<u64>,
    /// HardState vote (hex).
    pub vote: Option<String>,
    /// HardState commit.
    pub commit: u64,
    /// First live index.
    pub first_index: Option<u64>,
    /// Last live index.
    pub last_index: Option<u64>,
    /// Term of the last entry.
    pub last_term: Option<u64>,
    /// Newest valid snapshot: index.
    pub snapshot_index: Option<u64>,
    /// Its term.
    pub snapshot_term: Option<u64>,
    /// What Docker would do with this dir (`starts`, `repairs`, `refuses`, ...).
    pub docker: String,
    /// The verify verdict.
    pub verdict: String,
    /// Whether the cluster (as the most advanced manager sees it) lists this raft ID as a member.
    pub member: Option<bool>,
}

/// Agreement of two managers.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// First manager.
    pub a: String,
    /// Second manager.
    pub b: String,
    /// Highest index where both hold the same term (logs identical up to here).
    pub agree_up_to: Option<u64>,
    /// Lowest index where both hold an entry with different terms.
    pub diverge_at: Option<u64>,
    /// Terms there (a, b).
    pub diverge_terms: Option<(u64, u64)>,
    /// One sentence.
    pub note: String,
}

/// What `--force-new-cluster` on one manager would cost.
#[derive(Debug, Clone, Serialize)]
pub struct Loss {
    /// Manager.
    pub manager: String,
    /// Committed entries it would lose.
    pub committed_lost: Vec<u64>,
    /// Whether Docker would start from this dir at all.
    pub startable: bool,
    /// One sentence.
    pub note: String,
}

/// A manager whose log is behind what the cluster believes it has.
#[derive(Debug, Clone, Serialize)]
pub struct Behind {
    /// Manager.
    pub manager: String,
    /// Its raft ID (hex).
    pub raft_id: String,
    /// Its last index.
    pub last_index: u64,
    /// Index where the cluster added this raft ID.
    pub added_at: Option<u64>,
    /// Index where the cluster removed it, if it did.
    pub removed_at: Option<u64>,
    /// Bounds on N in `tocommit(N)`.
    pub tocommit_between: Option<(u64, u64)>,
    /// Explanation and fix.
    pub explanation: String,
}

/// The recommendation.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// Manager to recover from.
    pub manager: String,
    /// Others that are just as good.
    pub equally_good: Vec<String>,
    /// Command to run there.
    pub command: String,
    /// Why.
    pub reason: String,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ManagersReport {
    /// Every manager.
    pub managers: Vec<ManagerView>,
    /// Inputs that could not be read, with why.
    pub unreadable: Vec<(String, String)>,
    /// Highest commit (or snapshot index) across managers: committed for sure up to here.
    pub cluster_commit: u64,
    /// The manager(s) whose commit that is.
    pub commit_from: Vec<String>,
    /// Managers holding every committed entry.
    pub holders: Vec<String>,
    /// Pairwise agreement.
    pub pairs: Vec<Pair>,
    /// What each would lose as the `--force-new-cluster` source.
    pub losses: Vec<Loss>,
    /// The recommendation.
    pub recommendation: Option<Recommendation>,
    /// Managers behind what the cluster believes.
    pub behind: Vec<Behind>,
    /// Other remarks.
    pub notes: Vec<String>,
    /// Count of problems (unreadable inputs, damaged dirs, divergent committed entries, behind,
    /// a best source that still loses committed entries, managers of different clusters).
    pub problems: usize,
    /// Quorum of the cluster's membership, in the most advanced manager's final state.
    pub quorum: Option<crate::analyses::quorum::Quorum>,
    /// Placement of those managers by subnet.
    pub topology: Option<crate::analyses::quorum::Topology>,
    /// When the inputs come from more than one cluster: one line per cluster (its inputs and the
    /// evidence). Nothing is then compared or advised across clusters.
    pub clusters: Vec<String>,
}

fn short_name(p: &std::path::Path) -> String {
    let n = p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string());
    let n = n.trim_end_matches(".gz").trim_end_matches(".tgz").trim_end_matches(".tar").to_string();
    if n == "swarm" {
        p.parent().and_then(|q| q.file_name()).map(|s| s.to_string_lossy().into_owned()).unwrap_or(n)
    } else {
        n
    }
}

fn newest_valid_snapshot(a: &Analysis) -> Option<(u64, u64)> {
    a.snapshots.iter().filter(|s| s.valid || !a.encrypted || a.deks.is_empty()).map(|s| (s.index, s.term)).max()
}

/// Term at an index: a live entry, or the snapshot's own index.
fn term_at(a: &Analysis, i: u64) -> Option<u64> {
    let e = &a.wal.entries;
    let pos = e.partition_point(|x| x.index < i);
    if let Some(x) = e.get(pos) {
        if x.index == i {
            return Some(x.term);
        }
    }
    a.snapshots.iter().find(|s| s.index == i && i > 0).map(|s| s.term)
}

/// Highest index this manager has (entries or snapshot).
fn log_end(a: &Analysis) -> u64 {
    a.wal.last_index().unwrap_or(0).max(newest_valid_snapshot(a).map(|s| s.0).unwrap_or(0))
}

/// Whether Docker starts from this dir's own data: a dir with no WAL segment starts a new,
/// empty raft log (its snapshots are not used), so it keeps nothing and is never the one to
/// recover from.
fn usable(v: &Verification) -> bool {
    v.starts() && !v.docker.no_wal
}

/// What `--force-new-cluster` on this dir keeps: its own commit, or nothing when Docker would
/// start a new, empty raft log.
fn kept_commit(v: &Verification) -> u64 {
    if v.docker.no_wal { 0 } else { own_commit(&v.analysis) }
}

fn own_commit(a: &Analysis) -> u64 {
    a.rules().commit_index().max(newest_valid_snapshot(a).map(|s| s.0).unwrap_or(0))
}

/// The highest index this manager shows the cluster committed: its own commit, or a commit a
/// HardState records past damage in its last segment ([`Analysis::commit_past_damage`]). That
/// HardState is evidence of what the cluster committed, though the manager cannot keep it.
fn seen_commit(a: &Analysis) -> u64 {
    own_commit(a).max(a.commit_past_damage.unwrap_or(0))
}

fn known_indexes(a: &Analysis) -> Vec<u64> {
    let mut v: Vec<u64> = a.wal.entries.iter().map(|e| e.index).collect();
    v.extend(a.snapshots.iter().filter(|s| s.index > 0).map(|s| s.index));
    v.sort_unstable();
    v.dedup();
    v
}

fn pair(na: &str, a: &Analysis, nb: &str, b: &Analysis) -> Pair {
    let ia = known_indexes(a);
    let mut agree = None;
    let mut diverge = None;
    for i in ia {
        let (Some(ta), Some(tb)) = (term_at(a, i), term_at(b, i)) else { continue };
        if ta == tb {
            if diverge.is_none() {
                agree = Some(i);
            }
        } else if diverge.is_none() {
            diverge = Some((i, ta, tb));
        }
    }
    let note = match (agree, diverge) {
        (Some(g), None) => format!("{na} and {nb} agree on every index both hold (up to {g})"),
        (None, None) => format!("{na} and {nb} hold no index in common"),
        (g, Some((d, ta, tb))) => format!(
            "{na} and {nb} {}diverge at index {d}: term {ta} on {na}, term {tb} on {nb}",
            g.map(|g| format!("agree up to {g} and ")).unwrap_or_default()
        ),
    };
    Pair {
        a: na.to_string(),
        b: nb.to_string(),
        agree_up_to: agree,
        diverge_at: diverge.map(|d| d.0),
        diverge_terms: diverge.map(|d| (d.1, d.2)),
        note,
    }
}

/// ConfChange history of a raft ID in a manager's log: (added at, removed at).
fn membership_history(a: &Analysis, raft_id: u64) -> (Option<u64>, Option<u64>) {
    let mut added = None;
    let mut removed = None;
    for e in a.entries.iter().filter(|e| e.overwritten_by_term.is_none() && e.committed) {
        if let Payload::ConfChange { change, raft_id: r, .. } = &e.payload {
            if *r != raft_id {
                continue;
            }
            if change == "ConfChangeAddNode" && added.is_none() {
                added = Some(e.index);
            }
            if change == "ConfChangeRemoveNode" && added.is_some() && removed.is_none() {
                removed = Some(e.index);
            }
        }
    }
    (added, removed)
}

/// Compare managers.
pub fn compare(paths: &[PathBuf], unlock_key: Option<UnlockKey>, read: ReadOptions) -> Result<ManagersReport> {
    compare_with(paths, unlock_key, read, false)
}

/// [`compare`], with a progress bar on stderr (when it is a terminal) while each manager loads.
pub fn compare_with(
    paths: &[PathBuf],
    unlock_key: Option<UnlockKey>,
    read: ReadOptions,
    progress: bool,
) -> Result<ManagersReport> {
    compare_verified(paths, &verify_each(paths, unlock_key, read, progress, None))
}

/// Load and verify each manager once, as a comparison needs it (every entry kept; secret payloads
/// only as digests), with `engine` as `verify --engine-version`: what [`compare_verified`] takes,
/// and what a caller that also shows each manager's verdict reuses.
pub fn verify_each(
    paths: &[PathBuf],
    unlock_key: Option<UnlockKey>,
    read: ReadOptions,
    progress: bool,
    engine: Option<&str>,
) -> Vec<Result<Verification>> {
    let opts = Options { unlock_key, read, progress, digest_secret_data: true, ..Default::default() };
    paths
        .iter()
        .map(|p| verify::load_tolerant(p, &opts).and_then(|(a, k)| verify::verify_loaded(a, k, engine)))
        .collect()
}

/// Compare managers already verified by [`verify_each`] (one result per path, in order).
pub fn compare_verified(paths: &[PathBuf], verified: &[Result<Verification>]) -> Result<ManagersReport> {
    let mut loaded: Vec<(String, &Verification)> = Vec::new();
    let mut unreadable = Vec::new();
    for (p, v) in paths.iter().zip(verified) {
        let name = short_name(p);
        match v {
            Ok(v) => loaded.push((name, v)),
            Err(e) => unreadable.push((name, e.to_string())),
        }
    }
    // Disambiguate equal names.
    for i in 0..loaded.len() {
        if loaded.iter().filter(|(n, _)| *n == loaded[i].0).count() > 1 {
            loaded[i].0 = format!("{}#{}", loaded[i].0, i + 1);
        }
    }
    let mut problems = unreadable.len();
    // Managers of different clusters are never compared with each other.
    let grouping =
        crate::analyses::identity::group(&loaded.iter().map(|(n, v)| (n.as_str(), &v.analysis)).collect::<Vec<_>>());
    let apart = grouping.groups.len() > 1;
    let mut cluster_commit = loaded.iter().map(|(_, v)| seen_commit(&v.analysis)).max().unwrap_or(0);
    let mut commit_from: Vec<String> =
        loaded.iter().filter(|(_, v)| seen_commit(&v.analysis) == cluster_commit).map(|(n, _)| n.clone()).collect();
    // Reference: the most advanced manager.
    let reference = loaded
        .iter()
        .filter(|(_, v)| seen_commit(&v.analysis) == cluster_commit)
        .max_by_key(|(_, v)| (v.analysis.wal.last_index().unwrap_or(0), v.analysis.entries.len()))
        .map(|(n, _)| n.clone());
    let ref_a = reference.as_ref().and_then(|r| loaded.iter().find(|(n, _)| n == r)).map(|(_, v)| &v.analysis);
    let managers: Vec<ManagerView> = loaded
        .iter()
        .map(|(name, v)| {
            let a = &v.analysis;
            let hs = a.wal.hard_state.map(|h| h.0);
            let snap = newest_valid_snapshot(a);
            let member = match (ref_a, &a.member) {
                (Some(r), Some(m)) => Some(r.membership.members.contains_key(&m.raft_id)),
                _ => None,
            };
            ManagerView {
                name: name.clone(),
                input: v.input.clone(),
                raft_id: a.member.as_ref().map(|m| format!("{:x}", m.raft_id)),
                node_id: a.member.as_ref().map(|m| m.node_id.clone()),
                addr: a.member.as_ref().map(|m| m.addr.clone()),
                term: hs.map(|h| h.term),
                vote: hs.map(|h| format!("{:x}", h.vote)),
                commit: a.rules().commit_index(),
                first_index: a.wal.first_index(),
                last_index: a.wal.last_index(),
                last_term: a.wal.entries.last().map(|e| e.term),
                snapshot_index: snap.map(|s| s.0),
                snapshot_term: snap.map(|s| s.1),
                docker: v.outcome().to_string(),
                verdict: v.verdict.clone(),
                member,
            }
        })
        .collect();
    problems += loaded.iter().filter(|(_, v)| !v.starts()).count();
    // Pairs.
    let mut pairs = Vec::new();
    for i in 0..loaded.len() {
        for j in i + 1..loaded.len() {
            pairs.push(pair(&loaded[i].0, &loaded[i].1.analysis, &loaded[j].0, &loaded[j].1.analysis));
        }
    }
    let mut notes = Vec::new();
    for p in &pairs {
        if let (Some(d), Some((ta, tb))) = (p.diverge_at, p.diverge_terms) {
            if d <= cluster_commit {
                // Which side is the committed one: the side that agrees with the reference.
                let committed_side = ref_a.and_then(|r| term_at(r, d)).map(|t| {
                    if t == ta {
                        &p.a
                    } else if t == tb {
                        &p.b
                    } else {
                        &p.a
                    }
                });
                let (other, other_term) = match committed_side {
                    Some(s) if *s == p.a => (&p.b, tb),
                    _ => (&p.a, ta),
                };
                let other_commit = loaded
                    .iter()
                    .find(|(n, _)| n == other)
                    .map(|(_, v)| v.analysis.rules().commit_index())
                    .unwrap_or(0);
                if other_commit >= d {
                    problems += 1;
                    notes.push(format!(
                        "index {d}: {other} holds term {other_term} and says it is committed (its commit is {other_commit}), but the cluster committed another entry there: two committed histories, the data of one of these managers is not trustworthy"
                    ));
                } else {
                    notes.push(format!(
                        "index {d}: {other}'s entry (term {other_term}) was never committed; a newer leader replaced it, and {other} drops it when it rejoins"
                    ));
                }
            } else {
                notes.push(format!(
                    "index {d}: {} and {} hold different uncommitted entries (terms {ta} and {tb}); raft keeps whichever the next leader has",
                    p.a, p.b
                ));
            }
        }
    }
    // Holders of every committed entry.
    let ref_term = ref_a.and_then(|r| term_at(r, cluster_commit));
    let holds = |a: &Analysis| -> bool {
        let snap = newest_valid_snapshot(a).map(|s| s.0).unwrap_or(0);
        if cluster_commit == 0 {
            return true;
        }
        if snap >= cluster_commit {
            return true;
        }
        log_end(a) >= cluster_commit && (ref_term.is_none() || term_at(a, cluster_commit) == ref_term)
    };
    let mut holders: Vec<String> = loaded.iter().filter(|(_, v)| holds(&v.analysis)).map(|(n, _)| n.clone()).collect();
    // What each would lose as the force-new-cluster source.
    let mut losses = Vec::new();
    for (name, v) in &loaded {
        let a = &v.analysis;
        let oc = kept_commit(v);
        let startable = usable(v);
        let lost: Vec<u64> = (oc + 1..=cluster_commit).collect();
        let mut note = if lost.is_empty() {
            "loses no committed entry".to_string()
        } else {
            format!(
                "loses committed entries {} ({} entries): {}",
                verify::ranges(&lost),
                lost.len(),
                if log_end(a) > oc {
                    format!(
                        "it holds some of them, but --force-new-cluster keeps only what it knows to be committed (up to {oc})"
                    )
                } else {
                    format!("its log ends at {}", log_end(a))
                }
            )
        };
        let uncommitted = a.wal.entries.iter().filter(|e| e.index > cluster_commit).count();
        if uncommitted > 0 && a.wal.last_index().unwrap_or(0) > oc {
            note.push_str(&format!("; its {uncommitted} uncommitted entries past {cluster_commit} are discarded"));
        }
        if !startable {
            note.push_str(&format!("; Docker would not start from this dir as it is ({})", v.verdict));
        }
        losses.push(Loss { manager: name.clone(), committed_lost: lost, startable, note });
    }
    // Recommendation.
    let best = loaded
        .iter()
        .filter(|(_, v)| usable(v))
        .map(|(n, v)| {
            let a = &v.analysis;
            (kept_commit(v), holders.contains(n), a.wal.entries.last().map(|e| e.term).unwrap_or(0), n.clone(), v)
        })
        .max_by(|x, y| (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)).then_with(|| y.3.cmp(&x.3)));
    let best_loses = best.as_ref().map(|b| cluster_commit.saturating_sub(b.0)).unwrap_or(0);
    let mut recommendation = best.map(|(oc, _, lt, name, v)| {
        let equally_good: Vec<String> = loaded
            .iter()
            .filter(|(n, w)| {
                *n != name
                    && usable(w)
                    && kept_commit(w) == oc
                    && w.analysis.wal.entries.last().map(|e| e.term).unwrap_or(0) == lt
            })
            .map(|(n, _)| n.clone())
            .collect();
        let ip = v
            .analysis
            .member
            .as_ref()
            .map(|m| m.addr.rsplit_once(':').map(|x| x.0.to_string()).unwrap_or(m.addr.clone()))
            .unwrap_or_else(|| "<this manager's address>".into());
        let lost = cluster_commit.saturating_sub(oc);
        Recommendation {
            manager: name.clone(),
            equally_good,
            command: format!("docker swarm init --force-new-cluster --advertise-addr {ip}"),
            reason: if lost == 0 {
                format!(
                    "it holds every committed entry (up to {cluster_commit}) and knows them to be committed, so nothing committed is lost; run this only if the cluster has lost quorum, then demote and re-join the other managers"
                )
            } else {
                format!(
                    "no startable manager knows every committed entry; {name} loses the fewest ({lost}); run this only if the cluster has lost quorum"
                )
            },
        }
    });
    // Recovering from the best manager would lose committed entries: the data has lost them.
    if best_loses > 0 {
        problems += 1;
    }
    // Behind what the cluster believes.
    let mut behind = Vec::new();
    if let Some(r) = ref_a {
        for (name, v) in &loaded {
            let a = &v.analysis;
            let Some(m) = &a.member else { continue };
            if Some(name) == reference.as_ref() {
                continue;
            }
            let (added, removed) = membership_history(r, m.raft_id);
            let end = log_end(a);
            let Some(add) = added else { continue };
            if end >= add {
                continue;
            }
            problems += 1;
            let hi = removed.unwrap_or(r.rules().commit_index());
            let still = r.membership.members.contains_key(&m.raft_id);
            let hs = a.wal.hard_state.map(|h| h.0).unwrap_or_default();
            let explanation = format!(
                "{name} runs as raft member {:x} (node {}), but its log ends at index {end} (HardState term {}, commit {}), while the cluster added raft member {:x} at index {add}{}. While it was a member, the leader recorded how far its log went (raft's Match, up to {hi}); its raft data was then lost (a demotion, restart and promotion wipes it) and it came back under the same raft ID. The leader's next heartbeat tells it to commit up to min(Match, commit), which its log does not hold, and raft panics: `tocommit(N) is out of range [lastIndex({end})]` with N between {add} and {hi} (moby/moby#29180). {}",
                m.raft_id,
                m.node_id,
                hs.term,
                hs.commit,
                m.raft_id,
                match removed {
                    Some(d) => format!(" and removed it again at index {d}"),
                    None => String::new(),
                },
                if still {
                    "It panics on every start. Fix: on a healthy manager `docker node demote` it (or `docker node rm --force` it if it is down); on it, `docker swarm leave --force`, then `docker swarm join` again as a manager: it gets a new raft ID and an empty log that the leader fills."
                } else {
                    "That raft ID is no longer a member: this data dir cannot rejoin as it is. Fix: on it, `docker swarm leave --force`, remove its old node (`docker node rm --force`) on a healthy manager, then `docker swarm join` again as a manager."
                }
            );
            behind.push(Behind {
                manager: name.clone(),
                raft_id: format!("{:x}", m.raft_id),
                last_index: end,
                added_at: Some(add),
                removed_at: removed,
                tocommit_between: Some((add, hi)),
                explanation,
            });
        }
    }
    for (name, v) in &loaded {
        if let (Some(m), Some(r)) = (&v.analysis.member, ref_a) {
            if !r.membership.members.contains_key(&m.raft_id) && r.membership.removed.contains(&m.raft_id) {
                notes.push(format!(
                    "{name}: raft member {:x} has been removed from the cluster (per {}): its data is history, not a source for recovery unless everything else is lost",
                    m.raft_id,
                    reference.clone().unwrap_or_default()
                ));
            }
        }
        for w in &loaded {
            if w.0 != *name
                && v.analysis.member.as_ref().map(|m| m.raft_id) == w.1.analysis.member.as_ref().map(|m| m.raft_id)
            {
                notes.push(format!("{name} and {} have the same raft ID: the same manager given twice?", w.0));
            }
        }
    }
    notes.dedup();
    let mut managers = managers;
    let mut clusters = Vec::new();
    if apart {
        problems += 1;
        let names: Vec<String> = loaded.iter().map(|(n, _)| n.clone()).collect();
        clusters = grouping.describe(&names);
        let gi = |n: &str| grouping.group_of(names.iter().position(|x| x == n).unwrap_or(0));
        for p in pairs.iter_mut().filter(|p| gi(&p.a) != gi(&p.b)) {
            p.agree_up_to = None;
            p.diverge_at = None;
            p.diverge_terms = None;
            p.note = format!("{} and {} belong to different clusters: not compared", p.a, p.b);
        }
        for m in managers.iter_mut() {
            m.member = None;
        }
        notes = vec![format!(
            "these inputs come from {} different clusters: two clusters are two histories, so nothing is merged, compared or advised across them",
            grouping.groups.len()
        )];
        holders.clear();
        losses.clear();
        behind.clear();
        commit_from.clear();
        cluster_commit = 0;
        recommendation = None;
    }
    Ok(ManagersReport {
        managers,
        unreadable,
        cluster_commit,
        commit_from,
        holders,
        pairs,
        losses,
        recommendation,
        behind,
        notes,
        problems,
        quorum: ref_a.map(|a| crate::analyses::quorum::Quorum::of_membership(&a.membership)),
        topology: ref_a.map(|a| crate::analyses::quorum::topology(&a.membership)),
        clusters,
    })
}
