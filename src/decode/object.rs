//! Decoded swarmkit objects: the kinds of the store, one object of any kind, store-action verbs,
//! and raft membership.
//!
//! Invariants: nothing here holds state; an [`Object`] is exactly what prost decoded from the
//! record (or its projection, see [`Object::projected`]). The store that applies them is
//! [`crate::replay::point::store`].

use crate::pb::docker::swarmkit::v1 as api;
use api::store_action::Target;
use serde::Serialize;
use std::collections::BTreeMap;

/// Object kinds, in the order the docker CLI user thinks of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Node.
    Node,
    /// Service.
    Service,
    /// Task.
    Task,
    /// Network.
    Network,
    /// Secret.
    Secret,
    /// Config.
    Config,
    /// Cluster.
    Cluster,
    /// Volume (cluster volumes, Docker 23+).
    Volume,
    /// Resource.
    Resource,
    /// Extension.
    Extension,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 10] = [
        Kind::Node,
        Kind::Service,
        Kind::Task,
        Kind::Network,
        Kind::Secret,
        Kind::Config,
        Kind::Cluster,
        Kind::Volume,
        Kind::Resource,
        Kind::Extension,
    ];
    /// The kinds in `StoreSnapshot` field order: field number = position + 1.
    pub const STORE_SNAPSHOT_FIELDS: [Kind; 10] = [
        Kind::Node,
        Kind::Service,
        Kind::Network,
        Kind::Task,
        Kind::Cluster,
        Kind::Secret,
        Kind::Resource,
        Kind::Extension,
        Kind::Config,
        Kind::Volume,
    ];
    /// The kinds in `StoreAction.target` field order: field number = position + 2.
    pub const STORE_ACTION_TARGETS: [Kind; 10] = [
        Kind::Node,
        Kind::Service,
        Kind::Task,
        Kind::Network,
        Kind::Cluster,
        Kind::Secret,
        Kind::Resource,
        Kind::Extension,
        Kind::Config,
        Kind::Volume,
    ];
    /// Full protobuf message name (`docker.swarmkit.v1.Node`, ...).
    pub fn message_name(self) -> &'static str {
        match self {
            Kind::Node => "docker.swarmkit.v1.Node",
            Kind::Service => "docker.swarmkit.v1.Service",
            Kind::Task => "docker.swarmkit.v1.Task",
            Kind::Network => "docker.swarmkit.v1.Network",
            Kind::Secret => "docker.swarmkit.v1.Secret",
            Kind::Config => "docker.swarmkit.v1.Config",
            Kind::Cluster => "docker.swarmkit.v1.Cluster",
            Kind::Volume => "docker.swarmkit.v1.Volume",
            Kind::Resource => "docker.swarmkit.v1.Resource",
            Kind::Extension => "docker.swarmkit.v1.Extension",
        }
    }
    /// Singular lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Node => "node",
            Kind::Service => "service",
            Kind::Task => "task",
            Kind::Network => "network",
            Kind::Secret => "secret",
            Kind::Config => "config",
            Kind::Cluster => "cluster",
            Kind::Volume => "volume",
            Kind::Resource => "resource",
            Kind::Extension => "extension",
        }
    }
    /// Plural lower-case name (JSON keys).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Service => "services",
            Kind::Task => "tasks",
            Kind::Network => "networks",
            Kind::Secret => "secrets",
            Kind::Config => "configs",
            Kind::Cluster => "clusters",
            Kind::Volume => "volumes",
            Kind::Resource => "resources",
            Kind::Extension => "extensions",
        }
    }
    /// Parse a kind name (singular or plural).
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.to_ascii_lowercase();
        Kind::ALL.into_iter().find(|k| k.name() == s || k.plural() == s)
    }
}

/// Any store object.
#[allow(clippy::large_enum_variant)] // objects are stored once each; boxing buys nothing here
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// Node.
    Node(api::Node),
    /// Service.
    Service(api::Service),
    /// Task.
    Task(api::Task),
    /// Network.
    Network(api::Network),
    /// Secret.
    Secret(api::Secret),
    /// Config.
    Config(api::Config),
    /// Cluster.
    Cluster(api::Cluster),
    /// Volume.
    Volume(api::Volume),
    /// Resource.
    Resource(api::Resource),
    /// Extension.
    Extension(api::Extension),
}

impl Object {
    /// A task reduced to what integrity checks read (ID, meta, service, slot, node, names,
    /// state, desired state); other objects unchanged.
    pub fn projected(self) -> Object {
        match self {
            Object::Task(t) => {
                let name_only =
                    |a: Option<api::Annotations>| a.map(|a| api::Annotations { name: a.name, ..Default::default() });
                Object::Task(api::Task {
                    id: t.id,
                    meta: t.meta,
                    service_id: t.service_id,
                    slot: t.slot,
                    node_id: t.node_id,
                    annotations: name_only(t.annotations),
                    service_annotations: name_only(t.service_annotations),
                    status: t.status.map(|s| api::TaskStatus {
                        state: s.state,
                        timestamp: s.timestamp,
                        ..Default::default()
                    }),
                    desired_state: t.desired_state,
                    ..Default::default()
                })
            }
            o => o,
        }
    }
}

impl Object {
    /// A task's encoding read straight into [`Object::projected`]'s task: the same object as
    /// decoding it whole and projecting, without building what the projection drops (its
    /// spec, networks, volumes: most of a task). Protobuf's rules carry over, since a repeated
    /// scalar field keeps its last value and a repeated message field merges in both cases. For
    /// a message the wire check has accepted ([`crate::format::wirecheck`]): fields it skips are
    /// not validated here.
    pub fn projected_task(b: &[u8]) -> Result<Object, prost::DecodeError> {
        let t = <partial::TaskKept as prost::Message>::decode(b)?;
        let name_only =
            |a: Option<partial::NameKept>| a.map(|a| api::Annotations { name: a.name, ..Default::default() });
        Ok(Object::Task(api::Task {
            id: t.id,
            meta: t.meta,
            service_id: t.service_id,
            slot: t.slot,
            node_id: t.node_id,
            annotations: name_only(t.annotations),
            service_annotations: name_only(t.service_annotations),
            status: t.status.map(|s| api::TaskStatus { state: s.state, timestamp: s.timestamp, ..Default::default() }),
            desired_state: t.desired_state,
            ..Default::default()
        }))
    }

    /// A secret or config with its payload (`spec.data`) replaced by the payload's keyed hash
    /// (BLAKE3 keyed hash under this run's random key, [`crate::crypto::keyed`]): the same size class
    /// of object without the secret, that still differs when the payload does. Keyed, so that
    /// the digest held in memory (or in a core dump) cannot be tested against guessed secrets.
    /// An empty payload stays empty; other objects are unchanged.
    pub fn digested(self) -> Object {
        let digest = |d: &mut bytes::Bytes| {
            if !d.is_empty() {
                *d = bytes::Bytes::copy_from_slice(&crate::crypto::keyed::keyed_hash(&d[..]));
            }
        };
        match self {
            Object::Secret(mut s) => {
                if let Some(sp) = s.spec.as_mut() {
                    digest(&mut sp.data);
                }
                Object::Secret(s)
            }
            Object::Config(mut c) => {
                if let Some(sp) = c.spec.as_mut() {
                    digest(&mut sp.data);
                }
                Object::Config(c)
            }
            o => o,
        }
    }
}

fn ann_name(a: &Option<api::Annotations>) -> String {
    a.as_ref().map(|a| a.name.clone()).unwrap_or_default()
}

impl Object {
    /// The object's protobuf encoding (its message alone, not wrapped in a store action).
    pub fn encode(&self) -> Vec<u8> {
        use prost::Message as _;
        match self {
            Object::Node(o) => o.encode_to_vec(),
            Object::Service(o) => o.encode_to_vec(),
            Object::Task(o) => o.encode_to_vec(),
            Object::Network(o) => o.encode_to_vec(),
            Object::Secret(o) => o.encode_to_vec(),
            Object::Config(o) => o.encode_to_vec(),
            Object::Cluster(o) => o.encode_to_vec(),
            Object::Volume(o) => o.encode_to_vec(),
            Object::Resource(o) => o.encode_to_vec(),
            Object::Extension(o) => o.encode_to_vec(),
        }
    }

    /// Decode one message of `kind`. Bytes fields share `b`'s buffer (no copy).
    pub fn decode(kind: Kind, b: bytes::Bytes) -> Result<Object, prost::DecodeError> {
        use prost::Message as _;
        Ok(match kind {
            Kind::Node => Object::Node(api::Node::decode(b)?),
            Kind::Service => Object::Service(api::Service::decode(b)?),
            Kind::Task => Object::Task(api::Task::decode(b)?),
            Kind::Network => Object::Network(api::Network::decode(b)?),
            Kind::Secret => Object::Secret(api::Secret::decode(b)?),
            Kind::Config => Object::Config(api::Config::decode(b)?),
            Kind::Cluster => Object::Cluster(api::Cluster::decode(b)?),
            Kind::Volume => Object::Volume(api::Volume::decode(b)?),
            Kind::Resource => Object::Resource(api::Resource::decode(b)?),
            Kind::Extension => Object::Extension(api::Extension::decode(b)?),
        })
    }
}

impl Object {
    /// From a store action's target.
    pub fn from_target(t: Target) -> Object {
        match t {
            Target::Node(o) => Object::Node(*o),
            Target::Service(o) => Object::Service(*o),
            Target::Task(o) => Object::Task(*o),
            Target::Network(o) => Object::Network(*o),
            Target::Cluster(o) => Object::Cluster(*o),
            Target::Secret(o) => Object::Secret(*o),
            Target::Resource(o) => Object::Resource(*o),
            Target::Extension(o) => Object::Extension(*o),
            Target::Config(o) => Object::Config(*o),
            Target::Volume(o) => Object::Volume(*o),
        }
    }
    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Node(_) => Kind::Node,
            Object::Service(_) => Kind::Service,
            Object::Task(_) => Kind::Task,
            Object::Network(_) => Kind::Network,
            Object::Secret(_) => Kind::Secret,
            Object::Config(_) => Kind::Config,
            Object::Cluster(_) => Kind::Cluster,
            Object::Volume(_) => Kind::Volume,
            Object::Resource(_) => Kind::Resource,
            Object::Extension(_) => Kind::Extension,
        }
    }
    /// The object ID.
    pub fn id(&self) -> &str {
        match self {
            Object::Node(o) => &o.id,
            Object::Service(o) => &o.id,
            Object::Task(o) => &o.id,
            Object::Network(o) => &o.id,
            Object::Secret(o) => &o.id,
            Object::Config(o) => &o.id,
            Object::Cluster(o) => &o.id,
            Object::Volume(o) => &o.id,
            Object::Resource(o) => &o.id,
            Object::Extension(o) => &o.id,
        }
    }
    /// The object's meta.
    pub fn meta(&self) -> Option<&api::Meta> {
        match self {
            Object::Node(o) => o.meta.as_ref(),
            Object::Service(o) => o.meta.as_ref(),
            Object::Task(o) => o.meta.as_ref(),
            Object::Network(o) => o.meta.as_ref(),
            Object::Secret(o) => o.meta.as_ref(),
            Object::Config(o) => o.meta.as_ref(),
            Object::Cluster(o) => o.meta.as_ref(),
            Object::Volume(o) => o.meta.as_ref(),
            Object::Resource(o) => o.meta.as_ref(),
            Object::Extension(o) => o.meta.as_ref(),
        }
    }
    /// `meta.version.index` (0 if absent).
    pub fn version(&self) -> u64 {
        self.meta().and_then(|m| m.version.as_ref()).map(|v| v.index).unwrap_or(0)
    }
    /// A human name: hostname for nodes, `service.slot` for tasks, spec name otherwise.
    pub fn name(&self) -> String {
        match self {
            Object::Node(o) => {
                let n = ann_name(&o.spec.as_ref().and_then(|s| s.annotations.clone()));
                if !n.is_empty() {
                    return n;
                }
                o.description.as_ref().map(|d| d.hostname.clone()).unwrap_or_default()
            }
            Object::Service(o) => service_name(o),
            Object::Task(o) => task_name(o),
            Object::Network(o) => ann_name(&o.spec.as_ref().and_then(|s| s.annotations.clone())),
            Object::Secret(o) => ann_name(&o.spec.as_ref().and_then(|s| s.annotations.clone())),
            Object::Config(o) => ann_name(&o.spec.as_ref().and_then(|s| s.annotations.clone())),
            Object::Cluster(o) => ann_name(&o.spec.as_ref().and_then(|s| s.annotations.clone())),
            Object::Volume(o) => ann_name(&o.spec.as_ref().and_then(|s| s.annotations.clone())),
            Object::Resource(o) => ann_name(&o.annotations),
            Object::Extension(o) => ann_name(&o.annotations),
        }
    }
}

/// A service's name (its spec's annotations).
pub fn service_name(s: &api::Service) -> String {
    s.spec.as_ref().and_then(|x| x.annotations.as_ref()).map(|a| a.name.clone()).unwrap_or_default()
}

/// `docker service ps` naming: `service.slot`, or `service.nodeid` for global tasks.
pub fn task_name(t: &api::Task) -> String {
    let svc = ann_name(&t.service_annotations);
    if svc.is_empty() {
        let own = ann_name(&t.annotations);
        if !own.is_empty() {
            return own;
        }
    }
    if t.slot != 0 { format!("{svc}.{}", t.slot) } else { format!("{svc}.{}", t.node_id) }
}

/// Store action verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// Insert.
    Create,
    /// Replace.
    Update,
    /// Delete.
    Remove,
    /// Invalid (0 or out of range).
    Unknown,
}

impl Verb {
    /// From `StoreActionKind`.
    pub fn from_i32(v: i32) -> Verb {
        match v {
            1 => Verb::Create,
            2 => Verb::Update,
            3 => Verb::Remove,
            _ => Verb::Unknown,
        }
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Remove => "remove",
            Verb::Unknown => "unknown",
        }
    }
}

/// Raft membership: members by raft ID, and removed raft IDs. Serialized with raft IDs as hex
/// strings (as swarm-rafttool prints them; JSON numbers lose precision above 2^53).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Membership {
    /// raft ID → (node ID, address).
    pub members: BTreeMap<u64, (String, String)>,
    /// Removed raft IDs.
    pub removed: Vec<u64>,
}

impl Membership {
    /// From a snapshot's `ClusterSnapshot`.
    pub fn from_snapshot(c: &api::ClusterSnapshot) -> Membership {
        Membership {
            members: c.members.iter().map(|m| (m.raft_id, (m.node_id.clone(), m.addr.clone()))).collect(),
            removed: c.removed.clone(),
        }
    }
}

impl Serialize for Membership {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct M<'a> {
            raft_id: String,
            node_id: &'a str,
            addr: &'a str,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            members: Vec<M<'a>>,
            removed: Vec<String>,
        }
        Out {
            members: self
                .members
                .iter()
                .map(|(id, (n, a))| M { raft_id: format!("{id:x}"), node_id: n, addr: a })
                .collect(),
            removed: self.removed.iter().map(|r| format!("{r:x}")).collect(),
        }
        .serialize(ser)
    }
}

/// Serialize a list of raft IDs as hex strings.
pub fn hex_ids<S: serde::Serializer>(ids: &[u64], ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_seq(ids.iter().map(|i| format!("{i:x}")))
}

/// What the store indexes an encoded object by, read without decoding the object whole: its ID
/// and, for a task, the fields tasks are grouped and counted by. Every kind's `id` is field 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Head {
    /// Field 1, `id`.
    pub id: String,
    /// For a task, its grouping fields.
    pub task: Option<TaskFields>,
}

/// The fields of a task that [`Head`] reads (`Task` fields 4, 5, 6, 9.2, 10 and 16.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskFields {
    /// `service_id`.
    pub service_id: String,
    /// `node_id`.
    pub node_id: String,
    /// `slot`.
    pub slot: u64,
    /// `status.state` (0 without a status).
    pub state: i32,
    /// `desired_state`.
    pub desired_state: i32,
    /// `job_iteration.index`, when there is a job iteration.
    pub job_iteration: Option<u64>,
}

impl TaskFields {
    /// The same fields of a decoded task.
    pub fn of(t: &api::Task) -> TaskFields {
        TaskFields {
            service_id: t.service_id.clone(),
            node_id: t.node_id.clone(),
            slot: t.slot,
            state: t.status.as_ref().map(|s| s.state).unwrap_or(0),
            desired_state: t.desired_state,
            job_iteration: t.job_iteration.as_ref().map(|v| v.index),
        }
    }
}

/// Partial messages with the field numbers of `objects.proto`: prost skips every other field,
/// so reading them costs a walk over the keys, with no allocation but the strings read.
mod partial {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct IdOnly {
        #[prost(string, tag = "1")]
        pub id: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StateOnly {
        #[prost(int32, tag = "2")]
        pub state: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct IndexOnly {
        #[prost(uint64, tag = "1")]
        pub index: u64,
    }
    /// What [`super::Object::projected`] keeps of a task's status.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusKept {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<prost_types::Timestamp>,
        #[prost(int32, tag = "2")]
        pub state: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NameKept {
        #[prost(string, tag = "1")]
        pub name: String,
    }
    /// What [`super::Object::projected`] keeps of a task, by the task's field numbers.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TaskKept {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub meta: Option<crate::pb::docker::swarmkit::v1::Meta>,
        #[prost(string, tag = "4")]
        pub service_id: String,
        #[prost(uint64, tag = "5")]
        pub slot: u64,
        #[prost(string, tag = "6")]
        pub node_id: String,
        #[prost(message, optional, tag = "7")]
        pub annotations: Option<NameKept>,
        #[prost(message, optional, tag = "8")]
        pub service_annotations: Option<NameKept>,
        #[prost(message, optional, tag = "9")]
        pub status: Option<StatusKept>,
        #[prost(int32, tag = "10")]
        pub desired_state: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TaskHead {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "4")]
        pub service_id: String,
        #[prost(uint64, tag = "5")]
        pub slot: u64,
        #[prost(string, tag = "6")]
        pub node_id: String,
        #[prost(message, optional, tag = "9")]
        pub status: Option<StateOnly>,
        #[prost(int32, tag = "10")]
        pub desired_state: i32,
        #[prost(message, optional, tag = "16")]
        pub job_iteration: Option<IndexOnly>,
    }
}

/// Partial messages for [`Object::light`]: only what an entry's summary reads of an object.
mod light {
    use crate::pb::docker::swarmkit::v1 as api;
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NameOnly {
        #[prost(string, tag = "1")]
        pub name: String,
    }
    /// A spec whose field 1 is its `Annotations`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SpecName {
        #[prost(message, optional, tag = "1")]
        pub annotations: Option<NameOnly>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HostOnly {
        #[prost(string, tag = "1")]
        pub hostname: String,
    }
    /// Node, Service, Network, Cluster, Secret, Config, Volume: `id` 1, `meta` 2, `spec` 3 (its
    /// annotations at 1); a node's `description` 4.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WithSpec {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub meta: Option<api::Meta>,
        #[prost(message, optional, tag = "3")]
        pub spec: Option<SpecName>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NodeLight {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub meta: Option<api::Meta>,
        #[prost(message, optional, tag = "3")]
        pub spec: Option<SpecName>,
        #[prost(message, optional, tag = "4")]
        pub description: Option<HostOnly>,
    }
    /// Resource, Extension: `annotations` at 3.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WithAnnotations {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub meta: Option<api::Meta>,
        #[prost(message, optional, tag = "3")]
        pub annotations: Option<NameOnly>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeOnly {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<prost_types::Timestamp>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TaskLight {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub meta: Option<api::Meta>,
        #[prost(uint64, tag = "5")]
        pub slot: u64,
        #[prost(string, tag = "6")]
        pub node_id: String,
        #[prost(message, optional, tag = "7")]
        pub annotations: Option<NameOnly>,
        #[prost(message, optional, tag = "8")]
        pub service_annotations: Option<NameOnly>,
        #[prost(message, optional, tag = "9")]
        pub status: Option<TimeOnly>,
    }
}

impl Object {
    /// An object of `kind` with only what an entry's summary reads of it, from its encoding:
    /// `id`, `meta`, the name ([`Object::name`]: annotations, a node's hostname, a task's slot,
    /// node and service name) and a task's status time ([`crate::decode::entry::object_time`]).
    /// Every other field is left at its default. For input the whole message's decoder accepts,
    /// `id`, `name()`, `version()` and the time equal those of the whole decoded object; callers
    /// check the message first ([`crate::format::wirecheck::check`]).
    pub fn light(kind: Kind, b: &[u8]) -> Result<Object, prost::DecodeError> {
        use light::*;
        use prost::Message as _;
        let ann = |a: Option<NameOnly>| a.map(|a| api::Annotations { name: a.name, ..Default::default() });
        let spec_ann = |s: Option<SpecName>| s.and_then(|s| ann(s.annotations));
        Ok(match kind {
            Kind::Node => {
                let n = NodeLight::decode(b)?;
                Object::Node(api::Node {
                    id: n.id,
                    meta: n.meta,
                    spec: Some(api::NodeSpec { annotations: spec_ann(n.spec), ..Default::default() }),
                    description: n
                        .description
                        .map(|d| api::NodeDescription { hostname: d.hostname, ..Default::default() }),
                    ..Default::default()
                })
            }
            Kind::Task => {
                let t = TaskLight::decode(b)?;
                Object::Task(api::Task {
                    id: t.id,
                    meta: t.meta,
                    slot: t.slot,
                    node_id: t.node_id,
                    annotations: ann(t.annotations),
                    service_annotations: ann(t.service_annotations),
                    status: t.status.map(|s| api::TaskStatus { timestamp: s.timestamp, ..Default::default() }),
                    ..Default::default()
                })
            }
            Kind::Resource | Kind::Extension => {
                let r = WithAnnotations::decode(b)?;
                let (id, meta, annotations) = (r.id, r.meta, ann(r.annotations));
                if kind == Kind::Resource {
                    Object::Resource(api::Resource { id, meta, annotations, ..Default::default() })
                } else {
                    Object::Extension(api::Extension { id, meta, annotations, ..Default::default() })
                }
            }
            _ => {
                let o = WithSpec::decode(b)?;
                let (id, meta, annotations) = (o.id, o.meta, spec_ann(o.spec));
                match kind {
                    Kind::Service => Object::Service(api::Service {
                        id,
                        meta,
                        spec: Some(api::ServiceSpec { annotations, ..Default::default() }),
                        ..Default::default()
                    }),
                    Kind::Network => Object::Network(api::Network {
                        id,
                        meta,
                        spec: Some(api::NetworkSpec { annotations, ..Default::default() }),
                        ..Default::default()
                    }),
                    Kind::Cluster => Object::Cluster(api::Cluster {
                        id,
                        meta,
                        spec: Some(api::ClusterSpec { annotations, ..Default::default() }),
                        ..Default::default()
                    }),
                    Kind::Secret => Object::Secret(api::Secret {
                        id,
                        meta,
                        spec: Some(api::SecretSpec { annotations, ..Default::default() }),
                        ..Default::default()
                    }),
                    Kind::Config => Object::Config(api::Config {
                        id,
                        meta,
                        spec: Some(api::ConfigSpec { annotations, ..Default::default() }),
                    }),
                    _ => Object::Volume(api::Volume {
                        id,
                        meta,
                        spec: Some(api::VolumeSpec { annotations, ..Default::default() }),
                        ..Default::default()
                    }),
                }
            }
        })
    }
}

impl Head {
    /// Read the head of an encoded object of `kind`. For input that the whole message's decoder
    /// accepts, this gives what decoding it whole and reading the fields gives (prost merges
    /// repeated occurrences of a field the same way in both); callers check the message first
    /// ([`crate::format::wirecheck::check`]) when they need the whole to be sound.
    pub fn read(kind: Kind, b: &[u8]) -> Result<Head, prost::DecodeError> {
        use prost::Message as _;
        if kind != Kind::Task {
            return Ok(Head { id: partial::IdOnly::decode(b)?.id, task: None });
        }
        let t = partial::TaskHead::decode(b)?;
        Ok(Head {
            id: t.id,
            task: Some(TaskFields {
                service_id: t.service_id,
                node_id: t.node_id,
                slot: t.slot,
                state: t.status.map(|s| s.state).unwrap_or(0),
                desired_state: t.desired_state,
                job_iteration: t.job_iteration.map(|v| v.index),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> api::Task {
        api::Task {
            id: "t1".into(),
            service_id: "s1".into(),
            node_id: "n1".into(),
            slot: 7,
            status: Some(api::TaskStatus {
                state: api::TaskState::Running as i32,
                err: "x".into(),
                ..Default::default()
            }),
            desired_state: api::TaskState::Shutdown as i32,
            job_iteration: Some(api::Version { index: 42 }),
            ..Default::default()
        }
    }

    #[test]
    fn a_head_reads_what_the_whole_decoding_gives() {
        let t = task();
        let b = Object::Task(t.clone()).encode();
        assert_eq!(Head::read(Kind::Task, &b).unwrap(), Head { id: "t1".into(), task: Some(TaskFields::of(&t)) });
        // No status, no job iteration: the defaults the decoded task gives.
        let bare = api::Task { id: "t2".into(), ..Default::default() };
        let b = Object::Task(bare.clone()).encode();
        assert_eq!(Head::read(Kind::Task, &b).unwrap().task, Some(TaskFields::of(&bare)));
        let n = Object::Node(api::Node { id: "n1".into(), ..Default::default() }).encode();
        assert_eq!(Head::read(Kind::Node, &n).unwrap(), Head { id: "n1".into(), task: None });
    }

    #[test]
    fn a_field_written_twice_reads_as_prost_merges_it() {
        // Task.status (field 9) twice: prost merges the messages, the later state wins.
        let mut b = Object::Task(task()).encode();
        b.extend_from_slice(&[0x4a, 0x02, 0x10, 0x05]); // field 9, len 2: { state (2) = 5 }
        let whole = match Object::decode(Kind::Task, b.clone().into()).unwrap() {
            Object::Task(t) => t,
            _ => unreachable!(),
        };
        assert_eq!(whole.status.as_ref().unwrap().err, "x");
        assert_eq!(Head::read(Kind::Task, &b).unwrap().task, Some(TaskFields::of(&whole)));
        assert_eq!(TaskFields::of(&whole).state, 5);
    }

    #[test]
    fn a_truncated_head_is_an_error() {
        let b = Object::Task(task()).encode();
        assert!(Head::read(Kind::Task, &b[..b.len() - 1]).is_err());
    }
}
