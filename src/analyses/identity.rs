//! Which cluster an input belongs to, and the evidence that two inputs belong to different ones.
//!
//! `managers` and `archive` read several inputs as the managers (or the copies) of one cluster.
//! Given inputs of two clusters, both would be wrong in a way that costs a cluster: advice to
//! `--force-new-cluster` from a manager of another cluster, or one history merged from two. So
//! before comparing, inputs are grouped by cluster, and only inputs of one group are compared.
//!
//! Evidence, strongest first:
//! - the cluster ID: the `O=` of the node certificate (swarmkit's CA writes the cluster ID there)
//!   and the ID of the cluster object in the store. Two inputs with different cluster IDs are two
//!   clusters;
//! - raft's log matching property: within one cluster, two logs that hold an entry with the same
//!   index and term hold the same entry. The first index both logs hold under the same term is
//!   decrypted on both sides (each with its own keys) and compared; different content there is
//!   two histories, whatever the IDs say;
//! - the root CA certificate is shown with the evidence but is not proof on its own (a CA
//!   rotation changes it within one cluster).
//!
//! Invariant: two inputs are put in different groups only on positive evidence; inputs that
//! carry no identity (a bare dir without certificates or state) join the group they do not
//! contradict.

use crate::decode::object::Kind;
use crate::replay::analysis::Analysis;
use serde::Serialize;

/// What an input says about its cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Identity {
    /// Cluster ID from the node certificate's `O=`.
    pub cert_cluster_id: Option<String>,
    /// Cluster object IDs in the replayed store.
    pub store_cluster_ids: Vec<String>,
    /// CRC-32C of `certificates/swarm-root-ca.crt`, when present.
    pub root_ca_crc32c: Option<String>,
}

impl Identity {
    /// Read an input's identity.
    pub fn of(a: &Analysis) -> Identity {
        let root_ca = ["certificates/swarm-root-ca.crt", "swarm-root-ca.crt"]
            .into_iter()
            .find(|p| a.source.exists(p))
            .and_then(|p| a.source.read(p).ok())
            .map(|b| format!("{:08x}", crc32c::crc32c(&b)));
        Identity {
            cert_cluster_id: a.keys.cert.as_ref().map(|c| c.cluster_id.clone()).filter(|c| !c.is_empty()),
            store_cluster_ids: a.state.iter(Kind::Cluster).map(|o| o.id().to_string()).collect(),
            root_ca_crc32c: root_ca,
        }
    }

    /// The cluster ID this input shows: the certificate's, else the store's single cluster.
    pub fn cluster_id(&self) -> Option<&str> {
        let store = match self.store_cluster_ids.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        };
        self.cert_cluster_id.as_deref().or(store)
    }
}

/// An index, its term, and each side's plaintext there (`None` when it cannot be read).
type CommonEntry = (u64, u64, Option<Vec<u8>>, Option<Vec<u8>>);

/// The first index both logs hold under the same term, with each side's plaintext there.
fn first_common_entry(a: &Analysis, b: &Analysis) -> Option<CommonEntry> {
    let (ea, eb) = (&a.wal.entries, &b.wal.entries);
    let (mut i, mut j) = (0, 0);
    while i < ea.len() && j < eb.len() {
        match ea[i].index.cmp(&eb[j].index) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal if ea[i].term != eb[j].term => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let plain = |x: &Analysis, d: &bytes::Bytes| -> Option<Vec<u8>> {
                    if !x.encrypted {
                        return Some(d.to_vec());
                    }
                    if d.is_empty() {
                        return Some(Vec::new());
                    }
                    crate::crypto::decrypt_record(d, &x.deks).ok().map(|p| p.plaintext.to_vec())
                };
                return Some((ea[i].index, ea[i].term, plain(a, &ea[i].data), plain(b, &eb[j].data)));
            }
        }
    }
    None
}

/// Evidence that `a` and `b` (named `na`, `nb`) come from different clusters; empty when
/// nothing says so.
pub fn different_clusters(na: &str, a: &Analysis, ia: &Identity, nb: &str, b: &Analysis, ib: &Identity) -> Vec<String> {
    let mut why = Vec::new();
    if let (Some(x), Some(y)) = (ia.cluster_id(), ib.cluster_id()) {
        if x != y {
            why.push(format!("cluster ID {x} on {na}, {y} on {nb}"));
        }
    }
    if let Some((index, term, Some(pa), Some(pb))) = first_common_entry(a, b) {
        if pa != pb {
            why.push(format!(
                "index {index} term {term} holds different entries on {na} and {nb} (within one cluster, raft's log matching makes them identical)"
            ));
        }
    }
    if !why.is_empty() {
        if let (Some(x), Some(y)) = (&ia.root_ca_crc32c, &ib.root_ca_crc32c) {
            if x != y {
                why.push(format!("root CA certificates differ (CRC-32C {x} on {na}, {y} on {nb})"));
            }
        }
    }
    why
}

/// Inputs grouped by cluster: each group lists positions into `inputs`, in order of first
/// appearance; `evidence` says why each group after the first is apart from the first.
#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    /// Positions, per cluster.
    pub groups: Vec<Vec<usize>>,
    /// The cluster ID of each group, when known.
    pub cluster_ids: Vec<Option<String>>,
    /// For each pair of groups (i < j): the evidence between a member of each.
    pub evidence: Vec<(usize, usize, Vec<String>)>,
}

/// Group inputs by cluster (see the module doc).
pub fn group(inputs: &[(&str, &Analysis)]) -> Grouping {
    let ids: Vec<Identity> = inputs.iter().map(|(_, a)| Identity::of(a)).collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut evidence: Vec<(usize, usize, Vec<String>)> = Vec::new();
    for k in 0..inputs.len() {
        let mut apart: Vec<(usize, Vec<String>)> = Vec::new();
        let mut home = None;
        for (g, members) in groups.iter().enumerate() {
            let why: Vec<String> = members
                .iter()
                .map(|&m| different_clusters(inputs[m].0, inputs[m].1, &ids[m], inputs[k].0, inputs[k].1, &ids[k]))
                .find(|w| !w.is_empty())
                .unwrap_or_default();
            if why.is_empty() {
                home = Some(g);
                break;
            }
            apart.push((g, why));
        }
        match home {
            Some(g) => groups[g].push(k),
            None => {
                let g = groups.len();
                groups.push(vec![k]);
                for (h, why) in apart {
                    evidence.push((h, g, why));
                }
            }
        }
    }
    let cluster_ids = groups.iter().map(|m| m.iter().find_map(|&k| ids[k].cluster_id().map(String::from))).collect();
    Grouping { groups, cluster_ids, evidence }
}

impl Grouping {
    /// The group of an input.
    pub fn group_of(&self, k: usize) -> usize {
        self.groups.iter().position(|g| g.contains(&k)).unwrap_or(0)
    }

    /// One sentence per group after the first: which inputs, which cluster, and the evidence.
    pub fn describe(&self, names: &[String]) -> Vec<String> {
        let list = |g: usize| self.groups[g].iter().map(|&k| names[k].clone()).collect::<Vec<_>>().join(", ");
        let cid =
            |g: usize| self.cluster_ids[g].as_deref().map(|c| format!("cluster {c}")).unwrap_or("a cluster".into());
        (0..self.groups.len())
            .map(|g| {
                let why: Vec<String> = self
                    .evidence
                    .iter()
                    .filter(|(a, b, _)| *b == g || (*a == g && g > 0))
                    .flat_map(|(_, _, w)| w.clone())
                    .collect();
                format!(
                    "{}: {}{}",
                    cid(g),
                    list(g),
                    if why.is_empty() { String::new() } else { format!(" (apart because: {})", why.join("; ")) }
                )
            })
            .collect()
    }
}
