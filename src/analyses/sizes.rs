//! Size forensics: where the bytes of a swarm store go, measured against swarmkit's limits.
//!
//! The questions come from the "snapshot too large" and "received message larger than max"
//! threads (moby/swarmkit#2374, #2733, #3113, #3231; moby/moby#37941, #39160, #41289):
//! - bytes and counts by object kind, per service and per node;
//! - the largest objects;
//! - configs and secrets that no service references (removable bloat);
//! - dead task history beyond the cluster's task history retention limit;
//! - each measured against the 4 MiB gRPC message limit and the 1.5 MiB raft transaction limit.
//!
//! Every byte count is the protobuf encoding length of the object as swarmkit stores it
//! (`prost::Message::encoded_len`), so it is exact for the store and for snapshots; the sizes of
//! API responses and of a node's assignment stream are estimates built from those exact object
//! sizes plus protobuf framing.

use crate::decode::docker_api as dapi;
use crate::decode::object::{Kind, Object, service_name};
use crate::decode::snapshot::{WireSizes, decode_snapshot};
use crate::pb::docker::swarmkit::v1 as api;
use crate::replay::analysis::Analysis;
use crate::replay::store::Store;
use prost::Message;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// swarmkit's gRPC message limit (manager gRPC server receive limit, raft transport message).
pub const GRPC_LIMIT: u64 = 4 * 1024 * 1024;
/// swarmkit's raft proposal (transaction) limit, `MaxTransactionBytes` = 1.5 MiB.
pub const TXN_LIMIT: u64 = 3 * 512 * 1024;
/// swarmkit's default task history retention limit (when the cluster object sets none).
pub const DEFAULT_TASK_HISTORY: i64 = 5;

/// How many rows the "largest" lists keep.
/// How many of the largest items a list shows.
pub const TOP: usize = 10;

pub use crate::format::{field_len, varint_len};

/// Encoded size of one store object (the message itself, without framing).
pub fn object_bytes(o: &Object) -> u64 {
    (match o {
        Object::Node(x) => x.encoded_len(),
        Object::Service(x) => x.encoded_len(),
        Object::Task(x) => x.encoded_len(),
        Object::Network(x) => x.encoded_len(),
        Object::Secret(x) => x.encoded_len(),
        Object::Config(x) => x.encoded_len(),
        Object::Cluster(x) => x.encoded_len(),
        Object::Volume(x) => x.encoded_len(),
        Object::Resource(x) => x.encoded_len(),
        Object::Extension(x) => x.encoded_len(),
    }) as u64
}

/// The store as swarmkit would write it into a snapshot.
pub fn store_snapshot(st: &Store) -> api::StoreSnapshot {
    let mut s = api::StoreSnapshot::default();
    for k in Kind::ALL {
        for o in st.iter(k) {
            match o {
                Object::Node(x) => s.nodes.push(x),
                Object::Service(x) => s.services.push(x),
                Object::Task(x) => s.tasks.push(x),
                Object::Network(x) => s.networks.push(x),
                Object::Secret(x) => s.secrets.push(x),
                Object::Config(x) => s.configs.push(x),
                Object::Cluster(x) => s.clusters.push(x),
                Object::Volume(x) => s.volumes.push(x),
                Object::Resource(x) => s.resources.push(x),
                Object::Extension(x) => s.extensions.push(x),
            }
        }
    }
    s
}

/// The encoded size of the `StoreSnapshot` swarmkit would write for this store: every object's
/// encoding as a length-delimited field (its tag is one byte: field numbers 1-10), from the
/// store's packed sizes, without decoding an object.
pub fn store_snapshot_bytes(st: &Store) -> u64 {
    Kind::ALL.iter().flat_map(|k| st.sizes(*k)).map(|(_, n)| field_len(n as u64)).sum()
}

/// Plaintext size of the `api.Snapshot` swarmkit would write for this store and membership.
pub fn snapshot_plain_bytes(st: &Store, m: &crate::decode::object::Membership) -> u64 {
    let members: Vec<api::RaftMember> = m
        .members
        .iter()
        .map(|(id, (n, a))| api::RaftMember { raft_id: *id, node_id: n.clone(), addr: a.clone(), status: None })
        .collect();
    let membership = api::ClusterSnapshot { members, removed: m.removed.clone() };
    // api.Snapshot{version: 0 (omitted), membership: field 2, store: field 3}.
    field_len(membership.encoded_len() as u64) + field_len(store_snapshot_bytes(st))
}

/// Estimated size of the `.snap` file holding a plaintext payload of `plain` bytes: secretbox
/// record (tag 16, nonce 24) when encrypted, `raftpb.Snapshot` metadata, `snappb.Snapshot` CRC.
pub fn snap_file_bytes_estimate(plain: u64, encrypted: bool, voters: usize) -> u64 {
    let payload = if encrypted { 2 + field_len(plain + 16) + field_len(24) } else { plain };
    // Metadata: ConfState{voters} + index + term, all varints.
    let meta = field_len(2 + 10 * voters as u64) + 2 * 6;
    let raft_snap = field_len(payload) + field_len(meta);
    5 + field_len(raft_snap)
}

/// Bytes and count of one object kind.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KindBytes {
    /// Plural kind name (`tasks`, `services`, ...).
    pub kind: &'static str,
    /// Objects.
    pub count: usize,
    /// Encoded bytes, including the repeated-field framing inside `StoreSnapshot`.
    pub bytes: u64,
}

/// The kinds a snapshot holds, in the order charts stack them.
pub const SNAPSHOT_KINDS: [Kind; 10] = [
    Kind::Task,
    Kind::Service,
    Kind::Node,
    Kind::Network,
    Kind::Secret,
    Kind::Config,
    Kind::Cluster,
    Kind::Volume,
    Kind::Resource,
    Kind::Extension,
];

/// Bytes by kind of a decoded snapshot store.
pub fn kind_bytes(s: &api::StoreSnapshot) -> Vec<KindBytes> {
    fn sum<M: Message>(v: &[M]) -> (usize, u64) {
        (v.len(), v.iter().map(|m| field_len(m.encoded_len() as u64)).sum())
    }
    SNAPSHOT_KINDS
        .iter()
        .map(|k| {
            let (count, bytes) = match k {
                Kind::Node => sum(&s.nodes),
                Kind::Service => sum(&s.services),
                Kind::Task => sum(&s.tasks),
                Kind::Network => sum(&s.networks),
                Kind::Secret => sum(&s.secrets),
                Kind::Config => sum(&s.configs),
                Kind::Cluster => sum(&s.clusters),
                Kind::Volume => sum(&s.volumes),
                Kind::Resource => sum(&s.resources),
                Kind::Extension => sum(&s.extensions),
            };
            KindBytes { kind: k.plural(), count, bytes }
        })
        .collect()
}

/// One snapshot file's bytes broken down.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSizes {
    /// File name.
    pub file: String,
    /// Term.
    pub term: u64,
    /// Index.
    pub index: u64,
    /// Size of the `.snap` file (as `snapshots` prints it).
    pub bytes: u64,
    /// Whether the payload decoded (the breakdown is empty otherwise).
    pub valid: bool,
    /// Plaintext `api.Snapshot` size.
    pub plain_bytes: u64,
    /// Bytes by kind (framing inside the store included).
    pub kinds: Vec<KindBytes>,
    /// Raft membership (`ClusterSnapshot`) bytes.
    pub membership_bytes: u64,
    /// Everything else: encryption record, raft and snap containers, store framing. The kinds,
    /// membership and this add up to `bytes`.
    pub framing_bytes: u64,
}

impl SnapshotSizes {
    /// Objects in total.
    pub fn objects(&self) -> usize {
        self.kinds.iter().map(|k| k.count).sum()
    }
    /// Bytes of one kind.
    pub fn kind(&self, plural: &str) -> u64 {
        self.kinds.iter().find(|k| k.kind == plural).map(|k| k.bytes).unwrap_or(0)
    }
}

/// Break down one decoded snapshot of a file of `file_bytes` bytes.
pub fn snapshot_sizes(file: &str, term: u64, index: u64, file_bytes: u64, s: Option<&api::Snapshot>) -> SnapshotSizes {
    let Some(s) = s else {
        return SnapshotSizes {
            file: file.to_string(),
            term,
            index,
            bytes: file_bytes,
            valid: false,
            plain_bytes: 0,
            kinds: vec![],
            membership_bytes: 0,
            framing_bytes: file_bytes,
        };
    };
    let kinds = s.store.as_ref().map(kind_bytes).unwrap_or_default();
    let membership_bytes = s.membership.as_ref().map(|m| m.encoded_len() as u64).unwrap_or(0);
    valid_sizes(file, term, index, file_bytes, s.encoded_len() as u64, kinds, membership_bytes)
}

/// A valid snapshot's breakdown; framing is what the kinds and membership do not account for.
fn valid_sizes(
    file: &str,
    term: u64,
    index: u64,
    file_bytes: u64,
    plain_bytes: u64,
    kinds: Vec<KindBytes>,
    membership_bytes: u64,
) -> SnapshotSizes {
    let used: u64 = kinds.iter().map(|k| k.bytes).sum::<u64>() + membership_bytes;
    SnapshotSizes {
        file: file.to_string(),
        term,
        index,
        bytes: file_bytes,
        valid: true,
        plain_bytes,
        kinds,
        membership_bytes,
        framing_bytes: file_bytes.saturating_sub(used),
    }
}

/// Break down a snapshot from the sizes measured on the wire while it was loaded.
pub fn snapshot_sizes_from_wire(file: &str, term: u64, index: u64, file_bytes: u64, w: &WireSizes) -> SnapshotSizes {
    // `w.kinds` is indexed by StoreSnapshot field number - 1.
    let field = |k: Kind| Kind::STORE_SNAPSHOT_FIELDS.iter().position(|&x| x == k).unwrap_or(0);
    let kinds: Vec<KindBytes> = SNAPSHOT_KINDS
        .iter()
        .map(|&k| KindBytes { kind: k.plural(), count: w.kinds[field(k)].0, bytes: w.kinds[field(k)].1 })
        .collect();
    valid_sizes(file, term, index, file_bytes, w.plain, kinds, w.membership)
}

/// Break down every snapshot file of an input (from the sizes measured at load time, or by
/// decrypting it again when the load did not read payloads).
pub fn all_snapshot_sizes(a: &Analysis) -> Vec<SnapshotSizes> {
    a.snapshots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if let (true, Some(w)) = (s.valid, &s.wire) {
                return snapshot_sizes_from_wire(&s.file, s.term, s.index, s.bytes, w);
            }
            let dec = if s.valid {
                a.snap_payloads
                    .get(i)
                    .and_then(|p| p.as_deref())
                    .and_then(|p| decode_snapshot(p, a.encrypted, &a.deks).ok())
                    .map(|(d, _)| d)
            } else {
                None
            };
            snapshot_sizes(&s.file, s.term, s.index, s.bytes, dec.as_ref())
        })
        .collect()
}

/// An object and its size.
#[derive(Debug, Clone, Serialize)]
pub struct ObjSize {
    /// Kind.
    pub kind: Kind,
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Encoded bytes.
    pub bytes: u64,
}

/// One service's share.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSize {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    pub name: String,
    /// The service object's bytes.
    pub service_bytes: u64,
    /// Its tasks.
    pub tasks: usize,
    /// Their bytes.
    pub task_bytes: u64,
    /// Tasks with a running desired or current state.
    pub live_tasks: usize,
    /// Tasks that are done (desired and current state past running): history.
    pub dead_tasks: usize,
}

/// One node's share, and its estimated assignment stream.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSize {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// Tasks on the node (any state).
    pub tasks: usize,
    /// Their bytes.
    pub task_bytes: u64,
    /// Tasks in state ASSIGNED or later: the dispatcher sends all of them in a COMPLETE
    /// assignments message when the node (re)connects, terminal ones included.
    pub assigned_tasks: usize,
    /// Secrets and configs those tasks (up to RUNNING) depend on, sent in the same message.
    pub dependencies: usize,
    /// Estimated bytes of that message.
    pub assignments_bytes: u64,
}

/// Dead task history.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DeadHistory {
    /// The cluster's task history retention limit (per slot).
    pub limit: i64,
    /// Tasks whose desired and current state are both past running.
    pub dead_tasks: usize,
    /// Their bytes.
    pub dead_bytes: u64,
    /// Dead tasks beyond the limit in their slot: the task reaper would delete them.
    pub beyond_limit: usize,
    /// Their bytes.
    pub beyond_limit_bytes: u64,
    /// Tasks whose service no longer exists.
    pub of_removed_services: usize,
    /// Their bytes.
    pub of_removed_services_bytes: u64,
    /// Slots with the most tasks: (service name, slot or node, tasks).
    pub fullest_slots: Vec<(String, String, usize)>,
}

/// One size measured against a limit.
#[derive(Debug, Clone, Serialize)]
pub struct LimitCheck {
    /// What was measured.
    pub what: String,
    /// Bytes.
    pub bytes: u64,
    /// Which limit (`grpc-4MiB`, `transaction-1.5MiB`).
    pub limit_name: &'static str,
    /// The limit in bytes.
    pub limit: u64,
    /// bytes / limit.
    pub ratio: f64,
    /// Over the limit.
    pub over: bool,
}

fn check(what: impl Into<String>, bytes: u64, txn: bool) -> LimitCheck {
    let (limit_name, limit) = if txn { ("transaction-1.5MiB", TXN_LIMIT) } else { ("grpc-4MiB", GRPC_LIMIT) };
    let ratio = bytes as f64 / limit as f64;
    LimitCheck { what: what.into(), bytes, limit_name, limit, ratio: (ratio * 1e6).round() / 1e6, over: bytes > limit }
}

/// Size forensics of one store.
#[derive(Debug, Clone, Serialize)]
pub struct Forensics {
    /// Where the store is from (`final state at index N`, a snapshot file).
    pub at: String,
    /// The store encoded as a snapshot's `StoreSnapshot`.
    pub store_bytes: u64,
    /// Bytes and counts by kind.
    pub by_kind: Vec<KindBytes>,
    /// Tasks by current state.
    pub tasks_by_state: BTreeMap<String, usize>,
    /// Services, largest (service + tasks) first.
    pub by_service: Vec<ServiceSize>,
    /// Nodes, largest assignment first.
    pub by_node: Vec<NodeSize>,
    /// The largest objects.
    pub largest: Vec<ObjSize>,
    /// Configs and secrets that no service spec (current or previous) and no live task refers to.
    pub unreferenced: Vec<ObjSize>,
    /// Dead task history.
    pub dead_history: DeadHistory,
    /// Sizes measured against swarmkit's limits, worst first.
    pub limits: Vec<LimitCheck>,
}

fn container(spec: Option<&api::TaskSpec>) -> Option<&api::ContainerSpec> {
    match spec.and_then(|s| s.runtime.as_ref()) {
        Some(api::task_spec::Runtime::Container(c)) => Some(c),
        _ => None,
    }
}

fn refs(spec: Option<&api::TaskSpec>, secrets: &mut BTreeSet<String>, configs: &mut BTreeSet<String>) {
    if let Some(c) = container(spec) {
        secrets.extend(c.secrets.iter().map(|s| s.secret_id.clone()));
        configs.extend(c.configs.iter().map(|s| s.config_id.clone()));
    }
}

const RUNNING: i32 = api::TaskState::Running as i32;
const ASSIGNED: i32 = api::TaskState::Assigned as i32;

fn task_state(t: &api::Task) -> i32 {
    t.status.as_ref().map(|s| s.state).unwrap_or(0)
}

/// Dead: desired and current state both past running (what the task reaper may delete).
pub fn is_dead(t: &api::Task) -> bool {
    t.desired_state > RUNNING && task_state(t) > RUNNING
}

/// The cluster's task history retention limit.
pub fn task_history_limit(st: &Store) -> i64 {
    st.clusters()
        .next()
        .and_then(|c| c.spec)
        .and_then(|s| s.orchestration)
        .map(|o| o.task_history_retention_limit)
        .unwrap_or(DEFAULT_TASK_HISTORY)
}

/// What the size forensics read of one task, taken in one decoding pass.
struct TaskFacts {
    service_id: String,
    node_id: String,
    slot: u64,
    state: i32,
    desired_state: i32,
    status_time: Option<(i64, i32)>,
    bytes: u64,
    /// Secret and config IDs of its spec.
    secrets: Vec<String>,
    configs: Vec<String>,
}

impl TaskFacts {
    fn of(t: &api::Task, bytes: u64) -> TaskFacts {
        let (mut secrets, mut configs) = (Vec::new(), Vec::new());
        if let Some(c) = container(t.spec.as_ref()) {
            secrets.extend(c.secrets.iter().map(|s| s.secret_id.clone()));
            configs.extend(c.configs.iter().map(|s| s.config_id.clone()));
        }
        TaskFacts {
            service_id: t.service_id.clone(),
            node_id: t.node_id.clone(),
            slot: t.slot,
            state: task_state(t),
            desired_state: t.desired_state,
            status_time: t.status.as_ref().and_then(|s| s.timestamp).map(|x| (x.seconds, x.nanos)),
            bytes,
            secrets,
            configs,
        }
    }
    fn dead(&self) -> bool {
        self.desired_state > RUNNING && self.state > RUNNING
    }
}

/// Compute the forensics of a store. Each task is decoded once; sizes come from the store's
/// encodings.
pub fn forensics(st: &Store, at: impl Into<String>) -> Forensics {
    let by_kind: Vec<KindBytes> = SNAPSHOT_KINDS
        .iter()
        .map(|k| {
            let b = st.sizes(*k).map(|(_, n)| field_len(n as u64)).sum();
            KindBytes { kind: k.plural(), count: st.count(*k), bytes: b }
        })
        .collect();
    let store_bytes = by_kind.iter().map(|k| k.bytes).sum();
    let tasks: Vec<TaskFacts> =
        st.sizes(Kind::Task).filter_map(|(id, n)| st.task(id).map(|t| TaskFacts::of(&t, n as u64))).collect();
    let mut tasks_by_state: BTreeMap<String, usize> = BTreeMap::new();
    for t in &tasks {
        *tasks_by_state.entry(dapi::task_state(t.state).to_string()).or_default() += 1;
    }
    // Services.
    let mut by_service: BTreeMap<String, ServiceSize> = BTreeMap::new();
    let (mut sec_ref, mut cfg_ref) = (BTreeSet::new(), BTreeSet::new());
    for s in st.services() {
        refs(s.spec.as_ref().and_then(|x| x.task.as_ref()), &mut sec_ref, &mut cfg_ref);
        refs(s.previous_spec.as_ref().and_then(|x| x.task.as_ref()), &mut sec_ref, &mut cfg_ref);
        by_service.insert(
            s.id.clone(),
            ServiceSize {
                id: s.id.clone(),
                name: service_name(&s),
                service_bytes: s.encoded_len() as u64,
                tasks: 0,
                task_bytes: 0,
                live_tasks: 0,
                dead_tasks: 0,
            },
        );
    }
    let mut dead = DeadHistory { limit: task_history_limit(st), ..Default::default() };
    let mut slots: BTreeMap<(String, String), Vec<&TaskFacts>> = BTreeMap::new();
    for t in &tasks {
        let tb = t.bytes;
        let d = t.dead();
        if d {
            dead.dead_tasks += 1;
            dead.dead_bytes += tb;
        }
        match by_service.get_mut(&t.service_id) {
            Some(s) => {
                s.tasks += 1;
                s.task_bytes += tb;
                if d {
                    s.dead_tasks += 1;
                } else {
                    s.live_tasks += 1;
                }
            }
            None => {
                dead.of_removed_services += 1;
                dead.of_removed_services_bytes += tb;
            }
        }
        if by_service.contains_key(&t.service_id) {
            let slot = if t.slot != 0 { t.slot.to_string() } else { t.node_id.clone() };
            slots.entry((t.service_id.clone(), slot)).or_default().push(t);
        }
    }
    // Reaper semantics (swarmkit taskreaper): in a slot with more tasks than the limit, the
    // oldest non-running tasks go until the slot is down to the limit.
    if dead.limit >= 0 {
        for ts in slots.values() {
            let mut ts = ts.clone();
            if ts.len() as i64 <= dead.limit {
                continue;
            }
            ts.sort_by_key(|t| t.status_time);
            let mut keep = dead.limit;
            for t in ts.iter() {
                if t.desired_state <= RUNNING || t.state <= RUNNING {
                    continue;
                }
                dead.beyond_limit += 1;
                dead.beyond_limit_bytes += t.bytes;
                keep += 1;
                if ts.len() as i64 <= keep {
                    break;
                }
            }
        }
    }
    let mut fullest: Vec<(String, String, usize)> = slots
        .iter()
        .map(|((sid, slot), v)| {
            (by_service.get(sid).map(|s| s.name.clone()).unwrap_or_default(), slot.clone(), v.len())
        })
        .collect();
    fullest.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.cmp(&b.1)));
    fullest.truncate(5);
    dead.fullest_slots = fullest;
    let mut by_service: Vec<ServiceSize> = by_service.into_values().collect();
    by_service.sort_by(|a, b| {
        (b.service_bytes + b.task_bytes).cmp(&(a.service_bytes + a.task_bytes)).then_with(|| a.name.cmp(&b.name))
    });
    // References.
    for t in tasks.iter().filter(|t| !t.dead()) {
        sec_ref.extend(t.secrets.iter().cloned());
        cfg_ref.extend(t.configs.iter().cloned());
    }
    let mut unreferenced: Vec<ObjSize> = Vec::new();
    for o in st.iter(Kind::Secret).chain(st.iter(Kind::Config)) {
        let used = match &o {
            Object::Secret(s) => sec_ref.contains(&s.id) || s.internal,
            Object::Config(c) => cfg_ref.contains(&c.id),
            _ => true,
        };
        if !used {
            unreferenced.push(ObjSize {
                kind: o.kind(),
                id: o.id().to_string(),
                name: o.name(),
                // As written: the store may hold a digest in place of the payload.
                bytes: st.size(o.kind(), o.id()).unwrap_or(0) as u64,
            });
        }
    }
    unreferenced.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.id.cmp(&b.id)));
    // Nodes and their assignment streams.
    let mut by_node: Vec<NodeSize> = Vec::new();
    let mut tasks_by_node: BTreeMap<&str, Vec<&TaskFacts>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| !t.node_id.is_empty()) {
        tasks_by_node.entry(t.node_id.as_str()).or_default().push(t);
    }
    let size_of = |k: Kind, id: &str| st.size(k, id).map(|n| n as u64);
    for n in st.nodes() {
        let ts = tasks_by_node.get(n.id.as_str()).cloned().unwrap_or_default();
        let mut ns = NodeSize {
            id: n.id.clone(),
            hostname: n.description.as_ref().map(|d| d.hostname.clone()).unwrap_or_default(),
            tasks: ts.len(),
            task_bytes: ts.iter().map(|t| t.bytes).sum(),
            assigned_tasks: 0,
            dependencies: 0,
            assignments_bytes: 0,
        };
        let (mut secs, mut cfgs) = (BTreeSet::new(), BTreeSet::new());
        // AssignmentsMessage.changes[] = AssignmentChange{assignment: Assignment{item}, action}.
        let change = |item: u64| field_len(field_len(field_len(item)) + 2);
        for t in ts.iter().filter(|t| t.state >= ASSIGNED) {
            ns.assigned_tasks += 1;
            ns.assignments_bytes += change(t.bytes);
            if t.state <= RUNNING {
                secs.extend(t.secrets.iter().map(String::as_str));
                cfgs.extend(t.configs.iter().map(String::as_str));
            }
        }
        for id in &secs {
            if let Some(b) = size_of(Kind::Secret, id) {
                ns.dependencies += 1;
                ns.assignments_bytes += change(b);
            }
        }
        for id in &cfgs {
            if let Some(b) = size_of(Kind::Config, id) {
                ns.dependencies += 1;
                ns.assignments_bytes += change(b);
            }
        }
        if ns.assigned_tasks > 0 {
            ns.assignments_bytes += 20; // type, applies_to, results_in
        }
        by_node.push(ns);
    }
    by_node.sort_by(|a, b| b.assignments_bytes.cmp(&a.assignments_bytes).then_with(|| a.id.cmp(&b.id)));
    // Largest objects: chosen by size, decoded only for their names.
    let mut biggest: Vec<(usize, Kind, &str)> =
        Kind::ALL.iter().flat_map(|k| st.sizes(*k).map(move |(id, n)| (n, *k, id))).collect();
    biggest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(b.2)));
    biggest.truncate(TOP);
    let largest: Vec<ObjSize> = biggest
        .into_iter()
        .map(|(n, k, id)| ObjSize {
            kind: k,
            id: id.to_string(),
            name: st.get(k, id).map(|o| o.name()).unwrap_or_default(),
            bytes: n as u64,
        })
        .collect();
    // Limits.
    let list = |k: Kind| -> u64 { st.sizes(k).map(|(_, n)| field_len(n as u64)).sum() };
    let mut limits = vec![
        check("whole store in one message (snapshot sent unchunked, before swarmkit#2458)", store_bytes, false),
        check("docker service ls (ListServices response)", list(Kind::Service), false),
        check("docker node ls (ListNodes response)", list(Kind::Node), false),
        check("GET /tasks, all tasks (ListTasks response)", list(Kind::Task), false),
        check("docker config ls (ListConfigs response)", list(Kind::Config), false),
    ];
    if let Some(n) = by_node.first().filter(|n| n.assigned_tasks > 0) {
        let host = if n.hostname.is_empty() { String::new() } else { format!(" ({})", n.hostname) };
        limits.push(check(
            format!(
                "assignments sent to node {}{host}: {} tasks + {} secrets/configs",
                n.id, n.assigned_tasks, n.dependencies
            ),
            n.assignments_bytes,
            false,
        ));
    }
    if let Some(o) = largest.first() {
        limits.push(check(format!("largest object: {} {} ({})", o.kind.name(), o.id, o.name), o.bytes, true));
    }
    limits.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then_with(|| a.what.cmp(&b.what)));
    Forensics {
        at: at.into(),
        store_bytes,
        by_kind,
        tasks_by_state,
        by_service,
        by_node,
        largest,
        unreferenced,
        dead_history: dead,
        limits,
    }
}

/// The largest raft entries of the WAL, measured against the transaction limit.
pub fn largest_entries(a: &Analysis, n: usize) -> Vec<(u64, u64, usize)> {
    let mut v: Vec<(u64, u64, usize)> = a.wal.entries.iter().map(|e| (e.index, e.term, e.data.len())).collect();
    v.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.0.cmp(&y.0)));
    v.truncate(n);
    v
}

/// JSON rendering of forensics.
pub fn forensics_json(f: &Forensics) -> Value {
    serde_json::to_value(f).unwrap_or(Value::Null)
}

/// The forensics `info` shows: the final state, plus the largest WAL entries against the
/// transaction limit.
pub fn info_forensics(a: &Analysis) -> (Forensics, Vec<(u64, u64, usize)>) {
    let mut f = forensics(&a.state, format!("final state at index {}", a.state_index));
    let big = largest_entries(a, 3);
    if let Some((i, t, b)) = big.first() {
        f.limits.push(check(format!("largest raft entry in the WAL: index {i} (term {t})"), *b as u64, true));
        f.limits.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then_with(|| a.what.cmp(&b.what)));
    }
    (f, big)
}

/// JSON for `info` (`"sizes"`).
pub fn info_json(a: &Analysis) -> Value {
    let (f, big) = info_forensics(a);
    let mut v = forensics_json(&f);
    v["largest_entries"] =
        json!(big.iter().map(|(i, t, b)| json!({"index": i, "term": t, "bytes": b})).collect::<Vec<_>>());
    v
}

/// JSON for `snapshots` (`"sizes"`).
pub fn snapshots_json(a: &Analysis) -> Value {
    serde_json::to_value(all_snapshot_sizes(a)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(16383), 2);
        assert_eq!(varint_len(16384), 3);
        assert_eq!(field_len(200), 203);
    }

    #[test]
    fn kind_bytes_add_up_to_the_store_encoding() {
        let mut s = api::StoreSnapshot::default();
        s.tasks.push(api::Task { id: "t1".into(), service_id: "s1".into(), ..Default::default() });
        s.services.push(api::Service { id: "s1".into(), ..Default::default() });
        let k = kind_bytes(&s);
        assert_eq!(k.iter().map(|x| x.bytes).sum::<u64>(), s.encoded_len() as u64);
        let st = Store::from_snapshot(s.clone());
        assert_eq!(store_snapshot(&st).encoded_len(), s.encoded_len());
        assert_eq!(store_snapshot_bytes(&st), s.encoded_len() as u64);
    }
}
