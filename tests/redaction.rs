//! Issue 11 case 12: redaction never hides a real change. churn's `docker service update
//! --env-add FOO=baz web` (index 206) changes `FOO=bar` into `FOO=baz`: redacted, both sides
//! would read `FOO=<redacted>`. Redacted values are compared by their keyed hashes, so the change
//! shows as `FOO=<redacted, changed>`; `--show-secrets` shows the values, in `history`, `diff`
//! and `timeline` alike. No tag (`<redacted#...>`) ever reaches the output.

mod common;

use serde_json::Value;

const INDEX: u64 = 206;

fn churn() -> String {
    common::scenario("churn").join("swarm.tar.gz").display().to_string()
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = common::run(args, &[]);
    assert_eq!(code, 0, "{args:?}: {err}");
    assert!(!out.contains("<redacted#"), "{args:?}: a keyed-hash tag reached the output");
    out
}

/// The env changes of `history web` at `INDEX`, as (path, old, new).
fn env_changes(doc: &Value) -> Vec<(String, Value, Value)> {
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["index"] == INDEX)
        .flat_map(|v| v["changes"].as_array().unwrap().clone())
        .filter(|c| c["path"].as_str().unwrap().starts_with("Spec.TaskTemplate.ContainerSpec.Env"))
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["old"].clone(), c["new"].clone()))
        .collect()
}

#[test]
fn history_marks_a_changed_redacted_value() {
    let c = churn();
    let doc: Value = serde_json::from_str(&ok(&["history", &c, "web", "--format", "json"])).unwrap();
    assert_eq!(
        env_changes(&doc),
        vec![(
            "Spec.TaskTemplate.ContainerSpec.Env[0]".to_string(),
            "FOO=<redacted>".into(),
            "FOO=<redacted, changed>".into()
        )],
        "the FOO=bar -> FOO=baz update at {INDEX}"
    );
    // The objects themselves stay plainly redacted.
    let v206 = doc["versions"].as_array().unwrap().iter().find(|v| v["index"] == INDEX).unwrap();
    assert_eq!(v206["object"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"], serde_json::json!(["FOO=<redacted>"]));
    // An unchanged redacted value is no change: no other version shows FOO changing.
    let marked = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["changes"].to_string().contains("<redacted, changed>"))
        .map(|v| v["index"].as_u64().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(marked, vec![INDEX], "only the update that changed FOO's value");
    let text = ok(&["history", &c, "web"]);
    let at = text.lines().position(|l| l.starts_with(&format!("index {INDEX} "))).expect("version at 206");
    assert!(
        text.lines().skip(at + 1).take_while(|l| l.starts_with("    ")).any(
            |l| l == r#"    Spec.TaskTemplate.ContainerSpec.Env[0]: "FOO=<redacted>" -> "FOO=<redacted, changed>""#
        ),
        "{text}"
    );
}

#[test]
fn history_shows_the_values_with_show_secrets() {
    let c = churn();
    let doc: Value = serde_json::from_str(&ok(&["history", &c, "web", "--format", "json", "--show-secrets"])).unwrap();
    assert_eq!(
        env_changes(&doc),
        vec![("Spec.TaskTemplate.ContainerSpec.Env[0]".to_string(), "FOO=bar".into(), "FOO=baz".into())]
    );
}

#[test]
fn timeline_marks_it_and_honours_show_secrets() {
    let c = churn();
    let event = |args: &[&str]| -> String {
        let doc: Value = serde_json::from_str(&ok(args)).unwrap();
        doc["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["index"] == INDEX && e["class"] == "service")
            .map(|e| e["text"].as_str().unwrap().to_string())
            .find(|t| t.contains("spec changed"))
            .unwrap_or_else(|| panic!("{args:?}: no spec change of web at {INDEX}"))
    };
    let hidden = event(&["timeline", &c, "--format", "json"]);
    assert!(
        hidden.contains(r#"Spec.TaskTemplate.ContainerSpec.Env[0] "FOO=<redacted>" -> "FOO=<redacted, changed>""#),
        "{hidden}"
    );
    assert!(!hidden.contains("bar") && !hidden.contains("baz"), "{hidden}");
    let shown = event(&["timeline", &c, "--format", "json", "--show-secrets"]);
    assert!(shown.contains(r#"Spec.TaskTemplate.ContainerSpec.Env[0] "FOO=bar" -> "FOO=baz""#), "{shown}");
    let text = ok(&["timeline", &c]);
    assert!(text.lines().any(|l| l.contains("FOO=<redacted, changed>")), "{text}");
    assert!(!text.contains("FOO=baz"), "redacted unless asked");
}

#[test]
fn diff_marks_it_too() {
    let c = churn();
    let from = (INDEX - 1).to_string();
    let to = INDEX.to_string();
    let text = ok(&["diff", &c, "--from", &from, "--to", &to]);
    assert!(text.contains("FOO=<redacted, changed>"), "{text}");
    let text = ok(&["diff", &c, "--from", &from, "--to", &to, "--show-secrets"]);
    assert!(text.contains("FOO=baz"), "{text}");
}
