//! `swarmsift report`: the HTML post-mortem, loaded in a real browser (Debian's `chromium`,
//! headless; `.ci/run` installs it). The test takes a screenshot and dumps the DOM after the
//! page ran, and checks that every section is there, that the page asks for nothing outside
//! itself and that the browser logged no console error. Two small control pages prove that the
//! checks see an external request and a console error when there is one.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser: `SWARMSIFT_CHROMIUM` or `chromium` on PATH. Missing is a failure, not a skip.
fn chromium() -> String {
    std::env::var("SWARMSIFT_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// What the browser did with one page.
struct Loaded {
    dom: String,
    log: String,
    screenshot: Vec<u8>,
}

/// The headless browser with a fresh profile under `profile` and the network cut (every host
/// resolves to nothing), so that any request a page makes shows as a network error in the log.
fn browser(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    c.arg(format!("--user-data-dir={}", profile.join("u").display()));
    c
}

/// Run the browser on `page` with `args`; its output, after checking that it succeeded.
fn run_browser(profile: &Path, args: &[String], page: &Path, what: &str) -> std::process::Output {
    let out = browser(profile)
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (install Debian's chromium)", chromium()));
    assert!(out.status.success(), "chromium {what} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Load `page` headless: the DOM after load, the browser's log (console messages and network
/// errors) and a screenshot.
fn load(page: &Path, window: &str) -> Loaded {
    let profile = tempfile::tempdir().expect("profile dir");
    let shot = profile.path().join("shot.png");
    let logged = |extra: String| {
        vec!["--enable-logging=stderr".into(), "--v=0".into(), format!("--window-size={window}"), extra]
    };
    let out = run_browser(profile.path(), &logged("--dump-dom".into()), page, "--dump-dom");
    let out2 = run_browser(profile.path(), &logged(format!("--screenshot={}", shot.display())), page, "--screenshot");
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: format!("{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out2.stderr)),
        screenshot: std::fs::read(&shot).expect("screenshot written"),
    }
}

/// Print `page` to PDF with the browser (what "print to PDF" gives a reader).
fn print_to_pdf(page: &Path) -> Vec<u8> {
    let profile = tempfile::tempdir().expect("profile dir");
    let pdf = profile.path().join("r.pdf");
    let args = ["--no-pdf-header-footer".to_string(), format!("--print-to-pdf={}", pdf.display())];
    run_browser(profile.path(), &args, page, "--print-to-pdf");
    std::fs::read(&pdf).expect("PDF written")
}

/// Page objects in a PDF (`/Type /Page`, not `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let mut n = 0;
    for pat in [&b"/Type /Page"[..], &b"/Type/Page"[..]] {
        n += pdf.windows(pat.len() + 1).filter(|w| w.starts_with(pat) && w[pat.len()] != b's').count();
    }
    n
}

/// Console errors and failed requests in a browser log.
fn log_problems(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("Uncaught")
                || (l.contains(":CONSOLE") && !l.contains("INFO:CONSOLE"))
                || l.contains("CONSOLE(") && l.contains("Error")
                || l.contains("net::ERR_")
                || l.contains("Failed to load resource")
        })
        .map(String::from)
        .collect()
}

/// References the page makes to anything outside itself.
fn external_refs(html: &str) -> Vec<String> {
    let low = html.to_ascii_lowercase();
    let mut bad = Vec::new();
    for pat in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "<script",
        "@import",
        "url(http",
        "url(\"http",
        "url('http",
        "<link",
        "<iframe",
        "<img",
        "@font-face",
    ] {
        if low.contains(pat) {
            bad.push(pat.to_string());
        }
    }
    bad
}

fn three_managers() -> Vec<PathBuf> {
    let d = common::scenario("three-managers");
    ["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"].iter().map(|f| d.join(f)).collect()
}

#[test]
fn the_browser_sees_a_control_page_fail() {
    // The checks must be able to fail: a page with a script error and an external image.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><img src=\"http://example.invalid/a.png\">\
         <script>nosuchfunction();</script></body></html>",
    )
    .unwrap();
    let l = load(&page, "800,600");
    let p = log_problems(&l.log);
    assert!(p.iter().any(|x| x.contains("Uncaught")), "console error not seen in the log:\n{}", l.log);
    assert!(!external_refs(&std::fs::read_to_string(&page).unwrap()).is_empty());
    assert!(l.dom.contains("<p>x</p>"));
}

#[test]
fn report_on_three_managers_loads_clean_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let paths = three_managers();
    let mut args: Vec<String> = vec!["report".into()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), html.display().to_string(), "--calibration".into(), "50000000,20000".into()]);
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, out, err) = common::run(&argv, &[]);
    assert!(code == 0 || code == 1, "report failed ({code}): {err}");
    assert!(out.starts_with("wrote "), "{out}");
    let src = std::fs::read_to_string(&html).expect("report written");

    // Self-contained.
    assert_eq!(external_refs(&src), Vec::<String>::new(), "the report refers to something outside itself");

    // Secrets stay redacted: the secret's data as `state --show-secrets` prints it is absent.
    let (_, sj, _) = common::run(
        &["state", &paths[0].display().to_string(), "--kind", "secret", "--format", "json", "--show-secrets"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&sj).expect("state json");
    let mut secrets = 0;
    for s in v["secrets"].as_array().expect("secrets") {
        if let Some(d) = s["Spec"]["Data"].as_str().filter(|d| d.len() >= 4) {
            secrets += 1;
            assert!(!src.contains(d), "secret data {d:?} in the report");
        }
    }
    assert!(secrets > 0, "the fixture holds a secret with data: {sj}");

    // In the browser.
    let l = load(&html, "1280,2000");
    assert_eq!(log_problems(&l.log), Vec::<String>::new(), "browser log:\n{}", l.log);
    for id in ["verdict", "findings", "managers", "state-end", "state-healthy", "timeline", "charts", "sizes"] {
        assert!(l.dom.contains(&format!("<section id=\"{id}\">")), "section {id} missing from the DOM");
    }
    for id in ["chart-convergence", "chart-tasks", "chart-recovery", "chart-snapshots"] {
        let at = l.dom.find(&format!("<figure id=\"{id}\">")).unwrap_or_else(|| panic!("figure {id} missing"));
        assert!(l.dom[at..].find("<svg").is_some_and(|s| s < 200), "figure {id} holds no inline SVG");
    }
    // The docker CLI's tables and the recovery command.
    for want in ["NODES", "SERVICES", "MANAGER STATUS", "docker swarm init --force-new-cluster", "SIZE FORENSICS"] {
        assert!(l.dom.contains(want), "{want:?} missing from the DOM");
    }
    // Every finding of every manager, with its consequence: as many rows as `verify` lists.
    let mut findings = 0;
    for p in &paths {
        let (_, vj, _) = common::run(&["verify", &p.display().to_string(), "--format", "json"], &[]);
        let v: serde_json::Value = serde_json::from_str(&vj).expect("verify json");
        findings += v["findings"].as_array().map(|a| a.len()).unwrap_or(0);
        // Each input verified once, and its verdict is `verify`'s.
        let verdict =
            v["verdict"].as_str().expect("verdict").replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(l.dom.contains(&verdict), "{}: verify's verdict {verdict:?} is not in the report", p.display());
    }
    let rows = l.dom.matches("<tr class=\"error\">").count()
        + l.dom.matches("<tr class=\"warning\">").count()
        + l.dom.matches("<tr class=\"info\">").count();
    assert_eq!(rows, findings, "one row per finding");
    // Printable: the browser prints it to a PDF of several pages.
    let pdf = print_to_pdf(&html);
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(pdf_pages(&pdf) >= 2, "a report of this size prints on several pages: {}", pdf_pages(&pdf));
    // A real screenshot: a PNG of the window size.
    assert_eq!(&l.screenshot[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes(l.screenshot[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(l.screenshot[20..24].try_into().unwrap());
    assert_eq!((w, h), (1280, 2000));
}

#[test]
fn report_output_must_be_html() {
    let p = three_managers();
    let (code, _, err) = common::run(&["report", &p[0].display().to_string(), "-o", "/tmp/x.svg"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains(".html"), "{err}");
}

#[test]
fn report_on_a_damaged_manager_says_so_and_centres_on_the_incident() {
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let wal = corrupt::segments(&swarm).into_iter().next().expect("a segment");
    corrupt::flip_bit(&wal, 100_000, 4);
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let (code, out, err) = common::run(
        &[
            "report",
            &swarm.display().to_string(),
            "-o",
            &html.display().to_string(),
            "--format",
            "json",
            "--calibration",
            "50000000,20000",
        ],
        &[],
    );
    assert_eq!(code, 1, "damage found: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["inputs"][0]["ok"], false);
    let (inc, healthy) =
        (v["incident_index"].as_u64().expect("an incident"), v["healthy_index"].as_u64().expect("a healthy point"));
    assert!(healthy < inc, "{v}");
    let src = std::fs::read_to_string(&html).unwrap();
    assert!(src.contains("class=\"verdict bad\""), "the verdict is shown as bad");
    assert!(src.contains("wal.crc_mismatch"), "the finding is listed");
    assert!(src.contains("carries no raft index"), "the report says why the damage does not centre the timeline");
    assert!(src.contains(&format!("--at {healthy}")), "the healthy state says how to print it");
    assert_eq!(external_refs(&src), Vec::<String>::new());
}

#[test]
fn report_on_a_certificate_of_another_node_carries_the_finding_and_verifys_verdict() {
    // manager1's key with manager2's certificate (files of two nodes mixed while copying):
    // Docker refuses to start (`tls: private key does not match public key`).
    let d = common::scenario("three-managers");
    let (_t, swarm) = common::unpack(&d.join("manager1.tar.gz"));
    let (_u, other) = common::unpack(&d.join("manager2.tar.gz"));
    corrupt::cert_of_another_node(&swarm, &other);
    let s = swarm.display().to_string();
    let (vcode, vj, verr) = common::run(&["verify", &s, "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&vj).unwrap_or_else(|_| panic!("{vj}{verr}"));
    assert_eq!(vcode, 1, "{v:#}");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "key.cert_key_mismatch")
        .unwrap_or_else(|| panic!("{:#}", v["findings"]))
        .clone();
    let file = f["file"].as_str().unwrap();
    assert!(file.ends_with("certificates/swarm-node.crt"), "{f}");
    let verdict = v["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("DAMAGED: Docker would refuse to start"), "{verdict}");

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let h = html.display().to_string();
    let (code, out, err) =
        common::run(&["report", &s, "-o", &h, "--format", "json", "--calibration", "50000000,20000"], &[]);
    assert_eq!(code, vcode, "report's exit code is verify's: {out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(r["inputs"][0]["ok"], false, "{r:#}");
    assert_eq!(r["inputs"][0]["verdict"], verdict, "the report's verdict is verify's");
    let src = std::fs::read_to_string(&html).unwrap();
    let esc = |t: &str| swarmsift::render::report::escape(t);
    assert!(src.contains("class=\"verdict bad\""), "the verdict is shown as bad");
    assert!(src.contains(&esc(verdict)), "verify's verdict {verdict:?} is in the report");
    assert!(src.contains("key.cert_key_mismatch"), "the finding is listed");
    assert!(src.contains(&esc(file)), "with its file {file}");
    assert!(src.contains(&esc(f["consequence"].as_str().unwrap())), "and what Docker does: {f}");
    // The text form says problems were found, with the same exit code.
    let h2 = dir.path().join("r2.html").display().to_string();
    let (code, out, _) = common::run(&["report", &s, "-o", &h2, "--calibration", "50000000,20000"], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("problems found"), "{out}");
    // The clean capture: no such finding, exit as verify's.
    let clean = d.join("manager1.tar.gz").display().to_string();
    let (vcode, vj, _) = common::run(&["verify", &clean, "--format", "json"], &[]);
    let h3 = dir.path().join("r3.html").display().to_string();
    let (code, _, err) = common::run(&["report", &clean, "-o", &h3, "--calibration", "50000000,20000"], &[]);
    assert_eq!(code, vcode, "{err}");
    assert!(!vj.contains("key.cert_key_mismatch"));
    assert!(!std::fs::read_to_string(&h3).unwrap().contains("key.cert_key_mismatch"));
}
