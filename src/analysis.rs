//! The whole pipeline for one input: source → layout → keys → WAL and snapshots → decrypted,
//! decoded entries → the store replayed to the last committed index.
//!
//! Invariants:
//! - Read-only throughout (see [`crate::source`]).
//! - Every entry of the WAL appears in [`Analysis::entries`], live or overwritten, marked
//!   committed or not against the last `HardState.commit`.
//! - The final state starts from the newest snapshot that is sound, decrypts and decodes, at or
//!   below the commit index; older kept snapshots are used when newer ones are damaged. Only live,
//!   committed entries above the snapshot index are applied.
//! - Entries are decrypted and decoded in parallel in bounded chunks; full objects are applied
//!   to the store and dropped. How much is kept, and how much is decoded at all, is the
//!   caller's [`Detail`]: a summary of every entry ([`Detail::Entries`]), only of the entries
//!   worth a look ([`Detail::Notable`]: memory does not grow with the WAL; [`Detail::Check`]
//!   also skips building objects the final state does not need), or nothing beyond
//!   the containers ([`Detail::Structure`]: the replay decodes what a state needs).
//! - Mapped pages of the input are released as soon as a stage is done with them
//!   ([`Source::release`]), so resident memory tracks the work in flight, not the input size.

use crate::crypto::{self, Dek};
use crate::error::{Error, Finding, Result, Severity};
use crate::keys::{self, CertInfo, NodeKey, UnlockKey};
use crate::layout::{self, Layout, LayoutKind};
use crate::pb::docker::swarmkit::v1 as api;
use crate::pb::raftpb;
use crate::snap::{self, SnapFile};
use crate::source::{ReadOptions, Source};
use crate::store::{Kind, Membership, Object, Store, Verb};
use crate::wal::{self, EntryRec, WalLog};
use prost::Message;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Options for loading.
#[derive(Debug, Default)]
pub struct Options {
    /// The unlock key (KEK), when autolock is on.
    pub unlock_key: Option<UnlockKey>,
    /// How to read files.
    pub read: ReadOptions,
    /// Go on without DEKs (structure only) instead of failing.
    pub allow_no_keys: bool,
    /// How much to decode and keep.
    pub detail: Detail,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Build [`Analysis::state`] as a projection ([`Store::projected`]): enough for integrity
    /// checks (`verify`), far smaller, not for printing a state.
    pub projected_store: bool,
}

/// Receives entries from [`Analysis::load_with`] as they are decoded.
pub trait EntrySink: Send {
    /// Called once, after the WAL scan and before any entry.
    fn start(&mut self, _wal: &WalLog) {}
    /// Called for every entry, live and overwritten, in log order.
    fn entry(&mut self, e: &DecodedEntry);
    /// Whether [`EntrySink::entry`] does anything. A load that needs no sink may check the
    /// entries a snapshot covers while it reads the snapshots (out of log order).
    fn wants_entries(&self) -> bool {
        true
    }
}

/// A sink that drops everything.
pub struct NoSink;

impl EntrySink for NoSink {
    fn entry(&mut self, _e: &DecodedEntry) {}
    fn wants_entries(&self) -> bool {
        false
    }
}

/// How much of the log [`Analysis::load`] decodes and keeps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every snapshot and every entry is decrypted and decoded, and [`Analysis::entries`] holds a
    /// summary of each (`wal`, `history`, `timeline`, `--at-time`).
    #[default]
    Entries,
    /// Every snapshot and every entry is decrypted and decoded (so every problem is found and
    /// counted in [`Analysis::stats`]), but [`Analysis::entries`] keeps only notable entries:
    /// uncommitted, overwritten, undecryptable or undecodable ones. Memory does not grow with
    /// the size of a healthy WAL (`info`, `verify`).
    Notable,
    /// As [`Detail::Notable`], but what the final state does not need is checked on the wire
    /// ([`crate::wirecheck`]: accepts and rejects what prost does) instead of being decoded into
    /// objects: normal entries covered by the base snapshot, and snapshots other than the base.
    /// Their summaries carry verbs and kinds, not IDs or names; anything rejected is decoded in
    /// full for prost's own error (`verify`, `info`).
    Check,
    /// Only containers: WAL frames and CRC chain, snapshot files' CRC and metadata. No payload is
    /// decrypted: snapshots that are sound containers count as valid until a replay reads them,
    /// [`Analysis::entries`] is empty and [`Analysis::state`] is the empty store at index 0.
    /// For `state`, whose replay decodes exactly the snapshot and entries it needs.
    Structure,
}

/// Counts over every entry of the WAL, whatever [`Detail`] keeps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntryStats {
    /// Entries read (live and overwritten).
    pub entries: usize,
    /// Live entries at or below `HardState.commit`.
    pub committed: usize,
    /// Entries by type name.
    pub by_type: BTreeMap<String, usize>,
    /// Store actions by `verb kind`, plus conf changes, no-ops and unreadable payloads.
    pub by_action: BTreeMap<String, usize>,
    /// Entry data bytes (as stored, encrypted or not).
    pub bytes: u64,
    /// Whether payloads were decrypted and decoded (false under [`Detail::Structure`]).
    pub payloads_read: bool,
}

impl EntryStats {
    /// Add counts made separately.
    pub fn merge(&mut self, o: EntryStats) {
        self.entries += o.entries;
        self.committed += o.committed;
        self.bytes += o.bytes;
        for (k, v) in o.by_type {
            *self.by_type.entry(k).or_default() += v;
        }
        for (k, v) in o.by_action {
            *self.by_action.entry(k).or_default() += v;
        }
    }

    /// Count one entry.
    pub fn add(&mut self, e: &DecodedEntry) {
        self.entries += 1;
        self.bytes += e.bytes as u64;
        if e.committed {
            self.committed += 1;
        }
        *self.by_type.entry(e.etype.to_string()).or_default() += 1;
        let mut bump = |k: String| *self.by_action.entry(k).or_default() += 1;
        match &e.payload {
            Payload::Empty => bump("(empty no-op)".into()),
            Payload::Request { actions, .. } => {
                for x in actions {
                    bump(format!("{} {}", x.verb.name(), x.kind.name()));
                }
            }
            Payload::ConfChange { change, .. } => bump(change.clone()),
            Payload::Undecryptable { .. } => bump("(undecryptable)".into()),
            Payload::Undecodable { .. } => bump("(undecodable)".into()),
        }
    }
}

impl DecodedEntry {
    /// Worth keeping under [`Detail::Notable`]: uncommitted, overwritten or unreadable.
    pub fn notable(&self) -> bool {
        !self.committed
            || self.overwritten_by_term.is_some()
            || matches!(self.payload, Payload::Undecryptable { .. } | Payload::Undecodable { .. })
    }
}

/// What we know about the keys.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyInfo {
    /// Display path of `swarm-node.key`.
    pub key_file: Option<String>,
    /// PEM block type.
    pub block_type: Option<String>,
    /// Whether the private key and DEK headers are encrypted with a KEK (autolock on).
    pub autolock: Option<bool>,
    /// `kek-version` header.
    pub kek_version: Option<u64>,
    /// `raft-dek` present.
    pub has_dek: bool,
    /// `raft-dek-pending` present: a DEK rotation is in progress.
    pub rotation_pending: bool,
    /// `raft-dek-needs-rotation` present.
    pub needs_rotation: bool,
    /// How many DEKs we could use.
    pub deks_usable: usize,
    /// Why DEKs could not be obtained, if so.
    pub problem: Option<String>,
    /// The node certificate.
    pub cert: Option<CertSummary>,
}

/// The node certificate's identity.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    /// Display path.
    pub file: String,
    /// CN = node ID.
    pub node_id: String,
    /// OU = role.
    pub role: String,
    /// O = cluster ID.
    pub cluster_id: String,
    /// Not before.
    pub not_before: String,
    /// Not after (expiry).
    pub not_after: String,
    /// Whether it is expired now.
    pub expired: bool,
}

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
        /// Why.
        reason: String,
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

/// A snapshot file with its decoded payload summary.
#[derive(Debug, Clone, Serialize)]
pub struct SnapInfo {
    /// File name.
    pub file: String,
    /// Display path.
    #[serde(skip)]
    pub display: String,
    /// Term.
    pub term: u64,
    /// Index.
    pub index: u64,
    /// Size.
    pub bytes: u64,
    /// Container sound, payload decrypted and decoded.
    pub valid: bool,
    /// ConfState voters (hex raft IDs in JSON).
    #[serde(serialize_with = "crate::store::hex_ids")]
    pub voters: Vec<u64>,
    /// Which DEK decrypted it.
    pub dek: Option<String>,
    /// Membership in the snapshot.
    pub membership: Option<Membership>,
    /// Object counts by kind.
    pub objects: BTreeMap<String, usize>,
    /// Why it is not valid.
    pub problem: Option<String>,
    /// Whether the WAL holds a marker for this snapshot.
    pub has_marker: bool,
    /// Whether the payload was decrypted and decoded (false: container checks only, see
    /// [`Detail::Structure`]; `valid` then means a sound container).
    pub payload_checked: bool,
    /// The payload's sizes on the wire, when it was read.
    #[serde(skip)]
    pub wire: Option<WireSizes>,
}

/// Everything known about one input.
#[derive(Debug)]
pub struct Analysis {
    /// The input.
    pub source: Source,
    /// The layout.
    pub layout: Layout,
    /// Key facts.
    pub keys: KeyInfo,
    /// Usable DEKs.
    pub deks: Vec<Dek>,
    /// Whether entry/snapshot data is encrypted.
    pub encrypted: bool,
    /// The WAL.
    pub wal: WalLog,
    /// WAL metadata (the local raft member).
    pub member: Option<api::RaftMember>,
    /// Snapshots, oldest first.
    pub snapshots: Vec<SnapInfo>,
    /// Index into `snapshots` of the base used for the final state.
    pub base_snapshot: Option<usize>,
    /// Each snapshot's payload (`raftpb.Snapshot.data`, zero-copy), for replays to other points.
    pub snap_payloads: Vec<Option<bytes::Bytes>>,
    /// Entries, live and overwritten, in index order (overwritten ones before their
    /// replacement): all of them under [`Detail::Entries`], the notable ones under
    /// [`Detail::Notable`], none under [`Detail::Structure`].
    pub entries: Vec<DecodedEntry>,
    /// Counts over every entry.
    pub stats: EntryStats,
    /// What was decoded and kept.
    pub detail: Detail,
    /// The state at the last committed index.
    pub state: Store,
    /// Raft membership at the last committed index.
    pub membership: Membership,
    /// Index the state is at.
    pub state_index: u64,
    /// Every finding.
    pub findings: Vec<Finding>,
}

/// Result of decrypting + decoding one entry; the full actions are kept only until applied.
pub(crate) struct Decoded {
    pub(crate) summary: DecodedEntry,
    pub(crate) actions: Vec<(Verb, Object)>,
    pub(crate) conf: Option<(i32, u64, Option<api::RaftMember>)>,
}

/// Read the unlock key from a file path or the `SWARMSIFT_UNLOCK_KEY` environment variable.
pub fn unlock_key_from(file: Option<&Path>) -> Result<Option<UnlockKey>> {
    if let Some(p) = file {
        let text = std::fs::read_to_string(p).map_err(|e| Error::Io { path: p.to_path_buf(), source: e })?;
        return UnlockKey::parse(&text).map(Some).map_err(|e| Error::Key(format!("{}: {e}", p.display())));
    }
    match std::env::var("SWARMSIFT_UNLOCK_KEY") {
        Ok(v) if !v.trim().is_empty() => {
            UnlockKey::parse(&v).map(Some).map_err(|e| Error::Key(format!("SWARMSIFT_UNLOCK_KEY: {e}")))
        }
        _ => Ok(None),
    }
}

fn ts_string(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// Load keys: parse the node key and certificate and unwrap the DEKs.
fn load_keys(
    src: &Source,
    lay: &Layout,
    kek: Option<&UnlockKey>,
    findings: &mut Vec<Finding>,
) -> (KeyInfo, Vec<Dek>, Option<NodeKey>) {
    let mut info = KeyInfo::default();
    let mut deks = Vec::new();
    let mut nk = None;
    if let Some(cf) = &lay.cert_file {
        match src.read(cf).map_err(|e| e.to_string()).and_then(|b| keys::parse_node_cert(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                let CertInfo { node_id, role, cluster_id, not_before, not_after, .. } = c;
                let expired = not_after < jiff::Timestamp::now();
                info.cert = Some(CertSummary {
                    file: src.display(cf),
                    node_id,
                    role,
                    cluster_id,
                    not_before: ts_string(not_before),
                    not_after: ts_string(not_after),
                    expired,
                });
            }
            Err(e) => findings.push(
                Finding::new("key.cert_unreadable", Severity::Warning, format!("node certificate does not parse: {e}"))
                    .file(src.display(cf)),
            ),
        }
    }
    let Some(kf) = &lay.key_file else {
        info.problem = Some("no certificates/swarm-node.key: the raft DEK is not available".into());
        return (info, deks, nk);
    };
    info.key_file = Some(src.display(kf));
    let parsed = match src.read(kf) {
        Ok(b) => keys::parse_node_key(&b),
        Err(e) => {
            info.problem = Some(e.to_string());
            return (info, deks, nk);
        }
    };
    match parsed {
        Ok(k) => {
            info.block_type = Some(k.block_type.clone());
            info.autolock = Some(k.encrypted);
            info.kek_version = k.kek_version;
            info.has_dek = k.raft_dek.is_some();
            info.rotation_pending = k.raft_dek_pending.is_some();
            info.needs_rotation = k.needs_rotation;
            match keys::node_key_deks(&k, kek) {
                Ok(d) => deks = d,
                Err(e) => {
                    info.problem = Some(e.to_string());
                }
            }
            nk = Some(k);
        }
        Err(e) => {
            info.problem = Some(format!("{}: {e}", src.display(kf)));
            findings.push(
                Finding::new("key.unreadable", Severity::Error, format!("swarm-node.key does not parse: {e}"))
                    .file(src.display(kf)),
            );
        }
    }
    info.deks_usable = deks.len();
    (info, deks, nk)
}

/// Decrypt (when needed) a payload with every DEK.
fn open_payload(data: &[u8], encrypted: bool, deks: &[Dek]) -> std::result::Result<(Vec<u8>, Option<String>), String> {
    if !encrypted {
        return Ok((data.to_vec(), None));
    }
    match crypto::decrypt_record(data, deks) {
        Ok(d) => Ok((d.plaintext, deks.get(d.dek).map(|k| k.source.to_string()))),
        Err(e) => Err(e.to_string()),
    }
}

/// Decrypt and decode a snapshot payload into `api.Snapshot`.
pub fn decode_snapshot(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
) -> std::result::Result<(api::Snapshot, Option<String>), String> {
    let (plain, dek) = open_payload(payload, encrypted, deks).map_err(|e| format!("cannot decrypt: {e}"))?;
    let s =
        api::Snapshot::decode(plain.as_slice()).map_err(|e| format!("decrypted data is not an api.Snapshot: {e}"))?;
    if s.version != 0 {
        return Err(format!("unknown api.Snapshot version {}", s.version));
    }
    Ok((s, dek))
}

/// A snapshot payload read object by object: what it holds, and optionally the store built from
/// it. Accepts and rejects exactly what [`decode_snapshot`] does (the same prost decoders run on
/// each object), but never holds the decoded `api.Snapshot`: objects go straight into the store
/// (or are counted and dropped), so memory is the decrypted payload plus the live objects.
pub struct SnapState {
    /// Which DEK decrypted it.
    pub dek: Option<String>,
    /// The `ClusterSnapshot`, when present.
    pub membership: Option<Membership>,
    /// Object counts by kind (plural names), empty when the snapshot has no store.
    pub objects: BTreeMap<String, usize>,
    /// The store, when asked for.
    pub store: Option<Store>,
    /// Wire sizes, measured during the same walk.
    pub wire: WireSizes,
}

/// A snapshot payload's plaintext measured on the wire (no re-encoding): what `snapshots` and
/// the charts break down.
#[derive(Debug, Clone, Default)]
pub struct WireSizes {
    /// Plaintext `api.Snapshot` bytes.
    pub plain: u64,
    /// `ClusterSnapshot` bytes (without its field key and length).
    pub membership: u64,
    /// Per `StoreSnapshot` field number 1-10: objects and bytes with their key and length prefix.
    pub kinds: [(usize, u64); 10],
}

/// Decrypt and read a snapshot payload without materialising the decoded `api.Snapshot`; with
/// `build`, also return the store it holds.
pub fn snapshot_state(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
    build: bool,
) -> std::result::Result<SnapState, String> {
    snapshot_state_with(payload, encrypted, deks, build.then(Store::default), false)
}

/// [`snapshot_state`], filling `into` (an empty store, full or projected) when given; with
/// `on_wire` (and no store to fill), each object is checked on the wire ([`crate::wirecheck`])
/// instead of decoded, and decoded only when the check rejects it.
pub fn snapshot_state_with(
    payload: &[u8],
    encrypted: bool,
    deks: &[Dek],
    into: Option<Store>,
    on_wire: bool,
) -> std::result::Result<SnapState, String> {
    let on_wire = on_wire && into.is_none();
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let (plain, dek) = open_payload(payload, encrypted, deks).map_err(|e| format!("cannot decrypt: {e}"))?;
    let bad = |e: prost::DecodeError| format!("decrypted data is not an api.Snapshot: {e}");
    let wire = |want: WireType, got: WireType, what: &str| {
        if want == got {
            Ok(())
        } else {
            Err(format!("decrypted data is not an api.Snapshot: {what}: invalid wire type {got:?}, expected {want:?}"))
        }
    };
    fn delimited<'a>(buf: &mut &'a [u8]) -> std::result::Result<&'a [u8], String> {
        let len = decode_varint(buf).map_err(|e| format!("decrypted data is not an api.Snapshot: {e}"))?;
        if len > buf.len() as u64 {
            return Err("decrypted data is not an api.Snapshot: buffer underflow".into());
        }
        let (a, b) = buf.split_at(len as usize);
        *buf = b;
        Ok(a)
    }
    let mut buf: &[u8] = &plain;
    let mut wire_sizes = WireSizes { plain: plain.len() as u64, ..Default::default() };
    let mut version: i32 = 0;
    let mut membership: Option<api::ClusterSnapshot> = None;
    let mut counts = [0usize; 10];
    let mut has_store = false;
    let mut store = into;
    while !buf.is_empty() {
        let (tag, wt) = decode_key(&mut buf).map_err(bad)?;
        match tag {
            1 => {
                wire(WireType::Varint, wt, "Snapshot.version")?;
                version = decode_varint(&mut buf).map_err(bad)? as i32;
            }
            2 => {
                wire(WireType::LengthDelimited, wt, "Snapshot.membership")?;
                let m = membership.get_or_insert_with(Default::default);
                let body = delimited(&mut buf)?;
                wire_sizes.membership += body.len() as u64;
                m.merge(body).map_err(bad)?;
            }
            3 => {
                wire(WireType::LengthDelimited, wt, "Snapshot.store")?;
                has_store = true;
                let mut s = delimited(&mut buf)?;
                while !s.is_empty() {
                    let (tag, wt) = decode_key(&mut s).map_err(bad)?;
                    if !(1..=10).contains(&tag) {
                        skip_field(wt, tag, &mut s, DecodeContext::default()).map_err(bad)?;
                        continue;
                    }
                    wire(WireType::LengthDelimited, wt, "StoreSnapshot")?;
                    let m = delimited(&mut s)?;
                    let framed = crate::sizes::field_len(m.len() as u64);
                    wire_sizes.kinds[tag as usize - 1].0 += 1;
                    wire_sizes.kinds[tag as usize - 1].1 += framed;
                    if on_wire
                        && crate::wirecheck::check(Kind::STORE_SNAPSHOT_FIELDS[tag as usize - 1].message_name(), m)
                            .is_ok()
                    {
                        counts[tag as usize - 1] += 1;
                        continue;
                    }
                    let o = match tag {
                        1 => Object::Node(api::Node::decode(m).map_err(bad)?),
                        2 => Object::Service(api::Service::decode(m).map_err(bad)?),
                        3 => Object::Network(api::Network::decode(m).map_err(bad)?),
                        4 => Object::Task(api::Task::decode(m).map_err(bad)?),
                        5 => Object::Cluster(api::Cluster::decode(m).map_err(bad)?),
                        6 => Object::Secret(api::Secret::decode(m).map_err(bad)?),
                        7 => Object::Resource(api::Resource::decode(m).map_err(bad)?),
                        8 => Object::Extension(api::Extension::decode(m).map_err(bad)?),
                        9 => Object::Config(api::Config::decode(m).map_err(bad)?),
                        _ => Object::Volume(api::Volume::decode(m).map_err(bad)?),
                    };
                    counts[tag as usize - 1] += 1;
                    if let Some(st) = store.as_mut() {
                        st.insert(o);
                    }
                }
            }
            _ => skip_field(wt, tag, &mut buf, DecodeContext::default()).map_err(bad)?,
        }
    }
    drop(plain);
    if version != 0 {
        return Err(format!("unknown api.Snapshot version {version}"));
    }
    let objects = if has_store {
        Kind::STORE_SNAPSHOT_FIELDS.iter().zip(counts).map(|(k, v)| (k.plural().to_string(), v)).collect()
    } else {
        BTreeMap::new()
    };
    Ok(SnapState {
        dek,
        membership: membership.as_ref().map(Membership::from_snapshot),
        objects,
        store,
        wire: wire_sizes,
    })
}

/// The findings of one decoded entry (not its replay): unreadable data, and old entries that a
/// retired DEK encrypted (reported once, as a range).
fn classify(s: &DecodedEntry, findings: &mut Vec<Finding>, old_undecryptable: &mut Vec<u64>) {
    match &s.payload {
        Payload::Undecryptable { .. } if s.in_snapshot => old_undecryptable.push(s.index),
        Payload::Undecryptable { reason } => findings.push(
            Finding::new(
                "entry.undecryptable",
                Severity::Error,
                format!(
                    "entry data cannot be read: no DEK decrypts it (damaged record, or a key that is gone): {reason}"
                ),
            )
            .file(&s.file)
            .offset(s.offset)
            .index(s.index)
            .term(s.term),
        ),
        Payload::Undecodable { reason } => findings.push(
            Finding::new("entry.undecodable", Severity::Error, reason.clone())
                .file(&s.file)
                .offset(s.offset)
                .index(s.index)
                .term(s.term),
        ),
        _ => {}
    }
}

/// What checking the live entries a snapshot covers found: counts, findings, notable entries.
struct Covered {
    stats: EntryStats,
    findings: Vec<Finding>,
    notable: Vec<DecodedEntry>,
    old_undecryptable: Vec<u64>,
}

/// Check live entries covered by the base snapshot (on the wire: none is applied), in chunks.
fn check_covered(
    covered: &[&EntryRec],
    commit: u64,
    encrypted: bool,
    deks: &[Dek],
    wal: &WalLog,
    source: &Source,
    bar: &crate::progress::Bar,
) -> Covered {
    use rayon::prelude::*;
    let mut out = Covered {
        stats: EntryStats { payloads_read: true, ..Default::default() },
        findings: Vec::new(),
        notable: Vec::new(),
        old_undecryptable: Vec::new(),
    };
    for chunk in covered.chunks(ENTRY_CHUNK) {
        let decoded: Vec<Decoded> =
            chunk.par_iter().map(|e| decode_entry_with(e, encrypted, deks, wal.seg_display(e.seg), true)).collect();
        release_entries(source, chunk.iter().copied());
        bar.inc(chunk.iter().map(|e| e.data.len() as u64).sum());
        for d in decoded {
            let mut s = d.summary;
            s.committed = s.index <= commit;
            s.in_snapshot = true;
            classify(&s, &mut out.findings, &mut out.old_undecryptable);
            out.stats.add(&s);
            if s.notable() {
                out.notable.push(s);
            }
        }
    }
    out
}

/// Merge two lists sorted by `key`; at equal keys, items of `first` come first.
fn merge_by_index<T>(first: Vec<T>, second: Vec<T>, key: impl Fn(&T) -> u64) -> Vec<T> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    let (mut a, mut b) = (first.into_iter().peekable(), second.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if key(y) < key(x) => out.extend(b.next()),
            (Some(_), _) => out.extend(a.next()),
            (None, Some(_)) => out.extend(b.next()),
            (None, None) => break,
        }
    }
    out
}

/// Entries decoded per parallel batch (two batches are in memory at once).
const ENTRY_CHUNK: usize = 2048;

/// An empty store as the options ask (full or projected).
fn new_store(opts: &Options) -> Store {
    if opts.projected_store { Store::projected() } else { Store::default() }
}

/// Release the mapped pages under a decoded chunk of entries: per segment, the span from the
/// chunk's first to its last byte (pages shared with the next chunk stay until it is done).
pub(crate) fn release_entries<'a>(source: &Source, chunk: impl IntoIterator<Item = &'a EntryRec>) {
    let mut spans: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for e in chunk.into_iter().filter(|e| !e.data.is_empty()) {
        let (s, t) = (e.data.as_ptr() as usize, e.data.as_ptr() as usize + e.data.len());
        let span = spans.entry(e.seg).or_insert((s, t));
        span.0 = span.0.min(s);
        span.1 = span.1.max(t);
    }
    for (_, (s, t)) in spans {
        source.release_span(s, t);
    }
}

fn conf_change_name(t: i32) -> &'static str {
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
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    crate::wirecheck::check("docker.swarmkit.v1.InternalRaftRequest", plain).ok()?;
    fn delimited<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = usize::try_from(decode_varint(buf).ok()?).ok()?;
        let (a, b) = (buf.get(..len)?, buf.get(len..)?);
        *buf = b;
        Some(a)
    }
    let (mut buf, mut request_id, mut actions) = (plain, 0u64, Vec::new());
    while !buf.is_empty() {
        match decode_key(&mut buf).ok()? {
            (1, WireType::Varint) => request_id = decode_varint(&mut buf).ok()?,
            (2, WireType::LengthDelimited) => {
                let mut a = delimited(&mut buf)?;
                let (mut verb, mut target) = (0i32, None);
                while !a.is_empty() {
                    match decode_key(&mut a).ok()? {
                        (1, WireType::Varint) => verb = decode_varint(&mut a).ok()? as i32,
                        (t @ 2..=11, WireType::LengthDelimited) => {
                            delimited(&mut a)?;
                            target = Some(t);
                        }
                        (t, w) => skip_field(w, t, &mut a, DecodeContext::default()).ok()?,
                    }
                }
                // A target field number is 2-11 (matched above).
                let kind = target.map_or(Kind::Resource, |t| Kind::STORE_ACTION_TARGETS[t as usize - 2]);
                let name = if target.is_none() { "(no object)".to_string() } else { String::new() };
                actions.push(ActionSummary { verb: Verb::from_i32(verb), kind, id: String::new(), name, version: 0 });
            }
            (t, w) => skip_field(w, t, &mut buf, DecodeContext::default()).ok()?,
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
        Err(reason) => {
            summary.payload = Payload::Undecryptable { reason };
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
        0 => match api::InternalRaftRequest::decode(plain.as_slice()) {
            Ok(req) => {
                let mut sums = Vec::with_capacity(req.action.len());
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
        1 => match raftpb::ConfChange::decode(plain.as_slice()) {
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
fn looks_encrypted(wal: &WalLog) -> bool {
    let mut seen = 0;
    for e in wal.entries.iter().filter(|e| !e.data.is_empty()).take(16) {
        seen += 1;
        let ok = match api::MaybeEncryptedRecord::decode(e.data.clone()) {
            Ok(r) => (r.algorithm == 1 && r.nonce.len() == 24) || (r.algorithm == 2 && r.nonce.is_empty()),
            Err(_) => false,
        };
        if !ok {
            return false;
        }
    }
    seen > 0
}

pub(crate) fn apply_conf(m: &mut Membership, conf: &(i32, u64, Option<api::RaftMember>)) {
    let (t, id, member) = conf;
    match t {
        0 | 2 | 3 => {
            let (nid, addr) = member.as_ref().map(|r| (r.node_id.clone(), r.addr.clone())).unwrap_or_default();
            m.members.insert(*id, (nid, addr));
        }
        1 => {
            m.members.remove(id);
            if !m.removed.contains(id) {
                m.removed.push(*id);
            }
        }
        _ => {}
    }
}

impl Analysis {
    /// Load and analyse one input.
    pub fn load(path: &Path, opts: &Options) -> Result<Analysis> {
        Self::load_with(path, opts, &mut NoSink)
    }

    /// [`Analysis::load`], handing the scanned WAL and then every entry's summary to `sink`, in
    /// log order as it is decoded (whatever [`Detail`] keeps), so a caller can stream them out.
    pub fn load_with(path: &Path, opts: &Options, sink: &mut dyn EntrySink) -> Result<Analysis> {
        let structure_only = opts.detail == Detail::Structure;
        let bar = crate::progress::Bar::new(opts.progress);
        let source = Source::open(path, opts.read)?;
        let (layout, mut findings) = layout::detect(&source);
        if layout.wal_files.is_empty() && layout.snap_files.is_empty() {
            return Err(Error::NotSwarmState {
                path: path.to_path_buf(),
                why: "no WAL segments and no snapshots found (a worker node, or not a swarm dir)".into(),
            });
        }
        let (keys, deks, _nk) = load_keys(&source, &layout, opts.unlock_key.as_ref(), &mut findings);
        // WAL.
        let mut segs = Vec::new();
        let mut seg_bytes = Vec::new();
        for (name, _) in &layout.wal_files {
            let rel = if layout.wal_dir.is_empty() { name.clone() } else { format!("{}/{}", layout.wal_dir, name) };
            let data = source.read(&rel)?;
            seg_bytes.push(data.clone());
            segs.push((name.clone(), source.display(&rel), data));
        }
        bar.stage("scanning WAL", seg_bytes.iter().map(|b| b.len() as u64).sum());
        let wal = wal::read_wal_with(segs, &|b| {
            source.release(b);
            bar.inc(b.len() as u64);
        });
        for b in &seg_bytes {
            source.release(b);
        }
        drop(seg_bytes);
        bar.trace("WAL scanned");
        let encrypted = match layout.kind.encrypted() {
            Some(e) => e,
            None => !deks.is_empty() || layout.key_file.is_some() || looks_encrypted(&wal),
        };
        if encrypted && deks.is_empty() && !opts.allow_no_keys {
            let why = keys.problem.clone().unwrap_or_else(|| "no raft DEK available".into());
            return Err(Error::Key(format!("cannot decrypt {}: {why}", source.input.display())));
        }
        findings.extend(wal.findings.iter().cloned());
        sink.start(&wal);
        let member = wal.metadata.as_ref().and_then(|m| api::RaftMember::decode(m.clone()).ok());
        if wal.metadata.is_some() && member.is_none() {
            findings.push(Finding::new(
                "wal.metadata_undecodable",
                Severity::Warning,
                "WAL metadata is not an api.RaftMember",
            ));
        }
        // Snapshots: containers first, then every payload decrypted and decoded object by object
        // in parallel (only the presumptive base builds a store; nothing else is kept).
        let commit = wal.commit();
        let mut files: Vec<SnapFile> = Vec::with_capacity(layout.snap_files.len());
        for (name, _) in &layout.snap_files {
            let rel = if layout.snap_dir.is_empty() { name.clone() } else { format!("{}/{}", layout.snap_dir, name) };
            let data = source.read(&rel)?;
            files.push(snap::read_snap(name, &source.display(&rel), &data));
            source.release(&data);
        }
        bar.trace("snapshot containers checked");
        let presumptive = (0..files.len())
            .rev()
            .find(|&i| files[i].container_ok && (wal.hard_state.is_none() || files[i].index <= commit));
        // Under Detail::Check without a sink, the entries the presumptive base snapshot covers are
        // checked while the snapshots are read (they need no store); used only if that snapshot
        // turns out to be the base.
        let early_index = presumptive
            .filter(|_| opts.detail == Detail::Check && !sink.wants_entries() && !structure_only)
            .map(|i| files[i].index);
        let covered: Vec<&EntryRec> = match early_index {
            Some(p) => wal.entries.iter().filter(|e| e.index <= p).collect(),
            None => Vec::new(),
        };
        bar.stage(
            "reading snapshots",
            covered.iter().map(|e| e.data.len() as u64).sum::<u64>()
                + if structure_only {
                    0
                } else {
                    files.iter().map(|f| f.payload.as_ref().map_or(0, |p| p.len() as u64)).sum()
                },
        );
        let (walked, early) = rayon::join(
            || {
                use rayon::prelude::*;
                files
                    .par_iter()
                    .enumerate()
                    .map(|(i, sf)| {
                        if structure_only {
                            return None;
                        }
                        let payload = sf.payload.as_deref().unwrap_or(&[]);
                        let build = Some(i) == presumptive;
                        let on_wire = opts.detail == Detail::Check && !build;
                        let into = build.then(|| new_store(opts));
                        let r = sf.container_ok.then(|| snapshot_state_with(payload, encrypted, &deks, into, on_wire));
                        source.release(payload);
                        bar.inc(payload.len() as u64);
                        r
                    })
                    .collect::<Vec<Option<std::result::Result<SnapState, String>>>>()
            },
            || early_index.map(|_| check_covered(&covered, commit, encrypted, &deks, &wal, &source, &bar)),
        );
        drop(covered);
        let mut snapshots = Vec::with_capacity(files.len());
        let mut built: Vec<Option<(Store, Membership)>> = Vec::with_capacity(files.len());
        let mut snap_payloads = Vec::with_capacity(files.len());
        for (sf, w) in files.into_iter().zip(walked) {
            findings.extend(sf.findings.iter().cloned());
            let mut info = SnapInfo {
                file: sf.name.clone(),
                display: sf.display.clone(),
                term: sf.term,
                index: sf.index,
                bytes: sf.size,
                valid: false,
                voters: sf.voters.clone(),
                dek: None,
                membership: None,
                objects: BTreeMap::new(),
                problem: None,
                has_marker: wal.markers.iter().any(|m| m.index == sf.index && m.term == sf.term),
                payload_checked: !structure_only,
                wire: None,
            };
            let mut b = None;
            match w {
                None if structure_only && sf.container_ok => info.valid = true,
                None => {
                    info.problem = Some(
                        sf.findings.first().map(|f| f.message.clone()).unwrap_or_else(|| "damaged container".into()),
                    );
                }
                Some(Ok(st)) => {
                    info.valid = true;
                    info.dek = st.dek;
                    info.membership = st.membership.clone();
                    info.objects = st.objects;
                    info.wire = Some(st.wire);
                    b = st.store.map(|s| (s, st.membership.unwrap_or_default()));
                }
                Some(Err(e)) => {
                    findings.push(
                        Finding::new("snap.payload", Severity::Error, format!("snapshot payload: {e}"))
                            .file(&sf.display)
                            .index(sf.index)
                            .term(sf.term),
                    );
                    info.problem = Some(e);
                }
            }
            snapshots.push(info);
            built.push(b);
            snap_payloads.push(if sf.container_ok { sf.payload.clone() } else { None });
        }
        // Base snapshot: newest valid one at or below the commit index (or any, if no HardState).
        let base_snapshot = (0..snapshots.len())
            .rev()
            .find(|&i| snapshots[i].valid && (wal.hard_state.is_none() || snapshots[i].index <= commit))
            .or_else(|| (0..snapshots.len()).rev().find(|&i| snapshots[i].valid));
        let newest = snapshots.len().checked_sub(1);
        if let (Some(b), Some(n)) = (base_snapshot, newest) {
            if b != n {
                findings.push(
                    Finding::new(
                        "snap.fallback",
                        Severity::Warning,
                        format!(
                            "the newest snapshot {} is not usable; the state is rebuilt from the older {}",
                            snapshots[n].file, snapshots[b].file
                        ),
                    )
                    .file(snapshots[n].display.clone()),
                );
            }
        }
        let (mut state, mut membership, base_index) = match base_snapshot {
            _ if structure_only => (Store::default(), Membership::default(), 0),
            Some(i) => {
                let (st, m) = match built[i].take() {
                    Some(x) => x,
                    // The presumptive base was not usable: build the store from this one.
                    None => snapshot_state_with(
                        snap_payloads[i].as_deref().unwrap_or(&[]),
                        encrypted,
                        &deks,
                        Some(new_store(opts)),
                        false,
                    )
                    .map(|s| (s.store.unwrap_or_default(), s.membership.unwrap_or_default()))
                    .unwrap_or_default(),
                };
                (st, m, snapshots[i].index)
            }
            None => (new_store(opts), Membership::default(), 0),
        };
        drop(built);
        if let Some(first) = wal.first_index() {
            if first > base_index + 1 {
                findings.push(
                    Finding::new(
                        "replay.gap",
                        Severity::Error,
                        format!(
                            "the WAL starts at index {first} but the base snapshot is at {base_index}: entries {}-{} are missing, so the state cannot be rebuilt exactly",
                            base_index + 1,
                            first - 1
                        ),
                    )
                    .index(base_index + 1),
                );
            }
        }
        // Entries, in chunks: overwritten ones are interleaved before the live entry at their index.
        // The early check counts only if its snapshot is the base.
        let early = early.filter(|_| base_snapshot.is_some_and(|b| Some(snapshots[b].index) == early_index));
        let done_upto = early.as_ref().map(|_| base_index);
        let mut all: Vec<&EntryRec> = if structure_only {
            Vec::new()
        } else {
            wal.entries.iter().filter(|e| done_upto.is_none_or(|u| e.index > u)).chain(wal.overwritten.iter()).collect()
        };
        all.sort_by_key(|e| (e.index, e.overwritten_by.is_none(), e.seg, e.offset));
        let mut entries = Vec::with_capacity(if opts.detail == Detail::Entries { all.len() } else { 0 });
        let mut stats = EntryStats { payloads_read: !structure_only, ..Default::default() };
        bar.stage("decoding entries", all.iter().map(|e| e.data.len() as u64).sum());
        let mut state_index = base_index;
        let mut old_undecryptable: Vec<u64> = Vec::new();
        let mut entry_findings: Vec<Finding> = Vec::new();
        // Decrypt and decode chunk k+1 on the pool while this thread applies chunk k. Objects of
        // entries that are not applied (in the snapshot, uncommitted, overwritten) are dropped on
        // the pool too: freeing them is a large part of the work.
        use rayon::prelude::*;
        let decode_chunk = |chunk: &[&EntryRec]| -> Vec<Decoded> {
            let out = chunk
                .par_iter()
                .map(|e| {
                    let covered = base_snapshot.is_some() && e.overwritten_by.is_none() && e.index <= base_index;
                    let on_wire = opts.detail == Detail::Check && covered;
                    let mut d = decode_entry_with(e, encrypted, &deks, wal.seg_display(e.seg), on_wire);
                    let applies = e.overwritten_by.is_none() && e.index <= commit && e.index > base_index;
                    if !applies {
                        d.actions = Vec::new();
                    }
                    d
                })
                .collect();
            release_entries(&source, chunk.iter().copied());
            bar.inc(chunk.iter().map(|e| e.data.len() as u64).sum());
            out
        };
        let chunks: Vec<&[&EntryRec]> = all.chunks(ENTRY_CHUNK).collect();
        let mut next = chunks.first().map(|c| decode_chunk(c));
        for k in 0..chunks.len() {
            let decoded = next.take().unwrap_or_default();
            let (n, ()) = rayon::join(
                || chunks.get(k + 1).map(|c| decode_chunk(c)),
                || {
                    for mut d in decoded {
                        let live = d.summary.overwritten_by_term.is_none();
                        d.summary.committed = live && d.summary.index <= commit;
                        d.summary.in_snapshot = d.summary.index <= base_index && base_snapshot.is_some();
                        classify(&d.summary, &mut entry_findings, &mut old_undecryptable);
                        if d.summary.committed && d.summary.index > base_index {
                            for (verb, obj) in d.actions.drain(..) {
                                if let Some(an) = state.apply(verb, obj) {
                                    entry_findings.push(
                                        Finding::new("replay.anomaly", Severity::Warning, an.to_string())
                                            .index(d.summary.index)
                                            .term(d.summary.term),
                                    );
                                }
                            }
                            if let Some(c) = &d.conf {
                                apply_conf(&mut membership, c);
                            }
                            state_index = d.summary.index;
                        }
                        stats.add(&d.summary);
                        sink.entry(&d.summary);
                        if opts.detail == Detail::Entries || d.summary.notable() {
                            entries.push(d.summary);
                        }
                    }
                },
            );
            next = n;
        }
        bar.finish();
        // Merge what the early check found, in log order (at one index, an overwritten entry comes
        // before the live one, and only live entries were checked early).
        if let Some(c) = early {
            stats.merge(c.stats);
            entry_findings = merge_by_index(entry_findings, c.findings, |f| f.index.unwrap_or(0));
            entries = merge_by_index(entries, c.notable, |e| e.index);
            old_undecryptable.extend(c.old_undecryptable);
            old_undecryptable.sort_unstable();
        }
        findings.extend(entry_findings);
        if let (Some(f), Some(l)) = (old_undecryptable.first(), old_undecryptable.last()) {
            findings.push(
                Finding::new(
                    "entry.undecryptable_in_snapshot",
                    Severity::Info,
                    format!(
                        "{} entries between index {f} and {l} are encrypted with a DEK that is gone (retired by a DEK rotation); they are covered by the snapshot, so nothing is lost",
                        old_undecryptable.len()
                    ),
                )
                .index(*f),
            );
        }
        let uncommitted: Vec<&EntryRec> = wal.entries.iter().filter(|e| e.index > commit).collect();
        if let (Some(f), Some(l)) = (uncommitted.first(), uncommitted.last()) {
            if wal.hard_state.is_some() {
                findings.push(
                    Finding::new(
                        "wal.uncommitted_tail",
                        Severity::Info,
                        format!(
                            "entries {}-{} are past HardState.commit {commit}: not committed on this manager; raft may still commit or discard them",
                            f.index, l.index
                        ),
                    )
                    .index(f.index),
                );
            }
        }
        for s in &snapshots {
            if !s.has_marker && s.index > 0 && !wal.segments.is_empty() {
                let covered =
                    wal.markers.iter().any(|m| m.index < s.index) || wal.first_index().is_some_and(|f| f <= s.index);
                if covered {
                    findings.push(
                        Finding::new(
                            "snap.no_marker",
                            Severity::Warning,
                            "no snapshot marker in the WAL for this snapshot",
                        )
                        .file(&s.display)
                        .index(s.index)
                        .term(s.term),
                    );
                }
            }
        }
        if let (Some(m), Some(c)) = (&member, &keys.cert) {
            if m.node_id != c.node_id {
                findings.push(Finding::new(
                    "key.cert_node_mismatch",
                    Severity::Error,
                    format!("certificate CN {} is not the node ID {} in the WAL metadata", c.node_id, m.node_id),
                ));
            }
        }
        Ok(Analysis {
            source,
            layout,
            keys,
            deks,
            encrypted,
            wal,
            member,
            snapshots,
            base_snapshot,
            snap_payloads,
            entries,
            state,
            membership,
            state_index,
            findings,
            stats,
            detail: opts.detail,
        })
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The Docker version era, with the evidence for it.
    pub fn era(&self) -> Vec<String> {
        let mut v = Vec::new();
        match self.layout.kind {
            LayoutKind::Legacy => v.push("Docker 1.12 (plaintext wal/snap, etcd 2.3 frames)".to_string()),
            LayoutKind::V3Plain => v.push("Docker 1.13 development build (plaintext wal-v3)".to_string()),
            LayoutKind::V3Encrypted => {
                let markers: Vec<_> = self.wal.markers.iter().filter(|m| m.index > 0).collect();
                if markers.iter().any(|m| m.has_conf_state) {
                    v.push("Docker 23.0 or later (snapshot markers carry a ConfState: etcd 3.5+)".to_string());
                } else if !markers.is_empty() {
                    v.push("Docker 1.13 to 20.10 (snapshot markers without ConfState: etcd 3.0-3.3)".to_string());
                } else {
                    v.push("Docker 1.13 or later (wal-v3-encrypted)".to_string());
                }
            }
            LayoutKind::Bare => {}
        }
        if let Some(m) = &self.member {
            if let Some(Object::Node(n)) = self.state.get(Kind::Node, &m.node_id) {
                if let Some(ev) =
                    n.description.as_ref().and_then(|d| d.engine.as_ref()).map(|e| e.engine_version.clone())
                {
                    if !ev.is_empty() {
                        v.push(format!("engine {ev} (this node's own description in the store)"));
                    }
                }
            }
        }
        v
    }
}
