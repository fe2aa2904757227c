//! Writes every damaged variant of `tests/common/variants.rs` (the loopback fixtures with the
//! corruption matrix's mutators applied) as `OUTDIR/<name>/swarm`, and `OUTDIR/variants.tsv`
//! (name, scenario, capture, what). `scripts/docker-predictions.sh` starts the real engine on
//! them; `tests/docker_predictions.rs` builds the same bytes again.
//!
//!     cargo run --example docker-variants -- OUTDIR [NAME...]

#[path = "../tests/common/corrupt.rs"]
mod corrupt;
#[path = "../tests/common/variants.rs"]
mod variants;

use std::io::Write;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: docker-variants OUTDIR [NAME...]"))?);
    let only: Vec<String> = args.collect();
    std::fs::create_dir_all(&out)?;
    let mut tsv = std::fs::File::create(out.join("variants.tsv"))?;
    for v in variants::all() {
        if !only.is_empty() && !only.iter().any(|n| n == v.name) {
            continue;
        }
        let dir = out.join(v.name);
        anyhow::ensure!(!dir.exists(), "{} exists already", dir.display());
        std::fs::create_dir(&dir)?;
        v.materialize(&dir);
        writeln!(tsv, "{}\t{}\t{}\t{}", v.name, v.scenario, v.capture, v.what)?;
        eprintln!("wrote {}", dir.display());
    }
    Ok(())
}
