//! The swarmkit object store, rebuilt from a snapshot plus the store actions of log entries.
//!
//! Semantics follow swarmkit's `ApplyStoreActions`: CREATE inserts, UPDATE replaces the whole
//! object, REMOVE deletes by ID; `meta` is taken as-is from the action. Where the data breaks those
//! rules (create of an existing ID, update or remove of a missing one) the action is still applied
//! as best it can be and an anomaly is returned, never an error: the replay engine turns each
//! into a finding.
//!
//! The store is compact: every object is kept as its protobuf encoding, and decoded when it is
//! read ([`Store::get`], [`Store::iter`]). A decoded swarmkit object is about ten times the size
//! of its encoding (a Swarm3k task is ~1.3 KB on the wire and ~15 KB as prost structs), so this
//! is what keeps a 68,000-task state in about 100 MB. Tasks also keep a [`TaskKey`], the few
//! fields the commands group and count by (service, node, slot, states, job iteration), so
//! counting replicas or checking references never decodes a task.
//!
//! Invariants:
//! - what a read returns is exactly what was inserted (encoding and decoding are lossless for
//!   the fields our `.proto` subset knows, and the store never sees others);
//! - reads return owned values: nothing borrowed from the store outlives the call that made it,
//!   so a reader that keeps many objects pays for them itself;
//! - `bytes(kind)` gives each object's encoded length, which is its size in a snapshot.

use crate::decode::object::{Head, Kind, Object, Verb};
use crate::pb::docker::swarmkit::v1 as api;
use bytes::Bytes;
use std::collections::BTreeMap;

/// An action that did not fit the store's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// CREATE of an ID that already exists.
    CreateExisting(Kind, String),
    /// UPDATE of a missing ID.
    UpdateMissing(Kind, String),
    /// REMOVE of a missing ID.
    RemoveMissing(Kind, String),
    /// Action kind 0 or unknown.
    UnknownVerb(Kind, String),
    /// Action without a target.
    NoTarget,
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Anomaly::CreateExisting(k, id) => write!(f, "create of {} {id} which already exists", k.name()),
            Anomaly::UpdateMissing(k, id) => write!(f, "update of {} {id} which does not exist", k.name()),
            Anomaly::RemoveMissing(k, id) => write!(f, "remove of {} {id} which does not exist", k.name()),
            Anomaly::UnknownVerb(k, id) => write!(f, "action with an unknown verb on {} {id}", k.name()),
            Anomaly::NoTarget => write!(f, "store action without an object"),
        }
    }
}

/// What the commands group and count tasks by, kept beside each task's bytes: service, node,
/// slot, states, job iteration ([`TaskFields`], read from a decoded task or straight from its
/// encoding).
pub use crate::decode::object::TaskFields as TaskKey;

/// What a store keeps of each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// Tasks reduced to what integrity checks read ([`Object::projected`]): IDs, names, service,
    /// slot, node, states. For checks only, never for printing a state.
    pub projected_tasks: bool,
    /// Secret and config payloads (`spec.data`) as they are. Otherwise each is replaced by its
    /// keyed hash ([`Object::digested`], BLAKE3 keyed hash under a per-run random key): still non-empty, and still different when the payload
    /// changed, so redacted output and diffs are unchanged, while a store that never prints
    /// the payloads does not hold them (400 configs of 360 KB are 137 MiB).
    pub secret_data: bool,
}

impl Keep {
    /// Every object whole.
    pub const ALL: Keep = Keep { projected_tasks: false, secret_data: true };
}

impl Default for Keep {
    fn default() -> Keep {
        Keep::ALL
    }
}

/// One stored object: its encoding, its size as it was written (before a digest replaced its
/// payload), and for a task its key.
#[derive(Debug, Clone)]
struct Packed {
    bytes: Bytes,
    len: usize,
    task: Option<Box<TaskKey>>,
}

impl Packed {
    fn of(o: Object, keep: Keep) -> Packed {
        let o = if keep.projected_tasks { o.projected() } else { o };
        let task = match &o {
            Object::Task(t) => Some(Box::new(TaskKey::of(t))),
            _ => None,
        };
        let full = o.encode();
        let len = full.len();
        let bytes = match o {
            Object::Secret(_) | Object::Config(_) if !keep.secret_data => o.digested().encode(),
            _ => full,
        };
        Packed { bytes: Bytes::from(bytes), len, task }
    }
}

/// An object made ready for a store that keeps what `keep` says ([`Store::apply_packed`]):
/// encoded (and digested) where it was decoded, so that a replay does this work on its pool,
/// and the decoded object, with its payload, is freed by the thread that allocated it.
#[derive(Debug, Clone)]
pub struct PackedObject {
    kind: Kind,
    id: String,
    keep: Keep,
    /// `None` for a removal or an unknown verb: nothing is stored.
    packed: Option<Packed>,
}

impl PackedObject {
    /// Pack `obj` for action `verb` into what a store with `keep` holds.
    pub fn new(verb: Verb, obj: Object, keep: Keep) -> PackedObject {
        let (kind, id) = (obj.kind(), obj.id().to_string());
        let packed = matches!(verb, Verb::Create | Verb::Update).then(|| Packed::of(obj, keep));
        PackedObject { kind, id, keep, packed }
    }

    /// Pack an object as [`Want::Encoded`](crate::decode::entry::Want) left it: one decoded
    /// whole as [`PackedObject::new`] does, one on the wire kept as it was written (its size the
    /// size written), as [`Store::insert_encoded`] keeps a snapshot's.
    pub(crate) fn from_encoded(verb: Verb, obj: crate::decode::entry::Encoded, keep: Keep) -> PackedObject {
        use crate::decode::entry::Encoded;
        match obj {
            Encoded::Whole(o) => PackedObject::new(verb, *o, keep),
            Encoded::Wire { kind, head: Head { id, task }, bytes } => {
                // A store of projected tasks reads only what it keeps (a task the partial read
                // does not take, which the wire check makes unlikely, is kept whole).
                if kind == Kind::Task && keep.projected_tasks && matches!(verb, Verb::Create | Verb::Update) {
                    if let Ok(o) = Object::projected_task(&bytes) {
                        return PackedObject::new(verb, o, keep);
                    }
                }
                let packed = matches!(verb, Verb::Create | Verb::Update).then(|| Packed {
                    len: bytes.len(),
                    bytes,
                    task: task.map(Box::new),
                });
                PackedObject { kind, id, keep, packed }
            }
        }
    }

    /// The kinds a store with `keep` reduces from a whole decode (digested payloads), which
    /// must reach it decoded whole. Projected tasks come on the wire: [`PackedObject::from_encoded`]
    /// reads only what the projection keeps ([`Object::projected_task`]).
    pub fn reduced_by(keep: Keep) -> fn(Kind) -> bool {
        match keep.secret_data {
            true => |_| false,
            false => |k| matches!(k, Kind::Secret | Kind::Config),
        }
    }
}

/// The store: one map per kind, keyed by ID, of objects kept as their encoding.
#[derive(Debug, Clone, Default)]
pub struct Store {
    maps: BTreeMap<Kind, BTreeMap<String, Packed>>,
    keep: Keep,
}

impl PartialEq for Store {
    /// Two stores are equal when they hold the same objects. Compared decoded: protobuf map
    /// fields may be encoded in any order, so equal objects can have different bytes.
    fn eq(&self, other: &Store) -> bool {
        Kind::ALL.iter().all(|&k| {
            self.count(k) == other.count(k)
                && self.maps.get(&k).into_iter().flatten().all(|(id, p)| match other.packed(k, id) {
                    Some(q) => p.bytes == q.bytes || decode(k, p) == decode(k, q),
                    None => false,
                })
        })
    }
}

fn decode(kind: Kind, p: &Packed) -> Option<Object> {
    // The bytes were encoded by `Packed::of` from a decoded object, or checked on the wire to
    // decode ([`Store::insert_encoded`]): they always decode.
    Object::decode(kind, p.bytes.clone()).ok()
}

impl Store {
    /// An empty store that keeps what `keep` says.
    pub fn new(keep: Keep) -> Store {
        Store { keep, ..Default::default() }
    }

    /// An empty store that keeps tasks as projections (what integrity checks read: IDs, names,
    /// service, slot, node, states), not whole objects. For checks only, never for printing a
    /// state.
    pub fn projected() -> Store {
        Store::new(Keep { projected_tasks: true, ..Keep::ALL })
    }

    /// What this store keeps.
    pub fn keep(&self) -> Keep {
        self.keep
    }

    /// Load from a snapshot's `StoreSnapshot`.
    pub fn from_snapshot(s: api::StoreSnapshot) -> Store {
        let mut st = Store::default();
        let all = s
            .nodes
            .into_iter()
            .map(Object::Node)
            .chain(s.services.into_iter().map(Object::Service))
            .chain(s.networks.into_iter().map(Object::Network))
            .chain(s.tasks.into_iter().map(Object::Task))
            .chain(s.clusters.into_iter().map(Object::Cluster))
            .chain(s.secrets.into_iter().map(Object::Secret))
            .chain(s.resources.into_iter().map(Object::Resource))
            .chain(s.extensions.into_iter().map(Object::Extension))
            .chain(s.configs.into_iter().map(Object::Config))
            .chain(s.volumes.into_iter().map(Object::Volume));
        for o in all {
            st.insert(o);
        }
        st
    }

    fn pack(&self, o: Object) -> (Kind, String, Packed) {
        let (kind, id) = (o.kind(), o.id().to_string());
        (kind, id, Packed::of(o, self.keep))
    }

    /// Insert or replace.
    pub fn insert(&mut self, o: Object) {
        let (kind, id, p) = self.pack(o);
        self.maps.entry(kind).or_default().insert(id, p);
    }

    /// Load one object as it was encoded (a snapshot's object, checked sound on the wire): the
    /// bytes are kept as they are, sharing the caller's buffer, and only the object's [`Head`]
    /// is read. Objects this store reduces (projected tasks, digested payloads) are decoded and
    /// packed as [`Store::insert`] does. An error is a message that does not decode.
    pub fn insert_encoded(&mut self, kind: Kind, b: Bytes) -> Result<(), prost::DecodeError> {
        if kind == Kind::Task && self.keep.projected_tasks {
            self.insert(Object::projected_task(&b)?);
            return Ok(());
        }
        if PackedObject::reduced_by(self.keep)(kind) {
            self.insert(Object::decode(kind, b)?);
            return Ok(());
        }
        let Head { id, task } = Head::read(kind, &b)?;
        let p = Packed { len: b.len(), bytes: b, task: task.map(Box::new) };
        self.maps.entry(kind).or_default().insert(id, p);
        Ok(())
    }

    /// Apply one store action; returns an anomaly when the action did not fit.
    pub fn apply(&mut self, verb: Verb, obj: Object) -> Option<Anomaly> {
        self.apply_packed(verb, PackedObject::new(verb, obj, self.keep))
    }

    /// Apply one store action whose object was packed beforehand ([`PackedObject::new`]). An
    /// object packed for another [`Keep`] is unpacked and packed again.
    pub fn apply_packed(&mut self, verb: Verb, obj: PackedObject) -> Option<Anomaly> {
        let PackedObject { kind, id, keep, packed } = obj;
        let packed = match packed {
            Some(p) if keep != self.keep => decode(kind, &p).map(|o| Packed::of(o, self.keep)),
            p => p,
        };
        match (verb, packed) {
            (Verb::Remove, _) => {
                let gone = self.maps.get_mut(&kind).and_then(|m| m.remove(&id));
                gone.is_none().then_some(Anomaly::RemoveMissing(kind, id))
            }
            (Verb::Create, Some(p)) => {
                let existed = self.maps.entry(kind).or_default().insert(id.clone(), p).is_some();
                existed.then_some(Anomaly::CreateExisting(kind, id))
            }
            (Verb::Update, Some(p)) => {
                let existed = self.maps.entry(kind).or_default().insert(id.clone(), p).is_some();
                (!existed).then_some(Anomaly::UpdateMissing(kind, id))
            }
            _ => Some(Anomaly::UnknownVerb(kind, id)),
        }
    }

    fn packed(&self, kind: Kind, id: &str) -> Option<&Packed> {
        self.maps.get(&kind).and_then(|m| m.get(id))
    }

    fn entries(&self, kind: Kind) -> impl Iterator<Item = (&str, &Packed)> {
        self.maps.get(&kind).into_iter().flat_map(|m| m.iter().map(|(id, p)| (id.as_str(), p)))
    }

    /// Objects of one kind, by ID order, each decoded as it is reached.
    pub fn iter(&self, kind: Kind) -> impl Iterator<Item = Object> + '_ {
        self.entries(kind).filter_map(move |(_, p)| decode(kind, p))
    }

    /// The IDs of one kind, by ID order (no decoding).
    pub fn ids(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.entries(kind).map(|(id, _)| id)
    }

    /// Each object's ID and encoded length as it was written (its size in a snapshot's
    /// `StoreSnapshot`, payload included where [`Keep::secret_data`] is off), by ID order (no
    /// decoding).
    pub fn sizes(&self, kind: Kind) -> impl Iterator<Item = (&str, usize)> {
        self.entries(kind).map(|(id, p)| (id, p.len))
    }

    /// One object's encoded length as it was written (see [`Store::sizes`]).
    pub fn size(&self, kind: Kind, id: &str) -> Option<usize> {
        self.packed(kind, id).map(|p| p.len)
    }

    /// Look up by ID, decoded.
    pub fn get(&self, kind: Kind, id: &str) -> Option<Object> {
        self.packed(kind, id).and_then(|p| decode(kind, p))
    }

    /// One object's encoding as the store keeps it (no decoding).
    pub fn encoded(&self, kind: Kind, id: &str) -> Option<&[u8]> {
        self.packed(kind, id).map(|p| &p.bytes[..])
    }

    /// Whether an object of this kind and ID is in the store (no decoding).
    pub fn contains(&self, kind: Kind, id: &str) -> bool {
        self.packed(kind, id).is_some()
    }

    /// Count of one kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.maps.get(&kind).map(|m| m.len()).unwrap_or(0)
    }

    /// Every task's ID and key, by ID order (no decoding).
    pub fn task_keys(&self) -> impl Iterator<Item = (&str, &TaskKey)> {
        self.entries(Kind::Task).filter_map(|(id, p)| p.task.as_deref().map(|k| (id, k)))
    }

    /// One task, decoded.
    pub fn task(&self, id: &str) -> Option<api::Task> {
        match self.get(Kind::Task, id) {
            Some(Object::Task(t)) => Some(t),
            _ => None,
        }
    }

    /// One node, decoded.
    pub fn node(&self, id: &str) -> Option<api::Node> {
        match self.get(Kind::Node, id) {
            Some(Object::Node(n)) => Some(n),
            _ => None,
        }
    }

    /// One service, decoded.
    pub fn service(&self, id: &str) -> Option<api::Service> {
        match self.get(Kind::Service, id) {
            Some(Object::Service(s)) => Some(s),
            _ => None,
        }
    }

    /// Nodes, decoded one at a time.
    pub fn nodes(&self) -> impl Iterator<Item = api::Node> + '_ {
        self.iter(Kind::Node).filter_map(|o| if let Object::Node(n) = o { Some(n) } else { None })
    }
    /// Services, decoded one at a time.
    pub fn services(&self) -> impl Iterator<Item = api::Service> + '_ {
        self.iter(Kind::Service).filter_map(|o| if let Object::Service(n) = o { Some(n) } else { None })
    }
    /// Tasks, decoded one at a time.
    pub fn tasks(&self) -> impl Iterator<Item = api::Task> + '_ {
        self.iter(Kind::Task).filter_map(|o| if let Object::Task(n) = o { Some(n) } else { None })
    }
    /// Clusters, decoded one at a time.
    pub fn clusters(&self) -> impl Iterator<Item = api::Cluster> + '_ {
        self.iter(Kind::Cluster).filter_map(|o| if let Object::Cluster(n) = o { Some(n) } else { None })
    }
}

/// Decrypt and read a snapshot payload into a new store that keeps what `keep` says,
/// object by object: the decoded `api.Snapshot` is never held next to the store.
pub fn snapshot_store(
    payload: &[u8],
    encrypted: bool,
    deks: &[crate::crypto::Dek],
    keep: Keep,
    release: &dyn Fn(&[u8]),
) -> Result<(Store, crate::decode::snapshot::SnapState), String> {
    use crate::decode::snapshot::SnapObject;
    let mut st = Store::new(keep);
    let mut bad = None;
    let mut put = |o: SnapObject| match o {
        SnapObject::Decoded(o) => st.insert(*o),
        SnapObject::Encoded(kind, b) => {
            if let Err(e) = st.insert_encoded(kind, b) {
                bad.get_or_insert(e);
            }
        }
    };
    let s = crate::decode::snapshot::snapshot_objects(payload, encrypted, deks, release, &mut put)?;
    match bad {
        // Not reached for data the wire check accepted; said as decoding would say it.
        Some(e) => Err(format!("decrypted data is not an api.Snapshot: {e}")),
        None => Ok((st, s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, svc: &str, slot: u64, state: i32) -> Object {
        Object::Task(api::Task {
            id: id.into(),
            service_id: svc.into(),
            slot,
            status: Some(api::TaskStatus { state, err: "no suitable node".into(), ..Default::default() }),
            desired_state: api::TaskState::Running as i32,
            ..Default::default()
        })
    }

    #[test]
    fn a_read_returns_what_was_written() {
        let mut st = Store::default();
        let t = task("t1", "s1", 3, api::TaskState::Pending as i32);
        assert_eq!(st.apply(Verb::Create, t.clone()), None);
        assert_eq!(st.get(Kind::Task, "t1"), Some(t.clone()));
        assert_eq!(st.iter(Kind::Task).collect::<Vec<_>>(), vec![t]);
        let keys: Vec<_> = st.task_keys().collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0, "t1");
        assert_eq!(
            keys[0].1,
            &TaskKey {
                service_id: "s1".into(),
                slot: 3,
                state: api::TaskState::Pending as i32,
                desired_state: api::TaskState::Running as i32,
                ..Default::default()
            }
        );
    }

    #[test]
    fn sizes_are_the_snapshot_encoding() {
        let mut st = Store::default();
        let t = task("t1", "s1", 1, 0);
        let len = t.encode().len();
        st.insert(t);
        assert_eq!(st.sizes(Kind::Task).collect::<Vec<_>>(), vec![("t1", len)]);
    }

    #[test]
    fn actions_that_do_not_fit_are_anomalies_and_still_applied() {
        let mut st = Store::default();
        assert_eq!(
            st.apply(Verb::Update, task("t1", "s1", 1, 0)),
            Some(Anomaly::UpdateMissing(Kind::Task, "t1".into()))
        );
        assert!(st.contains(Kind::Task, "t1"));
        assert_eq!(
            st.apply(Verb::Create, task("t1", "s1", 2, 0)),
            Some(Anomaly::CreateExisting(Kind::Task, "t1".into()))
        );
        assert_eq!(st.task("t1").map(|t| t.slot), Some(2));
        assert_eq!(st.apply(Verb::Remove, task("t1", "", 0, 0)), None);
        assert_eq!(st.apply(Verb::Remove, task("t1", "", 0, 0)), Some(Anomaly::RemoveMissing(Kind::Task, "t1".into())));
        assert_eq!(st.count(Kind::Task), 0);
    }

    #[test]
    fn a_projected_store_keeps_what_checks_read() {
        let mut st = Store::projected();
        st.insert(task("t1", "s1", 1, 4));
        let t = st.task("t1").unwrap();
        assert_eq!((t.service_id.as_str(), t.slot), ("s1", 1));
        assert_eq!(t.status.map(|s| (s.state, s.err)), Some((4, String::new())));
    }

    #[test]
    fn a_store_without_secret_data_keeps_a_digest_and_the_size() {
        let config = |data: &'static [u8]| {
            Object::Config(api::Config {
                id: "c1".into(),
                spec: Some(api::ConfigSpec { data: bytes::Bytes::from_static(data), ..Default::default() }),
                ..Default::default()
            })
        };
        let mut st = Store::new(Keep { secret_data: false, ..Keep::ALL });
        let full = config(b"listen 80; server_name example.org;");
        st.insert(full.clone());
        assert_eq!(st.size(Kind::Config, "c1"), Some(full.encode().len()));
        let Some(Object::Config(c)) = st.get(Kind::Config, "c1") else { panic!("config lost") };
        let data = c.spec.unwrap().data;
        assert_eq!(data.len(), 32, "a keyed hash in place of the payload");
        assert_ne!(&data[..], b"listen 80; server_name example.org;");
        use sha2::Digest as _;
        assert_ne!(
            &data[..],
            &sha2::Sha256::digest(b"listen 80; server_name example.org;")[..],
            "keyed, not a bare SHA-256"
        );
        let mut other = Store::new(Keep { secret_data: false, ..Keep::ALL });
        other.insert(config(b"listen 81; server_name example.org;"));
        assert_ne!(st, other, "a changed payload is still a change");
        let mut kept = Store::default();
        kept.insert(full.clone());
        assert_eq!(kept.get(Kind::Config, "c1"), Some(full));
    }

    #[test]
    fn equal_stores_compare_equal_whatever_their_map_order() {
        let mut labels = std::collections::HashMap::new();
        for i in 0..32 {
            labels.insert(format!("k{i}"), format!("v{i}"));
        }
        let svc = |labels| {
            Object::Service(api::Service {
                id: "s1".into(),
                spec: Some(api::ServiceSpec {
                    annotations: Some(api::Annotations { name: "web".into(), labels, ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            })
        };
        let (mut a, mut b) = (Store::default(), Store::default());
        a.insert(svc(labels.clone()));
        b.insert(svc(labels
            .iter()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()));
        assert_eq!(a, b);
        b.insert(task("t1", "s1", 1, 0));
        assert_ne!(a, b);
    }
}
