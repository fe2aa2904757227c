//! The swarmkit object store, rebuilt from a snapshot plus the store actions of log entries.
//!
//! Semantics follow swarmkit's `ApplyStoreActions`: CREATE inserts, UPDATE replaces the whole
//! object, REMOVE deletes by ID; `meta` is taken as-is from the action. Where the data breaks those
//! rules (create of an existing ID, update or remove of a missing one) the action is still applied
//! as best it can be and an anomaly is returned, never an error: the replay engine turns each
//! into a finding.

use crate::decode::object::{Kind, Object, Verb};
use crate::pb::docker::swarmkit::v1 as api;
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

/// The store: one map per kind, keyed by ID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Store {
    // Boxed: an `Object` is as big as its largest variant (several KB inline), and B-tree nodes
    // hold eleven values each, half-full on average; boxing halves the store's footprint.
    maps: BTreeMap<Kind, BTreeMap<String, Box<Object>>>,
    /// Tasks are kept as projections ([`Object::projected`]).
    projected: bool,
}

impl Store {
    /// An empty store that keeps tasks as projections (what integrity checks read: IDs, names,
    /// service, slot, node, states), not whole objects. For checks only, never for printing a
    /// state: a Swarm3k store is about a tenth of its full size this way.
    pub fn projected() -> Store {
        Store { projected: true, ..Default::default() }
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

    /// Insert or replace.
    pub fn insert(&mut self, o: Object) {
        let o = if self.projected { o.projected() } else { o };
        self.maps.entry(o.kind()).or_default().insert(o.id().to_string(), Box::new(o));
    }

    /// Apply one store action; returns an anomaly when the action did not fit.
    pub fn apply(&mut self, verb: Verb, obj: Object) -> Option<Anomaly> {
        let obj = if self.projected { obj.projected() } else { obj };
        let kind = obj.kind();
        let id = obj.id().to_string();
        let map = self.maps.entry(kind).or_default();
        match verb {
            Verb::Create => {
                let existed = map.insert(id.clone(), Box::new(obj)).is_some();
                existed.then_some(Anomaly::CreateExisting(kind, id))
            }
            Verb::Update => {
                let existed = map.insert(id.clone(), Box::new(obj)).is_some();
                (!existed).then_some(Anomaly::UpdateMissing(kind, id))
            }
            Verb::Remove => map.remove(&id).is_none().then_some(Anomaly::RemoveMissing(kind, id)),
            Verb::Unknown => Some(Anomaly::UnknownVerb(kind, id)),
        }
    }

    /// Objects of one kind, by ID order.
    pub fn iter(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.maps.get(&kind).into_iter().flat_map(|m| m.values().map(|b| &**b))
    }

    /// Look up by ID.
    pub fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        self.maps.get(&kind).and_then(|m| m.get(id)).map(|b| &**b)
    }

    /// Count of one kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.maps.get(&kind).map(|m| m.len()).unwrap_or(0)
    }

    /// Nodes.
    pub fn nodes(&self) -> impl Iterator<Item = &api::Node> {
        self.iter(Kind::Node).filter_map(|o| if let Object::Node(n) = o { Some(n) } else { None })
    }
    /// Services.
    pub fn services(&self) -> impl Iterator<Item = &api::Service> {
        self.iter(Kind::Service).filter_map(|o| if let Object::Service(n) = o { Some(n) } else { None })
    }
    /// Tasks.
    pub fn tasks(&self) -> impl Iterator<Item = &api::Task> {
        self.iter(Kind::Task).filter_map(|o| if let Object::Task(n) = o { Some(n) } else { None })
    }
    /// Clusters.
    pub fn clusters(&self) -> impl Iterator<Item = &api::Cluster> {
        self.iter(Kind::Cluster).filter_map(|o| if let Object::Cluster(n) = o { Some(n) } else { None })
    }
}

/// Decrypt and read a snapshot payload into a new store (tasks projected when `projected`),
/// object by object: the decoded `api.Snapshot` is never held next to the store.
pub fn snapshot_store(
    payload: &[u8],
    encrypted: bool,
    deks: &[crate::crypto::Dek],
    projected: bool,
) -> Result<(Store, crate::decode::snapshot::SnapState), String> {
    let mut st = if projected { Store::projected() } else { Store::default() };
    let mut put = |o: Object| st.insert(o);
    let s = crate::decode::snapshot::snapshot_state(payload, encrypted, deks, Some(&mut put), false)?;
    Ok((st, s))
}
