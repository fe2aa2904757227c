//! `synth`: write a swarm state dir of any scale in Docker's exact on-disk format, from a seeded
//! simulation of a swarm manager's history.
//!
//! What is written under the output dir (the swarm dir, as `/var/lib/docker/swarm`):
//! - `raft/wal-v3-encrypted/`: etcd WAL segments named `%016x-%016x.wal` (seq, first index),
//!   cut after the batch that takes a segment to [`SEGMENT_SIZE`] bytes or more (closed segments are
//!   truncated to their end, so slightly over 64,000,000 bytes); the active segment is preallocated
//!   to 64,000,000 bytes with a zero tail, and a spare preallocated `N.tmp` sits beside it as etcd's
//!   file pipeline leaves it. The first segment starts crc(0), metadata (`api.RaftMember`),
//!   snapshot marker {0, 0}; later ones crc(previous chain value), metadata, the last HardState.
//!   Entries are `raftpb.Entry` whose data is a `MaybeEncryptedRecord` (secretbox under the DEK,
//!   random nonces from the seeded RNG), each batch followed by a HardState record whose commit lags
//!   one batch, as on a leader.
//! - `raft/snap-v3-encrypted/`: a snapshot every `snapshot_interval` applied entries, named
//!   `%016x-%016x.snap` (term, index): `snappb.Snapshot{crc32c, raftpb.Snapshot{data = encrypted
//!   api.Snapshot, metadata{conf_state voters, index, term}}}`, with its marker (carrying the
//!   ConfState, as etcd 3.5+ / Docker 23+ write it) in the WAL; after each one swarmkit's GC runs:
//!   `keep_old_snapshots` older snapshots are kept and WAL segments wholly below the oldest kept
//!   snapshot are deleted.
//! - `certificates/`: `swarm-root-ca.crt` (a P-256 root `CN=swarm-ca`), `swarm-node.crt` (issued
//!   by it: `O=<cluster>, OU=swarm-manager, CN=<node>`), `swarm-node.key` (PKCS#8 P-256 key with
//!   `kek-version` and `raft-dek` PEM headers; with autolock the DEK header is secretbox-encrypted
//!   with the KEK and the key is PKCS#8 PBES2 (PBKDF2-HMAC-SHA1, 2048 rounds, AES-256-CBC) with the
//!   raw KEK as password, as swarmkit writes it).
//! - `state.json` (the manager peers) and `docker-state.json` (dockerd's node start config).
//!
//! Addresses: every node gets its own address in 10.128.0.0/10 unless `addr` is given; then every
//! stored node and manager address is that one (managers on ports 2377, 2378, ...), so that a real
//! engine started on the output dials only that address. Overlay subnets, VIPs and the default
//! address pool stay in 10.0.0.0/8: they are IPAM ranges for containers, never dialled.
//!
//! The history: the first manager bootstraps the cluster (ConfChange, election no-op, cluster,
//! node and predefined networks), the other managers join (ConfChange entries), worker nodes join
//! (create, certificate issued, ready), networks, secrets and big configs are created, then
//! services with their tasks, each task walking NEW → PENDING → ASSIGNED → ACCEPTED → PREPARING →
//! STARTING → RUNNING in batches (allocator, scheduler, dispatcher). Then random churn until the
//! targets are met: tasks failing (`task: non-zero exit (1)`) and restarted in their slot with
//! the task reaper keeping `task_history` tasks per slot, rolling updates, scaling, services
//! created and removed, nodes going down and coming back, drain/active, leader elections (term +1
//! and a no-op entry). Every object's `meta.version.index` is the committed index when it was
//! proposed (the previous entry's index), and `created_at`/`updated_at` follow a monotonic clock.
//!
//! Determinism: the output depends only on the options (every random choice, ID, key, nonce and
//! timestamp comes from one seeded RNG; no hash-map order reaches the output; ECDSA signatures are
//! RFC 6979 deterministic).
//!
//! Memory: the generator holds the live objects (like a manager's store) and one WAL segment
//! buffer; a snapshot is encoded straight from the store.

use crate::crypto::encrypt_secretbox;
use crate::crypto::keys::UnlockKey;
use crate::decode::object::{Kind, Object, Verb};
use crate::error::{Error, Result};
use crate::format::wal::{SEGMENT_SIZE, encode::SegmentWriter, rtype};
use crate::pb::docker::swarmkit::v1 as api;
use crate::pb::{raftpb, snappb, walpb};
use crate::replay::store::Store;
use api::store_action::Target;
use prost::Message;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// ---- RNG -----------------------------------------------------------------------------------

/// xoshiro256** seeded through splitmix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    /// A generator for this seed.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64 }
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    /// Fill a buffer with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
    /// A swarmkit object ID: 128 random bits in base 36, zero-padded to 25 characters
    /// (`identity.NewID`).
    pub fn swarm_id(&mut self) -> String {
        let mut n = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        let mut out = [b'0'; 25];
        let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut i = 25;
        while n > 0 && i > 0 {
            i -= 1;
            out[i] = digits[(n % 36) as usize];
            n /= 36;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

// ---- Options and report ---------------------------------------------------------------------

/// What to generate. [`Default`] models Swarm3k: 4,700 nodes, 3 managers, about 100,000 tasks
/// over the history.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Nodes in total, managers included.
    pub nodes: usize,
    /// Managers (raft members).
    pub managers: usize,
    /// Services created at the start (churn creates and removes more, keeping about this many).
    pub services: usize,
    /// Tasks to create over the history (at least; the run stops at the first entry after all
    /// targets are met).
    pub tasks: u64,
    /// Raft entries to write at least.
    pub entries: u64,
    /// WAL bytes to write at least (counting segments later deleted by GC).
    pub wal_bytes: u64,
    /// Seed for every random choice.
    pub seed: u64,
    /// Cluster `raft.snapshot_interval`.
    pub snapshot_interval: u64,
    /// Cluster `raft.keep_old_snapshots`.
    pub keep_old_snapshots: u64,
    /// Cluster `orchestration.task_history_retention_limit`.
    pub task_history: u64,
    /// Configs created (each `config_bytes` of base64 text).
    pub configs: usize,
    /// Size of each config.
    pub config_bytes: usize,
    /// Secrets created.
    pub secrets: usize,
    /// Overlay networks created.
    pub networks: usize,
    /// Autolock: the DEK header and the private key are encrypted with this KEK (a key is
    /// generated from the seed when `autolock` is set and this is `None`).
    pub unlock_key: Option<UnlockKey>,
    /// Autolock on.
    pub autolock: bool,
    /// Segment size (etcd's is 64,000,000 bytes; smaller values only make tests quicker).
    pub segment_size: u64,
    /// Engine version written in node descriptions.
    pub engine_version: String,
    /// Unix time (seconds) the simulated history starts at (the clock then only moves forward).
    pub start_unix: u64,
    /// Show a progress bar on stderr when it is a terminal.
    pub progress: bool,
    /// One IPv4 address written for every node and manager (`--addr`): node status addresses,
    /// raft member addresses (`ADDR:2377`, the next managers on the ports after it),
    /// `state.json` and `docker-state.json`. `None`: each node gets its own address in
    /// 10.128.0.0/10.
    pub addr: Option<std::net::Ipv4Addr>,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            nodes: 4_700,
            managers: 3,
            services: 200,
            tasks: 100_000,
            entries: 0,
            wal_bytes: 0,
            seed: 1,
            snapshot_interval: 10_000,
            keep_old_snapshots: 0,
            task_history: 5,
            configs: 20,
            config_bytes: 100_000,
            secrets: 20,
            networks: 8,
            unlock_key: None,
            autolock: false,
            segment_size: SEGMENT_SIZE,
            engine_version: "27.5.1".into(),
            start_unix: EPOCH,
            progress: false,
            addr: None,
        }
    }
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct FileOut {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// What the generator made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SynthReport {
    /// Output dir.
    pub output: String,
    /// Seed used.
    pub seed: u64,
    /// Last raft index (= entries written).
    pub last_index: u64,
    /// Last term.
    pub term: u64,
    /// Last HardState commit (= `last_index`).
    pub commit: u64,
    /// First index still in the WAL after GC.
    pub first_wal_index: u64,
    /// WAL segments on disk, oldest first.
    pub segments: Vec<FileOut>,
    /// Snapshots on disk, oldest first.
    pub snapshots: Vec<FileOut>,
    /// Snapshots written in all (including those GC deleted).
    pub snapshots_written: u64,
    /// Segments deleted by GC.
    pub segments_deleted: u64,
    /// Record bytes written to the WAL in all (including deleted segments, excluding zero tails).
    pub wal_bytes_written: u64,
    /// Bytes of WAL segments on disk (apparent size, zero tail included).
    pub wal_bytes_on_disk: u64,
    /// Bytes of snapshots on disk.
    pub snapshot_bytes_on_disk: u64,
    /// Entries by kind of content: "normal", "no-op", "confchange".
    pub entries_by_type: BTreeMap<String, u64>,
    /// Store actions written, by "verb kind".
    pub actions: BTreeMap<String, u64>,
    /// Objects created over the history, by kind.
    pub created: BTreeMap<String, u64>,
    /// Live objects at the last index, by kind (what `info` should count).
    pub live: BTreeMap<String, u64>,
    /// Tasks that failed.
    pub task_failures: u64,
    /// Leader elections after the first.
    pub elections: u64,
    /// Raft members.
    pub managers: usize,
    /// The node whose WAL this is.
    pub node_id: String,
    /// The cluster ID.
    pub cluster_id: String,
    /// Autolock on.
    pub autolock: bool,
    /// The unlock key, when autolock is on (`SWMKEY-1-...`).
    pub unlock_key: Option<String>,
    /// Options that were changed to fit (a manager count clamped to 1-7, a node count raised
    /// to the managers), one sentence each.
    pub adjusted: Vec<String>,
}

// ---- WAL output -----------------------------------------------------------------------------

struct Seg {
    seq: u64,
    index: u64,
    name: String,
}

/// The WAL as etcd writes it: one segment buffer in memory, closed segments on disk.
struct WalOut {
    dir: PathBuf,
    seg_size: u64,
    metadata: Vec<u8>,
    w: SegmentWriter,
    cur: Seg,
    closed: Vec<Seg>,
    last_hs: Option<raftpb::HardState>,
    last_index: u64,
    bytes_written: u64,
    cuts: u64,
    deleted: u64,
}

fn wal_name(seq: u64, index: u64) -> String {
    format!("{seq:016x}-{index:016x}.wal")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Io { path: path.to_path_buf(), source: e }
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io_err(path))?;
    f.write_all(data).map_err(io_err(path))?;
    Ok(())
}

/// A file of `len` zero bytes (sparse), like a preallocated segment.
fn write_prealloc(path: &Path, data: &[u8], len: u64) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io_err(path))?;
    f.write_all(data).map_err(io_err(path))?;
    if (data.len() as u64) < len {
        f.set_len(len).map_err(io_err(path))?;
    }
    Ok(())
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(mode).create(path).map_err(io_err(path))
}

impl WalOut {
    fn create(dir: PathBuf, seg_size: u64, metadata: Vec<u8>) -> WalOut {
        let mut w = SegmentWriter::new(0, false);
        w.record(rtype::METADATA, Some(&metadata));
        let marker = walpb::Snapshot { index: Some(0), term: Some(0), conf_state: None };
        w.record(rtype::SNAPSHOT, Some(&marker.encode_to_vec()));
        WalOut {
            dir,
            seg_size,
            metadata,
            w,
            cur: Seg { seq: 0, index: 0, name: wal_name(0, 0) },
            closed: Vec::new(),
            last_hs: None,
            last_index: 0,
            bytes_written: 0,
            cuts: 0,
            deleted: 0,
        }
    }

    /// etcd `Save(hardState, entries)`: entry records, then the state record (unless empty),
    /// then cut if the segment reached its size.
    fn save(&mut self, entries: &[(u64, Vec<u8>)], hs: Option<raftpb::HardState>) -> Result<()> {
        for (index, e) in entries {
            self.w.record(rtype::ENTRY, Some(e));
            self.last_index = *index;
        }
        if let Some(h) = hs {
            if h.term() != 0 || h.vote() != 0 || h.commit() != 0 {
                self.w.record(rtype::STATE, Some(&h.encode_to_vec()));
                self.last_hs = Some(h);
            }
        }
        if self.w.buf.len() as u64 >= self.seg_size {
            self.cut()?;
        }
        Ok(())
    }

    /// etcd `SaveSnapshot`: a marker record.
    fn save_marker(&mut self, index: u64, term: u64, voters: &[u64]) {
        let cs = raftpb::ConfState { voters: voters.to_vec(), auto_leave: Some(false), ..Default::default() };
        let m = walpb::Snapshot { index: Some(index), term: Some(term), conf_state: Some(cs) };
        self.w.record(rtype::SNAPSHOT, Some(&m.encode_to_vec()));
    }

    /// etcd `cut`: truncate the full segment at its end, open the next one with crc, metadata and
    /// the last HardState.
    fn cut(&mut self) -> Result<()> {
        let path = self.dir.join(&self.cur.name);
        write_file(&path, &self.w.buf, 0o600)?;
        self.bytes_written += self.w.buf.len() as u64;
        let next = Seg {
            seq: self.cur.seq + 1,
            index: self.last_index + 1,
            name: wal_name(self.cur.seq + 1, self.last_index + 1),
        };
        self.closed.push(std::mem::replace(&mut self.cur, next));
        let mut w = SegmentWriter::new(self.w.crc, false);
        w.record(rtype::METADATA, Some(&self.metadata));
        if let Some(h) = &self.last_hs {
            w.record(rtype::STATE, Some(&h.encode_to_vec()));
        }
        self.w = w;
        self.cuts += 1;
        Ok(())
    }

    /// swarmkit's WAL GC for the oldest kept snapshot index: delete segments `0..i-1` where `i`
    /// is the first segment whose name index is at or past it (all but the newest if none is).
    fn gc(&mut self, oldest_snap_index: u64) -> Result<()> {
        let all: Vec<u64> = self.closed.iter().map(|s| s.index).chain(std::iter::once(self.cur.index)).collect();
        let delete_until = match all.iter().position(|&i| i >= oldest_snap_index) {
            Some(i) => i as isize - 1,
            None => all.len() as isize - 1,
        };
        let n = delete_until.max(0) as usize;
        // Only closed segments can be below `delete_until` (the active one is the newest).
        let n = n.min(self.closed.len());
        for s in self.closed.drain(..n) {
            let p = self.dir.join(&s.name);
            std::fs::remove_file(&p).map_err(io_err(&p))?;
            self.deleted += 1;
        }
        Ok(())
    }

    /// Write the active segment, preallocated, and the spare file of etcd's pipeline.
    fn finish(mut self) -> Result<WalOut> {
        let path = self.dir.join(&self.cur.name);
        write_prealloc(&path, &self.w.buf, self.seg_size)?;
        self.bytes_written += self.w.buf.len() as u64;
        let spare = self.dir.join(format!("{}.tmp", self.cuts % 2));
        write_prealloc(&spare, &[], self.seg_size)?;
        self.w.buf = Vec::new();
        Ok(self)
    }
}

// ---- Keys and certificates ------------------------------------------------------------------

/// PEM text as Go's `pem.Encode` writes it: headers (Proc-Type first, the rest sorted), a blank
/// line, base64 in 64-character lines.
fn pem_encode(tag: &str, headers: &[(&str, String)], der: &[u8]) -> String {
    use base64::Engine as _;
    let mut s = format!("-----BEGIN {tag}-----\n");
    let mut hs: Vec<&(&str, String)> = headers.iter().collect();
    hs.sort_by_key(|(k, _)| (*k != "Proc-Type", *k));
    for (k, v) in &hs {
        s.push_str(&format!("{k}: {v}\n"));
    }
    if !hs.is_empty() {
        s.push('\n');
    }
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    for line in b.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push('\n');
    }
    s.push_str(&format!("-----END {tag}-----\n"));
    s
}

/// A P-256 key from the RNG (rejection-sampled into the scalar field).
fn p256_key(rng: &mut Rng) -> p256::SecretKey {
    loop {
        let b = rng.bytes(32);
        if let Ok(k) = p256::SecretKey::from_slice(&b) {
            return k;
        }
    }
}

/// Certificate profile for swarmkit's CA: a root (`CN=swarm-ca`) or a node certificate.
struct SwarmProfile {
    subject: x509_cert::name::Name,
    issuer: x509_cert::name::Name,
    ca: bool,
    sans: Vec<String>,
    issuer_ski: Option<Vec<u8>>,
}

impl x509_cert::builder::profile::BuilderProfile for SwarmProfile {
    fn get_issuer(&self, _subject: &x509_cert::name::Name) -> x509_cert::name::Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> x509_cert::name::Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::certificate::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        use x509_cert::der::asn1::{Ia5String, OctetString};
        use x509_cert::ext::ToExtension;
        use x509_cert::ext::pkix::name::GeneralName;
        use x509_cert::ext::pkix::{
            AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
            SubjectKeyIdentifier,
        };
        let subj = tbs.subject();
        let mut ext = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        if self.ca {
            ext.push(KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).to_extension(subj, &ext)?);
            ext.push(BasicConstraints { ca: true, path_len_constraint: None }.to_extension(subj, &ext)?);
            ext.push(ski.to_extension(subj, &ext)?);
        } else {
            ext.push(KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment).to_extension(subj, &ext)?);
            let eku = ExtendedKeyUsage(vec![
                x509_cert::der::oid::db::rfc5280::ID_KP_SERVER_AUTH,
                x509_cert::der::oid::db::rfc5280::ID_KP_CLIENT_AUTH,
            ]);
            ext.push(eku.to_extension(subj, &ext)?);
            ext.push(BasicConstraints { ca: false, path_len_constraint: None }.to_extension(subj, &ext)?);
            ext.push(ski.to_extension(subj, &ext)?);
            if let Some(id) = &self.issuer_ski {
                let aki = AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(id.clone())?),
                    ..Default::default()
                };
                ext.push(aki.to_extension(subj, &ext)?);
            }
            let names =
                self.sans.iter().filter_map(|s| Ia5String::new(s).ok()).map(GeneralName::DnsName).collect::<Vec<_>>();
            ext.push(SubjectAltName(names).to_extension(subj, &ext)?);
        }
        Ok(ext)
    }
}

/// A certificate authority and the certificates it issues.
struct Ca {
    key: p256::ecdsa::SigningKey,
    cert_pem: String,
    key_pem: String,
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    ski: Vec<u8>,
    name: x509_cert::name::Name,
}

fn x509_time(unix: u64) -> Result<x509_cert::time::Time> {
    let d = std::time::Duration::from_secs(unix);
    let t = if unix < 2_524_608_000 {
        x509_cert::der::asn1::UtcTime::from_unix_duration(d).map(x509_cert::time::Time::UtcTime)
    } else {
        x509_cert::der::asn1::GeneralizedTime::from_unix_duration(d).map(x509_cert::time::Time::GeneralTime)
    };
    t.map_err(|e| Error::Usage(format!("certificate time: {e}")))
}

fn cert_err(e: impl std::fmt::Display) -> Error {
    Error::Usage(format!("synth: building a certificate failed: {e}"))
}

fn build_cert(
    profile: SwarmProfile,
    serial: &[u8],
    not_before: u64,
    not_after: u64,
    subject_key: &p256::ecdsa::VerifyingKey,
    signer: &p256::ecdsa::SigningKey,
) -> Result<x509_cert::Certificate> {
    use x509_cert::builder::{Builder, CertificateBuilder};
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    let validity = x509_cert::time::Validity::new(x509_time(not_before)?, x509_time(not_after)?);
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key).map_err(cert_err)?;
    let serial = x509_cert::serial_number::SerialNumber::new(serial).map_err(cert_err)?;
    let b = CertificateBuilder::new(profile, serial, validity, spki).map_err(cert_err)?;
    b.build::<_, p256::ecdsa::DerSignature>(signer).map_err(cert_err)
}

impl Ca {
    fn new(rng: &mut Rng, now_s: u64) -> Result<Ca> {
        use p256::pkcs8::EncodePublicKey;
        use std::str::FromStr;
        use x509_cert::der::Encode;
        let sk = p256_key(rng);
        let key = p256::ecdsa::SigningKey::from(&sk);
        let name = x509_cert::name::Name::from_str("CN=swarm-ca").map_err(cert_err)?;
        let spki_der = key.verifying_key().to_public_key_der().map_err(cert_err)?.as_bytes().to_vec();
        let ski = x509_cert::ext::pkix::SubjectKeyIdentifier::try_from(
            x509_cert::spki::SubjectPublicKeyInfoRef::try_from(spki_der.as_slice()).map_err(cert_err)?,
        )
        .map_err(cert_err)?
        .0
        .as_bytes()
        .to_vec();
        let mut serial = rng.bytes(20);
        serial[0] &= 0x7f;
        let start = now_s / 60 * 60 - 300;
        let profile =
            SwarmProfile { subject: name.clone(), issuer: name.clone(), ca: true, sans: vec![], issuer_ski: None };
        let cert = build_cert(profile, &serial, start, start + 20 * 365 * 86_400, key.verifying_key(), &key)?;
        let cert_pem = pem_encode("CERTIFICATE", &[], &cert.to_der().map_err(cert_err)?);
        let sec1 = sk.to_sec1_der().map_err(cert_err)?;
        let key_pem = pem_encode("EC PRIVATE KEY", &[], &sec1);
        let subject_der = name.to_der().map_err(cert_err)?;
        Ok(Ca { key, cert_pem, key_pem, subject_der, spki_der, ski, name })
    }

    /// Issue a node certificate: `O=<cluster>, OU=<role>, CN=<node>`, 90 days, backdated 1 h.
    fn issue(
        &self,
        rng: &mut Rng,
        node_key: &p256::ecdsa::VerifyingKey,
        node: &str,
        role: &str,
        cluster: &str,
        now_s: u64,
    ) -> Result<String> {
        use std::str::FromStr;
        use x509_cert::der::Encode;
        let subject = x509_cert::name::Name::from_str(&format!("CN={node},OU={role},O={cluster}")).map_err(cert_err)?;
        let profile = SwarmProfile {
            subject,
            issuer: self.name.clone(),
            ca: false,
            sans: vec![role.to_string(), node.to_string(), "swarm-ca".to_string()],
            issuer_ski: Some(self.ski.clone()),
        };
        let mut serial = rng.bytes(20);
        serial[0] &= 0x7f;
        let start = now_s / 60 * 60;
        let cert = build_cert(profile, &serial, start - 3600, start + 2160 * 3600, node_key, &self.key)?;
        Ok(pem_encode("CERTIFICATE", &[], &cert.to_der().map_err(cert_err)?))
    }
}

/// A node certificate (PEM) for the same node, role and cluster as `cert_pem`, issued by a
/// throwaway CA on 2020-01-01 for swarmkit's 90 days: expired. For the corruption matrix (a
/// certificate that ran out while the node was down); the raft data is untouched.
pub fn expired_copy_of_node_certificate(cert_pem: &[u8]) -> Result<String> {
    let c = crate::crypto::keys::parse_node_cert(cert_pem).map_err(|e| Error::Usage(e.to_string()))?;
    const JAN_2020: u64 = 1_577_836_800;
    let mut rng = Rng::new(1);
    let ca = Ca::new(&mut rng, JAN_2020)?;
    // The node's own public key, so that the copy still pairs with `swarm-node.key` (Docker checks
    // the pair before the dates: a foreign key reads `tls: private key does not match public key`).
    let node_key = node_public_key(cert_pem)?;
    ca.issue(&mut rng, &node_key, &c.node_id, &c.role, &c.cluster_id, JAN_2020)
}

/// The P-256 public key of the first certificate in `cert_pem`.
fn node_public_key(cert_pem: &[u8]) -> Result<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    use x509_cert::der::{Decode, Encode};
    let blocks = pem::parse_many(cert_pem).map_err(|e| Error::Usage(e.to_string()))?;
    let block =
        blocks.iter().find(|b| b.tag() == "CERTIFICATE").ok_or_else(|| Error::Usage("no certificate".into()))?;
    let cert = x509_cert::Certificate::from_der(block.contents()).map_err(cert_err)?;
    let spki = cert.tbs_certificate().subject_public_key_info().to_der().map_err(cert_err)?;
    let pk = p256::PublicKey::from_public_key_der(&spki).map_err(cert_err)?;
    Ok(p256::ecdsa::VerifyingKey::from(&pk))
}

/// `swarm-node.key`: the PKCS#8 private key (encrypted with the KEK under autolock) with the
/// `kek-version` and `raft-dek` headers.
fn node_key_pem(
    rng: &mut Rng,
    sk: &p256::SecretKey,
    dek: &[u8; 32],
    kek: Option<&[u8]>,
    kek_version: u64,
) -> Result<String> {
    use base64::Engine as _;
    use p256::pkcs8::EncodePrivateKey;
    let doc = sk.to_pkcs8_der().map_err(cert_err)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    match kek {
        None => {
            let rec = api::MaybeEncryptedRecord { algorithm: 0, data: dek.to_vec().into(), nonce: Default::default() };
            let headers = [("kek-version", "0".to_string()), ("raft-dek", b64.encode(rec.encode_to_vec()))];
            Ok(pem_encode("PRIVATE KEY", &headers, doc.as_bytes()))
        }
        Some(kek) => {
            let mut nonce = [0u8; 24];
            rng.fill(&mut nonce);
            let rec = encrypt_secretbox(dek, kek, &nonce);
            let headers = [("kek-version", kek_version.to_string()), ("raft-dek", b64.encode(rec))];
            let salt = rng.bytes(8);
            let mut iv = [0u8; 16];
            rng.fill(&mut iv);
            let params = pkcs8::pkcs5::pbes2::Parameters {
                kdf: pkcs8::pkcs5::pbes2::Pbkdf2Params {
                    salt: salt.as_slice().try_into().map_err(cert_err)?,
                    iteration_count: 2048,
                    key_length: None,
                    prf: pkcs8::pkcs5::pbes2::Pbkdf2Prf::HmacWithSha1,
                }
                .into(),
                encryption: pkcs8::pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv },
            };
            let info = pkcs8::PrivateKeyInfoRef::try_from(doc.as_bytes()).map_err(cert_err)?;
            let enc = info.encrypt_with_params(params, kek).map_err(cert_err)?;
            Ok(pem_encode("ENCRYPTED PRIVATE KEY", &headers, enc.as_bytes()))
        }
    }
}

// ---- The simulation -------------------------------------------------------------------------

const NANOS: u64 = 1_000_000_000;
/// 2025-03-03T09:00:00Z: the simulated clock starts here.
const EPOCH: u64 = 1_740_992_400;
/// swarmkit's `MaxChangesPerTransaction`.
const MAX_CHANGES: usize = 200;

fn ts(nanos: u64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: (nanos / NANOS) as i64, nanos: (nanos % NANOS) as i32 }
}

fn dur(secs: i64) -> prost_types::Duration {
    prost_types::Duration { seconds: secs, nanos: 0 }
}

fn annotations(name: &str, label: Option<(&str, &str)>) -> api::Annotations {
    let mut a = api::Annotations { name: name.to_string(), ..Default::default() };
    if let Some((k, v)) = label {
        a.labels.insert(k.to_string(), v.to_string());
    }
    a
}

struct Mgr {
    raft_id: u64,
    node: usize,
    addr: String,
    reqid: u64,
    joined: bool,
}

struct NodeSt {
    id: String,
    ready: bool,
    drained: bool,
}

struct SvcSt {
    id: String,
    name: String,
    global: bool,
    replicas: u64,
    /// slot (or node index for global services) → task IDs, oldest first.
    slots: BTreeMap<u64, Vec<String>>,
    image_version: u64,
}

struct Sim<'o> {
    o: &'o SynthOptions,
    rng: Rng,
    now: u64,
    index: u64,
    term: u64,
    commit: u64,
    vote: u64,
    leader: usize,
    store: Store,
    dek: [u8; 32],
    wal: WalOut,
    snap_dir: PathBuf,
    snaps: Vec<(u64, u64, String)>,
    last_snap: u64,
    term_starts: Vec<(u64, u64)>,
    mgrs: Vec<Mgr>,
    nodes: Vec<NodeSt>,
    svcs: Vec<SvcSt>,
    ingress: String,
    overlays: Vec<String>,
    configs: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    cluster_id: String,
    ca: Ca,
    ip_next: BTreeMap<String, u64>,
    rep: SynthReport,
    svc_counter: u64,
}

impl<'o> Sim<'o> {
    fn tick(&mut self, min_ms: u64, max_ms: u64) {
        self.now += self.rng.range(min_ms * 1_000_000, max_ms * 1_000_000) + self.rng.below(1_000_000);
    }

    fn term_at(&self, index: u64) -> u64 {
        let p = self.term_starts.partition_point(|&(i, _)| i <= index);
        if p == 0 { 0 } else { self.term_starts[p - 1].1 }
    }

    fn next_reqid(&mut self) -> u64 {
        let m = &mut self.mgrs[self.leader];
        m.reqid = m.reqid.wrapping_add(1);
        ((m.raft_id & 0xffff) << 48) | (m.reqid & 0xffff_ffff_ffff)
    }

    /// Write one entry (one Ready batch: the entry, then the HardState with the commit index of
    /// the previous batch) and apply it.
    fn append(&mut self, etype: i32, plain: &[u8]) -> Result<u64> {
        let index = self.index + 1;
        let mut nonce = [0u8; 24];
        self.rng.fill(&mut nonce);
        let data = encrypt_secretbox(plain, &self.dek, &nonce);
        let e =
            raftpb::Entry { r#type: Some(etype), term: Some(self.term), index: Some(index), data: Some(data.into()) };
        let prev = self.index;
        self.index = index;
        let hs = raftpb::HardState { term: Some(self.term), vote: Some(self.vote), commit: Some(prev) };
        self.wal.save(&[(index, e.encode_to_vec())], Some(hs))?;
        self.commit = prev;
        self.maybe_snapshot()?;
        Ok(index)
    }

    /// Propose a store transaction: every object gets `meta.version = committed index` and
    /// `updated_at = now` (and `created_at` on create).
    fn propose(&mut self, mut actions: Vec<(Verb, Object)>) -> Result<u64> {
        if actions.is_empty() {
            return Ok(self.index);
        }
        self.tick(1, 15);
        let version = self.index;
        let now = ts(self.now);
        for (verb, o) in actions.iter_mut() {
            if *verb == Verb::Remove {
                continue;
            }
            let m = meta_mut(o);
            m.version = Some(api::Version { index: version });
            if *verb == Verb::Create {
                m.created_at = Some(now);
            }
            m.updated_at = Some(now);
        }
        let req = api::InternalRaftRequest {
            id: self.next_reqid(),
            action: actions
                .iter()
                .map(|(v, o)| api::StoreAction {
                    action: match v {
                        Verb::Create => 1,
                        Verb::Update => 2,
                        Verb::Remove => 3,
                        Verb::Unknown => 0,
                    },
                    target: Some(to_target(o.clone())),
                })
                .collect(),
        };
        let plain = req.encode_to_vec();
        drop(req);
        *self.rep.entries_by_type.entry("normal".into()).or_default() += 1;
        // Write first: a snapshot taken at the commit index (the previous entry) must not see
        // this entry's changes.
        let index = self.append(0, &plain)?;
        for (v, o) in actions {
            *self.rep.actions.entry(format!("{} {}", v.name(), o.kind().name())).or_default() += 1;
            if v == Verb::Create {
                *self.rep.created.entry(o.kind().plural().to_string()).or_default() += 1;
            }
            self.store.apply(v, o);
        }
        Ok(index)
    }

    /// Propose in transactions of at most 200 changes, like `store.Batch`.
    fn propose_batched(&mut self, actions: Vec<(Verb, Object)>, per: usize) -> Result<()> {
        let mut it = actions.into_iter().peekable();
        while it.peek().is_some() {
            let chunk: Vec<_> = it.by_ref().take(per.clamp(1, MAX_CHANGES)).collect();
            self.propose(chunk)?;
        }
        Ok(())
    }

    fn conf_change(&mut self, m: usize) -> Result<()> {
        let member = api::RaftMember {
            raft_id: self.mgrs[m].raft_id,
            node_id: self.nodes[self.mgrs[m].node].id.clone(),
            addr: self.mgrs[m].addr.clone(),
            status: None,
        };
        let cc = raftpb::ConfChange {
            id: Some(self.next_reqid()),
            r#type: Some(0),
            node_id: Some(self.mgrs[m].raft_id),
            context: Some(member.encode_to_vec().into()),
        };
        self.tick(1, 10);
        *self.rep.entries_by_type.entry("confchange".into()).or_default() += 1;
        *self.rep.actions.entry("ConfChangeAddNode".into()).or_default() += 1;
        self.append(1, &cc.encode_to_vec())?;
        self.mgrs[m].joined = true;
        Ok(())
    }

    /// A leader election: a state record with the new term and vote, then the leader's empty
    /// no-op entry.
    fn election(&mut self, leader: usize) -> Result<()> {
        self.tick(1000, 3000);
        self.term += 1;
        self.leader = leader;
        self.vote = self.mgrs[leader].raft_id;
        self.term_starts.push((self.index + 1, self.term));
        let hs = raftpb::HardState { term: Some(self.term), vote: Some(self.vote), commit: Some(self.index) };
        self.wal.save(&[], Some(hs))?;
        self.commit = self.index;
        *self.rep.entries_by_type.entry("no-op".into()).or_default() += 1;
        self.append(0, &[])?;
        Ok(())
    }

    fn voters(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.mgrs.iter().filter(|m| m.joined).map(|m| m.raft_id).collect();
        v.sort_unstable();
        v
    }

    fn maybe_snapshot(&mut self) -> Result<()> {
        if self.o.snapshot_interval == 0 || self.commit < self.last_snap + self.o.snapshot_interval {
            return Ok(());
        }
        let index = self.commit;
        let term = self.term_at(index);
        self.write_snapshot(index, term)
    }

    /// Save a snapshot as swarmkit does: marker in the WAL, `.snap` file, then GC.
    fn write_snapshot(&mut self, index: u64, term: u64) -> Result<()> {
        let voters = self.voters();
        self.wal.save_marker(index, term, &voters);
        let plain = self.encode_api_snapshot();
        let mut nonce = [0u8; 24];
        self.rng.fill(&mut nonce);
        let data = encrypt_secretbox(&plain, &self.dek, &nonce);
        drop(plain);
        let rs = raftpb::Snapshot {
            data: Some(data.into()),
            metadata: Some(raftpb::SnapshotMetadata {
                conf_state: Some(raftpb::ConfState { voters, auto_leave: Some(false), ..Default::default() }),
                index: Some(index),
                term: Some(term),
            }),
        };
        let body = rs.encode_to_vec();
        drop(rs);
        let file = snappb::Snapshot { crc: Some(crc32c::crc32c(&body)), data: Some(body.into()) }.encode_to_vec();
        let name = format!("{term:016x}-{index:016x}.snap");
        write_file(&self.snap_dir.join(&name), &file, 0o644)?;
        self.snaps.push((term, index, name));
        self.rep.snapshots_written += 1;
        self.last_snap = index;
        // GC: keep this snapshot and `keep_old_snapshots` older ones.
        let keep = 1 + self.o.keep_old_snapshots as usize;
        while self.snaps.len() > keep {
            let (_, _, old) = self.snaps.remove(0);
            let p = self.snap_dir.join(old);
            std::fs::remove_file(&p).map_err(io_err(&p))?;
        }
        let oldest = self.snaps[0].1;
        self.wal.gc(oldest)
    }

    /// `api.Snapshot{membership, store}`, encoded straight from the store (objects in ID order,
    /// as memdb lists them).
    fn encode_api_snapshot(&self) -> Vec<u8> {
        use prost::encoding::{WireType, encode_key, encode_varint, message};
        let members = api::ClusterSnapshot {
            members: self
                .mgrs
                .iter()
                .filter(|m| m.joined)
                .map(|m| api::RaftMember {
                    raft_id: m.raft_id,
                    node_id: self.nodes[m.node].id.clone(),
                    addr: m.addr.clone(),
                    status: None,
                })
                .collect(),
            removed: vec![],
        };
        // StoreSnapshot field numbers.
        let order = [
            (Kind::Node, 1u32),
            (Kind::Service, 2),
            (Kind::Network, 3),
            (Kind::Task, 4),
            (Kind::Cluster, 5),
            (Kind::Secret, 6),
            (Kind::Resource, 7),
            (Kind::Extension, 8),
            (Kind::Config, 9),
            (Kind::Volume, 10),
        ];
        // The store keeps each object as its encoding: the snapshot is those bytes, each under
        // its StoreSnapshot field tag.
        let field =
            |tag: u32, n: usize| prost::encoding::key_len(tag) + prost::encoding::encoded_len_varint(n as u64) + n;
        let store_len: usize =
            order.iter().map(|(k, tag)| self.store.sizes(*k).map(|(_, n)| field(*tag, n)).sum::<usize>()).sum();
        let mut buf = Vec::with_capacity(store_len + 64 + members.encoded_len());
        message::encode(2, &members, &mut buf);
        encode_key(3, WireType::LengthDelimited, &mut buf);
        encode_varint(store_len as u64, &mut buf);
        for (k, tag) in order {
            for id in self.store.ids(k) {
                let b = self.store.encoded(k, id).unwrap_or_default();
                encode_key(tag, WireType::LengthDelimited, &mut buf);
                encode_varint(b.len() as u64, &mut buf);
                buf.extend_from_slice(b);
            }
        }
        buf
    }

    // ---- object helpers ----

    fn get(&self, kind: Kind, id: &str) -> Option<Object> {
        self.store.get(kind, id)
    }

    fn task(&self, id: &str) -> Option<api::Task> {
        self.store.task(id)
    }

    fn node_obj(&self, i: usize) -> Option<api::Node> {
        self.store.node(&self.nodes[i].id)
    }

    fn next_ip(&mut self, net: &str, base: &str) -> String {
        let n = self.ip_next.entry(net.to_string()).or_insert(2);
        let v = *n;
        *n += 1;
        format!("{base}.{}.{}/16", (v >> 8) & 0xff, v & 0xff)
    }

    fn net_base(&self, net: &str) -> String {
        if net == self.ingress {
            return "10.0".into();
        }
        let i = self.overlays.iter().position(|n| n == net).unwrap_or(0);
        format!("10.{}", 1 + i)
    }

    fn network_attachment(&mut self, net: &str) -> Option<api::NetworkAttachment> {
        let Some(Object::Network(n)) = self.get(Kind::Network, net) else { return None };
        let base = self.net_base(net);
        let ip = self.next_ip(net, &base);
        Some(api::NetworkAttachment { network: Some(n), addresses: vec![ip], ..Default::default() })
    }

    fn container_status(&mut self, exit: i32, pid: bool) -> Option<api::task_status::RuntimeStatus> {
        let id: String = self.rng.bytes(32).iter().map(|b| format!("{b:02x}")).collect();
        Some(api::task_status::RuntimeStatus::Container(api::ContainerStatus {
            container_id: id,
            pid: if pid { self.rng.range(1000, 4_000_000) as i32 } else { 0 },
            exit_code: exit,
        }))
    }

    // ---- cluster bootstrap ----

    fn bootstrap(&mut self, kek: Option<&[u8]>) -> Result<()> {
        // Index 1, term 1: the bootstrap ConfChange for the first manager.
        self.term = 1;
        self.term_starts.push((1, 1));
        self.conf_change(0)?;
        // Election: term 2, vote self, no-op at index 2.
        self.election(0)?;
        self.rep.elections = 0;
        // swarmkit's key manager, on a new cluster: 3 keys (its keyring size) for each of its
        // two subsystems, gossip then IPsec, AES-128-GCM, 16 bytes, one Lamport tick each.
        // dockerd's libnetwork needs both: with no IPsec key its agent panics at start
        // (`getKeys`: index out of range), which a real engine showed on synth output.
        // The IPsec keys come from their own seeded RNG, so that the rest of the output (every
        // ID, key and choice after this) is the same as before they were added.
        let mut ipsec_rng = Rng::new(self.o.seed ^ 0x1b5e_c0de_1b5e_c0de);
        let mut rng_keys = Vec::new();
        let mut lamport = 0u64;
        for subsystem in ["networking:gossip", "networking:ipsec"] {
            for _ in 0..3 {
                lamport += 1;
                let rng = if subsystem == "networking:gossip" { &mut self.rng } else { &mut ipsec_rng };
                rng_keys.push(api::EncryptionKey {
                    subsystem: subsystem.into(),
                    algorithm: 0,
                    key: rng.bytes(16).into(),
                    lamport_time: lamport,
                });
            }
        }
        let digest = self.rng.swarm_id() + &self.rng.swarm_id();
        let join = api::JoinTokens {
            worker: format!("SWMTKN-1-{digest}-{}", self.rng.swarm_id()),
            manager: format!("SWMTKN-1-{digest}-{}", self.rng.swarm_id()),
        };
        let hash = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(self.ca.cert_pem.as_bytes());
            format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
        };
        let cluster = api::Cluster {
            id: self.cluster_id.clone(),
            meta: None,
            spec: Some(api::ClusterSpec {
                annotations: Some(annotations("default", None)),
                orchestration: Some(api::OrchestrationConfig {
                    task_history_retention_limit: self.o.task_history as i64,
                }),
                raft: Some(api::RaftConfig {
                    snapshot_interval: self.o.snapshot_interval,
                    keep_old_snapshots: self.o.keep_old_snapshots,
                    log_entries_for_slow_followers: 500,
                    heartbeat_tick: 1,
                    election_tick: 10,
                }),
                dispatcher: Some(api::DispatcherConfig { heartbeat_period: Some(dur(5)) }),
                ca_config: Some(api::CaConfig { node_cert_expiry: Some(dur(2160 * 3600)), ..Default::default() }),
                task_defaults: Some(api::TaskDefaults::default()),
                encryption_config: Some(api::EncryptionConfig { auto_lock_managers: kek.is_some() }),
            }),
            root_ca: Some(api::RootCa {
                ca_key: self.ca.key_pem.clone().into_bytes().into(),
                ca_cert: self.ca.cert_pem.clone().into_bytes().into(),
                ca_cert_hash: hash,
                join_tokens: Some(join),
                root_rotation: None,
                last_forced_rotation: 0,
            }),
            network_bootstrap_keys: rng_keys,
            encryption_key_lamport_clock: lamport,
            unlock_keys: kek
                .map(|k| {
                    vec![api::EncryptionKey {
                        subsystem: "swarm-manager".into(),
                        algorithm: 0,
                        key: k.to_vec().into(),
                        lamport_time: 0,
                    }]
                })
                .unwrap_or_default(),
            default_address_pool: vec!["10.0.0.0/8".into()],
            subnet_size: 24,
            vxlanudp_port: 4789,
            ..Default::default()
        };
        let self_node = self.new_node_object(0, true);
        let ingress_id = self.rng.swarm_id();
        self.ingress = ingress_id.clone();
        let ingress = api::Network {
            id: ingress_id,
            spec: Some(api::NetworkSpec {
                annotations: Some(annotations("ingress", Some(("com.docker.swarm.internal", "true")))),
                driver_config: Some(api::Driver::default()),
                ingress: true,
                ipam: Some(api::IpamOptions { driver: Some(api::Driver::default()), configs: vec![] }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let predefined = |rng: &mut Rng, name: &str| api::Network {
            id: rng.swarm_id(),
            spec: Some(api::NetworkSpec {
                annotations: Some(annotations(name, Some(("com.docker.swarm.predefined", "true")))),
                driver_config: Some(api::Driver { name: name.into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let bridge = predefined(&mut self.rng, "bridge");
        let host = predefined(&mut self.rng, "host");
        self.propose(vec![
            (Verb::Create, Object::Cluster(cluster)),
            (Verb::Create, Object::Node(self_node)),
            (Verb::Create, Object::Network(ingress)),
            (Verb::Create, Object::Network(bridge.clone())),
            (Verb::Create, Object::Network(host.clone())),
        ])?;
        // Allocator: the ingress network gets its VXLAN ID and subnet.
        let ing = self.allocated_network(&self.ingress.clone(), 4096, "10.0.0.0/16", "10.0.0.1");
        self.propose(vec![(Verb::Update, Object::Network(ing))])?;
        let mut b = Vec::new();
        for n in [bridge, host] {
            if let Some(Object::Network(mut x)) = self.get(Kind::Network, &n.id) {
                x.driver_state = Some(api::Driver {
                    name: x
                        .spec
                        .as_ref()
                        .and_then(|s| s.driver_config.as_ref())
                        .map(|d| d.name.clone())
                        .unwrap_or_default(),
                    ..Default::default()
                });
                b.push((Verb::Update, Object::Network(x)));
            }
        }
        self.propose(b)?;
        self.node_ready(0)?;
        Ok(())
    }

    fn allocated_network(&mut self, id: &str, vxlan: u32, subnet: &str, gw: &str) -> api::Network {
        let Some(Object::Network(mut n)) = self.get(Kind::Network, id) else { return api::Network::default() };
        let mut opts = std::collections::HashMap::new();
        opts.insert("com.docker.network.driver.overlay.vxlanid_list".to_string(), vxlan.to_string());
        n.driver_state = Some(api::Driver { name: "overlay".into(), options: opts });
        n.ipam = Some(api::IpamOptions {
            driver: Some(api::Driver { name: "default".into(), ..Default::default() }),
            configs: vec![api::IpamConfig { subnet: subnet.into(), gateway: gw.into(), ..Default::default() }],
        });
        n
    }

    fn hostname(&self, i: usize) -> String {
        if i < self.o.managers {
            format!("manager-{:02}", i + 1)
        } else {
            format!("worker-{:05}", i + 1 - self.o.managers)
        }
    }

    fn addr(&self, i: usize) -> String {
        node_addr(self.o, i)
    }

    /// A node as the CA server creates it on join (certificate still pending).
    fn new_node_object(&mut self, i: usize, manager: bool) -> api::Node {
        let role = if manager { 1 } else { 0 };
        api::Node {
            id: self.nodes[i].id.clone(),
            spec: Some(api::NodeSpec {
                annotations: Some(api::Annotations::default()),
                desired_role: role,
                membership: 1,
                availability: 0,
            }),
            certificate: Some(api::Certificate {
                role,
                csr: Default::default(),
                status: Some(api::IssuanceStatus { state: 2, err: String::new() }),
                certificate: Default::default(),
                cn: self.nodes[i].id.clone(),
            }),
            role,
            status: Some(api::NodeStatus { state: 0, message: String::new(), addr: String::new() }),
            ..Default::default()
        }
    }

    /// The node's certificate is issued, then the node reports ready with its description.
    fn node_ready(&mut self, i: usize) -> Result<()> {
        let Some(mut n) = self.node_obj(i) else { return Ok(()) };
        let manager = n.role == 1;
        let sk = p256_key(&mut self.rng);
        let vk = *p256::ecdsa::SigningKey::from(&sk).verifying_key();
        let pem = self.ca.issue(
            &mut self.rng,
            &vk,
            &self.nodes[i].id.clone(),
            if manager { "swarm-manager" } else { "swarm-worker" },
            &self.cluster_id.clone(),
            self.now / NANOS,
        )?;
        if let Some(c) = n.certificate.as_mut() {
            c.status = Some(api::IssuanceStatus { state: 3, err: String::new() });
            c.certificate = pem.into_bytes().into();
        }
        self.propose(vec![(Verb::Update, Object::Node(n.clone()))])?;
        let plugins = [
            ("Log", "json-file"),
            ("Log", "journald"),
            ("Network", "bridge"),
            ("Network", "overlay"),
            ("Volume", "local"),
        ]
        .iter()
        .map(|(t, nm)| api::PluginDescription { r#type: (*t).into(), name: (*nm).into() })
        .collect();
        n.description = Some(api::NodeDescription {
            hostname: self.hostname(i),
            platform: Some(api::Platform { architecture: "x86_64".into(), os: "linux".into() }),
            resources: Some(api::Resources {
                nano_cpus: [2, 4, 8, 16][self.rng.below(4) as usize] * 1_000_000_000,
                memory_bytes: [4i64, 8, 16, 32][self.rng.below(4) as usize] << 30,
                generic: vec![],
            }),
            engine: Some(api::EngineDescription {
                engine_version: self.o.engine_version.clone(),
                plugins,
                ..Default::default()
            }),
            tls_info: Some(api::NodeTlsInfo {
                trust_root: self.ca.cert_pem.clone().into_bytes().into(),
                cert_issuer_subject: self.ca.subject_der.clone().into(),
                cert_issuer_public_key: self.ca.spki_der.clone().into(),
            }),
            fips: false,
            csi_info: vec![],
        });
        n.status = Some(api::NodeStatus { state: 2, message: String::new(), addr: self.addr(i) });
        if let Some(m) = self.mgrs.iter().find(|m| m.node == i) {
            n.manager_status =
                Some(api::ManagerStatus { raft_id: m.raft_id, addr: m.addr.clone(), leader: false, reachability: 2 });
        }
        if let Some(att) = self.network_attachment(&self.ingress.clone()) {
            n.attachments = vec![att];
        }
        self.propose(vec![(Verb::Update, Object::Node(n))])?;
        self.nodes[i].ready = true;
        Ok(())
    }

    fn join_node(&mut self, i: usize) -> Result<()> {
        let manager = i < self.o.managers;
        self.tick(50, 2000);
        let n = self.new_node_object(i, manager);
        self.propose(vec![(Verb::Create, Object::Node(n))])?;
        if manager {
            let m = self.mgrs.iter().position(|m| m.node == i).unwrap_or(0);
            self.conf_change(m)?;
        }
        self.node_ready(i)
    }

    // ---- networks, secrets, configs ----

    fn create_overlay(&mut self, k: usize) -> Result<()> {
        let id = self.rng.swarm_id();
        let net = api::Network {
            id: id.clone(),
            spec: Some(api::NetworkSpec {
                annotations: Some(annotations(&format!("net-{k:02}"), Some(("com.docker.stack.namespace", "swarm3k")))),
                driver_config: Some(api::Driver { name: "overlay".into(), ..Default::default() }),
                attachable: true,
                ipam: Some(api::IpamOptions {
                    driver: Some(api::Driver { name: "default".into(), ..Default::default() }),
                    configs: vec![],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.propose(vec![(Verb::Create, Object::Network(net))])?;
        let a =
            self.allocated_network(&id, 4097 + k as u32, &format!("10.{}.0.0/16", k + 1), &format!("10.{}.0.1", k + 1));
        self.propose(vec![(Verb::Update, Object::Network(a))])?;
        self.overlays.push(id);
        Ok(())
    }

    fn create_secret(&mut self, k: usize) -> Result<()> {
        let id = self.rng.swarm_id();
        let len = self.rng.range(16, 256) as usize;
        let data = self.rng.bytes(len);
        let name = format!("secret-{k:03}");
        let s = api::Secret {
            id: id.clone(),
            meta: None,
            spec: Some(api::SecretSpec {
                annotations: Some(annotations(&name, None)),
                data: data.into(),
                ..Default::default()
            }),
            internal: false,
        };
        self.propose(vec![(Verb::Create, Object::Secret(s))])?;
        self.secrets.push((id, name));
        Ok(())
    }

    fn create_config(&mut self, k: usize) -> Result<()> {
        use base64::Engine as _;
        let id = self.rng.swarm_id();
        let raw = self.rng.bytes(self.o.config_bytes * 3 / 4 + 1);
        let mut text = base64::engine::general_purpose::STANDARD.encode(raw).into_bytes();
        text.truncate(self.o.config_bytes);
        let name = format!("config-{k:03}");
        let c = api::Config {
            id: id.clone(),
            meta: None,
            spec: Some(api::ConfigSpec {
                annotations: Some(annotations(&name, None)),
                data: text.into(),
                templating: None,
            }),
        };
        self.propose(vec![(Verb::Create, Object::Config(c))])?;
        self.configs.push((id, name));
        Ok(())
    }

    // ---- services and tasks ----

    fn service_spec(&mut self, name: &str, global: bool, replicas: u64, version: u64) -> api::ServiceSpec {
        let mut secrets = Vec::new();
        if !self.secrets.is_empty() && self.rng.chance(0.5) {
            let (id, nm) = self.secrets[self.rng.below(self.secrets.len() as u64) as usize].clone();
            secrets.push(api::SecretReference {
                secret_id: id,
                secret_name: nm.clone(),
                file: Some(api::FileTarget { name: nm, uid: "0".into(), gid: "0".into(), mode: 0o444 }),
            });
        }
        let mut configs = Vec::new();
        if !self.configs.is_empty() && self.rng.chance(0.3) {
            let (id, nm) = self.configs[self.rng.below(self.configs.len() as u64) as usize].clone();
            configs.push(api::ConfigReference {
                config_id: id,
                config_name: nm.clone(),
                file: Some(api::FileTarget {
                    name: format!("/etc/{nm}"),
                    uid: "0".into(),
                    gid: "0".into(),
                    mode: 0o444,
                }),
                runtime: None,
            });
        }
        let nets = if self.overlays.is_empty() {
            vec![]
        } else {
            vec![api::NetworkAttachmentConfig {
                target: self.overlays[self.rng.below(self.overlays.len() as u64) as usize].clone(),
                ..Default::default()
            }]
        };
        let digest: String = self.rng.bytes(32).iter().map(|b| format!("{b:02x}")).collect();
        let container = api::ContainerSpec {
            image: format!("registry.example.com/swarm3k/{name}:1.{version}@sha256:{digest}"),
            args: vec!["/bin/app".into(), "--listen=:8080".into()],
            env: vec![format!("SERVICE={name}"), format!("VERSION=1.{version}"), "LOG_LEVEL=info".into()],
            stop_grace_period: Some(dur(10)),
            dns_config: Some(Default::default()),
            secrets,
            configs,
            ..Default::default()
        };
        let upd = api::UpdateConfig {
            parallelism: 1,
            delay: None,
            failure_action: 0,
            monitor: Some(dur(5)),
            max_failure_ratio: 0.0,
            order: 0,
        };
        api::ServiceSpec {
            annotations: Some(annotations(name, Some(("com.docker.stack.namespace", "swarm3k")))),
            task: Some(api::TaskSpec {
                runtime: Some(api::task_spec::Runtime::Container(container)),
                resources: Some(api::ResourceRequirements {
                    limits: Some(api::Resources { nano_cpus: 500_000_000, memory_bytes: 256 << 20, generic: vec![] }),
                    reservations: Some(api::Resources::default()),
                    ..Default::default()
                }),
                restart: Some(api::RestartPolicy { condition: 2, delay: Some(dur(5)), max_attempts: 0, window: None }),
                placement: Some(api::Placement::default()),
                networks: nets.clone(),
                ..Default::default()
            }),
            mode: Some(if global {
                api::service_spec::Mode::Global(api::GlobalService {})
            } else {
                api::service_spec::Mode::Replicated(api::ReplicatedService { replicas })
            }),
            update: Some(upd),
            rollback: Some(upd),
            networks: vec![],
            endpoint: Some(api::EndpointSpec { mode: 0, ports: vec![] }),
        }
    }

    fn service_obj(&self, id: &str) -> Option<api::Service> {
        match self.store.get(Kind::Service, id) {
            Some(Object::Service(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// A new task for a slot (replicated) or a node (global), state NEW, desired RUNNING.
    fn new_task(&mut self, svc: &api::Service, slot: u64, node: Option<&str>) -> api::Task {
        let spec = svc.spec.clone().unwrap_or_default();
        api::Task {
            id: self.rng.swarm_id(),
            meta: None,
            spec: spec.task.clone(),
            spec_version: svc.spec_version,
            service_id: svc.id.clone(),
            slot,
            node_id: node.unwrap_or_default().to_string(),
            annotations: Some(api::Annotations::default()),
            service_annotations: spec.annotations.clone(),
            status: Some(api::TaskStatus {
                timestamp: Some(ts(self.now)),
                state: 0,
                message: "created".into(),
                ..Default::default()
            }),
            desired_state: 512,
            endpoint: svc.endpoint.clone(),
            ..Default::default()
        }
    }

    fn create_service(&mut self, global: bool, replicas: u64) -> Result<()> {
        self.svc_counter += 1;
        let name = format!("svc-{:04}", self.svc_counter);
        self.tick(500, 5000);
        let spec = self.service_spec(&name, global, replicas, 0);
        let id = self.rng.swarm_id();
        // controlapi.CreateService: an empty spec version.
        let svc = api::Service {
            id: id.clone(),
            spec: Some(spec),
            spec_version: Some(api::Version::default()),
            ..Default::default()
        };
        self.propose(vec![(Verb::Create, Object::Service(svc))])?;
        // Allocator: the endpoint with a virtual IP on each network.
        let Some(mut s) = self.service_obj(&id) else { return Ok(()) };
        let mut vips = Vec::new();
        let nets: Vec<String> = std::iter::once(self.ingress.clone())
            .chain(
                s.spec
                    .as_ref()
                    .and_then(|x| x.task.as_ref())
                    .map(|t| t.networks.iter().map(|n| n.target.clone()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
            .collect();
        for n in nets.iter().skip(1) {
            let base = self.net_base(n);
            let ip = self.next_ip(n, &base);
            vips.push(api::endpoint::VirtualIp { network_id: n.clone(), addr: ip });
        }
        s.endpoint = Some(api::Endpoint { spec: Some(api::EndpointSpec::default()), ports: vec![], virtual_ips: vips });
        self.propose(vec![(Verb::Update, Object::Service(s.clone()))])?;
        let mut st = SvcSt { id: id.clone(), name, global, replicas, slots: BTreeMap::new(), image_version: 0 };
        let mut tasks = Vec::new();
        if global {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.ready && !n.drained {
                    tasks.push((i as u64, Some(n.id.clone())));
                }
            }
        } else {
            for slot in 1..=replicas {
                tasks.push((slot, None));
            }
        }
        let mut created = Vec::new();
        for (slot, node) in tasks {
            let t = self.new_task(&s, if global { 0 } else { slot }, node.as_deref());
            st.slots.entry(slot).or_default().push(t.id.clone());
            created.push(t);
        }
        self.svcs.push(st);
        let ids: Vec<String> = created.iter().map(|t| t.id.clone()).collect();
        self.propose_batched(created.into_iter().map(|t| (Verb::Create, Object::Task(t))).collect(), MAX_CHANGES)?;
        self.run_tasks(&ids)
    }

    fn pick_node(&mut self) -> Option<String> {
        for _ in 0..64 {
            let i = self.rng.below(self.nodes.len() as u64) as usize;
            if self.nodes[i].ready && !self.nodes[i].drained {
                return Some(self.nodes[i].id.clone());
            }
        }
        self.nodes.iter().find(|n| n.ready && !n.drained).map(|n| n.id.clone())
    }

    /// Update a list of tasks in batches of `1..=max_batch`, each with `f`.
    fn update_tasks(
        &mut self,
        ids: &[String],
        max_batch: usize,
        small: bool,
        mut f: impl FnMut(&mut Sim<'o>, &mut api::Task),
    ) -> Result<()> {
        let mut i = 0;
        while i < ids.len() {
            let n = if small {
                if self.rng.chance(0.9) {
                    self.rng.range(1, 4) as usize
                } else {
                    self.rng.range(1, max_batch as u64) as usize
                }
            } else {
                max_batch
            };
            let mut acts = Vec::new();
            for id in &ids[i..(i + n).min(ids.len())] {
                if let Some(mut t) = self.task(id) {
                    f(self, &mut t);
                    acts.push((Verb::Update, Object::Task(t)));
                }
            }
            self.propose(acts)?;
            i += n;
        }
        Ok(())
    }

    fn set_status(&mut self, t: &mut api::Task, state: i32, msg: &str) {
        let st = t.status.get_or_insert_with(Default::default);
        st.state = state;
        st.message = msg.into();
        st.timestamp = Some(ts(self.now.saturating_sub(self.rng.below(5_000_000))));
        if st.port_status.is_none() && state >= 256 {
            st.port_status = Some(api::PortStatus::default());
        }
    }

    /// NEW → PENDING (allocator) → ASSIGNED (scheduler) → ACCEPTED → PREPARING → STARTING →
    /// RUNNING (agents, via the dispatcher).
    fn run_tasks(&mut self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.update_tasks(ids, MAX_CHANGES, false, |s, t| {
            s.set_status(t, 64, "pending task scheduling");
            let mut nets = vec![];
            let ingress = s.ingress.clone();
            if let Some(a) = s.network_attachment(&ingress) {
                nets.push(a);
            }
            let targets: Vec<String> =
                t.spec.as_ref().map(|sp| sp.networks.iter().map(|n| n.target.clone()).collect()).unwrap_or_default();
            for n in targets {
                if let Some(a) = s.network_attachment(&n) {
                    nets.push(a);
                }
            }
            t.networks = nets;
        })?;
        self.update_tasks(ids, MAX_CHANGES, false, |s, t| {
            if t.node_id.is_empty() {
                t.node_id = s.pick_node().unwrap_or_default();
            }
            s.set_status(t, 192, "scheduler assigned task to node");
        })?;
        for (state, msg) in [(256, "accepted"), (320, "preparing"), (448, "starting")] {
            self.update_tasks(ids, 64, true, |s, t| s.set_status(t, state, msg))?;
        }
        self.update_tasks(ids, 64, true, |s, t| {
            s.set_status(t, 512, "started");
            if let Some(st) = t.status.as_mut() {
                st.runtime_status = s.container_status(0, true);
            }
        })
    }

    /// The task reaper: keep at most `task_history` tasks per slot (oldest go first).
    fn reap(&mut self, svc: usize, slots: &[u64]) -> Result<()> {
        let limit = self.o.task_history.max(1) as usize;
        let mut removes = Vec::new();
        for slot in slots {
            let Some(list) = self.svcs[svc].slots.get_mut(slot) else { continue };
            while list.len() > limit {
                let id = list.remove(0);
                removes.push(id);
            }
        }
        let acts: Vec<_> =
            removes.iter().filter_map(|id| self.task(id)).map(|t| (Verb::Remove, Object::Task(t))).collect();
        self.propose_batched(acts, MAX_CHANGES)
    }

    fn current_task(&self, svc: usize, slot: u64) -> Option<api::Task> {
        self.svcs[svc].slots.get(&slot).and_then(|v| v.last()).and_then(|id| self.task(id))
    }

    /// Replace the current task of each slot: the old one gets desired state SHUTDOWN (and, when
    /// `report_shutdown`, reports it), a new one is created in the slot and run.
    fn replace_tasks(&mut self, svc: usize, slots: &[u64], report_shutdown: bool) -> Result<()> {
        let Some(s) = self.service_obj(&self.svcs[svc].id.clone()) else { return Ok(()) };
        let global = self.svcs[svc].global;
        let mut acts = Vec::new();
        let mut new_ids = Vec::new();
        let mut olds = Vec::new();
        for &slot in slots {
            let Some(mut old) = self.current_task(svc, slot) else { continue };
            old.desired_state = 640;
            olds.push(old.id.clone());
            let node = if global { Some(old.node_id.clone()) } else { None };
            acts.push((Verb::Update, Object::Task(old)));
            let t = self.new_task(&s, if global { 0 } else { slot }, node.as_deref());
            new_ids.push(t.id.clone());
            self.svcs[svc].slots.entry(slot).or_default().push(t.id.clone());
            acts.push((Verb::Create, Object::Task(t)));
        }
        self.propose_batched(acts, MAX_CHANGES)?;
        if report_shutdown {
            self.update_tasks(&olds, 64, true, |s, t| {
                if t.status.as_ref().is_some_and(|st| st.state < 576) {
                    s.set_status(t, 640, "shutdown");
                }
            })?;
        }
        self.run_tasks(&new_ids)?;
        self.reap(svc, slots)
    }

    fn running_slot(&mut self, svc: usize) -> Option<u64> {
        let n = self.svcs[svc].slots.len() as u64;
        if n == 0 {
            return None;
        }
        let k = self.rng.below(n) as usize;
        self.svcs[svc].slots.keys().nth(k).copied()
    }

    /// A task exits with code 1: FAILED, then the restart supervisor replaces it.
    fn fail_task(&mut self, svc: usize) -> Result<()> {
        let Some(slot) = self.running_slot(svc) else { return Ok(()) };
        let Some(mut t) = self.current_task(svc, slot) else { return Ok(()) };
        if t.status.as_ref().is_none_or(|s| s.state != 512) {
            return Ok(());
        }
        self.tick(100, 30_000);
        self.set_status(&mut t, 704, "started");
        if let Some(st) = t.status.as_mut() {
            st.err = "task: non-zero exit (1)".into();
            if let Some(api::task_status::RuntimeStatus::Container(c)) = st.runtime_status.as_mut() {
                c.exit_code = 1;
                c.pid = 0;
            }
        }
        self.propose(vec![(Verb::Update, Object::Task(t))])?;
        self.rep.task_failures += 1;
        self.tick(5000, 5200);
        self.replace_tasks(svc, &[slot], false)
    }

    fn rolling_update(&mut self, svc: usize) -> Result<()> {
        let Some(mut s) = self.service_obj(&self.svcs[svc].id.clone()) else { return Ok(()) };
        self.svcs[svc].image_version += 1;
        let v = self.svcs[svc].image_version;
        let name = self.svcs[svc].name.clone();
        let (global, replicas) = (self.svcs[svc].global, self.svcs[svc].replicas);
        let mut spec = self.service_spec(&name, global, replicas, v);
        // Keep references and networks of the old spec: only the image and env change.
        if let (Some(old), Some(new)) = (s.spec.as_ref(), spec.task.as_mut()) {
            if let Some(ot) = old.task.as_ref() {
                new.networks = ot.networks.clone();
                if let (Some(api::task_spec::Runtime::Container(oc)), Some(api::task_spec::Runtime::Container(nc))) =
                    (ot.runtime.as_ref(), new.runtime.as_mut())
                {
                    nc.secrets = oc.secrets.clone();
                    nc.configs = oc.configs.clone();
                }
            }
        }
        // controlapi.UpdateService: the previous spec is kept, the spec version is the service's
        // version when it was updated.
        s.previous_spec = s.spec.take();
        s.previous_spec_version = s.spec_version;
        s.spec = Some(spec);
        s.spec_version = s.meta.as_ref().and_then(|m| m.version);
        s.update_status = Some(api::UpdateStatus {
            state: 1,
            started_at: Some(ts(self.now)),
            completed_at: None,
            message: "update in progress".into(),
        });
        self.tick(1000, 10_000);
        self.propose(vec![(Verb::Update, Object::Service(s))])?;
        let slots: Vec<u64> = self.svcs[svc].slots.keys().copied().collect();
        let group = (slots.len() / 8).max(1);
        for g in slots.chunks(group) {
            self.replace_tasks(svc, g, true)?;
        }
        if let Some(mut s) = self.service_obj(&self.svcs[svc].id.clone()) {
            s.update_status = Some(api::UpdateStatus {
                state: 3,
                started_at: s.update_status.as_ref().and_then(|u| u.started_at),
                completed_at: Some(ts(self.now)),
                message: "update completed".into(),
            });
            self.propose(vec![(Verb::Update, Object::Service(s))])?;
        }
        Ok(())
    }

    fn scale(&mut self, svc: usize) -> Result<()> {
        if self.svcs[svc].global {
            return Ok(());
        }
        let Some(mut s) = self.service_obj(&self.svcs[svc].id.clone()) else { return Ok(()) };
        let cur = self.svcs[svc].replicas;
        let up = cur <= 1 || self.rng.chance(0.55);
        let delta = self.rng.range(1, (cur / 2).max(1));
        let new = if up { cur + delta } else { cur - delta.min(cur - 1) };
        s.previous_spec = s.spec.clone();
        s.previous_spec_version = s.spec_version;
        if let Some(api::service_spec::Mode::Replicated(r)) = s.spec.as_mut().and_then(|x| x.mode.as_mut()) {
            r.replicas = new;
        }
        s.spec_version = s.meta.as_ref().and_then(|m| m.version);
        self.tick(1000, 10_000);
        self.propose(vec![(Verb::Update, Object::Service(s.clone()))])?;
        self.svcs[svc].replicas = new;
        if new > cur {
            let mut created = Vec::new();
            for slot in cur + 1..=new {
                let t = self.new_task(&s, slot, None);
                self.svcs[svc].slots.entry(slot).or_default().push(t.id.clone());
                created.push(t);
            }
            let ids: Vec<String> = created.iter().map(|t| t.id.clone()).collect();
            self.propose_batched(created.into_iter().map(|t| (Verb::Create, Object::Task(t))).collect(), MAX_CHANGES)?;
            self.run_tasks(&ids)?;
        } else {
            let gone: Vec<u64> = self.svcs[svc].slots.keys().copied().filter(|&k| k > new).collect();
            let mut ids = Vec::new();
            for k in gone {
                if let Some(v) = self.svcs[svc].slots.remove(&k) {
                    ids.extend(v);
                }
            }
            self.shutdown_and_remove(&ids)?;
        }
        Ok(())
    }

    /// Desired state REMOVE, the agents report SHUTDOWN, the reaper deletes them.
    fn shutdown_and_remove(&mut self, ids: &[String]) -> Result<()> {
        let live: Vec<String> = ids
            .iter()
            .filter(|id| self.task(id).is_some_and(|t| t.status.as_ref().is_some_and(|s| s.state <= 512)))
            .cloned()
            .collect();
        self.update_tasks(&live, MAX_CHANGES, false, |_, t| t.desired_state = 800)?;
        self.update_tasks(&live, 64, true, |s, t| s.set_status(t, 640, "shutdown"))?;
        let acts: Vec<_> = ids.iter().filter_map(|id| self.task(id)).map(|t| (Verb::Remove, Object::Task(t))).collect();
        self.propose_batched(acts, MAX_CHANGES)
    }

    fn remove_service(&mut self, svc: usize) -> Result<()> {
        let st = self.svcs.remove(svc);
        let Some(s) = self.service_obj(&st.id) else { return Ok(()) };
        self.tick(1000, 10_000);
        self.propose(vec![(Verb::Remove, Object::Service(s))])?;
        let ids: Vec<String> = st.slots.into_values().flatten().collect();
        self.shutdown_and_remove(&ids)
    }

    /// Tasks currently on a node, as (service, slot).
    fn tasks_on(&self, node: &str) -> Vec<(usize, u64)> {
        let mut v = Vec::new();
        for (si, s) in self.svcs.iter().enumerate() {
            for (&slot, ids) in &s.slots {
                if let Some(Object::Task(t)) = ids.last().and_then(|id| self.store.get(Kind::Task, id)) {
                    if t.node_id == node && t.desired_state <= 512 {
                        v.push((si, slot));
                    }
                }
            }
        }
        v
    }

    fn reschedule_from(&mut self, node: usize) -> Result<()> {
        let id = self.nodes[node].id.clone();
        let on = self.tasks_on(&id);
        let mut by_svc: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for (s, slot) in on {
            if !self.svcs[s].global {
                by_svc.entry(s).or_default().push(slot);
            }
        }
        for (s, slots) in by_svc {
            self.replace_tasks(s, &slots, false)?;
        }
        Ok(())
    }

    fn node_down_or_up(&mut self) -> Result<()> {
        if self.nodes.len() <= self.o.managers {
            return Ok(());
        }
        let i = self.rng.range(self.o.managers as u64, self.nodes.len() as u64 - 1) as usize;
        let Some(mut n) = self.node_obj(i) else { return Ok(()) };
        self.tick(1000, 60_000);
        if self.nodes[i].ready {
            n.status = Some(api::NodeStatus { state: 1, message: "heartbeat failure".into(), addr: self.addr(i) });
            self.propose(vec![(Verb::Update, Object::Node(n))])?;
            self.nodes[i].ready = false;
            self.reschedule_from(i)
        } else {
            n.status = Some(api::NodeStatus { state: 2, message: String::new(), addr: self.addr(i) });
            self.propose(vec![(Verb::Update, Object::Node(n))])?;
            self.nodes[i].ready = true;
            Ok(())
        }
    }

    fn drain_or_activate(&mut self) -> Result<()> {
        if self.nodes.len() <= self.o.managers {
            return Ok(());
        }
        let i = self.rng.range(self.o.managers as u64, self.nodes.len() as u64 - 1) as usize;
        let Some(mut n) = self.node_obj(i) else { return Ok(()) };
        let drain = !self.nodes[i].drained;
        if let Some(sp) = n.spec.as_mut() {
            sp.availability = if drain { 2 } else { 0 };
        }
        self.tick(1000, 60_000);
        self.propose(vec![(Verb::Update, Object::Node(n))])?;
        self.nodes[i].drained = drain;
        if drain { self.reschedule_from(i) } else { Ok(()) }
    }

    fn pick_service(&mut self) -> usize {
        self.rng.below(self.svcs.len() as u64) as usize
    }

    fn done(&self) -> bool {
        let tasks_possible = self.o.services > 0;
        (!tasks_possible || self.rep.created.get("tasks").copied().unwrap_or(0) >= self.o.tasks)
            && self.index >= self.o.entries
            && self.wal.bytes_written + self.wal.w.buf.len() as u64 >= self.o.wal_bytes
    }

    /// Share of the targets reached: the least advanced of tasks, entries and WAL bytes.
    fn fraction(&self) -> f64 {
        let share = |got: u64, want: u64| if want == 0 { 1.0 } else { got as f64 / want as f64 };
        let tasks = if self.o.services > 0 {
            share(self.rep.created.get("tasks").copied().unwrap_or(0), self.o.tasks)
        } else {
            1.0
        };
        tasks
            .min(share(self.index, self.o.entries))
            .min(share(self.wal.bytes_written + self.wal.w.buf.len() as u64, self.o.wal_bytes))
    }

    fn churn(&mut self) -> Result<()> {
        let mut idle = 0u32;
        let bar = crate::progress::Bar::new(self.o.progress);
        bar.stage_fraction("synthesizing");
        let mut step = 0u64;
        while !self.done() {
            step += 1;
            if step.is_multiple_of(256) {
                bar.set_fraction(self.fraction());
            }
            let before = self.index;
            let r = self.rng.below(100);
            let nsvc = self.svcs.len() as u64;
            match r {
                _ if nsvc == 0 && self.o.services > 0 && !self.nodes.is_empty() => self.create_service(false, 1)?,
                0..=44 if nsvc > 0 => {
                    let s = self.pick_service();
                    self.fail_task(s)?
                }
                45..=54 if nsvc > 0 => {
                    let s = self.pick_service();
                    self.rolling_update(s)?
                }
                55..=66 if nsvc > 0 => {
                    let s = self.pick_service();
                    self.scale(s)?
                }
                67..=71 if nsvc < (self.o.services as u64 * 5 / 4).max(1) && self.o.services > 0 => {
                    let r = self.rng.range(1, 8);
                    self.create_service(false, r)?
                }
                72..=74 if nsvc > (self.o.services as u64 * 3 / 4) && nsvc > 1 => {
                    let s = self.pick_service();
                    self.remove_service(s)?
                }
                75..=82 => self.node_down_or_up()?,
                83..=88 => self.drain_or_activate()?,
                89..=90 if self.o.managers > 1 => {
                    let l = self.rng.below(self.o.managers as u64) as usize;
                    self.rep.elections += 1;
                    self.election(l)?
                }
                91..=92 => {
                    let k = self.secrets.len();
                    self.create_secret(k)?
                }
                _ if nsvc > 0 => {
                    // A crash loop: several failures of one service in a row.
                    let s = self.pick_service();
                    for _ in 0..self.rng.range(2, 6) {
                        self.fail_task(s)?;
                    }
                }
                _ => {}
            }
            if self.index == before {
                idle += 1;
                if idle > 10_000 {
                    // Nothing can make progress (no nodes, no services): write elections.
                    self.rep.elections += 1;
                    self.election(self.leader)?;
                }
            } else {
                idle = 0;
            }
        }
        bar.finish();
        Ok(())
    }
}

fn meta_mut(o: &mut Object) -> &mut api::Meta {
    let m = match o {
        Object::Node(x) => &mut x.meta,
        Object::Service(x) => &mut x.meta,
        Object::Task(x) => &mut x.meta,
        Object::Network(x) => &mut x.meta,
        Object::Secret(x) => &mut x.meta,
        Object::Config(x) => &mut x.meta,
        Object::Cluster(x) => &mut x.meta,
        Object::Volume(x) => &mut x.meta,
        Object::Resource(x) => &mut x.meta,
        Object::Extension(x) => &mut x.meta,
    };
    m.get_or_insert_with(Default::default)
}

/// A store object back into a `StoreAction` target.
pub fn to_target(o: Object) -> Target {
    match o {
        Object::Node(x) => Target::Node(Box::new(x)),
        Object::Service(x) => Target::Service(Box::new(x)),
        Object::Task(x) => Target::Task(Box::new(x)),
        Object::Network(x) => Target::Network(Box::new(x)),
        Object::Secret(x) => Target::Secret(Box::new(x)),
        Object::Config(x) => Target::Config(Box::new(x)),
        Object::Cluster(x) => Target::Cluster(Box::new(x)),
        Object::Volume(x) => Target::Volume(Box::new(x)),
        Object::Resource(x) => Target::Resource(Box::new(x)),
        Object::Extension(x) => Target::Extension(Box::new(x)),
    }
}

/// Node `i`'s address: `--addr` for every node, or its own in 10.128.0.0/10.
fn node_addr(o: &SynthOptions, i: usize) -> String {
    match o.addr {
        Some(a) => a.to_string(),
        None => {
            let n = i + 1;
            format!("10.{}.{}.{}", 128 + (n / (254 * 256)) % 64, (n / 254) % 256, n % 254 + 1)
        }
    }
}

/// Manager `k`'s raft address: `ADDR:2377` (with `--addr`, the k-th manager on port 2377 + k,
/// since they share one address).
fn manager_addr(o: &SynthOptions, k: usize) -> String {
    match o.addr {
        Some(a) => format!("{a}:{}", 2377 + k),
        None => format!("{}:2377", node_addr(o, k)),
    }
}

fn check_output(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out).map_err(io_err(out))?.next().is_none();
        if !empty {
            return Err(Error::Usage(format!("{}: output directory exists and is not empty", out.display())));
        }
    }
    Ok(())
}

/// Generate a swarm dir at `out` (which must not exist or be empty).
pub fn generate(out: &Path, o: &SynthOptions) -> Result<SynthReport> {
    check_output(out)?;
    if o.segment_size < 4096 {
        return Err(Error::Usage("segment size must be at least 4096 bytes".into()));
    }
    if o.config_bytes > 1000 * 1024 {
        return Err(Error::Usage("configs are limited to 1000 KiB by swarmkit".into()));
    }
    let mut opts = o.clone();
    let mut adjusted = Vec::new();
    opts.managers = opts.managers.clamp(1, 7);
    if opts.managers != o.managers {
        adjusted.push(format!(
            "--managers {} was clamped to {}: synth makes 1 to 7 managers (Docker advises at most 7)",
            o.managers, opts.managers
        ));
    }
    opts.nodes = opts.nodes.max(opts.managers);
    if opts.nodes != o.nodes {
        adjusted.push(format!("--nodes {} was raised to {}: every manager is a node", o.nodes, opts.nodes));
    }
    let o = &opts;
    let mut rng = Rng::new(o.seed);
    let mut dek = [0u8; 32];
    rng.fill(&mut dek);
    let kek: Option<Vec<u8>> = match (&o.unlock_key, o.autolock) {
        (Some(k), _) => Some(k.as_bytes().to_vec()),
        (None, true) => Some(rng.bytes(32)),
        (None, false) => None,
    };
    let now = o.start_unix * NANOS + rng.below(3_600) * NANOS;
    let ca = Ca::new(&mut rng, now / NANOS)?;
    let cluster_id = rng.swarm_id();
    let nodes: Vec<NodeSt> =
        (0..o.nodes).map(|_| NodeSt { id: rng.swarm_id(), ready: false, drained: false }).collect();
    let mgrs: Vec<Mgr> = (0..o.managers)
        .map(|i| Mgr {
            raft_id: (rng.next_u64() >> 1) + 1,
            node: i,
            addr: manager_addr(o, i),
            reqid: (now / 1_000_000) << 8,
            joined: false,
        })
        .collect();
    let me = api::RaftMember {
        raft_id: mgrs[0].raft_id,
        node_id: nodes[0].id.clone(),
        addr: mgrs[0].addr.clone(),
        status: None,
    };
    // Directories, as dockerd and swarmkit create them.
    mkdir(out, 0o700)?;
    let certs = out.join("certificates");
    mkdir(&certs, 0o755)?;
    let wal_dir = out.join("raft/wal-v3-encrypted");
    let snap_dir = out.join("raft/snap-v3-encrypted");
    mkdir(&out.join("raft"), 0o700)?;
    mkdir(&wal_dir, 0o700)?;
    mkdir(&snap_dir, 0o700)?;
    let wal = WalOut::create(wal_dir.clone(), o.segment_size, me.encode_to_vec());
    let mut sim = Sim {
        o,
        rng,
        now,
        index: 0,
        term: 0,
        commit: 0,
        vote: 0,
        leader: 0,
        store: Store::default(),
        dek,
        wal,
        snap_dir: snap_dir.clone(),
        snaps: Vec::new(),
        last_snap: 0,
        term_starts: Vec::new(),
        mgrs,
        nodes,
        svcs: Vec::new(),
        ingress: String::new(),
        overlays: Vec::new(),
        configs: Vec::new(),
        secrets: Vec::new(),
        cluster_id: cluster_id.clone(),
        ca,
        ip_next: BTreeMap::new(),
        rep: SynthReport::default(),
        svc_counter: 0,
    };
    sim.bootstrap(kek.as_deref())?;
    // The kek-version is the cluster's version when the KEK was set (at creation).
    let kek_version = match sim.store.clusters().next() {
        Some(c) => c.meta.as_ref().and_then(|m| m.version.as_ref()).map(|v| v.index).unwrap_or(0),
        None => 0,
    };
    for i in 1..o.nodes {
        sim.join_node(i)?;
    }
    for k in 0..o.networks {
        sim.create_overlay(k)?;
    }
    for k in 0..o.secrets {
        sim.create_secret(k)?;
    }
    for k in 0..o.configs {
        sim.create_config(k)?;
    }
    // Initial services: about 40% of the task target deployed at once, one global service on
    // big clusters.
    if o.services > 0 {
        let global = o.nodes >= 10;
        let budget = (o.tasks * 2 / 5).saturating_sub(if global { o.nodes as u64 } else { 0 });
        let n_rep = o.services - usize::from(global);
        let avg = (budget / (n_rep.max(1) as u64)).max(1);
        if global {
            sim.create_service(true, 0)?;
        }
        for _ in 0..n_rep {
            let r = sim.rng.range(1, (2 * avg).max(1));
            sim.create_service(false, r)?;
        }
    }
    sim.churn()?;
    // Last Ready: the commit catches up with the log.
    let hs = raftpb::HardState { term: Some(sim.term), vote: Some(sim.vote), commit: Some(sim.index) };
    sim.wal.save(&[], Some(hs))?;
    sim.commit = sim.index;
    let mut rep = std::mem::take(&mut sim.rep);
    let wal = std::mem::replace(&mut sim.wal, WalOut::create(PathBuf::new(), 0, vec![]));
    let wal = wal.finish()?;
    // Keys and certificates.
    let node_sk = p256_key(&mut sim.rng);
    let node_vk = *p256::ecdsa::SigningKey::from(&node_sk).verifying_key();
    let node_cert = sim.ca.issue(
        &mut sim.rng,
        &node_vk,
        &sim.nodes[0].id.clone(),
        "swarm-manager",
        &cluster_id,
        sim.now / NANOS,
    )?;
    write_file(&certs.join("swarm-root-ca.crt"), sim.ca.cert_pem.as_bytes(), 0o644)?;
    write_file(&certs.join("swarm-node.crt"), node_cert.as_bytes(), 0o644)?;
    let key = node_key_pem(&mut sim.rng, &node_sk, &sim.dek, kek.as_deref(), kek_version)?;
    write_file(&certs.join("swarm-node.key"), key.as_bytes(), 0o600)?;
    // state.json: the known managers; docker-state.json: dockerd's start config.
    let mut peers: Vec<serde_json::Value> =
        sim.mgrs.iter().map(|m| serde_json::json!({"node_id": sim.nodes[m.node].id, "addr": m.addr})).collect();
    peers.sort_by(|a, b| a["node_id"].as_str().cmp(&b["node_id"].as_str()));
    write_file(&out.join("state.json"), serde_json::to_string(&peers).unwrap_or_default().as_bytes(), 0o600)?;
    let a0 = node_addr(o, 0);
    let listen = if o.addr.is_some() { sim.mgrs[0].addr.clone() } else { "0.0.0.0:2377".to_string() };
    let advertise = &sim.mgrs[0].addr;
    let ds = format!(
        "{{\"LocalAddr\":\"{a0}\",\"RemoteAddr\":\"\",\"ListenAddr\":\"{listen}\",\"AdvertiseAddr\":\"{advertise}\",\"DataPathAddr\":\"\",\"DefaultAddressPool\":null,\"SubnetSize\":24,\"DataPathPort\":4789,\"JoinInProgress\":false}}"
    );
    write_file(&out.join("docker-state.json"), ds.as_bytes(), 0o600)?;
    // Report.
    rep.output = out.display().to_string();
    rep.seed = o.seed;
    rep.last_index = sim.index;
    rep.term = sim.term;
    rep.commit = sim.commit;
    rep.segments_deleted = wal.deleted;
    rep.wal_bytes_written = wal.bytes_written;
    let mut segs: Vec<FileOut> = Vec::new();
    for s in wal.closed.iter().chain(std::iter::once(&wal.cur)) {
        let p = wal_dir.join(&s.name);
        let len = std::fs::metadata(&p).map_err(io_err(&p))?.len();
        segs.push(FileOut { name: s.name.clone(), bytes: len });
    }
    rep.first_wal_index = wal.closed.first().unwrap_or(&wal.cur).index.max(1);
    rep.wal_bytes_on_disk = segs.iter().map(|s| s.bytes).sum();
    rep.segments = segs;
    for (_, _, name) in &sim.snaps {
        let p = snap_dir.join(name);
        let len = std::fs::metadata(&p).map_err(io_err(&p))?.len();
        rep.snapshots.push(FileOut { name: name.clone(), bytes: len });
    }
    rep.snapshot_bytes_on_disk = rep.snapshots.iter().map(|s| s.bytes).sum();
    for k in Kind::ALL {
        let n = sim.store.count(k) as u64;
        if n > 0 {
            rep.live.insert(k.plural().to_string(), n);
        }
    }
    rep.managers = o.managers;
    rep.node_id = sim.nodes[0].id.clone();
    rep.cluster_id = cluster_id;
    rep.autolock = kek.is_some();
    rep.unlock_key = kek.as_deref().map(|k| UnlockKey::from_bytes(k).to_human());
    rep.adjusted = adjusted;
    Ok(rep)
}

/// Human-readable summary of a report.
pub fn report_text(r: &SynthReport) -> String {
    let mut s = format!(
        "wrote {}: entries 1-{} (term {}, commit {}), WAL from index {}\n",
        r.output, r.last_index, r.term, r.commit, r.first_wal_index
    );
    s.push_str(&format!(
        "WAL: {} segments on disk ({} bytes), {} bytes of records written, {} segments deleted by GC\n",
        r.segments.len(),
        r.wal_bytes_on_disk,
        r.wal_bytes_written,
        r.segments_deleted
    ));
    s.push_str(&format!(
        "snapshots: {} on disk ({} bytes), {} written\n",
        r.snapshots.len(),
        r.snapshot_bytes_on_disk,
        r.snapshots_written
    ));
    let fmt = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    s.push_str(&format!("entries: {}\n", fmt(&r.entries_by_type)));
    s.push_str(&format!("created over the history: {}\n", fmt(&r.created)));
    s.push_str(&format!("live at the last index: {}\n", fmt(&r.live)));
    s.push_str(&format!(
        "task failures {}, leader elections {}, managers {}\n",
        r.task_failures, r.elections, r.managers
    ));
    s.push_str(&format!(
        "node {} in cluster {}; autolock {}\n",
        r.node_id,
        r.cluster_id,
        if r.autolock { "on" } else { "off" }
    ));
    if let Some(k) = &r.unlock_key {
        s.push_str(&format!("unlock key: {k}\n"));
    }
    for a in &r.adjusted {
        s.push_str(&format!("note: {a}\n"));
    }
    s
}
