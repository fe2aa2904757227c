//! Throughput of each hot path on realistic data: a `synth` swarm dir (fixed seed) generated once
//! into a temp dir. Stages: CRC-32C alone, frame scan + CRC chain + assembly (`read_wal`),
//! entry decryption (secretbox), protobuf decoding of the decrypted requests, replay (store
//! apply), snapshot decrypt + decode, and the whole `Analysis::load`.
//!
//! `cargo bench --bench pipeline`; numbers and the machine they came from are in
//! docs/performance.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use std::hint::black_box;
use swarmsift::analyses::synth::{SynthOptions, generate};
use swarmsift::crypto::decrypt_record;
use swarmsift::decode::object::{Object, Verb};
use swarmsift::decode::snapshot::decode_snapshot;
use swarmsift::format::wal::read_wal;
use swarmsift::pb::docker::swarmkit::v1 as api;
use swarmsift::replay::analysis::{Analysis, Options};
use swarmsift::replay::point::{Base, Point, replay_from};
use swarmsift::replay::store::Store;

struct Data {
    _dir: tempfile::TempDir,
    a: Analysis,
    segments: Vec<(String, String, bytes::Bytes)>,
    seg_bytes: u64,
    plaintexts: Vec<Vec<u8>>,
    plain_bytes: u64,
    cipher_bytes: u64,
}

fn setup() -> Data {
    let dir = tempfile::tempdir().expect("tempdir");
    let swarm = dir.path().join("swarm");
    let o = SynthOptions {
        nodes: 300,
        services: 40,
        tasks: 15_000,
        snapshot_interval: 20_000,
        keep_old_snapshots: 1,
        configs: 20,
        config_bytes: 200_000,
        seed: 42,
        ..SynthOptions::default()
    };
    generate(&swarm, &o).expect("synth");
    let a = Analysis::load(&swarm, &Options::default()).expect("load");
    let segments: Vec<(String, String, bytes::Bytes)> = a
        .wal
        .segments
        .iter()
        .map(|s| {
            let p = swarm.join("raft/wal-v3-encrypted").join(&s.name);
            (s.name.clone(), s.display.clone(), bytes::Bytes::from(std::fs::read(p).expect("segment")))
        })
        .collect();
    let seg_bytes = a.wal.segments.iter().map(|s| s.end.offset()).sum();
    let plaintexts: Vec<Vec<u8>> =
        a.wal.entries.iter().map(|e| decrypt_record(&e.data, &a.deks).expect("decrypts").plaintext).collect();
    let plain_bytes = plaintexts.iter().map(|p| p.len() as u64).sum();
    let cipher_bytes = a.wal.entries.iter().map(|e| e.data.len() as u64).sum();
    Data { _dir: dir, a, segments, seg_bytes, plaintexts, plain_bytes, cipher_bytes }
}

fn bench(c: &mut Criterion) {
    let d = setup();
    let n = d.a.wal.entries.len();
    let mut g = c.benchmark_group("pipeline");

    // Limits first: CRC-32C alone over the records' bytes.
    g.throughput(Throughput::Bytes(d.seg_bytes));
    g.bench_function("crc32c/wal-bytes", |b| {
        b.iter(|| {
            let mut crc = 0;
            for (_, _, s) in &d.segments {
                crc = crc32c::crc32c_append(crc, &s[..(d.seg_bytes as usize).min(s.len())]);
            }
            black_box(crc)
        })
    });
    g.bench_function(format!("read_wal/{}-entries", n), |b| b.iter(|| black_box(read_wal(d.segments.clone()))));

    g.throughput(Throughput::Bytes(d.cipher_bytes));
    g.bench_function("decrypt/entries", |b| {
        b.iter(|| {
            for e in &d.a.wal.entries {
                black_box(decrypt_record(&e.data, &d.a.deks).expect("decrypts"));
            }
        })
    });

    g.throughput(Throughput::Bytes(d.plain_bytes));
    g.bench_function("decode/internal_raft_request", |b| {
        b.iter(|| {
            for (p, e) in d.plaintexts.iter().zip(&d.a.wal.entries) {
                if e.etype == 0 && !p.is_empty() {
                    black_box(api::InternalRaftRequest::decode(p.as_slice()).expect("decodes"));
                }
            }
        })
    });

    // The same bytes checked on the wire (what `verify` does for entries the snapshot covers).
    g.bench_function("wirecheck/internal_raft_request", |b| {
        b.iter(|| {
            for (p, e) in d.plaintexts.iter().zip(&d.a.wal.entries) {
                if e.etype == 0 && !p.is_empty() {
                    black_box(swarmsift::format::wirecheck::check("docker.swarmkit.v1.InternalRaftRequest", p))
                        .expect("valid");
                }
            }
        })
    });

    // Replay: apply every decoded action to a store (decoding excluded).
    let actions: Vec<(Verb, Object)> = d
        .plaintexts
        .iter()
        .zip(&d.a.wal.entries)
        .filter(|(p, e)| e.etype == 0 && !p.is_empty())
        .flat_map(|(p, _)| api::InternalRaftRequest::decode(p.as_slice()).expect("decodes").action)
        .filter_map(|a| a.target.map(|t| (Verb::from_i32(a.action), Object::from_target(t))))
        .collect();
    g.throughput(Throughput::Elements(actions.len() as u64));
    g.bench_function("replay/store_apply", |b| {
        b.iter_batched(
            || actions.clone(),
            |acts| {
                let mut s = Store::default();
                for (v, o) in acts {
                    let _ = s.apply(v, o);
                }
                s
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // Replay from the oldest kept snapshot (older segments were garbage collected) to the end.
    let base = if d.a.snapshots.is_empty() { Base::Empty } else { Base::Snapshot(0) };
    let from = d.a.snapshots.first().map(|s| s.index).unwrap_or(0);
    let replayed = d.a.wal.entries.iter().filter(|e| e.index > from).count();
    g.throughput(Throughput::Elements(replayed as u64));
    g.bench_function("replay/oldest_snapshot_to_last", |b| {
        b.iter(|| black_box(replay_from(&d.a, &Point::Last, false, base).expect("replay")))
    });

    if let Some(i) = d.a.base_snapshot {
        let payload = d.a.snap_payloads[i].clone().expect("payload");
        g.throughput(Throughput::Bytes(payload.len() as u64));
        g.bench_function("snapshot/decrypt_decode", |b| {
            b.iter(|| black_box(decode_snapshot(&payload, true, &d.a.deks).expect("snapshot")))
        });
    }

    let root = d.a.source.root_dir().expect("dir").to_path_buf();
    let total: u64 = d.seg_bytes + d.a.snapshots.iter().map(|s| s.bytes).sum::<u64>();
    g.throughput(Throughput::Bytes(total));
    g.bench_function("analysis/load", |b| {
        b.iter(|| black_box(Analysis::load(&root, &Options::default()).expect("load")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
