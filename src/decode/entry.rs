//! Raft entries decrypted and decoded: what each carries (store actions, a conf change, nothing,
//! or why it cannot be read), and its wall-clock time.
//!
//! Invariants: decoding never fails as a whole: an entry that does not decrypt or decode is an
//! [`Payload::Undecryptable`] or [`Payload::Undecodable`] with the reason. Nothing here knows the
//! commit index or the store; [`DecodedEntry::committed`] and `in_snapshot` are set by the replay.

use super::object::{Kind, Object, Verb};
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
pub(crate) struct Decoded {
    pub(crate) summary: DecodedEntry,
    pub(crate) actions: Vec<(Verb, Object)>,
    pub(crate) conf: Option<(i32, u64, Option<api::RaftMember>)>,
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
    decode_entry_with(e, encrypted, deks, display, false)
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

/// [`decode_entry`]; with `on_wire`, a normal entry is checked on the wire and summarised by
/// verbs and kinds instead of being decoded into objects (it is decoded in full when the check
/// rejects it, for prost's error text). For entries whose actions will not be applied.
pub(crate) fn decode_entry_with(e: &EntryRec, encrypted: bool, deks: &[Dek], display: &str, on_wire: bool) -> Decoded {
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
    let mut conf = None;
    if e.data.is_empty() {
        return Decoded { summary, actions, conf };
    }
    let plain = match open_payload(&e.data, encrypted, deks) {
        Ok((p, dek)) => {
            summary.dek = dek;
            p
        }
        Err(error) => {
            summary.payload = Payload::Undecryptable { error };
            return Decoded { summary, actions, conf };
        }
    };
    if plain.is_empty() {
        return Decoded { summary, actions, conf };
    }
    if on_wire && e.etype == 0 {
        if let Some(p) = request_on_wire(&plain) {
            summary.payload = p;
            return Decoded { summary, actions, conf };
        }
    }
    match e.etype {
        // From a `Bytes`: the objects' bytes fields (a config's or secret's data, up to 500 KB
        // each) share the plaintext instead of being copied out of it.
        0 => match api::InternalRaftRequest::decode(bytes::Bytes::from(plain)) {
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
        2 => match raftpb::ConfChangeV2::decode(plain.as_slice()) {
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
    Decoded { summary, actions, conf }
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
