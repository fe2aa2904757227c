//! Raft entries decrypted and decoded: what each carries (store actions, a conf change, nothing,
//! or why it cannot be read), and its wall-clock time.
//!
//! Invariants: decoding never fails as a whole: an entry that does not decrypt or decode is an
//! [`Payload::Undecryptable`] or [`Payload::Undecodable`] with the reason. Nothing here knows the
//! commit index or the store; [`DecodedEntry::committed`] and `in_snapshot` are set by the replay.

use super::object::{Head, Kind, Object, Verb};
use super::open_payload;
use crate::crypto::Dek;
use crate::format::wal::{self, EntryRec, WalLog};
use crate::pb::docker::swarmkit::v1 as api;
use crate::pb::raftpb;
use prost::Message;
use serde::Serialize;

/// One store action, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct ActionSummary {
    /// Verb.
    pub verb: Verb,
    /// Kind.
    pub kind: Kind,
    /// Object ID.
    pub id: String,
    /// Object name.
    pub name: String,
    /// `meta.version.index` carried by the action.
    pub version: u64,
}

/// What an entry carries.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "payload", rename_all = "snake_case")]
pub enum Payload {
    /// No data (leader no-op).
    Empty,
    /// An `InternalRaftRequest`.
    Request {
        /// Request ID.
        request_id: u64,
        /// Its actions.
        actions: Vec<ActionSummary>,
    },
    /// A `ConfChange`.
    ConfChange {
        /// Change type name.
        change: String,
        /// Raft ID concerned.
        raft_id: u64,
        /// Node ID from the context, when present.
        node_id: Option<String>,
        /// Address from the context, when present.
        addr: Option<String>,
    },
    /// No DEK decrypts the data.
    Undecryptable {
        /// Why (its message is the JSON `reason`).
        #[serde(rename = "reason", serialize_with = "as_display")]
        error: crate::crypto::DecryptError,
    },
    /// Decrypted (or plaintext) but does not decode.
    Undecodable {
        /// Why.
        reason: String,
    },
}

/// One entry, decoded and classified.
#[derive(Debug, Clone, Serialize)]
pub struct DecodedEntry {
    /// Index.
    pub index: u64,
    /// Term.
    pub term: u64,
    /// Entry type name.
    #[serde(rename = "type")]
    pub etype: &'static str,
    /// Index ≤ HardState.commit and not overwritten.
    pub committed: bool,
    /// Term of the entry that overwrote this one, if any.
    pub overwritten_by_term: Option<u64>,
    /// Index ≤ the base snapshot's index (already contained in the snapshot).
    pub in_snapshot: bool,
    /// Size of the (encrypted) data.
    pub bytes: usize,
    /// Display path of the segment.
    pub file: String,
    /// Frame offset.
    pub offset: u64,
    /// Which DEK decrypted it.
    pub dek: Option<String>,
    /// Wall-clock time of the entry: the latest `Meta.UpdatedAt` (or task status timestamp) among
    /// the objects it writes. Absent for entries without objects.
    pub time: Option<jiff::Timestamp>,
    /// The payload.
    #[serde(flatten)]
    pub payload: Payload,
}

impl DecodedEntry {
    /// Worth keeping under [`Detail::Notable`]: uncommitted, overwritten or unreadable.
    pub fn notable(&self) -> bool {
        !self.committed
            || self.overwritten_by_term.is_some()
            || matches!(self.payload, Payload::Undecryptable { .. } | Payload::Undecodable { .. })
    }
}

/// Result of decrypting + decoding one entry; the full actions are kept only until applied.
/// An entry's actions are in `actions` (decoded) or in `encoded` ([`Want::Encoded`]), never
/// split between the two, so either list is in the entry's order.
pub(crate) struct Decoded {
    pub(crate) summary: DecodedEntry,
    pub(crate) actions: Vec<(Verb, Object)>,
    pub(crate) encoded: Vec<(Verb, Encoded)>,
    pub(crate) conf: Option<(i32, u64, Option<api::RaftMember>)>,
}

/// How much of an entry's store actions to decode.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// Every object decoded whole, into [`Decoded::actions`].
    Objects,
    /// Checked on the wire and summarised by verbs and kinds only: for entries whose actions
    /// will not be applied (decoded whole when the check rejects them, for prost's error text).
    Summary,
    /// Checked on the wire; each object kept as it was written (sharing the plaintext), with
    /// its [`Head`] and a summary read from it ([`Object::light`]), into [`Decoded::encoded`].
    /// Objects of the kinds in `whole` are decoded whole there instead, for a store that reduces
    /// them. For a replay that applies objects to a store and reads no object but the store.
    Encoded { whole: fn(Kind) -> bool },
}

/// One store action's object as [`Want::Encoded`] leaves it.
#[derive(Debug)]
pub(crate) enum Encoded {
    /// Decoded whole (a kind the store reduces).
    Whole(Box<Object>),
    /// As written: the object's encoding and what the store indexes it by.
    Wire { kind: Kind, head: Head, bytes: bytes::Bytes },
}

/// The name of a `ConfChangeType` value.
pub fn conf_change_name(t: i32) -> &'static str {
    match t {
        0 => "ConfChangeAddNode",
        1 => "ConfChangeRemoveNode",
        2 => "ConfChangeUpdateNode",
        3 => "ConfChangeAddLearnerNode",
        _ => "ConfChangeUnknown",
    }
}

pub(crate) fn decode_entry(e: &EntryRec, encrypted: bool, deks: &[Dek], display: &str) -> Decoded {
    decode_entry_with(e, encrypted, deks, display, Want::Objects)
}

/// The store actions of an `InternalRaftRequest` checked on the wire: request ID and each
/// action's verb and kind (no object is built). `None` when the wire check rejects it.
fn request_on_wire(plain: &[u8]) -> Option<Payload> {
    use crate::format::cursor::Cursor;
    use prost::encoding::WireType;
    crate::format::wirecheck::check("docker.swarmkit.v1.InternalRaftRequest", plain).ok()?;
    let (mut buf, mut request_id, mut actions) = (Cursor::new(plain, 0), 0u64, Vec::new());
    while !buf.is_empty() {
        match buf.key().ok()? {
            (1, WireType::Varint) => request_id = buf.varint().ok()?,
            (2, WireType::LengthDelimited) => {
                let mut a = Cursor::new(buf.delimited().ok()?, 0);
                let (mut verb, mut target) = (0i32, None);
                while !a.is_empty() {
                    match a.key().ok()? {
                        (1, WireType::Varint) => verb = a.varint().ok()? as i32,
                        (t @ 2..=11, WireType::LengthDelimited) => {
                            a.delimited().ok()?;
                            target = Some(t);
                        }
                        (t, w) => a.skip(t, w).ok()?,
                    }
                }
                // A target field number is 2-11 (matched above).
                let kind = target.map_or(Kind::Resource, |t| Kind::STORE_ACTION_TARGETS[t as usize - 2]);
                let name = if target.is_none() { "(no object)".to_string() } else { String::new() };
                actions.push(ActionSummary { verb: Verb::from_i32(verb), kind, id: String::new(), name, version: 0 });
            }
            (t, w) => buf.skip(t, w).ok()?,
        }
    }
    Some(Payload::Request { request_id, actions })
}

/// Request ID, action summaries, the actions' objects, and the entry's time.
type RequestEncoded = (u64, Vec<ActionSummary>, Vec<(Verb, Encoded)>, Option<jiff::Timestamp>);

/// The store actions of an `InternalRaftRequest` checked on the wire, each object kept as it
/// was written ([`Want::Encoded`]): request ID, summaries, objects, and the entry's time. `None`
/// when the wire check rejects it (or, never for a message it accepts, a head does not read).
fn request_encoded(plain: &bytes::Bytes, whole: fn(Kind) -> bool) -> Option<RequestEncoded> {
    use crate::format::cursor::Cursor;
    use prost::encoding::WireType;
    crate::format::wirecheck::check("docker.swarmkit.v1.InternalRaftRequest", plain).ok()?;
    let (mut buf, mut request_id, mut sums, mut out, mut time) =
        (Cursor::new(plain, 0), 0u64, Vec::new(), Vec::new(), None);
    while !buf.is_empty() {
        match buf.key().ok()? {
            (1, WireType::Varint) => request_id = buf.varint().ok()?,
            (2, WireType::LengthDelimited) => {
                let mut a = Cursor::new(buf.delimited().ok()?, 0);
                let (mut verb, mut target) = (0i32, None);
                while !a.is_empty() {
                    match a.key().ok()? {
                        (1, WireType::Varint) => verb = a.varint().ok()? as i32,
                        // A oneof set twice: the last one holds, as prost decodes it. (A
                        // message field written twice would be merged; the whole decode
                        // handles that rare case.)
                        (t @ 2..=11, WireType::LengthDelimited) => {
                            if target.is_some() {
                                return None;
                            }
                            target = Some((t, a.delimited().ok()?));
                        }
                        (t, w) => a.skip(t, w).ok()?,
                    }
                }
                let verb = Verb::from_i32(verb);
                let Some((t, obj)) = target else {
                    sums.push(ActionSummary {
                        verb,
                        kind: Kind::Resource,
                        id: String::new(),
                        name: "(no object)".into(),
                        version: 0,
                    });
                    continue;
                };
                let kind = Kind::STORE_ACTION_TARGETS[t as usize - 2];
                let light = Object::light(kind, obj).ok()?;
                if verb != Verb::Remove {
                    time = time.max(object_time(&light));
                }
                sums.push(ActionSummary {
                    verb,
                    kind,
                    id: light.id().to_string(),
                    name: light.name(),
                    version: light.version(),
                });
                let bytes = plain.slice_ref(obj);
                out.push((
                    verb,
                    if whole(kind) {
                        Encoded::Whole(Box::new(Object::decode(kind, bytes).ok()?))
                    } else {
                        Encoded::Wire { kind, head: Head::read(kind, obj).ok()?, bytes }
                    },
                ));
            }
            (t, w) => buf.skip(t, w).ok()?,
        }
    }
    Some((request_id, sums, out, time))
}

/// [`decode_entry`], decoding as much of the store actions as `want` says.
pub(crate) fn decode_entry_with(e: &EntryRec, encrypted: bool, deks: &[Dek], display: &str, want: Want) -> Decoded {
    let mut summary = DecodedEntry {
        index: e.index,
        term: e.term,
        etype: wal::entry_type_name(e.etype),
        committed: false,
        overwritten_by_term: e.overwritten_by.map(|o| o.0),
        in_snapshot: false,
        bytes: e.data.len(),
        file: display.to_string(),
        offset: e.offset,
        dek: None,
        time: None,
        payload: Payload::Empty,
    };
    let mut actions = Vec::new();
    let encoded = Vec::new();
    let mut conf = None;
    if e.data.is_empty() {
        return Decoded { summary, actions, encoded, conf };
    }
    let plain = match open_payload(&e.data, encrypted, deks) {
        Ok((p, dek)) => {
            summary.dek = dek;
            p
        }
        Err(error) => {
            summary.payload = Payload::Undecryptable { error };
            return Decoded { summary, actions, encoded, conf };
        }
    };
    if plain.is_empty() {
        return Decoded { summary, actions, encoded, conf };
    }
    if matches!(want, Want::Summary) && e.etype == 0 {
        if let Some(p) = request_on_wire(&plain) {
            summary.payload = p;
            return Decoded { summary, actions, encoded, conf };
        }
    }
    let plain = bytes::Bytes::from(plain);
    if let (Want::Encoded { whole }, 0) = (want, e.etype) {
        if let Some((request_id, sums, encoded, time)) = request_encoded(&plain, whole) {
            summary.time = time;
            summary.payload = Payload::Request { request_id, actions: sums };
            return Decoded { summary, actions, encoded, conf };
        }
    }
    match e.etype {
        // From a `Bytes`: the objects' bytes fields (a config's or secret's data, up to 500 KB
        // each) share the plaintext instead of being copied out of it.
        0 => match api::InternalRaftRequest::decode(plain) {
            Ok(req) => {
                let mut sums = Vec::with_capacity(req.action.len());
                // Objects are large (a task is about a kilobyte before its heap parts): growing
                // the vector one push at a time moved them again and again (11% of `state` on a
                // 303 MB WAL of 5,000-task entries).
                actions.reserve_exact(req.action.len());
                for a in req.action {
                    let verb = Verb::from_i32(a.action);
                    match a.target {
                        Some(t) => {
                            let o = Object::from_target(t);
                            sums.push(ActionSummary {
                                verb,
                                kind: o.kind(),
                                id: o.id().to_string(),
                                name: o.name(),
                                version: o.version(),
                            });
                            actions.push((verb, o));
                        }
                        None => sums.push(ActionSummary {
                            verb,
                            kind: Kind::Resource,
                            id: String::new(),
                            name: "(no object)".into(),
                            version: 0,
                        }),
                    }
                }
                // A removed object carries its last meta, not the time of the removal.
                summary.time =
                    actions.iter().filter(|(v, _)| *v != Verb::Remove).filter_map(|(_, o)| object_time(o)).max();
                summary.payload = Payload::Request { request_id: req.id, actions: sums };
            }
            Err(err) => summary.payload = Payload::Undecodable { reason: format!("not an InternalRaftRequest: {err}") },
        },
        1 => match raftpb::ConfChange::decode(&plain[..]) {
            Ok(cc) => {
                let ctx = cc.context.clone().unwrap_or_default();
                let member = if ctx.is_empty() { None } else { api::RaftMember::decode(ctx).ok() };
                summary.payload = Payload::ConfChange {
                    change: conf_change_name(cc.r#type.unwrap_or(0)).into(),
                    raft_id: cc.node_id(),
                    node_id: member.as_ref().map(|m| m.node_id.clone()),
                    addr: member.as_ref().map(|m| m.addr.clone()),
                };
                conf = Some((cc.r#type.unwrap_or(0), cc.node_id(), member));
            }
            Err(err) => summary.payload = Payload::Undecodable { reason: format!("not a ConfChange: {err}") },
        },
        2 => match raftpb::ConfChangeV2::decode(&plain[..]) {
            Ok(cc) => {
                summary.payload = Payload::ConfChange {
                    change: "ConfChangeV2".into(),
                    raft_id: cc.changes.first().map(|c| c.node_id()).unwrap_or(0),
                    node_id: None,
                    addr: None,
                };
            }
            Err(err) => summary.payload = Payload::Undecodable { reason: format!("not a ConfChangeV2: {err}") },
        },
        t => summary.payload = Payload::Undecodable { reason: format!("unknown entry type {t}") },
    }
    Decoded { summary, actions, encoded, conf }
}

fn to_ts(t: &Option<prost_types::Timestamp>) -> Option<jiff::Timestamp> {
    t.as_ref().and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
}

/// The wall-clock time an object carries: `Meta.UpdatedAt`, and for tasks the status timestamp
/// when later.
pub fn object_time(o: &Object) -> Option<jiff::Timestamp> {
    let m = o.meta().and_then(|m| to_ts(&m.updated_at).or(to_ts(&m.created_at)));
    let s = match o {
        Object::Task(t) => t.status.as_ref().and_then(|s| to_ts(&s.timestamp)),
        _ => None,
    };
    m.max(s)
}

/// For a bare dir (no layout to tell): does entry data look like `MaybeEncryptedRecord`s?
pub fn looks_encrypted(wal: &WalLog) -> bool {
    looks_encrypted_data(wal.entries.iter().map(|e| &e.data))
}

/// Whether the first non-empty payloads (up to 16; entry data or `.snap` payloads) all parse as
/// a `MaybeEncryptedRecord` of a known algorithm with its nonce: secretbox with 24 bytes, or
/// Fernet with none. A plaintext `api.Snapshot` has the same wire shape but version 0 in field 1,
/// so it never passes.
pub fn looks_encrypted_data<'a>(payloads: impl IntoIterator<Item = &'a bytes::Bytes>) -> bool {
    let mut seen = 0;
    for d in payloads.into_iter().filter(|d| !d.is_empty()).take(16) {
        seen += 1;
        let ok = match api::MaybeEncryptedRecord::decode(d.clone()) {
            Ok(r) => (r.algorithm == 1 && r.nonce.len() == 24) || (r.algorithm == 2 && r.nonce.is_empty()),
            Err(_) => false,
        };
        if !ok {
            return false;
        }
    }
    seen > 0
}

fn as_display<S: serde::Serializer>(e: &impl std::fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

#[cfg(test)]
mod tests {
    //! `Want::Encoded` against decoding whole: the same summaries, time and objects.
    use super::*;
    use crate::pb::docker::swarmkit::v1::store_action::Target;
    use prost_types::Timestamp;

    fn meta(v: u64, created: i64, updated: i64) -> Option<api::Meta> {
        Some(api::Meta {
            version: Some(api::Version { index: v }),
            created_at: Some(Timestamp { seconds: created, nanos: 0 }),
            updated_at: Some(Timestamp { seconds: updated, nanos: 7 }),
        })
    }

    fn ann(name: &str) -> Option<api::Annotations> {
        Some(api::Annotations { name: name.into(), labels: [("k".into(), "v".into())].into(), ..Default::default() })
    }

    fn request() -> api::InternalRaftRequest {
        let task = api::Task {
            id: "t1".into(),
            meta: meta(5, 1_700_000_000, 1_700_000_100),
            service_id: "s1".into(),
            slot: 3,
            node_id: "n1".into(),
            service_annotations: ann("web"),
            status: Some(api::TaskStatus {
                timestamp: Some(Timestamp { seconds: 1_700_000_900, nanos: 1 }),
                state: 640,
                err: "boom".into(),
                ..Default::default()
            }),
            desired_state: 640,
            ..Default::default()
        };
        let global = api::Task {
            id: "t2".into(),
            node_id: "n9".into(),
            service_annotations: ann("agent"),
            ..Default::default()
        };
        let node = api::Node {
            id: "n1".into(),
            meta: meta(2, 1_600_000_000, 1_600_000_001),
            description: Some(api::NodeDescription { hostname: "host-1".into(), ..Default::default() }),
            ..Default::default()
        };
        let service = api::Service {
            id: "s1".into(),
            meta: meta(9, 1_650_000_000, 1_650_000_050),
            spec: Some(api::ServiceSpec { annotations: ann("web"), ..Default::default() }),
            ..Default::default()
        };
        let config = api::Config {
            id: "c1".into(),
            meta: meta(11, 1_650_000_000, 1_800_000_000),
            spec: Some(api::ConfigSpec { annotations: ann("cfg"), data: vec![7u8; 1000].into(), ..Default::default() }),
        };
        let resource = api::Resource { id: "r1".into(), annotations: ann("res"), ..Default::default() };
        let action = |a: i32, t: Option<Target>| api::StoreAction { action: a, target: t };
        api::InternalRaftRequest {
            id: 77,
            action: vec![
                action(1, Some(Target::Task(Box::new(task)))),
                action(1, Some(Target::Task(Box::new(global)))),
                action(2, Some(Target::Node(Box::new(node)))),
                action(1, Some(Target::Service(Box::new(service)))),
                // A removal's object is not the entry's time, though it is the latest here.
                action(3, Some(Target::Config(Box::new(config)))),
                action(1, Some(Target::Resource(Box::new(resource)))),
                action(1, None),
            ],
        }
    }

    fn entry(plain: Vec<u8>) -> EntryRec {
        EntryRec { index: 4, term: 2, etype: 0, data: plain.into(), seg: 0, offset: 0, overwritten_by: None }
    }

    type Sums = (u64, Vec<(Verb, Kind, String, String, u64)>);

    fn sums(d: &Decoded) -> Sums {
        match &d.summary.payload {
            Payload::Request { request_id, actions } => (
                *request_id,
                actions.iter().map(|a| (a.verb, a.kind, a.id.clone(), a.name.clone(), a.version)).collect(),
            ),
            p => panic!("not a request: {p:?}"),
        }
    }

    #[test]
    fn encoded_objects_summarise_and_decode_as_whole_ones() {
        let e = entry(request().encode_to_vec());
        let whole = decode_entry_with(&e, false, &[], "w", Want::Objects);
        let none: fn(Kind) -> bool = |_| false;
        let enc = decode_entry_with(&e, false, &[], "w", Want::Encoded { whole: none });
        assert_eq!(sums(&enc), sums(&whole));
        assert_eq!(sums(&enc).1[1].3, "agent.n9");
        assert_eq!(enc.summary.time, whole.summary.time);
        assert_eq!(enc.summary.time, jiff::Timestamp::new(1_700_000_900, 1).ok());
        assert!(enc.actions.is_empty());
        assert_eq!(enc.encoded.len(), whole.actions.len());
        for ((v, x), (wv, wo)) in enc.encoded.iter().zip(&whole.actions) {
            assert_eq!(v, wv);
            match x {
                Encoded::Wire { kind, head, bytes } => {
                    assert_eq!(*kind, wo.kind());
                    assert_eq!(head.id, wo.id());
                    assert_eq!(&Object::decode(*kind, bytes.clone()).unwrap(), wo);
                }
                Encoded::Whole(_) => panic!("no kind was asked whole"),
            }
        }
        // Kinds asked whole come decoded, in the entry's order.
        let tasks: fn(Kind) -> bool = |k| k == Kind::Task;
        let enc = decode_entry_with(&e, false, &[], "w", Want::Encoded { whole: tasks });
        let kinds: Vec<_> = enc.encoded.iter().map(|(_, x)| matches!(x, Encoded::Whole(_))).collect();
        assert_eq!(kinds, [true, true, false, false, false, false]);
    }

    #[test]
    fn what_the_wire_reading_does_not_take_is_decoded_whole() {
        // A store action with its oneof set twice, and a request that does not decode.
        let mut b = request().encode_to_vec();
        let twice = api::StoreAction {
            action: 1,
            target: Some(Target::Node(Box::new(api::Node { id: "a".into(), ..Default::default() }))),
        };
        let mut inner = twice.encode_to_vec();
        inner.extend_from_slice(
            &api::StoreAction {
                action: 0,
                target: Some(Target::Node(Box::new(api::Node { id: "b".into(), ..Default::default() }))),
            }
            .encode_to_vec(),
        );
        api::InternalRaftRequest { id: 0, action: vec![] }.encode(&mut b).unwrap();
        prost::encoding::encode_key(2, prost::encoding::WireType::LengthDelimited, &mut b);
        prost::encoding::encode_varint(inner.len() as u64, &mut b);
        b.extend_from_slice(&inner);
        let none: fn(Kind) -> bool = |_| false;
        let e = entry(b);
        let enc = decode_entry_with(&e, false, &[], "w", Want::Encoded { whole: none });
        let whole = decode_entry_with(&e, false, &[], "w", Want::Objects);
        assert_eq!(sums(&enc), sums(&whole));
        assert_eq!(sums(&enc).1.last().unwrap().2, "b");
        assert!(enc.encoded.is_empty() && enc.actions.len() == whole.actions.len());
        let bad = entry(vec![0x12, 0x05, 0x08]);
        let enc = decode_entry_with(&bad, false, &[], "w", Want::Encoded { whole: none });
        assert!(matches!(enc.summary.payload, Payload::Undecodable { .. }), "{:?}", enc.summary.payload);
    }
}
