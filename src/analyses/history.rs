//! History, diffs and the timeline: what changed, when, and how.
//!
//! [`walk`] replays the log once from its earliest reachable point (an empty store when the WAL
//! reaches index 1, else the oldest valid snapshot) and hands every store action to a visitor
//! together with the object's previous version, so each analysis sees (before, after) pairs
//! without keeping the log in memory. Field-level diffs are computed on the Docker Engine API
//! JSON form of objects (so paths read like `Spec.TaskTemplate.ContainerSpec.Env[0]`), with
//! secrets redacted unless asked.

use crate::decode::docker_api::{self as dapi, Redaction};
use crate::decode::object::{Kind, Object, Verb, service_name};
use crate::error::{Code, Finding, Severity};
use crate::replay::analysis::Analysis;
use crate::replay::store::Store;
use serde::Serialize;
use serde_json::{Value, json};

/// One field that changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// Dotted path in the Docker API form (`Spec.Availability`, `Status.State`, `Env[1]`).
    pub path: String,
    /// Old value (`null` when added).
    pub old: Value,
    /// New value (`null` when removed).
    pub new: Value,
}

/// Fields that change on every write and carry no information of their own.
const NOISE: &[&str] = &["Version", "UpdatedAt"];

/// Field-level diff of two JSON values.
pub fn diff_json(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    diff_at("", old, new, &mut out);
    out
}

fn diff_at(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                if path.is_empty() && NOISE.contains(&k.as_str()) {
                    continue;
                }
                diff_at(&join(k), va, b.get(k).unwrap_or(&Value::Null), out);
            }
            for (k, vb) in b {
                if !(a.contains_key(k) || path.is_empty() && NOISE.contains(&k.as_str())) {
                    diff_at(&join(k), &Value::Null, vb, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_at(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            // Show added and removed elements rather than a positional cascade.
            for x in a.iter().filter(|x| !b.contains(x)) {
                out.push(Change { path: format!("{path}[-]"), old: x.clone(), new: Value::Null });
            }
            for y in b.iter().filter(|y| !a.contains(y)) {
                out.push(Change { path: format!("{path}[+]"), old: Value::Null, new: y.clone() });
            }
        }
        _ => out.push(Change { path: path.to_string(), old: old.clone(), new: new.clone() }),
    }
}

/// Changes computed on tagged JSON ([`Redaction::marking`]) made printable: tags become
/// `<redacted>`, and a redacted value that changed reads `<redacted, changed>` on its new side.
pub fn unmark_changes(mut changes: Vec<Change>) -> Vec<Change> {
    for c in &mut changes {
        dapi::unmark_change(&mut c.old, &mut c.new);
    }
    changes
}

/// The Docker API JSON of any object.
pub fn object_json(o: &Object, red: &Redaction) -> Value {
    match o {
        Object::Node(n) => dapi::node(n, red),
        Object::Service(s) => dapi::service(s, red),
        Object::Task(t) => dapi::task(t, red),
        Object::Network(n) => dapi::network_swarm(n),
        Object::Secret(s) => dapi::secret(s, red),
        Object::Config(c) => dapi::config(c, red),
        Object::Cluster(c) => dapi::cluster(c, red),
        Object::Volume(v) => dapi::volume(v),
        Object::Resource(r) => json!({"ID": r.id, "Kind": r.kind, "Name": o.name()}),
        Object::Extension(e) => json!({"ID": e.id, "Name": o.name(), "Description": e.description}),
    }
}

pub use crate::replay::engine::{At, Step};

/// Walk the whole log from its earliest readable start (see [`crate::replay::engine::walk`]),
/// returning what the replay found on the way (store anomalies, unreadable entries, gaps, an
/// unknown commit index).
pub fn walk(a: &Analysis, include_uncommitted: bool, visit: impl FnMut(Step<'_>) + Send) -> Vec<Finding> {
    match crate::replay::engine::walk(a.log(), include_uncommitted, visit) {
        Ok(r) => a.rules().finding(&a.wal).into_iter().chain(r.findings).collect(),
        Err(e) => vec![Finding::new(Code::ReplayNoStart, Severity::Error, e)],
    }
}

/// One version of an object in its history.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// Where.
    #[serde(flatten)]
    pub at: At,
    /// `create`, `update`, `remove`, or `snapshot` for the base snapshot's copy.
    pub action: String,
    /// Kind.
    pub kind: Kind,
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// `Version.Index` carried.
    pub version: u64,
    /// Field changes against the previous version of the same object.
    pub changes: Vec<Change>,
    /// The object as the Docker API prints it.
    pub object: Value,
}

/// Find an object by ID, unique ID prefix or name anywhere in the log; returns (kind, id, name).
pub fn resolve_object(a: &Analysis, q: &str) -> Result<(Kind, String, String), String> {
    let mut cands: Vec<(Kind, String, String)> = Vec::new();
    let mut add = |k: Kind, id: &str, name: &str| {
        if id == q || name == q || id.starts_with(q) {
            let c = (k, id.to_string(), name.to_string());
            if !cands.iter().any(|x| x.0 == c.0 && x.1 == c.1) {
                cands.push(c);
            }
        }
    };
    for e in &a.entries {
        if let crate::decode::entry::Payload::Request { actions, .. } = &e.payload {
            for x in actions {
                add(x.kind, &x.id, &x.name);
            }
        }
    }
    for k in Kind::ALL {
        for o in a.state.iter(k) {
            add(k, o.id(), &o.name());
        }
    }
    if let Some(i) = a.snapshots.iter().position(|s| s.valid) {
        // Object by object into a projected store (names are kept): never the whole decoded
        // snapshot at once.
        let payload = a.snap_payloads[i].as_deref().unwrap_or(&[]);
        if let Ok((st, _)) = crate::replay::store::snapshot_store(
            payload,
            a.encrypted,
            &a.deks,
            crate::replay::store::Keep { projected_tasks: true, secret_data: false },
            &|_| (),
        ) {
            for k in Kind::ALL {
                for o in st.iter(k) {
                    add(k, o.id(), &o.name());
                }
            }
        }
    }
    // An exact ID wins; then an exact name; then a unique prefix.
    if let Some(c) = cands.iter().find(|c| c.1 == q) {
        return Ok(c.clone());
    }
    let named: Vec<_> = cands.iter().filter(|c| c.2 == q && !c.2.is_empty()).collect();
    if named.len() == 1 {
        return Ok(named[0].clone());
    }
    if named.len() > 1 {
        return Err(format!(
            "{q:?} names {} objects: {}",
            named.len(),
            named.iter().map(|c| format!("{} {}", c.0.name(), c.1)).collect::<Vec<_>>().join(", ")
        ));
    }
    match cands.len() {
        0 => Err(format!("no object with ID, ID prefix or name {q:?} in this log")),
        1 => Ok(cands[0].clone()),
        n => Err(format!("{q:?} is ambiguous: {n} objects match")),
    }
}

/// Every version of an object (and, with `tasks`, of a service's tasks), in log order.
pub fn history(a: &Analysis, kind: Kind, id: &str, tasks: bool, red: &Redaction) -> Vec<Version> {
    history_with_findings(a, kind, id, tasks, red).0
}

/// [`history`], with what the replay found on the way.
pub fn history_with_findings(
    a: &Analysis,
    kind: Kind,
    id: &str,
    tasks: bool,
    red: &Redaction,
) -> (Vec<Version>, Vec<Finding>) {
    let mut out = Vec::new();
    // Compared with redacted values tagged by their keyed hashes; untagged when kept.
    let red = &red.marking();
    let mut last: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let wanted = |o: &Object| -> bool {
        (o.kind() == kind && o.id() == id) || (tasks && matches!(o, Object::Task(t) if t.service_id == id))
    };
    let found = walk(a, true, |step| match step {
        Step::Base { file, index, store } => {
            for k in Kind::ALL {
                for o in store.iter(k).filter(|o| wanted(o)) {
                    let j = object_json(&o, red);
                    // A snapshot loaded again after damage shows an object only where it differs
                    // from the version the walk had.
                    let changes = match last.get(o.id()) {
                        Some(p) if *p == j => continue,
                        Some(p) => diff_json(p, &j),
                        None => vec![],
                    };
                    last.insert(o.id().to_string(), j.clone());
                    let mut object = j;
                    dapi::unmark(&mut object);
                    out.push(Version {
                        at: At { index, term: 0, time: None, committed: true, overwritten_by_term: None },
                        action: format!("snapshot {file}"),
                        kind: o.kind(),
                        id: o.id().to_string(),
                        name: o.name(),
                        version: o.version(),
                        changes: unmark_changes(changes),
                        object,
                    });
                }
            }
        }
        Step::Action { at, verb, before, after } if wanted(after) => {
            let j = object_json(after, red);
            let prev = last.get(after.id()).cloned().or_else(|| before.map(|b| object_json(b, red)));
            let changes = match (verb, &prev) {
                (Verb::Update, Some(p)) => diff_json(p, &j),
                _ => vec![],
            };
            if at.overwritten_by_term.is_none() {
                if verb == Verb::Remove {
                    last.remove(after.id());
                } else {
                    last.insert(after.id().to_string(), j.clone());
                }
            }
            let mut object = j;
            dapi::unmark(&mut object);
            out.push(Version {
                at: at.clone(),
                action: verb.name().to_string(),
                kind: after.kind(),
                id: after.id().to_string(),
                name: after.name(),
                version: after.version(),
                changes: unmark_changes(changes),
                object,
            });
        }
        _ => {}
    });
    (out, found)
}

/// Compact text of a JSON value for one-line diffs.
pub fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    if s.chars().count() > 120 { format!("{}...", s.chars().take(117).collect::<String>()) } else { s }
}

/// Differences between two stores.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StoreDiff {
    /// Objects only in the second store.
    pub created: Vec<ObjRef>,
    /// Objects only in the first.
    pub removed: Vec<ObjRef>,
    /// Objects in both whose content differs.
    pub updated: Vec<Updated>,
}

/// An object reference.
#[derive(Debug, Clone, Serialize)]
pub struct ObjRef {
    /// Kind.
    pub kind: Kind,
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.Index.
    pub version: u64,
}

/// An updated object.
#[derive(Debug, Clone, Serialize)]
pub struct Updated {
    /// Which.
    #[serde(flatten)]
    pub obj: ObjRef,
    /// Version before.
    pub from_version: u64,
    /// Field changes.
    pub changes: Vec<Change>,
}

/// Compare two stores.
pub fn diff_stores(a: &Store, b: &Store, red: &Redaction, kinds: Option<Kind>) -> StoreDiff {
    let mut d = StoreDiff::default();
    let red = &red.marking();
    let r = |o: &Object| ObjRef { kind: o.kind(), id: o.id().to_string(), name: o.name(), version: o.version() };
    for k in Kind::ALL.into_iter().filter(|k| kinds.is_none_or(|x| x == *k)) {
        for id in a.ids(k) {
            // Same bytes, same object: most objects of two nearby points, compared undecoded.
            if a.encoded(k, id) == b.encoded(k, id) {
                continue;
            }
            let Some(o) = a.get(k, id) else { continue };
            match b.get(k, id) {
                None => d.removed.push(r(&o)),
                Some(n) if n != o => {
                    let changes = unmark_changes(diff_json(&object_json(&o, red), &object_json(&n, red)));
                    d.updated.push(Updated { obj: r(&n), from_version: o.version(), changes });
                }
                _ => {}
            }
        }
        for id in b.ids(k) {
            if !a.contains(k, id) {
                if let Some(o) = b.get(k, id) {
                    d.created.push(r(&o));
                }
            }
        }
    }
    d
}

/// A timeline event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Where.
    #[serde(flatten)]
    pub at: At,
    /// Event class: `election`, `membership`, `quorum`, `node`, `service`, `task`, `snapshot`, `cluster`,
    /// `damage` (what the replay met: anomalies, unreadable entries, gaps, an unknown commit).
    pub class: &'static str,
    /// Object kind concerned, if any.
    pub kind: Option<Kind>,
    /// Object ID concerned, if any.
    pub id: Option<String>,
    /// One line.
    pub text: String,
}

impl Event {
    /// A `damage` event at `index` (term 0 when unknown): what the replay met, or a cut of the log.
    pub fn damage(index: u64, term: u64, text: String) -> Event {
        Event {
            at: At { index, term, time: None, committed: true, overwritten_by_term: None },
            class: "damage",
            kind: None,
            id: None,
            text,
        }
    }
}

fn jstr(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        o => o.to_string(),
    }
}

/// Build the timeline, secrets redacted.
pub fn timeline(a: &Analysis) -> Vec<Event> {
    timeline_with_findings(a, &Redaction::default()).0
}

/// The log cut short or damaged, said in a timeline as `state` says it
/// ([`crate::replay::point::log_cut`] at the end of the log): events after a cut are not in
/// this data; a damaged record the scan read past is an event at its entry's index, when known.
/// WAL damage the walk already met is an event where it is, and is not said twice; an archive
/// cut is always said. Each cut said is added to `found`.
pub fn timeline_cut(a: &Analysis, ev: &mut Vec<Event>, found: &mut Vec<Finding>) {
    let end = a.wal.last_index().unwrap_or(0);
    let walk_met_damage = !found.is_empty();
    for c in crate::replay::point::log_cut(a, end) {
        let archive = c.kind == crate::replay::point::CutKind::Archive;
        if found.contains(&c.finding) || (!archive && walk_met_damage) {
            continue;
        }
        let at = c.index().unwrap_or(end);
        let pos = ev.partition_point(|e| e.at.index <= at);
        ev.insert(pos, Event::damage(at, 0, c.timeline_note()));
        found.push(c.finding);
    }
}

/// [`timeline`], with what the replay found on the way (also shown as `damage` events). Spec
/// changes are compared with redacted values tagged by their keyed hashes, so a changed secret
/// value shows as `<redacted, changed>`; `red.show_secrets` shows the values.
pub fn timeline_with_findings(a: &Analysis, red: &Redaction) -> (Vec<Event>, Vec<Finding>) {
    let red = red.marking();
    let mut ev = Vec::new();
    let mut svc_names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut quorum = crate::analyses::quorum::Tracker::default();
    // A base after the walk began is the state taken again from a snapshot past damage or a hole.
    let mut walked = false;
    let found = walk(a, true, |step| {
        if !matches!(step, Step::Base { .. }) {
            walked = true;
        }
        match step {
            Step::Base { file, index, store } => {
                quorum.base(a.snapshots.iter().find(|s| s.file == file).and_then(|s| s.membership.as_ref()));
                for s in store.services() {
                    svc_names.insert(s.id.clone(), service_name(&s));
                }
                ev.push(Event {
                at: At { index, term: 0, time: None, committed: true, overwritten_by_term: None },
                class: "snapshot",
                kind: None,
                id: None,
                text: if !walked {
                    format!("history starts from snapshot {file}")
                } else {
                    format!(
                        "state taken again from snapshot {file}: the log before it could not be read whole (see the damage or hole above)"
                    )
                },
            });
            }
            Step::Term { at, from } => ev.push(Event {
                at: at.clone(),
                class: "election",
                kind: None,
                id: None,
                text: format!("term {} begins (was {from}): a new leader was elected", at.term),
            }),
            Step::Conf { at, change, raft_id, member } => {
                ev.push(Event {
                    at: at.clone(),
                    class: "membership",
                    kind: Some(Kind::Node),
                    id: member.as_ref().map(|m| m.0.clone()),
                    text: match member {
                        Some((n, addr)) => format!("{change}: raft member {raft_id:x} = node {n} at {addr}"),
                        None => format!("{change}: raft member {raft_id:x}"),
                    },
                });
                // Manager count and quorum after a live change (overwritten entries never applied).
                if at.overwritten_by_term.is_none() {
                    for text in quorum.conf(change, raft_id) {
                        ev.push(Event { at: at.clone(), class: "quorum", kind: None, id: None, text });
                    }
                }
            }
            Step::Action { at, verb, before, after } => {
                let j = object_json(after, &red);
                let prev = before.map(|b| object_json(b, &red));
                let name = after.name();
                let push = |ev: &mut Vec<Event>, class, text: String| {
                    ev.push(Event {
                        at: at.clone(),
                        class,
                        kind: Some(after.kind()),
                        id: Some(after.id().to_string()),
                        text,
                    })
                };
                match (after, verb) {
                    (Object::Node(_), Verb::Create) => push(&mut ev, "node", format!("node {} joined", after.id())),
                    (Object::Node(_), Verb::Remove) => {
                        push(&mut ev, "node", format!("node {} ({name}) removed", after.id()))
                    }
                    (Object::Node(_), Verb::Update) => {
                        if let Some(p) = &prev {
                            for (path, what) in [
                                (&["Status", "State"][..], "status"),
                                (&["Spec", "Availability"][..], "availability"),
                                (&["Spec", "Role"][..], "role"),
                                (&["ManagerStatus", "Reachability"][..], "manager reachability"),
                            ] {
                                let (o, n) = (jstr(p, path), jstr(&j, path));
                                if o != n {
                                    push(&mut ev, "node", format!("node {name} {what}: {o} -> {n}"));
                                }
                            }
                        }
                    }
                    (Object::Service(_), Verb::Create) => {
                        svc_names.insert(after.id().to_string(), name.clone());
                        push(&mut ev, "service", format!("service {name} created"))
                    }
                    (Object::Service(_), Verb::Remove) => push(&mut ev, "service", format!("service {name} removed")),
                    (Object::Service(_), Verb::Update) => {
                        if let Some(p) = &prev {
                            let us_old = jstr(p, &["UpdateStatus", "State"]);
                            let us_new = jstr(&j, &["UpdateStatus", "State"]);
                            if us_old != us_new && !us_new.is_empty() {
                                let msg = jstr(&j, &["UpdateStatus", "Message"]);
                                let kind = if us_new.starts_with("rollback") { "rollback" } else { "update" };
                                push(
                                    &mut ev,
                                    "service",
                                    format!(
                                        "service {name} {kind}: {us_new}{}",
                                        if msg.is_empty() { String::new() } else { format!(" ({msg})") }
                                    ),
                                );
                            }
                            let spec_changes: Vec<String> = unmark_changes(diff_json(&p["Spec"], &j["Spec"]))
                                .iter()
                                .map(|c| format!("Spec.{} {} -> {}", c.path, short(&c.old), short(&c.new)))
                                .collect();
                            if !spec_changes.is_empty() {
                                push(
                                    &mut ev,
                                    "service",
                                    format!("service {name} spec changed: {}", spec_changes.join("; ")),
                                );
                            }
                        }
                    }
                    (Object::Task(t), Verb::Update | Verb::Create) => {
                        let st = jstr(&j, &["Status", "State"]);
                        let old = prev.as_ref().map(|p| jstr(p, &["Status", "State"])).unwrap_or_default();
                        if (st == "failed" || st == "rejected") && old != st {
                            let err = jstr(&j, &["Status", "Err"]);
                            let svc = svc_names.get(&t.service_id).cloned().unwrap_or_default();
                            let tname =
                                if t.slot != 0 { format!("{svc}.{}", t.slot) } else { format!("{svc}.{}", t.node_id) };
                            push(&mut ev, "task", format!("task {tname} ({}) {st}: {err}", t.id));
                        }
                    }
                    (Object::Cluster(_), Verb::Update) => {
                        if let Some(p) = &prev {
                            let ch: Vec<String> = unmark_changes(diff_json(&p["Spec"], &j["Spec"]))
                                .iter()
                                .map(|c| format!("Spec.{} {} -> {}", c.path, short(&c.old), short(&c.new)))
                                .collect();
                            if !ch.is_empty() {
                                push(&mut ev, "cluster", format!("cluster settings changed: {}", ch.join("; ")));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    });
    for m in &a.wal.markers {
        if m.index == 0 {
            continue;
        }
        let file = a.snapshots.iter().find(|s| s.index == m.index && s.term == m.term).map(|s| s.file.clone());
        let time = a.entries.iter().filter(|e| e.index <= m.index).filter_map(|e| e.time).next_back();
        ev.push(Event {
            at: At { index: m.index, term: m.term, time, committed: true, overwritten_by_term: None },
            class: "snapshot",
            kind: None,
            id: None,
            text: match file {
                Some(f) => format!("snapshot taken at index {} ({f} is kept)", m.index),
                None => format!("snapshot taken at index {} (file no longer kept)", m.index),
            },
        });
    }
    // What the replay met on the way is part of the story: damage and anomalies, where they are.
    for f in &found {
        ev.push(Event::damage(f.index.unwrap_or(0), f.term.unwrap_or(0), format!("[{}] {}", f.code, f.message)));
    }
    ev.sort_by_key(|e| (e.at.index, e.class == "snapshot"));
    (ev, found)
}
