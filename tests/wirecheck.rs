//! Specification of the wire validator (`swarmsift::format::wirecheck`), which `verify` and `info` use
//! instead of decoding what the final state does not need:
//! - On every entry and snapshot object of the real captures it agrees with prost: all accepted.
//! - It is never more lenient than prost: over thousands of damaged variants of real payloads
//!   (bit flips, truncations, inserted bytes), whatever it accepts prost decodes too.
//! - A `Detail::Check` load reports the same counts, findings and final state as a full one.
//! - A task read on the wire into the checks' projection is the task decoded whole, then
//!   projected, on every real task and on tasks merged from two encodings.

mod common;

use prost::Message;
use swarmsift::crypto::decrypt_record;
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::format::wirecheck::check;
use swarmsift::pb::docker::swarmkit::v1 as api;
use swarmsift::replay::analysis::{Analysis, Detail, Options};

fn load(scenario: &str, detail: Detail) -> Analysis {
    let unlock_key = common::unlock_key(scenario).map(|k| UnlockKey::parse(&k).unwrap());
    let p = common::scenario(scenario).join("swarm.tar.gz");
    Analysis::load(&p, &Options { unlock_key, detail, ..Default::default() }).unwrap()
}

/// Decrypted normal-entry payloads of a capture.
fn payloads(a: &Analysis) -> Vec<Vec<u8>> {
    a.wal
        .entries
        .iter()
        .filter(|e| e.etype == 0 && !e.data.is_empty())
        .filter_map(|e| decrypt_record(&e.data, &a.deks).ok().map(|d| d.plaintext))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Snapshot store objects of a capture: (message name, bytes).
fn snapshot_objects(a: &Analysis) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for p in a.snap_payloads.iter().flatten() {
        let plain = decrypt_record(p, &a.deks).unwrap().plaintext;
        let s = api::Snapshot::decode(plain.as_slice()).unwrap();
        let st = s.store.unwrap_or_default();
        let name = |n: &str| -> &'static str { Box::leak(format!("docker.swarmkit.v1.{n}").into_boxed_str()) };
        out.extend(st.nodes.iter().map(|o| (name("Node"), o.encode_to_vec())));
        out.extend(st.services.iter().map(|o| (name("Service"), o.encode_to_vec())));
        out.extend(st.tasks.iter().map(|o| (name("Task"), o.encode_to_vec())));
        out.extend(st.networks.iter().map(|o| (name("Network"), o.encode_to_vec())));
        out.extend(st.clusters.iter().map(|o| (name("Cluster"), o.encode_to_vec())));
        out.extend(st.secrets.iter().map(|o| (name("Secret"), o.encode_to_vec())));
        out.extend(st.configs.iter().map(|o| (name("Config"), o.encode_to_vec())));
    }
    out
}

fn prost_accepts(name: &str, b: &[u8]) -> bool {
    match name {
        "docker.swarmkit.v1.InternalRaftRequest" => api::InternalRaftRequest::decode(b).is_ok(),
        "docker.swarmkit.v1.Node" => api::Node::decode(b).is_ok(),
        "docker.swarmkit.v1.Service" => api::Service::decode(b).is_ok(),
        "docker.swarmkit.v1.Task" => api::Task::decode(b).is_ok(),
        "docker.swarmkit.v1.Network" => api::Network::decode(b).is_ok(),
        "docker.swarmkit.v1.Cluster" => api::Cluster::decode(b).is_ok(),
        "docker.swarmkit.v1.Secret" => api::Secret::decode(b).is_ok(),
        "docker.swarmkit.v1.Config" => api::Config::decode(b).is_ok(),
        other => panic!("no prost type for {other}"),
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

#[test]
fn accepts_every_real_payload() {
    for scenario in ["churn", "autolock"] {
        let a = load(scenario, Detail::Entries);
        let ps = payloads(&a);
        assert!(ps.len() > 20, "{scenario}");
        for p in &ps {
            assert!(check("docker.swarmkit.v1.InternalRaftRequest", p).is_ok());
        }
        for (name, o) in snapshot_objects(&a) {
            assert!(check(name, &o).is_ok(), "{scenario}: {name}");
        }
    }
}

#[test]
fn never_more_lenient_than_prost_on_damaged_payloads() {
    let a = load("churn", Detail::Entries);
    let mut cases: Vec<(&'static str, Vec<u8>)> =
        payloads(&a).into_iter().map(|p| ("docker.swarmkit.v1.InternalRaftRequest", p)).collect();
    cases.extend(snapshot_objects(&a).into_iter().step_by(3));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut rejected_both, mut accepted_both, mut stricter) = (0, 0, 0);
    for (name, clean) in &cases {
        for _ in 0..40 {
            let mut b = clean.clone();
            match rng.below(4) {
                0 => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                1 => b.truncate(rng.below(b.len())),
                2 => {
                    let i = rng.below(b.len());
                    b.insert(i, rng.below(256) as u8);
                }
                _ => {
                    let i = rng.below(b.len());
                    b[i] = 0xff;
                }
            }
            let ours = check(name, &b).is_ok();
            let theirs = prost_accepts(name, &b);
            assert!(!ours || theirs, "{name}: the wire check accepts what prost rejects: {b:02x?}");
            match (ours, theirs) {
                (true, true) => accepted_both += 1,
                (false, false) => rejected_both += 1,
                _ => stricter += 1,
            }
        }
    }
    // The check is meant to agree, not merely to be strict: rejecting what prost accepts would
    // only cost time (a full decode), but it should be rare.
    assert!(rejected_both > 1000 && accepted_both > 1000, "{rejected_both} {accepted_both}");
    assert!(stricter * 100 < rejected_both + accepted_both, "stricter than prost on {stricter} inputs");
}

/// `body` as length-delimited field `tag`.
fn ld(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, &mut b);
    prost::encoding::encode_varint(body.len() as u64, &mut b);
    b.extend_from_slice(body);
    b
}

/// `n` empty groups of unknown field 1000, each inside the one before.
fn nested_groups(n: usize) -> Vec<u8> {
    let (start, end) = ([0xc3, 0x3e], [0xc4, 0x3e]); // field 1000: start group, end group
    [start.repeat(n), end.repeat(n)].concat()
}

#[test]
fn the_recursion_limit_is_prosts_inside_nested_messages_too() {
    // prost has one budget of 100 levels for nested messages and groups together: an unknown
    // group inside `Task.status` has one level less than one at the task's top, and a task in
    // a snapshot's store two less than a task decoded alone. (The fuzz harness found the check
    // allowing a full 100 levels of groups wherever it was.)
    use swarmsift::format::wirecheck::check_at;
    let task = "docker.swarmkit.v1.Task";
    let (mut accepted, mut rejected) = (0, 0);
    for n in 94..=101 {
        for b in [nested_groups(n), ld(9, &nested_groups(n)), ld(9, &ld(1, &nested_groups(n)))] {
            let theirs = prost_accepts(task, &b);
            assert_eq!(check(task, &b).is_ok(), theirs, "{n} levels: {b:02x?}");
            let in_snapshot = api::Snapshot::decode(&ld(3, &ld(4, &b))[..]).is_ok();
            assert_eq!(check_at(task, &b, 2).is_ok(), in_snapshot, "{n} levels in a snapshot");
            if theirs { accepted += 1 } else { rejected += 1 }
        }
    }
    assert!(accepted > 0 && rejected > 0, "the limit lies in the range tried");
}

#[test]
fn a_checked_load_reports_what_a_full_load_does() {
    for scenario in ["churn", "autolock", "big-wal"] {
        let full = load(scenario, Detail::Entries);
        let checked = load(scenario, Detail::Check);
        assert_eq!(checked.stats.entries, full.stats.entries);
        assert_eq!(checked.stats.committed, full.stats.committed);
        assert_eq!(checked.stats.by_action, full.stats.by_action, "{scenario}");
        let codes = |a: &Analysis| a.findings.iter().map(|f| (f.code, f.index, f.offset)).collect::<Vec<_>>();
        assert_eq!(codes(&checked), codes(&full), "{scenario}");
        assert!(checked.state == full.state, "{scenario}");
        for (x, y) in checked.snapshots.iter().zip(&full.snapshots) {
            assert_eq!((x.valid, &x.objects, &x.membership), (y.valid, &y.objects, &y.membership), "{}", x.file);
        }
    }
}

#[test]
fn a_checked_load_with_a_damaged_newest_snapshot_falls_back_like_a_full_one() {
    // The entries the newest snapshot covers are checked early, while snapshots are read; when
    // that snapshot is not usable, that early work is discarded and the entries are replayed.
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let mut snaps: Vec<_> = std::fs::read_dir(swarm.join("raft/snap-v3-encrypted"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .collect();
    snaps.sort();
    let newest = snaps.pop().unwrap();
    let len = std::fs::metadata(&newest).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&newest).unwrap().set_len(len - 7).unwrap();
    let opts = |detail| Options { detail, ..Default::default() };
    let full = Analysis::load(&swarm, &opts(Detail::Entries)).unwrap();
    let checked = Analysis::load(&swarm, &opts(Detail::Check)).unwrap();
    assert_eq!(full.base_snapshot, Some(snaps.len() - 1), "the older snapshot is the base");
    assert_eq!(checked.base_snapshot, full.base_snapshot);
    assert_eq!(checked.stats.by_action, full.stats.by_action);
    assert_eq!(checked.stats.entries, full.stats.entries);
    let codes = |a: &Analysis| a.findings.iter().map(|f| (f.code, f.index, f.offset)).collect::<Vec<_>>();
    assert_eq!(codes(&checked), codes(&full));
    assert!(checked.state == full.state);
}

#[test]
fn kind_field_tables_match_the_proto() {
    use swarmsift::decode::object::{Kind, Object};
    let object = |k: Kind| match k {
        Kind::Node => Object::Node(api::Node::default()),
        Kind::Service => Object::Service(api::Service::default()),
        Kind::Task => Object::Task(api::Task::default()),
        Kind::Network => Object::Network(api::Network::default()),
        Kind::Secret => Object::Secret(api::Secret::default()),
        Kind::Config => Object::Config(api::Config::default()),
        Kind::Cluster => Object::Cluster(api::Cluster::default()),
        Kind::Volume => Object::Volume(api::Volume::default()),
        Kind::Resource => Object::Resource(api::Resource::default()),
        Kind::Extension => Object::Extension(api::Extension::default()),
    };
    for (i, &k) in Kind::STORE_ACTION_TARGETS.iter().enumerate() {
        let a = api::StoreAction { action: 0, target: Some(swarmsift::analyses::synth::to_target(object(k))) };
        let b = a.encode_to_vec();
        assert_eq!(b[0] >> 3, i as u8 + 2, "{k:?}: StoreAction target field");
        assert!(check(k.message_name(), &[]).is_ok(), "{k:?}: message name known to the schema");
    }
    for (i, &k) in Kind::STORE_SNAPSHOT_FIELDS.iter().enumerate() {
        let mut st = swarmsift::replay::store::Store::default();
        st.insert(object(k));
        let b = swarmsift::analyses::sizes::store_snapshot(&st).encode_to_vec();
        assert_eq!(b[0] >> 3, i as u8 + 1, "{k:?}: StoreSnapshot field");
    }
}

#[test]
fn field_keys_varints_and_lengths_follow_prosts_rules_byte_for_byte() {
    // api.Secret: 1 = id (string), 2 = meta, 3 = spec, 4 = internal; nothing at 16 or above.
    let name = "docker.swarmkit.v1.Secret";
    let cases: &[(&str, &[u8])] = &[
        ("empty message", &[]),
        ("id \"ab\"", &[0x0a, 0x02, b'a', b'b']),
        ("id of 128 bytes: two-byte length", &{
            let mut v = vec![0x0a, 0x80, 0x01];
            v.extend([b'x'; 128]);
            v
        }),
        ("non-ASCII UTF-8 id (é)", &[0x0a, 0x02, 0xc3, 0xa9]),
        ("unknown field 16 (two-byte key), varint", &[0x80, 0x01, 0x05]),
        ("unknown field 1000 (two-byte key), fixed32", &[0xc5, 0x3e, 1, 2, 3, 4]),
        ("key as a padded three-byte varint", &[0x8a, 0x80, 0x00, 0x00]),
        ("tag 0", &[0x00, 0x00]),
        ("tag 0, two-byte key", &[0x80, 0x00, 0x00]),
        ("wire type 6", &[0x0e]),
        ("wire type 7", &[0x0f]),
        ("key above u32::MAX", &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        ("length one past the end", &[0x0a, 0x03, b'a', b'b']),
        ("two-byte length cut after its first byte", &[0x0a, 0x80]),
        ("invalid UTF-8 id", &[0x0a, 0x01, 0xff]),
        ("UTF-8 cut inside a character", &[0x0a, 0x01, 0xc3]),
        ("id as a varint (wrong wire type)", &[0x08, 0x01]),
        ("key cut after a continuation byte", &[0x80]),
    ];
    for (what, b) in cases {
        let prost_ok = prost_accepts(name, b);
        assert_eq!(check(name, b).is_ok(), prost_ok, "{what}: {b:02x?} (prost accepts: {prost_ok})");
    }
    // The first seven are valid, the rest are not: the cases above mean what they say.
    let valid: Vec<bool> = cases.iter().map(|(_, b)| prost_accepts(name, b)).collect();
    assert_eq!(valid.iter().filter(|&&v| v).count(), 7, "{valid:?}");
}

#[test]
fn a_task_read_into_the_projection_is_the_whole_task_projected() {
    use swarmsift::decode::object::{Kind, Object};
    let mut tasks: Vec<Vec<u8>> = Vec::new();
    for p in ["churn/swarm.tar.gz", "three-managers/manager1.tar.gz", "modern-three-managers/manager1.tar.gz"] {
        let a =
            Analysis::load(&common::scenario(p), &Options { detail: Detail::Entries, ..Default::default() }).unwrap();
        tasks.extend(snapshot_objects(&a).into_iter().filter(|(n, _)| n.ends_with(".Task")).map(|(_, b)| b));
    }
    assert!(tasks.len() > 20, "{} tasks", tasks.len());
    let whole = |b: &[u8]| Object::decode(Kind::Task, bytes::Bytes::copy_from_slice(b)).unwrap().projected();
    for (i, b) in tasks.iter().enumerate() {
        assert_eq!(Object::projected_task(b).unwrap(), whole(b), "task {i}");
        // Two encodings one after the other decode as their merge: the last scalar wins,
        // messages merge. The projection follows the same rule.
        let next = &tasks[(i + 1) % tasks.len()];
        let merged = [b.as_slice(), next.as_slice()].concat();
        assert_eq!(Object::projected_task(&merged).unwrap(), whole(&merged), "tasks {i} and {}", i + 1);
    }
}
