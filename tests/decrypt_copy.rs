//! Issue 11 case 11: `decrypt` writes plaintext secrets, so the copy is for its owner only
//! (dirs 0700, files 0600) and says that it holds plaintext secrets; an entry left encrypted
//! under a retired DEK is reported as "left encrypted: retired DEK" by `decrypt` and again when
//! the copy is read, never as an entry that does not decode.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every dir and file under `root` (root included) with its mode bits.
fn modes(root: &Path) -> Vec<(String, bool, u32)> {
    let mut out =
        vec![(root.display().to_string(), true, std::fs::metadata(root).unwrap().permissions().mode() & 0o7777)];
    for (rel, (_, _, mode)) in common::tree_digest(root) {
        out.push((rel.clone(), rel.ends_with('/'), mode & 0o7777));
    }
    out
}

fn key_env(scenario: &str) -> Vec<(&'static str, String)> {
    vec![("SWARMSIFT_UNLOCK_KEY", common::unlock_key(scenario).expect("scenario has an unlock key"))]
}

fn run_env(args: &[&str], env: &[(&'static str, String)]) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::run(args, &env)
}

#[test]
fn the_copy_is_private_and_says_it_holds_plaintext_secrets() {
    let t = tempfile::tempdir().unwrap();
    let plain = t.path().join("plain");
    let churn = common::scenario("churn").join("swarm.tar.gz").display().to_string();
    let (code, out, err) = common::run(&["decrypt", &churn, "-o", &plain.display().to_string()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the copy holds plaintext secrets"), "{out}");
    assert!(out.contains("directories 0700, files 0600"), "{out}");
    let m = modes(&plain);
    assert!(m.len() > 8, "{m:?}");
    for (p, is_dir, mode) in &m {
        assert_eq!(*mode, if *is_dir { 0o700 } else { 0o600 }, "{p}: {mode:o}");
    }
    assert!(
        m.iter().any(|(p, d, _)| !d && p.ends_with(".wal")) && m.iter().any(|(p, d, _)| !d && p.ends_with(".snap"))
    );
    let marker = std::fs::read_to_string(plain.join("SWARMSIFT-DECRYPTED-COPY")).unwrap();
    assert!(marker.contains("plaintext secrets"), "{marker}");
    // An output dir that existed (empty, 0755) is made private too.
    let pre = t.path().join("pre");
    std::fs::create_dir(&pre).unwrap();
    std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, _, err) = common::run(&["decrypt", &churn, "-o", &pre.display().to_string(), "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::metadata(&pre).unwrap().permissions().mode() & 0o7777, 0o700);
}

/// `decrypt` of an autolocked capture whose DEK was rotated: the entries under the retired DEK
/// are named as such, with their indexes, and the copy's own check agrees.
fn retired_dek(scenario: &str) {
    let env = key_env(scenario);
    let t = tempfile::tempdir().unwrap();
    let plain = t.path().join("plain").display().to_string();
    let input = common::scenario(scenario).join("swarm.tar.gz").display().to_string();
    let (code, out, err) = run_env(&["decrypt", &input, "-o", &plain, "--format", "json"], &env);
    assert_eq!(code, 0, "{scenario}: retired-DEK entries lose nothing: {out}{err}");
    let rep: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rep["plaintext_secrets"], true);
    assert_eq!((rep["dir_mode"].as_str(), rep["file_mode"].as_str()), (Some("0700"), Some("0600")));
    let left = rep["left_encrypted"].as_array().unwrap();
    assert!(!left.is_empty(), "{scenario}: the capture has entries under a retired DEK");
    assert!(left.iter().all(|l| l["reason"] == "retired DEK"), "{scenario}: {left:?}");
    let ix: Vec<u64> = left.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    assert_eq!(rep["entries_left_encrypted"].as_array().unwrap().len(), ix.len());
    let (first, last) = (ix[0], *ix.last().unwrap());
    // The text says it the same way.
    let plain2 = t.path().join("plain2").display().to_string();
    let (code, text, _) = run_env(&["decrypt", &input, "-o", &plain2], &env);
    assert_eq!(code, 0);
    assert!(
        text.contains(&format!("left encrypted: retired DEK: {} entries (index {first}-{last})", ix.len())),
        "{scenario}: {text}"
    );
    assert!(!text.contains("undecodable"), "{text}");
    // Reading the copy: no key needed, and the entries are "left encrypted: retired DEK".
    let (code, v, err) = common::run(&["verify", &plain, "--format", "json"], &[]);
    assert_eq!(code, 0, "{scenario}: {v}{err}");
    let v: Value = serde_json::from_str(&v).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(!findings.iter().any(|f| f["code"] == "entry.undecodable"), "{scenario}: {findings:?}");
    let f = findings
        .iter()
        .find(|f| f["message"].as_str().unwrap().starts_with("left encrypted: retired DEK"))
        .unwrap_or_else(|| panic!("{scenario}: {findings:?}"));
    assert_eq!(f["code"], "entry.undecryptable_in_snapshot");
    assert_eq!(f["severity"], "info");
    assert_eq!(f["index"], first);
    assert!(f["message"].as_str().unwrap().contains(&format!("{} entries between index {first} and {last}", ix.len())));
    let (code, vt, _) = common::run(&["verify", &plain], &[]);
    assert_eq!(code, 0);
    assert!(vt.contains("left encrypted: retired DEK") && !vt.contains("undecodable"), "{scenario}: {vt}");
}

#[test]
fn retired_dek_entries_are_left_encrypted_and_said_so_autolock() {
    retired_dek("autolock");
}

#[test]
fn retired_dek_entries_are_left_encrypted_and_said_so_modern_autolock() {
    retired_dek("modern-autolock");
}

#[test]
fn a_damaged_record_is_not_a_retired_dek() {
    // Flip a bit inside the first entry's data: its CRC fails, so it is damage, exit 1.
    let (_t, swarm) = common::unpack(&common::scenario("autolock").join("swarm.tar.gz"));
    let seg = &corrupt::segments(&swarm)[0];
    let rec =
        corrupt::records(seg, true).into_iter().find(|r| r.rtype == swarmsift::format::wal::rtype::ENTRY).unwrap();
    corrupt::flip_bit(seg, rec.end - 12, 3);
    let out = tempfile::tempdir().unwrap();
    let plain = out.path().join("p").display().to_string();
    let (code, o, err) =
        run_env(&["decrypt", &swarm.display().to_string(), "-o", &plain, "--format", "json"], &key_env("autolock"));
    let rep: Value = serde_json::from_str(&o).unwrap_or_else(|_| panic!("{o}{err}"));
    let damaged: Vec<&Value> =
        rep["left_encrypted"].as_array().unwrap().iter().filter(|l| l["reason"] == "damaged record").collect();
    assert_eq!(damaged.len(), 1, "{rep}");
    assert_eq!(damaged[0]["offset"], rec.offset);
    assert_eq!(damaged[0]["file"], corrupt::display(seg));
    assert_eq!(code, 1, "damage is not a retired key");
    // The copy is faithful: verify on it reports the same damage, a CRC mismatch at the same
    // record (same raft index), and exits 1 as on the original; it is not made sound.
    let index = damaged[0]["index"].as_u64().unwrap();
    let (vcode, vo, verr) = common::run(&["verify", &plain, "--format", "json"], &[]);
    let v: Value = serde_json::from_str(&vo).unwrap_or_else(|_| panic!("{vo}{verr}"));
    assert_eq!(vcode, 1, "{v:#}");
    let crc: Vec<&Value> =
        v["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "wal.crc_mismatch").collect();
    assert_eq!(crc.len(), 1, "{:#}", v["findings"]);
    assert_eq!(crc[0]["offset"], rec.offset, "{}", crc[0]);
    assert!(crc[0]["file"].as_str().unwrap().ends_with(seg.file_name().unwrap().to_str().unwrap()), "{}", crc[0]);
    let copy = swarmsift::replay::analysis::Analysis::load(
        Path::new(&plain),
        &swarmsift::replay::analysis::Options::default(),
    )
    .unwrap();
    let seg0 = &copy.wal.segments[0];
    let bad = seg0.records.iter().find(|r| !r.crc_ok).expect("the damaged record fails its CRC in the copy");
    assert_eq!(bad.offset, rec.offset);
    let e = copy.entries.iter().find(|e| e.offset == rec.offset).map(|e| e.index);
    assert_eq!(e, Some(index), "same raft index");
}

/// verify's findings on the CRC chain of an input, as (code, message start, segment file name,
/// offset), with its exit code.
fn crc_findings(path: &str) -> (i32, Vec<(String, String, String, u64)>) {
    let (code, out, err) = common::run(&["verify", path, "--format", "json"], &[]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    let mut found: Vec<(String, String, String, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["code"].as_str(), Some("wal.crc_mismatch" | "wal.crc_chain_break")))
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().split(' ').take(2).collect::<Vec<_>>().join(" "),
                file.rsplit('/').next().unwrap().to_string(),
                f["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    (code, found)
}

/// `decrypt` of `swarm` (churn, keys in the dir) and verify of the copy: the same CRC findings,
/// at the same segment and offset, and exit 1 on both.
fn crc_damage_survives_decrypt(swarm: &Path, want: &(String, String, String, u64)) {
    let (code, orig) = crc_findings(&swarm.display().to_string());
    assert_eq!(code, 1, "{orig:?}");
    assert!(orig.contains(want), "the original reports {want:?}: {orig:?}");
    let out = tempfile::tempdir().unwrap();
    let plain = out.path().join("p").display().to_string();
    let (code, o, err) = common::run(&["decrypt", &swarm.display().to_string(), "-o", &plain], &[]);
    assert!(code == 0 || code == 1, "{o}{err}");
    let (code, copy) = crc_findings(&plain);
    assert_eq!(code, 1, "the copy is no sounder than the original: {copy:?}");
    assert_eq!(copy, orig, "verify on the copy reports the same CRC damage at the same places");
}

#[test]
fn a_damaged_crc_record_stays_damaged_in_the_copy() {
    use swarmsift::format::wal::rtype;
    // A crc record inside a segment that fails the check: the first snapshot marker (index 0,
    // right after the metadata record) with one bit of its type flipped reads as a crc record
    // whose value is not the chain's.
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let seg = corrupt::segments(&swarm).remove(0);
    let marker = corrupt::records(&seg, true).into_iter().find(|r| r.rtype == rtype::SNAPSHOT).unwrap();
    corrupt::flip_record_type(&seg, marker.offset, 0);
    let name = seg.file_name().unwrap().to_str().unwrap().to_string();
    let want = ("wal.crc_mismatch".to_string(), "crc record".to_string(), name, marker.offset);
    crc_damage_survives_decrypt(&swarm, &want);

    // A segment's leading crc record that breaks the chain from the segment before (churn cut
    // into three segments as etcd would have, the second's leading crc record then damaged).
    let (_u, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let segs = corrupt::split_segment(&swarm, &[100, 180]);
    corrupt::break_crc_chain(&segs[1]);
    let name = segs[1].file_name().unwrap().to_str().unwrap().to_string();
    let want = ("wal.crc_chain_break".to_string(), "segment starts".to_string(), name, 0);
    crc_damage_survives_decrypt(&swarm, &want);
}
