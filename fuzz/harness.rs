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

/// `.snap` container parsing.
pub fn read_snap(data: &[u8]) {
    let b = Bytes::copy_from_slice(data);
    let s = swarmsift::format::snap::read_snap("0000000000000002-0000000000000028.snap", "fuzz", &b, &|_| ());
    assert_eq!(s.size, data.len() as u64);
    if s.container_ok {
        assert!(
            s.findings.iter().all(|f| f.code.as_str() != "snap.crc_mismatch"),
            "a sound container has no CRC finding"
        );
    }
}

/// Payload decoding: an `api.Snapshot`, an `InternalRaftRequest` and a `ConfChange` from
/// plaintext bytes, and the decryption path with a fixed DEK.
pub fn decode_payload(data: &[u8]) {
    let _ = swarmsift::decode::snapshot::decode_snapshot(data, false, &[]);
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
    let dek = swarmsift::crypto::Dek::new(swarmsift::crypto::DekSource::Current, &[7u8; 32]);
    let _ = swarmsift::crypto::decrypt_record(data, std::slice::from_ref(&dek));
    let _ = swarmsift::decode::snapshot::decode_snapshot(data, true, std::slice::from_ref(&dek));
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
