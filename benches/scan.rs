//! Throughput of the hot path: frame scanning + CRC chain over one segment, and entry
//! decryption (secretbox), on a deterministic synthetic segment (fixed seed, no files needed).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use std::hint::black_box;
use swarmsift::crypto::{Dek, DekSource, decrypt_record, encrypt_secretbox};
use swarmsift::format::wal::{encode::SegmentWriter, rtype, scan_segment};
use swarmsift::pb::raftpb;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A segment of `n` encrypted entries of 120-620 bytes, each followed by a HardState record,
/// as swarmkit writes them.
fn synthetic_segment(n: u64) -> (bytes::Bytes, Vec<Vec<u8>>, [u8; 32]) {
    let key = [7u8; 32];
    let mut seed = 0x9E37_79B9_7F4A_7C15;
    let mut w = SegmentWriter::new(0, false);
    w.record(rtype::METADATA, Some(b"\x08\x01\x12\x05node1\x1a\x0e127.0.0.1:2377"));
    let mut records = Vec::new();
    for i in 1..=n {
        let len = 120 + (xorshift(&mut seed) % 500) as usize;
        let plain: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&i.to_le_bytes());
        let rec = encrypt_secretbox(&plain, &key, &nonce);
        let e = raftpb::Entry { term: Some(2), index: Some(i), r#type: Some(0), data: Some(rec.clone().into()) };
        w.record(rtype::ENTRY, Some(&e.encode_to_vec()));
        let hs = raftpb::HardState { term: Some(2), vote: Some(1), commit: Some(i) };
        w.record(rtype::STATE, Some(&hs.encode_to_vec()));
        records.push(rec);
    }
    (bytes::Bytes::from(w.buf), records, key)
}

fn bench(c: &mut Criterion) {
    let (seg, records, key) = synthetic_segment(50_000);
    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Bytes(seg.len() as u64));
    g.bench_function(format!("scan_segment/{}MB", seg.len() / 1_000_000), |b| {
        b.iter(|| {
            let s = scan_segment("0000000000000000-0000000000000000.wal", "bench", black_box(&seg), true);
            assert_eq!(s.records.len(), 2 + 2 * 50_000);
            s
        })
    });
    let deks = [Dek::new(DekSource::Current, &key)];
    let total: usize = records.iter().map(|r| r.len()).sum();
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("decrypt_secretbox/50k-entries", |b| {
        b.iter(|| {
            for r in &records {
                black_box(decrypt_record(black_box(r), &deks).expect("decrypts"));
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
