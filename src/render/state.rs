//! `state`: the swarm as `docker node ls`, `docker service ls` and `docker service ps` would have
//! shown it at a point of the log, plus networks, secrets, configs, the cluster object and raft
//! membership. JSON objects use the Docker Engine API's shape ([`crate::decode::docker_api`]).
//!
//! Every form is written into a writer as it is rendered: the JSON document and the NDJSON
//! records make each object's `Value` when it is written and drop it after, so memory does not
//! grow with the number of objects (beyond the store itself); the text form writes one table at
//! a time.

use super::json::Record;
use super::table::Table;
use crate::decode::docker_api::{self as dapi, Redaction};
use crate::decode::object::{Kind, Membership, Object, service_name};
use crate::pb::docker::swarmkit::v1 as api;
use crate::replay::engine::Replayed;
use crate::replay::store::{Store, TaskKey};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Filters for `state` (and `timeline`).
#[derive(Debug, Default, Clone)]
pub struct StateFilter {
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this service (name, ID or ID prefix) and its tasks.
    pub service: Option<String>,
    /// Only this node (hostname, ID or ID prefix) and its tasks.
    pub node: Option<String>,
    /// Only tasks in this current state (`running`, `failed`, ...).
    pub state: Option<String>,
}

/// Does query `q` name this object: its ID, its name, or an ID prefix of 3 characters or more.
pub fn matches_id_or_name(q: &str, id: &str, name: &str) -> bool {
    id == q || name == q || (q.len() >= 3 && id.starts_with(q))
}

/// `REPLICAS` as swarmkit's `ListServiceStatuses` computes it: (running, desired, is_job).
/// Running counts tasks in state RUNNING whatever their node; for jobs only tasks of the current
/// job iteration count. Desired is the replica count (max concurrent for replicated jobs), or,
/// for global services and jobs, the tasks whose desired state is RUNNING plus those desired
/// COMPLETE that are not complete yet.
pub fn replicas(s: &api::Service, st: &Store) -> (u64, u64, bool) {
    let tasks: Vec<&TaskKey> = st.task_keys().filter(|(_, t)| t.service_id == s.id).map(|(_, t)| t).collect();
    replicas_of(s, &tasks)
}

/// Task keys grouped by service ID, in one pass over the tasks: what the replica counts of every
/// service read, so a state of S services and T tasks costs O(T) and not O(S x T).
pub struct ByService<'a>(std::collections::HashMap<&'a str, Vec<&'a TaskKey>>);

impl<'a> ByService<'a> {
    /// Group the store's tasks.
    pub fn of(st: &'a Store) -> ByService<'a> {
        let mut m: std::collections::HashMap<&str, Vec<&TaskKey>> = std::collections::HashMap::new();
        for (_, t) in st.task_keys() {
            m.entry(t.service_id.as_str()).or_default().push(t);
        }
        ByService(m)
    }

    /// The keys of one service's tasks.
    pub fn tasks(&self, service_id: &str) -> &[&'a TaskKey] {
        self.0.get(service_id).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// [`replicas`] over the keys of the service's own tasks.
pub fn replicas_of(s: &api::Service, tasks: &[&TaskKey]) -> (u64, u64, bool) {
    use api::service_spec::Mode;
    let iteration = s.job_status.as_ref().map(|j| j.job_iteration.as_ref().map(|v| v.index).unwrap_or(0));
    let running_state = api::TaskState::Running as i32;
    let complete = api::TaskState::Complete as i32;
    let mode = s.spec.as_ref().and_then(|x| x.mode);
    let (mut desired, global) = match mode {
        Some(Mode::Replicated(r)) => (r.replicas, false),
        Some(Mode::ReplicatedJob(j)) => (j.max_concurrent, false),
        _ => (0, true),
    };
    let mut running = 0;
    for t in tasks {
        if let Some(it) = iteration {
            if t.job_iteration != Some(it) {
                continue;
            }
        }
        let state = t.state;
        if state == running_state {
            running += 1;
        }
        if global && t.desired_state == running_state {
            desired += 1;
        }
        if global && state != complete && t.desired_state == complete {
            desired += 1;
        }
    }
    (running, desired, iteration.is_some())
}

fn mode_name(s: &api::Service) -> &'static str {
    use api::service_spec::Mode;
    match s.spec.as_ref().and_then(|x| x.mode) {
        Some(Mode::Replicated(_)) => "replicated",
        Some(Mode::Global(_)) => "global",
        Some(Mode::ReplicatedJob(_)) => "replicated job",
        Some(Mode::GlobalJob(_)) => "global job",
        None => "replicated",
    }
}

fn image(s: Option<&api::TaskSpec>) -> String {
    let img = s
        .and_then(|t| match &t.runtime {
            Some(api::task_spec::Runtime::Container(c)) => Some(c.image.clone()),
            _ => None,
        })
        .unwrap_or_default();
    // `docker service ls` strips the digest.
    img.split('@').next().unwrap_or("").to_string()
}

fn ports(s: &api::Service) -> String {
    let ps = s
        .endpoint
        .as_ref()
        .map(|e| e.ports.clone())
        .filter(|p| !p.is_empty())
        .or_else(|| s.spec.as_ref().and_then(|x| x.endpoint.as_ref()).map(|e| e.ports.clone()))
        .unwrap_or_default();
    ps.iter()
        .filter(|p| p.publish_mode == 0)
        .map(|p| {
            let proto = match p.protocol {
                1 => "udp",
                2 => "sctp",
                _ => "tcp",
            };
            format!("*:{}->{}/{proto}", p.published_port, p.target_port)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ts(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(dapi::timestamp).unwrap_or_default()
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Node ID -> hostname, for every node that has one: built once per table, so that naming the
/// node of each task does not decode a node per row.
pub fn hostnames(st: &Store) -> std::collections::HashMap<String, String> {
    st.nodes()
        .filter_map(|n| {
            let h = n.description.map(|d| d.hostname).filter(|h| !h.is_empty())?;
            Some((n.id, h))
        })
        .collect()
}

/// Selected objects of a store, after filters, as IDs (in ID order): each object is decoded
/// when its row or record is written. Services are few and are sorted by name, so they are
/// kept decoded.
pub struct Selection<'a> {
    /// Node IDs.
    pub nodes: Vec<&'a str>,
    /// Services.
    pub services: Vec<api::Service>,
    /// Task IDs.
    pub tasks: Vec<&'a str>,
    /// IDs of other objects by kind.
    pub others: BTreeMap<Kind, Vec<&'a str>>,
}

/// Apply filters.
pub fn select<'a>(st: &'a Store, f: &StateFilter) -> Selection<'a> {
    let want = |k: Kind| f.kind.is_none_or(|x| x == k);
    let svc_ok = |s: &api::Service| f.service.as_ref().is_none_or(|q| matches_id_or_name(q, &s.id, &service_name(s)));
    let nodes: Vec<&str> = match (&f.node, want(Kind::Node)) {
        (_, false) => vec![],
        (None, true) => st.ids(Kind::Node).collect(),
        (Some(q), true) => {
            let names = hostnames(st);
            st.ids(Kind::Node)
                .filter(|id| matches_id_or_name(q, id, names.get(*id).map(String::as_str).unwrap_or("")))
                .collect()
        }
    };
    let services: Vec<api::Service> = if want(Kind::Service) || (f.kind == Some(Kind::Task)) {
        st.services().filter(|s| svc_ok(s)).collect()
    } else {
        vec![]
    };
    let svc_ids: std::collections::BTreeSet<&str> = services.iter().map(|s| s.id.as_str()).collect();
    let tasks: Vec<&str> = if want(Kind::Task) {
        let names = if f.node.is_some() { hostnames(st) } else { Default::default() };
        st.task_keys()
            .filter(|(_, t)| f.service.is_none() || svc_ids.contains(t.service_id.as_str()))
            .filter(|(_, t)| {
                f.node.as_ref().is_none_or(|q| {
                    let host = names.get(&t.node_id).map(String::as_str).unwrap_or(&t.node_id);
                    matches_id_or_name(q, &t.node_id, host)
                })
            })
            .filter(|(_, t)| f.state.as_ref().is_none_or(|q| dapi::task_state(t.state) == q))
            .map(|(id, _)| id)
            .collect()
    } else {
        vec![]
    };
    let services = if want(Kind::Service) { services } else { vec![] };
    let mut others = BTreeMap::new();
    let scoped = f.service.is_some() || f.node.is_some() || f.state.is_some();
    for k in [Kind::Network, Kind::Secret, Kind::Config, Kind::Cluster, Kind::Volume] {
        if want(k) && (!scoped || f.kind == Some(k)) {
            others.insert(k, st.ids(k).collect());
        }
    }
    Selection { nodes, services, tasks, others }
}

/// The JSON document's arrays of objects, in document order: (kind, key).
const OBJECT_KEYS: [(Kind, &str); 8] = [
    (Kind::Node, "nodes"),
    (Kind::Service, "services"),
    (Kind::Task, "tasks"),
    (Kind::Network, "networks"),
    (Kind::Secret, "secrets"),
    (Kind::Config, "configs"),
    (Kind::Cluster, "clusters"),
    (Kind::Volume, "volumes"),
];

/// A state view ready to be written: the replayed point, the filtered selection and how to
/// print the objects. Objects become Docker API JSON one at a time, as they are written.
struct View<'a> {
    r: &'a Replayed,
    sel: Selection<'a>,
    red: &'a Redaction,
    self_node: Option<&'a str>,
    leader: Option<u64>,
    // node ID -> (raft ID, address)
    members: BTreeMap<&'a str, (u64, &'a str)>,
    by_service: ByService<'a>,
}

impl<'a> View<'a> {
    fn new(
        r: &'a Replayed,
        f: &StateFilter,
        red: &'a Redaction,
        self_node: Option<&'a str>,
        leader: Option<u64>,
    ) -> View<'a> {
        let members = r.membership.members.iter().map(|(id, (n, a))| (n.as_str(), (*id, a.as_str()))).collect();
        View { r, sel: select(&r.store, f), red, self_node, leader, members, by_service: ByService::of(&r.store) }
    }

    fn node(&self, n: &api::Node) -> Value {
        let m = self.members.get(n.id.as_str()).map(|(rid, a)| dapi::RaftManager {
            addr: a.to_string(),
            leader: self.leader == Some(*rid) || n.manager_status.as_ref().is_some_and(|m| m.leader),
            reachability: n.manager_status.as_ref().map(|m| m.reachability).unwrap_or(0),
        });
        let mut v = dapi::node_with_manager(n, self.red, m.as_ref());
        if let (Some(s), Value::Object(o)) = (self.self_node, &mut v) {
            if s == n.id {
                o.insert("Self".into(), Value::Bool(true));
            }
        }
        v
    }

    fn service(&self, s: &api::Service) -> Value {
        let mut v = dapi::service(s, self.red);
        let tasks = self.by_service.tasks(&s.id);
        let (running, desired, job) = replicas_of(s, tasks);
        if let Value::Object(o) = &mut v {
            let mut status = json!({"RunningTasks": running, "DesiredTasks": desired});
            if job {
                let done = tasks.iter().filter(|t| t.state == api::TaskState::Complete as i32).count();
                status["CompletedTasks"] = json!(done);
            }
            o.insert("ServiceStatus".into(), status);
        }
        v
    }

    fn other(&self, o: &Object) -> Option<Value> {
        match o {
            Object::Network(n) => Some(dapi::network_swarm(n)),
            Object::Secret(s) => Some(dapi::secret(s, self.red)),
            Object::Config(c) => Some(dapi::config(c, self.red)),
            Object::Cluster(c) => Some(dapi::cluster(c, self.red)),
            Object::Volume(v) => Some(dapi::volume(v)),
            _ => None,
        }
    }

    /// The document's fields that are not arrays of objects, in document order (`membership`
    /// comes last in the document, after the objects).
    fn header(&self) -> Header<'_> {
        let r = self.r;
        Header {
            index: r.index,
            term: r.term,
            time: r.time,
            base_snapshot: r.base.as_deref(),
            applied_entries: r.applied,
            uncommitted_applied: &r.uncommitted,
            notes: &r.notes,
            membership: &r.membership,
            quorum: crate::analyses::quorum::Quorum::of_membership(&r.membership),
            topology: crate::analyses::quorum::topology(&r.membership),
        }
    }
}

/// The `state` document's scalar fields (and membership); the NDJSON header record.
#[derive(Serialize)]
struct Header<'a> {
    index: u64,
    term: u64,
    time: Option<jiff::Timestamp>,
    base_snapshot: Option<&'a str>,
    applied_entries: usize,
    uncommitted_applied: &'a [u64],
    notes: &'a [String],
    membership: &'a Membership,
    quorum: crate::analyses::quorum::Quorum,
    topology: crate::analyses::quorum::Topology,
}

/// The NDJSON header record: `{"kind": "header", ...Header}`.
#[derive(Serialize)]
struct HeaderRecord<'a> {
    kind: &'static str,
    #[serde(flatten)]
    header: Header<'a>,
}

impl View<'_> {
    /// How many objects of kind `k` are selected (some may be gone from the store: see
    /// [`View::nth`]).
    fn count(&self, k: Kind) -> usize {
        match k {
            Kind::Node => self.sel.nodes.len(),
            Kind::Service => self.sel.services.len(),
            Kind::Task => self.sel.tasks.len(),
            k => self.sel.others.get(&k).map_or(0, Vec::len),
        }
    }

    /// The `i`th selected object of kind `k` as Docker API JSON; `None` when it is not there
    /// (left out of the output).
    fn nth(&self, k: Kind, i: usize) -> Option<Value> {
        match k {
            Kind::Node => self.sel.nodes.get(i).and_then(|id| self.r.store.node(id)).map(|n| self.node(&n)),
            Kind::Service => self.sel.services.get(i).map(|s| self.service(s)),
            Kind::Task => self.sel.tasks.get(i).and_then(|id| self.r.store.task(id)).map(|t| dapi::task(&t, self.red)),
            k => self
                .sel
                .others
                .get(&k)
                .and_then(|ids| ids.get(i))
                .and_then(|id| self.r.store.get(k, id))
                .and_then(|o| self.other(&o)),
        }
    }
}

/// Write the JSON form: `{"index", "term", "time", "base_snapshot", "applied_entries",
/// "uncommitted_applied", "notes", "nodes", "services", "tasks", "networks", "secrets",
/// "configs", "clusters", "volumes", "membership", "quorum", "topology"}`. The objects are made
/// and printed on the rayon pool a window at a time and written in order: the bytes are those
/// of the same document printed whole by serde_json.
/// `leader` is the raft ID of the leader when it is known (see [`crate::replay::point::probable_leader`]).
pub fn write_json<W: Write + ?Sized>(
    w: &mut W,
    r: &Replayed,
    f: &StateFilter,
    red: &Redaction,
    self_node: Option<&str>,
    leader: Option<u64>,
) -> io::Result<()> {
    let v = View::new(r, f, red, self_node, leader);
    let h = v.header();
    let mut b = io::BufWriter::with_capacity(1 << 16, &mut *w);
    let mut o = super::json::PrettyObject::new(&mut b)?;
    o.member("index", &h.index)?;
    o.member("term", &h.term)?;
    o.member("time", &h.time)?;
    o.member("base_snapshot", &h.base_snapshot)?;
    o.member("applied_entries", &h.applied_entries)?;
    o.member("uncommitted_applied", &h.uncommitted_applied)?;
    o.member("notes", &h.notes)?;
    for (k, key) in OBJECT_KEYS {
        o.array(key, v.count(k), |i| v.nth(k, i))?;
    }
    o.member("membership", &h.membership)?;
    o.member("quorum", &h.quorum)?;
    o.member("topology", &h.topology)?;
    o.end()?;
    b.flush()
}

/// Write the NDJSON form: a header record `{"kind": "header", "index", "term", "time",
/// "base_snapshot", "applied_entries", "uncommitted_applied", "notes", "membership"}`, then one
/// record `{"kind": "node" | "service" | "task" | ..., "object": {...}}` per object, in the JSON
/// document's order and with the objects the document holds.
pub fn write_ndjson<W: Write + ?Sized>(
    w: &mut W,
    r: &Replayed,
    f: &StateFilter,
    red: &Redaction,
    self_node: Option<&str>,
    leader: Option<u64>,
) -> io::Result<()> {
    let v = View::new(r, f, red, self_node, leader);
    super::json::line(w, &HeaderRecord { kind: "header", header: v.header() })?;
    let mut b = io::BufWriter::with_capacity(1 << 16, &mut *w);
    for (k, _) in OBJECT_KEYS {
        super::json::par_ordered(
            v.count(k),
            |i, out| match v.nth(k, i) {
                Some(o) => super::json::line(out, &Record { kind: k.name(), object: o }),
                None => Ok(()),
            },
            |part| b.write_all(part),
        )?;
    }
    b.flush()
}

/// Write what `o` holds, then the table; `o` is left empty.
fn put<W: Write + ?Sized>(w: &mut W, o: &mut String, t: &Table) -> io::Result<()> {
    w.write_all(o.as_bytes())?;
    o.clear();
    t.write(w)
}

/// The MANAGER STATUS column in Docker's words, from evidence only: `Leader` when the data names
/// this node the leader (the vote of the last term, or the node object's own flag), `Reachable`
/// or `Unreachable` as the leader last wrote them into the node object; blank otherwise (a
/// worker, or a manager whose reachability the data does not record). Never a word Docker does
/// not print.
pub fn manager_status(n: &api::Node, raft_id: Option<u64>, leader: Option<u64>) -> String {
    match (&n.manager_status, raft_id) {
        (_, Some(rid)) if leader == Some(rid) => "Leader".to_string(),
        (Some(m), _) if m.leader => "Leader".to_string(),
        (Some(m), _) if m.reachability == 1 => "Unreachable".to_string(),
        (Some(m), _) if m.reachability == 2 => "Reachable".to_string(),
        _ => String::new(),
    }
}

/// Write the text form, one section at a time.
pub fn write_text<W: Write + ?Sized>(
    w: &mut W,
    r: &Replayed,
    f: &StateFilter,
    self_node: Option<&str>,
    leader: Option<u64>,
) -> io::Result<()> {
    let st = &r.store;
    let sel = select(st, f);
    let mut o = String::new();
    o.push_str(&format!("STATE at index {} (term {})", r.index, r.term));
    if let Some(t) = r.time {
        o.push_str(&format!(", last write {t}"));
    }
    match &r.base {
        Some(b) => o.push_str(&format!(", from snapshot {b} + {} entries\n", r.applied)),
        None => o.push_str(&format!(", replayed from index 1 ({} entries)\n", r.applied)),
    }
    if !r.uncommitted.is_empty() {
        o.push_str(&format!(
            "UNCOMMITTED entries applied: {} (raft may still discard them)\n",
            r.uncommitted.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    for n in &r.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    if f.kind.is_none_or(|k| k == Kind::Node) && !(f.service.is_some() && f.node.is_none()) {
        o.push_str("\nNODES\n");
        let mut t = Table::new(&["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"]);
        for n in sel.nodes.iter().filter_map(|id| st.node(id)) {
            let star = if self_node == Some(n.id.as_str()) { " *" } else { "" };
            let host = n.description.as_ref().map(|d| d.hostname.clone()).unwrap_or_default();
            let status = cap(dapi::node_state(n.status.as_ref().map(|s| s.state).unwrap_or(0)));
            let avail = cap(dapi::availability(n.spec.as_ref().map(|s| s.availability).unwrap_or(0)));
            let raft_id = r.membership.members.iter().find(|(_, (id, _))| *id == n.id).map(|(rid, _)| *rid);
            let mgr = manager_status(&n, raft_id, leader);
            let ev = n
                .description
                .as_ref()
                .and_then(|d| d.engine.as_ref())
                .map(|e| e.engine_version.clone())
                .unwrap_or_default();
            t.row(vec![format!("{}{star}", n.id), host, status, avail, mgr, ev]);
        }
        put(w, &mut o, &t)?;
    }
    if f.kind.is_none_or(|k| k == Kind::Service) && f.node.is_none() && f.state.is_none() {
        o.push_str("\nSERVICES\n");
        let mut t = Table::new(&["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]);
        let mut svcs: Vec<&api::Service> = sel.services.iter().collect();
        svcs.sort_by_key(|s| service_name(s));
        let by_service = ByService::of(st);
        for s in svcs {
            let (run, des, _) = replicas_of(s, by_service.tasks(&s.id));
            let id: String = s.id.chars().take(12).collect();
            t.row(vec![
                id,
                service_name(s),
                mode_name(s).into(),
                format!("{run}/{des}"),
                image(s.spec.as_ref().and_then(|x| x.task.as_ref())),
                ports(s),
            ]);
        }
        put(w, &mut o, &t)?;
    }
    if f.kind.is_none_or(|k| k == Kind::Task) {
        o.push_str("\nTASKS\n");
        put(w, &mut o, &tasks_table_of(st, &sel.tasks))?;
    }
    if f.service.is_none() && f.node.is_none() && f.state.is_none() {
        if let Some(nets) = sel.others.get(&Kind::Network) {
            o.push_str("\nNETWORKS\n");
            let mut t = Table::new(&["ID", "NAME", "DRIVER", "SCOPE", "SUBNETS", "VERSION"]);
            for x in nets.iter().filter_map(|id| st.get(Kind::Network, id)) {
                if let Object::Network(n) = &x {
                    let spec = n.spec.as_ref();
                    let driver = n
                        .driver_state
                        .as_ref()
                        .map(|d| d.name.clone())
                        .or_else(|| spec.and_then(|s| s.driver_config.as_ref()).map(|d| d.name.clone()))
                        .unwrap_or_default();
                    let predefined = spec
                        .and_then(|s| s.annotations.as_ref())
                        .is_some_and(|a| a.labels.get("com.docker.swarm.predefined").is_some_and(|v| v == "true"));
                    let subnets = n
                        .ipam
                        .as_ref()
                        .map(|i| i.configs.iter().map(|c| c.subnet.clone()).collect::<Vec<_>>().join(","))
                        .unwrap_or_default();
                    let id: String = n.id.chars().take(12).collect();
                    t.row(vec![
                        id,
                        x.name(),
                        driver,
                        if predefined { "local".into() } else { "swarm".into() },
                        subnets,
                        x.version().to_string(),
                    ]);
                }
            }
            put(w, &mut o, &t)?;
        }
        for (k, title) in [(Kind::Secret, "SECRETS"), (Kind::Config, "CONFIGS")] {
            if let Some(v) = sel.others.get(&k) {
                o.push_str(&format!("\n{title} (data redacted)\n"));
                let mut t = Table::new(&["ID", "NAME", "CREATED", "UPDATED", "VERSION"]);
                for x in v.iter().filter_map(|id| st.get(k, id)) {
                    let m = x.meta();
                    t.row(vec![
                        x.id().to_string(),
                        x.name(),
                        m.map(|m| ts(&m.created_at)).unwrap_or_default(),
                        m.map(|m| ts(&m.updated_at)).unwrap_or_default(),
                        x.version().to_string(),
                    ]);
                }
                put(w, &mut o, &t)?;
            }
        }
        if let Some(cl) = sel.others.get(&Kind::Cluster) {
            for x in cl.iter().filter_map(|id| st.get(Kind::Cluster, id)) {
                if let Object::Cluster(c) = &x {
                    o.push_str(&cluster_text(c));
                }
            }
        }
        if f.kind.is_none() {
            o.push_str("\nRAFT MEMBERS\n");
            let mut t = Table::new(&["RAFT ID", "NODE ID", "ADDRESS"]);
            for (id, (n, a)) in &r.membership.members {
                t.row(vec![format!("{id:x}"), n.clone(), a.clone()]);
            }
            put(w, &mut o, &t)?;
            if !r.membership.removed.is_empty() {
                o.push_str(&format!(
                    "removed raft IDs: {}\n",
                    r.membership.removed.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(", ")
                ));
            }
            o.push_str(&super::quorum::text(&r.membership));
        }
    }
    w.write_all(o.as_bytes())
}

fn dur(d: &Option<prost_types::Duration>) -> String {
    match d {
        Some(d) if d.seconds % 3600 == 0 && d.nanos == 0 && d.seconds > 0 => format!("{}h", d.seconds / 3600),
        Some(d) => format!("{}s", d.seconds as f64 + d.nanos as f64 / 1e9),
        None => "-".into(),
    }
}

fn cluster_text(c: &api::Cluster) -> String {
    let spec = c.spec.clone().unwrap_or_default();
    let raft = spec.raft.unwrap_or_default();
    let mut o = String::from("\nCLUSTER\n");
    let kv = |o: &mut String, k: &str, v: String| o.push_str(&format!("  {:<32}{v}\n", format!("{k}:")));
    kv(&mut o, "ID", c.id.clone());
    kv(&mut o, "Name", spec.annotations.as_ref().map(|a| a.name.clone()).unwrap_or_default());
    kv(&mut o, "Version", Object::Cluster(c.clone()).version().to_string());
    kv(&mut o, "Snapshot interval", raft.snapshot_interval.to_string());
    kv(&mut o, "Keep old snapshots", raft.keep_old_snapshots.to_string());
    kv(&mut o, "Log entries for slow followers", raft.log_entries_for_slow_followers.to_string());
    kv(&mut o, "Heartbeat / election tick", format!("{} / {}", raft.heartbeat_tick, raft.election_tick));
    kv(
        &mut o,
        "Autolock",
        if spec.encryption_config.is_some_and(|e| e.auto_lock_managers) { "on".into() } else { "off".into() },
    );
    kv(
        &mut o,
        "Task history limit",
        spec.orchestration.map(|x| x.task_history_retention_limit.to_string()).unwrap_or_else(|| "-".into()),
    );
    kv(&mut o, "Node certificate expiry", dur(&spec.ca_config.as_ref().and_then(|x| x.node_cert_expiry)));
    if let Some(ca) = c.root_ca.as_ref().filter(|r| !r.ca_cert.is_empty()) {
        match crate::crypto::keys::parse_node_cert(&ca.ca_cert) {
            Ok(ci) => kv(&mut o, "Root CA expires", ci.not_after.to_string()),
            Err(e) => kv(&mut o, "Root CA", format!("unreadable: {e}")),
        }
    }
    o
}

/// `docker service ps` for a set of tasks: grouped by name (`service.slot`), newest first, older
/// ones under ` \_ `.
pub fn tasks_table(st: &Store, tasks: &[&str]) -> String {
    tasks_table_of(st, tasks).render()
}

/// [`tasks_table`] as a table. Tasks are grouped by their keys and decoded one group at a time.
fn tasks_table_of(st: &Store, tasks: &[&str]) -> Table {
    let svc_names: std::collections::HashMap<String, String> =
        st.services().map(|s| (service_name(&s), s.id)).map(|(n, id)| (id, n)).collect();
    let hosts = hostnames(st);
    let wanted: std::collections::HashSet<&str> = tasks.iter().copied().collect();
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (id, k) in st.task_keys().filter(|(id, _)| wanted.contains(id)) {
        let name = match svc_names.get(&k.service_id) {
            Some(n) if !n.is_empty() => {
                if k.slot != 0 {
                    format!("{n}.{}", k.slot)
                } else {
                    format!("{n}.{}", k.node_id)
                }
            }
            _ => st.task(id).map(|t| crate::decode::object::task_name(&t)).unwrap_or_default(),
        };
        groups.entry(name).or_default().push(id);
    }
    let mut tb = Table::new(&["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"]);
    for (name, ids) in groups {
        let mut ts_: Vec<api::Task> = ids.iter().filter_map(|id| st.task(id)).collect();
        ts_.sort_by(|a, b| {
            let ka = a.meta.as_ref().and_then(|m| m.created_at).map(|t| (t.seconds, t.nanos));
            let kb = b.meta.as_ref().and_then(|m| m.created_at).map(|t| (t.seconds, t.nanos));
            kb.cmp(&ka)
        });
        for (i, t) in ts_.iter().enumerate() {
            let status = t.status.clone().unwrap_or_default();
            let cur = format!("{} {}", cap(dapi::task_state(status.state)), ts(&status.timestamp));
            let err = if status.err.is_empty() { String::new() } else { format!("\"{}\"", status.err) };
            let ports = status
                .port_status
                .as_ref()
                .map(|p| {
                    p.ports
                        .iter()
                        .map(|x| format!("*:{}->{}/tcp", x.published_port, x.target_port))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let id: String = t.id.chars().take(12).collect();
            let node = match hosts.get(&t.node_id) {
                _ if t.node_id.is_empty() => String::new(),
                Some(h) => h.clone(),
                None => t.node_id.clone(),
            };
            tb.row(vec![
                id,
                if i == 0 { name.clone() } else { format!(" \\_ {name}") },
                image(t.spec.as_ref()),
                node,
                cap(dapi::task_state(t.desired_state)),
                cur.trim_end().to_string(),
                err,
                ports,
            ]);
        }
    }
    tb
}
