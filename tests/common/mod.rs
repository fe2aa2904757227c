//! Shared test helpers: fixture access, unpacking captures into temp dirs, running the binary,
//! and hashing a directory tree to prove commands leave their input unchanged.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Root of the committed fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A scenario's directory.
pub fn scenario(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Unpack a `.tar.gz` capture into a fresh temp dir; returns (guard, path of the `swarm/` dir).
pub fn unpack(tarball: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = std::fs::File::open(tarball).unwrap_or_else(|e| panic!("{}: {e}", tarball.display()));
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    ar.set_preserve_permissions(true);
    ar.unpack(dir.path()).expect("unpack");
    let swarm = dir.path().join("swarm");
    (dir, swarm)
}

/// Load a truth file.
pub fn truth(scenario_name: &str, file: &str) -> serde_json::Value {
    let p = scenario(scenario_name).join("truth").join(file);
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).expect("truth json")
}

/// A scenario's `meta.json`.
pub fn meta(scenario_name: &str) -> serde_json::Value {
    let p = scenario(scenario_name).join("meta.json");
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).expect("meta json")
}

/// The unlock key recorded for a scenario (meta.json `unlock_key`).
pub fn unlock_key(scenario_name: &str) -> Option<String> {
    let p = scenario(scenario_name).join("meta.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v.get("unlock_key").and_then(|k| k.as_str()).map(String::from)
}

/// Hash every file (path, size, crc32c of content, mode) under a dir.
pub fn tree_digest(root: &Path) -> BTreeMap<String, (u64, u32, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u64, u32, u32)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if md.is_dir() {
                out.insert(rel + "/", (0, 0, md.permissions().mode()));
                walk(root, &p, out);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.insert(rel, (md.len(), crc32c::crc32c(&data), md.permissions().mode()));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// Run the binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("swarmsift").expect("binary");
    cmd.env_remove("SWARMSIFT_UNLOCK_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
