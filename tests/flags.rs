//! The command line keeps README's promises: the flags table of README.md against every
//! command's `--help`, every command listed, no link out of the repository, flags a command
//! cannot honour refused, `generate`'s man page and completions, and a release build without
//! debug info.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

/// The subcommands, as `swarmsift --help` lists them.
fn commands() -> Vec<String> {
    let (code, out, _) = common::run(&["--help"], &[]);
    assert_eq!(code, 0);
    let list = out.split("Commands:").nth(1).expect("a Commands: section").split("\n\n").next().unwrap_or("");
    let v: Vec<String> = list
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect();
    assert!(v.len() >= 10, "commands parsed from --help: {v:?}");
    v
}

/// The long and short flags a command's `--help` lists (the lines that start with a flag).
fn flags_of(cmd: &str) -> (BTreeSet<String>, String) {
    let (code, out, err) = common::run(&[cmd, "--help"], &[]);
    assert_eq!(code, 0, "{cmd} --help: {err}");
    let mut f = BTreeSet::new();
    for l in out.lines() {
        let t = l.trim_start();
        if !t.starts_with('-') || l.len() == t.len() {
            continue;
        }
        for w in t.split([' ', ',']).take_while(|w| w.starts_with('-') || w.is_empty()) {
            if !w.is_empty() {
                f.insert(w.to_string());
            }
        }
    }
    (f, out)
}

/// Backticked words of a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(String::from).collect()
}

#[test]
fn readme_flags_table_matches_every_help() {
    let r = readme();
    let table = r
        .split("<!-- flags: checked by tests/flags.rs -->")
        .nth(1)
        .and_then(|t| t.split("<!-- /flags -->").next())
        .expect("the flags table in README.md");
    let all = commands();
    let helps: Vec<(String, BTreeSet<String>, String)> = all
        .iter()
        .map(|c| {
            let (f, h) = flags_of(c);
            (c.clone(), f, h)
        })
        .collect();
    let mut rows = 0;
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        assert!(cells.len() >= 2, "{line}");
        let key = ticked(cells[0]).into_iter().next().expect("a flag");
        // `-o`, `--output`: the long one is checked.
        let flag = ticked(cells[0]).into_iter().find(|f| f.starts_with("--")).unwrap_or(key.clone());
        let flag = flag.split_whitespace().next().unwrap_or("").to_string();
        let named: Vec<String> = ticked(cells[1]).into_iter().filter(|c| all.contains(c)).collect();
        let takers: BTreeSet<String> = if cells[1].trim_start().starts_with("every command") {
            let except = cells[1].split("except").nth(1).map(|e| e.split(['(', ':']).next().unwrap_or(""));
            let out: BTreeSet<String> = except.map(ticked).unwrap_or_default().into_iter().collect();
            all.iter().filter(|c| !out.contains(*c)).cloned().collect()
        } else {
            named.into_iter().collect()
        };
        for (c, f, h) in &helps {
            let has = if key.starts_with("--format ndjson") { h.contains("ndjson") } else { f.contains(&flag) };
            assert_eq!(has, takers.contains(c), "README says {key:?} is taken by {takers:?}; `{c} --help` says {has}");
        }
        rows += 1;
    }
    assert!(rows >= 6, "flags table rows: {rows}");
}

#[test]
fn readme_lists_every_command_and_links_only_inside_the_repo() {
    let r = readme();
    let listed: BTreeSet<String> = r
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| ticked(l).into_iter().next())
        .filter_map(|c| c.split_whitespace().next().map(String::from))
        .collect();
    for c in commands() {
        assert!(listed.contains(&c), "README's command table does not list `{c}`");
    }
    // Every relative link resolves inside the repository.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for part in r.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or("");
        if target.starts_with("http") || target.starts_with('#') {
            continue;
        }
        let file = target.split('#').next().unwrap_or("");
        assert!(!file.starts_with("../"), "README links out of the repository: {target}");
        assert!(root.join(file).exists(), "README links to {target}, which is not in the repository");
    }
    assert!(!r.contains("../shared"), "README names ../shared, which a clone does not have");
}

#[test]
fn readme_tells_a_newcomer_what_to_run_and_how_long_the_first_build_takes() {
    let r = readme();
    let at = r.find("## What to run when").expect("a \"What to run when ...\" section");
    let section = &r[at..at + r[at..].find("\n## Commands").expect("the section ends at Commands")];
    for case in ["A manager won't start", "Before restoring a backup", "Analysing old snapshots"] {
        assert!(section.contains(case), "the section covers {case:?}");
    }
    // Every command it tells the reader to run exists.
    let known = commands();
    let named: Vec<&str> =
        section.split("swarmsift ").skip(1).filter_map(|rest| rest.split_whitespace().next()).collect();
    assert!(named.len() >= 8, "{named:?}");
    for c in named {
        assert!(known.iter().any(|k| k == c), "the section names `swarmsift {c}`, which is not a command");
    }
    assert!(r.contains("The first `cargo test` compiles for about 10 minutes on 2 cores"), "the first build's time");
}

#[test]
fn flags_a_command_cannot_honour_are_refused() {
    let churn = common::scenario("churn").join("swarm.tar.gz");
    let c = churn.display().to_string();
    for args in [
        vec!["info", c.as_str(), "--show-secrets"],
        vec!["wal", c.as_str(), "--show-secrets"],
        vec!["state", c.as_str(), "--show-secrets"],
        vec!["decrypt", c.as_str(), "-o", "/nonexistent/x", "--no-decrypt"],
        vec!["archive", c.as_str(), "--show-secrets"],
        vec!["generate", "man", "--quiet"],
        vec!["info", c.as_str(), "--format", "ndjson"],
    ] {
        let (code, out, err) = common::run(&args, &[]);
        assert_eq!(code, 2, "{args:?} must be refused: {out}{err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
    }
    // What they do honour still works.
    let (code, out, _) = common::run(&["state", &c, "--kind", "secret", "--format", "json", "--show-secrets"], &[]);
    assert_eq!(code, 0);
    assert!(!out.contains("<redacted>"), "--show-secrets on state --format json shows the data");
}

#[test]
fn synth_takes_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("s").display().to_string();
    let args = [
        "synth",
        "-o",
        &o,
        "--nodes",
        "3",
        "--managers",
        "1",
        "--services",
        "2",
        "--tasks",
        "10",
        "--configs",
        "1",
        "--secrets",
        "1",
        "--networks",
        "1",
        "--format",
        "json",
    ];
    let (code, out, err) = common::run(&args, &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("synth --format json prints JSON");
    assert!(v["last_index"].as_u64().is_some_and(|i| i > 0), "{v}");
}

#[test]
fn generate_writes_man_page_and_completions_from_the_flags() {
    let (code, man, _) = common::run(&["generate", "man"], &[]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH swarmsift 1"), "{man}");
    let (_, bash, _) = common::run(&["generate", "complete-bash"], &[]);
    let (_, zsh, _) = common::run(&["generate", "complete-zsh"], &[]);
    let (_, fish, _) = common::run(&["generate", "complete-fish"], &[]);
    assert!(bash.contains("_swarmsift()"), "{bash}");
    assert!(zsh.starts_with("#compdef swarmsift"), "{zsh}");
    assert!(fish.contains("complete -c swarmsift"), "{fish}");
    for c in commands() {
        assert!(man.contains(&c), "man page lacks {c}");
        for (shell, text) in [("bash", &bash), ("zsh", &zsh), ("fish", &fish)] {
            assert!(text.contains(&c), "{shell} completions lack {c}");
        }
    }
    assert!(bash.contains("--unlock-key-file") && fish.contains("unlock-key-file"));
}

#[test]
fn release_build_carries_no_debug_info() {
    let toml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut section = String::new();
    for l in toml.lines() {
        let t = l.trim();
        if t.starts_with('[') {
            section = t.to_string();
        } else if section == "[profile.release]" && t.starts_with("debug") {
            panic!("[profile.release] sets {t}: `cargo install` would ship debug info");
        }
    }
}
