//! The machine's limits on the bytes of one swarm dir, for `benches/whole-tool.sh --synth` to
//! compare each command with: reading the WAL and snapshot files from the page cache, CRC-32C
//! alone over them, and secretbox decryption alone of every entry and snapshot payload.
//!
//! Not a criterion bench: `SWARMSIFT_LIMITS_DIR=/path/to/swarm cargo bench --bench limits`
//! prints one `limit <name> <bytes> <seconds> <MB/s>` line per measurement (best of 3). Without
//! the variable it prints nothing and exits 0, so `cargo bench` stays quick.

use std::path::{Path, PathBuf};
use std::time::Instant;
use swarmsift::crypto::decrypt_record;
use swarmsift::replay::analysis::{Analysis, Detail, Options};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["raft/wal-v3-encrypted", "raft/snap-v3-encrypted"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.ends_with(".wal") || n.ends_with(".snap") {
                    v.push(e.path());
                }
            }
        }
    }
    v.sort();
    v
}

fn best_of_3(mut f: impl FnMut() -> u64) -> (u64, f64) {
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..3 {
        let t = Instant::now();
        bytes = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (bytes, best)
}

fn line(name: &str, (bytes, secs): (u64, f64)) {
    println!("limit {name} {bytes} {secs:.3} {:.0}", bytes as f64 / secs / 1e6);
}

fn main() {
    let Some(dir) = std::env::var_os("SWARMSIFT_LIMITS_DIR").map(PathBuf::from) else { return };
    let paths = files(&dir);
    // The valid part of each segment (the zero tail of the active one is not data).
    let a = Analysis::load(&dir, &Options { detail: Detail::Structure, ..Default::default() }).expect("load");
    let valid: Vec<(PathBuf, usize)> = paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let len = a
                .wal
                .segments
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.end.offset() as usize)
                .unwrap_or_else(|| std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0));
            (p.clone(), len)
        })
        .collect();
    line(
        "page-cache-read",
        best_of_3(|| {
            use std::io::Read;
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0u64;
            for (p, len) in &valid {
                let mut f = std::fs::File::open(p).expect("open");
                let mut left = *len;
                while left > 0 {
                    let k = f.read(&mut buf[..left.min(1 << 20)]).expect("read");
                    if k == 0 {
                        break;
                    }
                    left -= k;
                    n += k as u64;
                }
            }
            n
        }),
    );
    let maps: Vec<memmap2::Mmap> = valid
        .iter()
        .map(|(p, _)| {
            let f = std::fs::File::open(p).expect("open");
            // SAFETY: read-only map of a file nobody writes during the benchmark.
            unsafe { memmap2::Mmap::map(&f) }.expect("mmap")
        })
        .collect();
    line(
        "crc32c",
        best_of_3(|| {
            let mut n = 0u64;
            let mut c = 0u32;
            for (m, (_, len)) in maps.iter().zip(&valid) {
                c = crc32c::crc32c_append(c, &m[..*len]);
                n += *len as u64;
            }
            std::hint::black_box(c);
            n
        }),
    );
    line(
        "crc32c-2-threads",
        best_of_3(|| {
            use rayon::prelude::*;
            let n: u64 = maps
                .par_iter()
                .zip(&valid)
                .map(|(m, (_, len))| {
                    std::hint::black_box(crc32c::crc32c(&m[..*len]));
                    *len as u64
                })
                .sum();
            n
        }),
    );
    let payloads: Vec<&[u8]> = a
        .wal
        .entries
        .iter()
        .map(|e| e.data.as_ref())
        .chain(a.snap_payloads.iter().flatten().map(|p| p.as_ref()))
        .collect();
    line(
        "secretbox-decrypt",
        best_of_3(|| {
            let mut n = 0u64;
            for p in &payloads {
                std::hint::black_box(decrypt_record(p, &a.deks).expect("decrypts"));
                n += p.len() as u64;
            }
            n
        }),
    );
    line(
        "secretbox-decrypt-2-threads",
        best_of_3(|| {
            use rayon::prelude::*;
            payloads
                .par_iter()
                .map(|p| {
                    std::hint::black_box(decrypt_record(p, &a.deks).expect("decrypts"));
                    p.len() as u64
                })
                .sum()
        }),
    );
}
