//! The docker CLI's words, and no word that claims more than the data shows: MANAGER STATUS,
//! snapshots that were only not checked, and a plaintext copy made by `decrypt`.

mod common;

/// The MANAGER STATUS cells of `state`'s NODES table.
fn manager_status(state_text: &str) -> Vec<String> {
    let nodes = state_text.split("\nNODES\n").nth(1).expect("a NODES table");
    let mut lines = nodes.lines();
    let header = lines.next().expect("header");
    let (at, end) = (header.find("MANAGER STATUS").expect("column"), header.find("ENGINE VERSION").expect("column"));
    lines.take_while(|l| !l.is_empty()).map(|l| l.get(at..end.min(l.len())).unwrap_or("").trim().to_string()).collect()
}

#[test]
fn manager_status_uses_only_dockers_words() {
    let d = common::scenario("three-managers");
    let mut leaders = 0;
    for m in ["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"] {
        let (code, out, err) = common::run(&["state", &d.join(m).display().to_string()], &[]);
        assert_eq!(code, 0, "{err}");
        let cells = manager_status(&out);
        assert_eq!(cells.len(), 3, "{out}");
        for c in &cells {
            assert!(["", "Leader", "Reachable", "Unreachable"].contains(&c.as_str()), "{m}: MANAGER STATUS {c:?}");
        }
        assert!(cells.iter().filter(|c| *c == "Leader").count() <= 1, "{m}: {cells:?}");
        leaders += cells.iter().filter(|c| *c == "Leader").count();
        assert!(!out.contains("Member"), "{m}: Docker never prints Member");
    }
    assert!(leaders >= 2, "manager2 and manager3 voted in the last term: each names its leader");
}

#[test]
fn snapshots_without_a_key_are_not_checked_rather_than_invalid() {
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    std::fs::remove_dir_all(swarm.join("certificates")).unwrap();
    let s = swarm.display().to_string();
    let (code, out, err) = common::run(&["snapshots", &s, "--no-decrypt"], &[]);
    assert_eq!(code, 0, "nothing is known to be wrong: {out}{err}");
    assert_eq!(out.matches("not checked (no key)").count(), 5, "{out}");
    assert!(!out.contains("cannot decrypt") && !out.contains(" NO "), "{out}");
    let (_, info, _) = common::run(&["info", &s, "--no-decrypt"], &[]);
    assert!(info.contains("not checked (no key)"), "{info}");
    // A damaged snapshot is still NO, with a key.
    let (_t2, swarm2) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let snap = std::fs::read_dir(swarm2.join("raft/snap-v3-encrypted"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .min()
        .unwrap();
    let len = std::fs::metadata(&snap).unwrap().len();
    let mut b = std::fs::read(&snap).unwrap();
    b[(len / 2) as usize] ^= 0x40;
    std::fs::write(&snap, b).unwrap();
    let (code, out, _) = common::run(&["snapshots", &swarm2.display().to_string()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(" NO "), "{out}");
}

#[test]
fn a_decrypted_copy_is_reported_as_one() {
    let t = tempfile::tempdir().unwrap();
    let plain = t.path().join("plain");
    let churn = common::scenario("churn").join("swarm.tar.gz");
    let (code, _, err) =
        common::run(&["decrypt", &churn.display().to_string(), "-o", &plain.display().to_string()], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, info, err) = common::run(&["info", &plain.display().to_string()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(info.contains("a plaintext copy written by `swarmsift decrypt`"), "{info}");
    assert!(!info.contains("development build"), "{info}");
    assert!(!info.contains("Key problem"), "{info}");
    let (code, v, _) = common::run(&["verify", &plain.display().to_string()], &[]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn a_snapshot_chart_without_snapshots_says_so() {
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    for e in std::fs::read_dir(swarm.join("raft/snap-v3-encrypted")).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("s.svg");
    let (code, out, err) =
        common::run(&["chart", "snapshots", &swarm.display().to_string(), "-o", &svg.display().to_string()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no snapshot in this input"), "{out}");
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains("No .snap file to chart"), "the image says so");
    assert!(!s.contains("the largest") && !s.contains("0 snapshots"), "no ratio against nothing");
}

#[test]
fn a_small_chart_is_the_whole_chart_scaled_down() {
    let churn = common::scenario("churn").join("swarm.tar.gz").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    for kind in ["convergence", "snapshots", "tasks", "recovery"] {
        let svg = dir.path().join(format!("{kind}.svg"));
        let png = dir.path().join(format!("{kind}.png"));
        for out in [&svg, &png] {
            let mut args = vec!["chart", kind, churn.as_str(), "-o", out.to_str().unwrap(), "--size", "640x360"];
            if kind == "recovery" {
                args.extend(["--calibration", "10000000,100000"]);
            }
            let (code, _, err) = common::run(&args, &[]);
            assert_eq!(code, 0, "{kind}: {err}");
        }
        let s = std::fs::read_to_string(&svg).unwrap();
        assert!(
            s.starts_with("<svg width=\"640\" height=\"360\" viewBox=\"0 0 1280 720\""),
            "{kind}: laid out on 1280x720, shown at 640x360: {}",
            &s[..100.min(s.len())]
        );
        let p = std::fs::read(&png).unwrap();
        let (w, h) =
            (u32::from_be_bytes(p[16..20].try_into().unwrap()), u32::from_be_bytes(p[20..24].try_into().unwrap()));
        assert_eq!((w, h), (640, 360), "{kind}");
    }
}
