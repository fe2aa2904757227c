//! What each fuzz target runs, shared by the targets (`fuzz_targets/*.rs`) and by the ordinary
//! test that replays committed crashers (`tests/fuzz_regressions.rs`). Every function must return
//! normally on any input: no panic, no allocation sized by a length field read from the input.

use bytes::Bytes;
use prost::Message;
use swarmsift::pb::docker::swarmkit::v1 as api;

/// The frame scanner on one segment (first byte: whether it is the last segment), the resync
/// helper, and etcd's reader as Docker runs it.
pub fn scan_segment(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else { return };
    let b = Bytes::copy_from_slice(rest);
    let s = swarmsift::format::wal::scan_segment("0000000000000000-0000000000000000.wal", "fuzz", &b, flags & 1 == 1);
    let mut prev = 0;
    for r in &s.records {
        assert!(r.offset >= prev && r.offset < r.end && r.end <= b.len() as u64, "record bounds");
        prev = r.end;
    }
    assert!(s.end.offset() <= b.len() as u64);
    let from = u64::from(flags >> 1) * 8;
    for r in swarmsift::analyses::verify::resync::records_from("x", &b, from, flags & 2 == 2) {
        assert!(r.offset >= from.min(b.len() as u64) && r.end <= b.len() as u64, "resync bounds");
    }
    let _ = swarmsift::analyses::verify::resync::partial_entry(&b, from);
    let seg = swarmsift::analyses::verify::sim::SegIn {
        name: "0000000000000000-0000000000000000.wal".into(),
        display: "fuzz".into(),
        seq: 0,
        name_index: 0,
        data: b,
    };
    for flavor in [
        swarmsift::analyses::verify::sim::Flavor::Etcd33,
        swarmsift::analyses::verify::sim::Flavor::Etcd35,
        swarmsift::analyses::verify::sim::Flavor::Etcd36,
    ] {
        let _ = swarmsift::analyses::verify::sim::simulate(
            std::slice::from_ref(&seg),
            &[],
            swarmsift::analyses::verify::sim::Keys::Unknown,
            flavor,
            None,
        );
    }
}

/// Record decoding and log assembly over up to three segments (split points from the first
/// two bytes).
pub fn assemble(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let (a, b) = (data[0] as usize, data[1] as usize);
    let rest = &data[2..];
    let cut1 = (a * rest.len() / 256).min(rest.len());
    let cut2 = (cut1 + b * (rest.len() - cut1) / 256).min(rest.len());
    let parts = [&rest[..cut1], &rest[cut1..cut2], &rest[cut2..]];
    let n = parts.len();
    let scans: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = format!("{i:016x}-{:016x}.wal", i * 10);
            swarmsift::format::wal::scan_segment(&name, &name, &Bytes::copy_from_slice(p), i + 1 == n)
        })
        .collect();
    let log = swarmsift::format::wal::assemble(scans);
    let mut prev = 0;
    for e in &log.entries {
        assert!(prev == 0 || e.index > 0, "entry index");
        prev = e.index;
    }
    let _ = log.commit();
}

/// `.snap` container parsing, with a recording `release`: the CRC is summed in order over the
/// whole body, each part handed over once, and it agrees with CRC-32C of the body in one go. The
/// payload of a sound container goes through the payload checks ([`payload_checks`]).
pub fn read_snap(data: &[u8]) {
    let b = Bytes::copy_from_slice(data);
    let released = std::cell::RefCell::new(Vec::new());
    let s = swarmsift::format::snap::read_snap("0000000000000002-0000000000000028.snap", "fuzz", &b, &|c: &[u8]| {
        released.borrow_mut().push((c.as_ptr() as usize, c.len()))
    });
    assert_eq!(s.size, data.len() as u64);
    let crc_finding = s.findings.iter().any(|f| f.code.as_str() == "snap.crc_mismatch");
    if s.container_ok {
        assert!(!crc_finding, "a sound container has no CRC finding");
    }
    let released = released.into_inner();
    match swarmsift::pb::snappb::Snapshot::decode(b.clone()) {
        Ok(o) if o.data.as_ref().is_some_and(|d| !d.is_empty()) && o.crc() != 0 => {
            let body = o.data.clone().unwrap_or_default();
            // Every part released once, in order, in steps of at most 1 MiB, covering the body.
            let mut at = body.as_ptr() as usize;
            for &(p, n) in &released {
                assert_eq!(p, at, "released in order, without gaps");
                assert!(n > 0 && n <= 1 << 20, "released part of {n} bytes");
                at += n;
            }
            assert_eq!(at, body.as_ptr() as usize + body.len(), "the whole body released");
            let crc_ok = crc32c::crc32c(&body) == o.crc();
            assert_eq!(crc_finding, !crc_ok, "CRC summed in steps is CRC-32C of the body");
            if s.container_ok {
                assert!(crc_ok);
            }
        }
        _ => assert!(released.is_empty() && !s.container_ok, "nothing summed, nothing released"),
    }
    if let Some(p) = &s.payload {
        payload_checks(p);
    }
}

/// Payload decoding: an `api.Snapshot`, an `InternalRaftRequest` and a `ConfChange` from
/// plaintext bytes, and the decryption path with a fixed DEK; see [`payload_checks`].
pub fn decode_payload(data: &[u8]) {
    if let Ok(r) = api::InternalRaftRequest::decode(data) {
        for a in r.action {
            if let Some(t) = a.target {
                let o = swarmsift::decode::object::Object::from_target(t);
                let _ = (o.kind(), o.id().len(), o.name(), o.version());
                let mut st = swarmsift::replay::store::Store::default();
                let _ = st.apply(swarmsift::decode::object::Verb::from_i32(a.action), o);
            }
        }
    }
    let _ = swarmsift::pb::raftpb::ConfChange::decode(data);
    payload_checks(data);
}

/// The DEK the payload targets decrypt with ([7; 32]), after one that fits nothing.
fn fuzz_deks() -> [swarmsift::crypto::Dek; 2] {
    use swarmsift::crypto::{Dek, DekSource};
    [Dek::new(DekSource::Pending, &[1u8; 32]), Dek::new(DekSource::Current, &[7u8; 32])]
}

/// What a payload must satisfy, as plaintext and as a record:
/// - the wire check ([`swarmsift::format::wirecheck`]) is never more lenient than prost, and an
///   object it accepts reads the same [`swarmsift::decode::object::Head`] as decoded whole;
/// - the snapshot walk (`snapshot_state`, `snapshot_objects`, with and without the wire check)
///   accepts and rejects what `decode_snapshot` does, with the same objects and membership;
/// - the borrowed record reader agrees with prost's `MaybeEncryptedRecord` (algorithm, `NONE`
///   data, rejections), and `decrypt_record_releasing` gives what `decrypt_record` gives,
///   releasing parts of the record in order;
/// - the bytes sealed with the fixed DEK (secretbox and Fernet) open again to the same bytes, in
///   place and not, and the encrypted snapshot walk agrees with the plaintext one.
pub fn payload_checks(data: &[u8]) {
    use swarmsift::crypto::{self, Algorithm};
    use swarmsift::decode::object::{Head, Kind, Object, TaskFields};
    use swarmsift::format::wirecheck;
    let deks = fuzz_deks();
    let bytes = Bytes::copy_from_slice(data);

    // The wire check against prost, for every kind and for a raft request.
    for kind in Kind::STORE_SNAPSHOT_FIELDS {
        if wirecheck::check(kind.message_name(), data).is_ok() {
            let o = Object::decode(kind, bytes.clone())
                .unwrap_or_else(|e| panic!("the wire check accepts a {kind:?} that prost rejects: {e}"));
            let task = match &o {
                Object::Task(t) => Some(TaskFields::of(t)),
                _ => None,
            };
            assert_eq!(Head::read(kind, data).ok(), Some(Head { id: o.id().to_string(), task }), "{kind:?} head");
        }
    }
    if wirecheck::check("docker.swarmkit.v1.InternalRaftRequest", data).is_ok() {
        assert!(api::InternalRaftRequest::decode(data).is_ok(), "the wire check accepts a request prost rejects");
    }

    // The snapshot walk against prost's whole decoding.
    let whole = swarmsift::decode::snapshot::decode_snapshot(data, false, &[]);
    snapshot_walks_agree(data, false, &[], &whole);

    // The record reader against prost, and decryption in place against out of place.
    let prost_rec = api::MaybeEncryptedRecord::decode(data);
    match &prost_rec {
        Ok(r) => {
            assert_eq!(crypto::record_algorithm(data), Ok(Algorithm::from_wire(r.algorithm)), "algorithm");
            let none = (Algorithm::from_wire(r.algorithm) == Algorithm::None).then(|| r.data.to_vec());
            assert_eq!(crypto::plaintext_of_none_record(data), none, "NONE data");
        }
        Err(_) => {
            assert_eq!(crypto::record_algorithm(data), Err(crypto::DecryptError::NotARecord), "prost rejects");
            assert_eq!(crypto::plaintext_of_none_record(data), None);
        }
    }
    let out = crypto::decrypt_record(data, &deks);
    if prost_rec.is_err() {
        assert_eq!(out, Err(crypto::DecryptError::NotARecord));
    }
    assert_eq!(releasing(data, &deks), out, "decrypt_record_releasing = decrypt_record");
    let _ = swarmsift::decode::snapshot::decode_snapshot(data, true, &deks);

    // Sealed with the fixed DEK: opens to the same bytes, and the encrypted walk agrees.
    let mut nonce = [0u8; 24];
    for (n, b) in nonce.iter_mut().zip(data.iter().rev()) {
        *n = *b;
    }
    let sealed = crypto::encrypt_secretbox(data, &[7u8; 32], &nonce);
    let opened = crypto::decrypt_record(&sealed, &deks).expect("a sealed record opens");
    assert_eq!((&opened.plaintext[..], opened.dek, opened.algorithm), (data, 1, Algorithm::Secretbox));
    assert_eq!(releasing(&sealed, &deks), Ok(opened), "in place as out of place");
    let enc = swarmsift::decode::snapshot::decode_snapshot(&sealed, true, &deks);
    assert_eq!(enc.is_ok(), whole.is_ok(), "encrypted and plaintext snapshot decoding agree");
    snapshot_walks_agree(&sealed, true, &deks, &enc);
    if data.len() <= 1024 {
        let iv: [u8; 16] = std::array::from_fn(|i| nonce[i]);
        let ts = u64::from_le_bytes(std::array::from_fn(|i| nonce[16 + i]));
        let rec = crypto::encrypt_fernet(data, &[7u8; 32], &iv, ts);
        let opened = crypto::decrypt_record(&rec, &deks).expect("a Fernet token opens");
        assert_eq!((&opened.plaintext[..], opened.dek, opened.fernet_timestamp), (data, 1, Some(ts)));
        assert_eq!(releasing(&rec, &deks), Ok(opened), "Fernet in place as out of place");
    }
}

/// `decrypt_record_releasing` with a recording `release`: the parts handed over lie in `record`,
/// in order and without overlap.
fn releasing(
    record: &[u8],
    deks: &[swarmsift::crypto::Dek],
) -> Result<swarmsift::crypto::Decrypted, swarmsift::crypto::DecryptError> {
    let parts = std::cell::RefCell::new(Vec::new());
    let out = swarmsift::crypto::decrypt_record_releasing(record, deks, &|c: &[u8]| {
        parts.borrow_mut().push((c.as_ptr() as usize, c.len()))
    });
    let (lo, hi) = (record.as_ptr() as usize, record.as_ptr() as usize + record.len());
    let mut at = lo;
    for (p, n) in parts.into_inner() {
        assert!(p >= at && p + n <= hi, "released part outside the record or out of order");
        at = p + n;
    }
    out
}

/// `snapshot_state` and `snapshot_objects` (with and without the wire check) accept and reject
/// what `decode_snapshot` did (`whole`), with the same objects, counts and membership.
fn snapshot_walks_agree(
    payload: &[u8],
    encrypted: bool,
    deks: &[swarmsift::crypto::Dek],
    whole: &Result<(api::Snapshot, Option<String>), String>,
) {
    use swarmsift::decode::object::{Kind, Membership, Object};
    use swarmsift::decode::snapshot::{SnapObject, snapshot_objects, snapshot_state};
    // The objects of the whole decoding, in store field order.
    let expected: Option<Vec<Vec<Object>>> = whole.as_ref().ok().map(|(s, _)| {
        let st = s.store.clone().unwrap_or_default();
        vec![
            st.nodes.into_iter().map(Object::Node).collect(),
            st.services.into_iter().map(Object::Service).collect(),
            st.networks.into_iter().map(Object::Network).collect(),
            st.tasks.into_iter().map(Object::Task).collect(),
            st.clusters.into_iter().map(Object::Cluster).collect(),
            st.secrets.into_iter().map(Object::Secret).collect(),
            st.resources.into_iter().map(Object::Resource).collect(),
            st.extensions.into_iter().map(Object::Extension).collect(),
            st.configs.into_iter().map(Object::Config).collect(),
            st.volumes.into_iter().map(Object::Volume).collect(),
        ]
    });
    let membership = whole.as_ref().ok().and_then(|(s, _)| s.membership.as_ref().map(Membership::from_snapshot));
    let has_store = whole.as_ref().is_ok_and(|(s, _)| s.store.is_some());
    let field = |k: Kind| Kind::STORE_SNAPSHOT_FIELDS.iter().position(|&f| f == k).expect("a store kind");
    let check_state = |st: &swarmsift::decode::snapshot::SnapState, what: &str| {
        let exp = expected.as_ref().expect("accepted");
        assert_eq!(st.membership, membership, "{what}: membership");
        if has_store {
            for (i, k) in Kind::STORE_SNAPSHOT_FIELDS.iter().enumerate() {
                assert_eq!(st.objects.get(k.plural()), Some(&exp[i].len()), "{what}: {} count", k.plural());
                assert_eq!(st.wire.kinds[i].0, exp[i].len(), "{what}: {} on the wire", k.plural());
            }
        } else {
            assert!(st.objects.is_empty(), "{what}: no store, no counts");
        }
    };
    for on_wire in [false, true] {
        let st = snapshot_state(payload, encrypted, deks, None, on_wire);
        assert_eq!(
            st.is_ok(),
            whole.is_ok(),
            "snapshot_state (on_wire {on_wire}) accepts what prost does: {:?}",
            st.as_ref().err()
        );
        if let Ok(st) = &st {
            check_state(st, "snapshot_state");
        }
    }
    let mut got: Vec<Vec<Object>> = vec![Vec::new(); 10];
    let mut sink = |o: Object| got[field(o.kind())].push(o);
    let st = snapshot_state(payload, encrypted, deks, Some(&mut sink), false);
    assert_eq!(st.is_ok(), whole.is_ok(), "snapshot_state with a sink");
    if let (Ok(st), Some(exp)) = (&st, &expected) {
        check_state(st, "snapshot_state with a sink");
        assert!(got == *exp, "snapshot_state hands over the objects prost decodes");
    }
    let mut got: Vec<Vec<Object>> = vec![Vec::new(); 10];
    let released = std::cell::Cell::new(0usize);
    let mut sink = |o: SnapObject| match o {
        SnapObject::Encoded(kind, b) => {
            let o = Object::decode(kind, b).expect("an object the wire check accepts decodes");
            got[field(kind)].push(o)
        }
        SnapObject::Decoded(o) => got[field(o.kind())].push(*o),
    };
    let st = snapshot_objects(payload, encrypted, deks, &|c: &[u8]| released.set(released.get() + c.len()), &mut sink);
    assert_eq!(st.is_ok(), whole.is_ok(), "snapshot_objects accepts what prost does: {:?}", st.as_ref().err());
    assert!(released.get() <= payload.len(), "released at most the payload");
    if let (Ok(st), Some(exp)) = (&st, &expected) {
        check_state(st, "snapshot_objects");
        assert!(got == *exp, "snapshot_objects hands over the objects prost decodes");
    }
}

/// PEM and key-header parsing: `swarm-node.key` (and its DEK headers with and without a KEK),
/// `swarm-node.crt`, and an unlock key.
pub fn parse_node_key(data: &[u8]) {
    let kek = swarmsift::crypto::keys::UnlockKey::from_bytes(&[9u8; 32]);
    if let Ok(k) = swarmsift::crypto::keys::parse_node_key(data) {
        let _ = swarmsift::crypto::keys::node_key_deks(&k, None);
        let _ = swarmsift::crypto::keys::node_key_deks(&k, Some(&kek));
        let _ = swarmsift::crypto::keys::verify_private_key_kek(&k, Some(&kek));
        let _ = format!("{k:?}");
    }
    let _ = swarmsift::crypto::keys::parse_node_cert(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = swarmsift::crypto::keys::UnlockKey::parse(s);
    }
}

/// The tarball reader: the bytes (gzip-compressed first when the first byte is odd) are written
/// to a scratch file and opened as a backup, then the layout is detected, the keys are loaded
/// and every kept member is read back.
pub fn tarball(data: &[u8]) {
    use std::io::Write;
    let Some((&flags, rest)) = data.split_first() else { return };
    let bytes = if flags & 1 == 1 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(rest).expect("gzip into memory");
        gz.finish().expect("gzip into memory")
    } else {
        rest.to_vec()
    };
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let path = std::path::Path::new(&dir).join(format!("swarmsift-fuzz-tarball-{}.tar", std::process::id()));
    std::fs::write(&path, &bytes).expect("scratch file");
    let opened = swarmsift::input::source::Source::open(&path, Default::default());
    let _ = std::fs::remove_file(&path);
    let Ok(src) = opened else { return };
    for e in &src.entries {
        assert!(!e.rel.is_empty() && !e.rel.starts_with('/'), "entry path {:?}", e.rel);
        if !e.is_dir
            && let Ok(b) = src.read(&e.rel)
        {
            assert!(b.len() as u64 <= e.size.max(b.len() as u64));
        }
    }
    let (lay, mut findings) = swarmsift::input::layout::detect(&src);
    let kek = swarmsift::crypto::keys::UnlockKey::from_bytes(&[9u8; 32]);
    let _ = swarmsift::crypto::keyring::load_keys(&src, &lay, None, &mut findings);
    let _ = swarmsift::crypto::keyring::load_keys(&src, &lay, Some(&kek), &mut findings);
}

/// The `swarm-node.key` parser on its own, with the KEK taken from the input: the first byte
/// says how many of the following bytes are the KEK, the rest is the key file.
pub fn key_file(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 48).min(rest.len());
    let (kek, pem) = rest.split_at(n);
    let kek = swarmsift::crypto::keys::UnlockKey::from_bytes(kek);
    if let Ok(k) = swarmsift::crypto::keys::parse_node_key(pem) {
        // The DEK headers are never shown. (A header with an empty name is accepted, as Go's
        // encoding/pem accepts one; an early harness asserted otherwise: regressions/key_file/
        // empty-header-name.)
        for (name, value) in k.redacted_headers() {
            if name == "raft-dek" || name == "raft-dek-pending" {
                assert!(value.starts_with("<redacted"), "{name} shown");
            }
        }
        let _ = k.der().len();
        let _ = swarmsift::crypto::keys::node_key_deks(&k, Some(&kek));
        let _ = swarmsift::crypto::keys::verify_private_key_kek(&k, Some(&kek));
        let _ = swarmsift::crypto::keys::verify_private_key_kek(&k, None);
    }
}

/// The unlock-key parser: as text, as a key file on disk (`--unlock-key-file`), and its
/// printed form read back.
pub fn unlock_key(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(k) = swarmsift::crypto::keys::UnlockKey::parse(&text) {
        let human = k.to_human();
        let again = swarmsift::crypto::keys::UnlockKey::parse(&human).expect("its own printed form parses");
        assert_eq!(again.as_bytes(), k.as_bytes(), "printed form round-trips");
        assert!(human.len() < 30 || !format!("{k:?}").contains(&human[9..]), "Debug redacts");
    }
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let path = std::path::Path::new(&dir).join(format!("swarmsift-fuzz-unlock-{}.key", std::process::id()));
    std::fs::write(&path, data).expect("scratch file");
    let r = swarmsift::crypto::keyring::unlock_key_from(Some(&path));
    let _ = std::fs::remove_file(&path);
    if let Ok(Some(k)) = r {
        assert!(!k.as_bytes().is_empty());
    }
}

/// A target's function.
pub type Target = fn(&[u8]);

/// Every target by name (the fuzz target names and the `regressions/` subdirectories).
pub const TARGETS: &[(&str, Target)] = &[
    ("scan_segment", scan_segment),
    ("assemble", assemble),
    ("read_snap", read_snap),
    ("decode_payload", decode_payload),
    ("parse_node_key", parse_node_key),
    ("tarball", tarball),
    ("key_file", key_file),
    ("unlock_key", unlock_key),
];
