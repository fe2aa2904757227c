//! Docker Engine API JSON for swarmkit objects, shaped the way `docker inspect` prints them.
//!
//! The rules follow moby's `daemon/cluster/convert/*.go` (the `...FromGRPC` functions) and the
//! engine API types in `api/types/swarm` (JSON tags, `omitempty`), as shipped with Docker
//! Engine 20.10, the engine our fixtures were recorded with. Fields that newer engines added
//! (e.g. `OomScoreAdj`, `CSIInfo`, `Volumes`, `SwapBytes`) are printed only when the stored
//! object actually carries them, the way those engines print them.
//!
//! Go's `encoding/json` semantics reproduced here:
//! - keys appear in Go struct field order (embedded structs such as `Meta` and `Annotations`
//!   are flattened in place);
//! - `omitempty` drops empty strings, zero numbers, `false`, nil pointers and empty
//!   slices/maps, but never a struct value (so `Version`, `Spec`, `PortStatus` ... always appear);
//! - maps are printed with their keys sorted; `[]byte` is standard base64;
//! - `time.Duration` is an integer count of nanoseconds; `time.Time` is RFC 3339 with nanoseconds
//!   (trailing zeros trimmed). A missing protobuf timestamp converts to `1970-01-01T00:00:00Z`
//!   (gogo's `TimestampFromProto(nil)`), a Go zero time (`0001-01-01T00:00:00Z`) only appears
//!   where moby never assigns the field.
//!
//! Secrets (see [`Redaction`]): values that docker prints (`Env` values, config `Data`, join
//! tokens) are replaced by `"<redacted>"`; secret material that docker never prints (secret
//! `Data`, `PullOptions.RegistryAuth`, the root CA key, the signing CA key, unlock keys) is added
//! under clearly named extra keys, as `"<redacted>"` unless `show_secrets` is set.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, STANDARD_NO_PAD as B64_RAW};
use prost::Message as _;
use prost_types::{Duration, Timestamp};
use serde_json::{Map, Value};

use crate::pb::docker::swarmkit::v1 as sk;
use sk::{Cluster, Config, Network, Node, Secret, Service, Task, Volume, service_spec, task_spec, task_status};

/// What to do with secret material found in the objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redaction {
    /// Print secret values instead of `"<redacted>"`.
    pub show_secrets: bool,
    /// Tag each redacted value with its keyed hash (`<redacted#0123456789abcdef>`, see
    /// [`crate::crypto::keyed`]) so that a diff can tell a changed secret from an unchanged one.
    /// Tagged JSON is for comparing only: [`unmark`] and [`unmark_change`] turn the tags back
    /// into `<redacted>` (or `<redacted, changed>`) before anything is printed.
    pub mark: bool,
}

impl Redaction {
    /// The same redaction, tagging redacted values when they are redacted at all.
    pub fn marking(self) -> Redaction {
        Redaction { mark: !self.show_secrets, ..self }
    }

    /// What stands for a redacted value.
    fn placeholder(&self, value: &[u8]) -> String {
        if self.mark { format!("{MARK_PREFIX}{}>", crate::crypto::keyed::keyed_tag(value)) } else { REDACTED.into() }
    }
}

/// The placeholder printed instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// The placeholder printed for a redacted value that changed (its keyed hashes differ).
pub const REDACTED_CHANGED: &str = "<redacted, changed>";

/// How a tagged placeholder starts ([`Redaction::mark`]); 16 hex digits and `>` follow.
const MARK_PREFIX: &str = "<redacted#";

/// `s` with every tagged placeholder replaced by `with`; `None` when it holds none.
fn replace_marks(s: &str, with: &str) -> Option<String> {
    if !s.contains(MARK_PREFIX) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(MARK_PREFIX) {
        let tail = &rest[i + MARK_PREFIX.len()..];
        let tag_len = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(&rest[..i]);
        if tag_len == 16 && tail.as_bytes().get(16) == Some(&b'>') {
            out.push_str(with);
            rest = &tail[17..];
        } else {
            out.push_str(MARK_PREFIX);
            rest = tail;
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Turn every tagged placeholder in `v` back into `<redacted>`.
pub fn unmark(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(t) = replace_marks(s, REDACTED) {
                *s = t;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(unmark),
        Value::Object(o) => o.values_mut().for_each(unmark),
        _ => {}
    }
}

/// Untag the two sides of one change. When they differ only in their tags (the same text with
/// a redacted value whose keyed hash changed), the new side reads `<redacted, changed>` where
/// its tags were, so the change stays visible without showing either value.
pub fn unmark_change(old: &mut Value, new: &mut Value) {
    if let (Value::String(o), Value::String(n)) = (&*old, &*new) {
        if let (Some(uo), Some(un)) = (replace_marks(o, REDACTED), replace_marks(n, REDACTED)) {
            if uo == un && o != n {
                *new = Value::String(replace_marks(n, REDACTED_CHANGED).unwrap_or(un));
                *old = Value::String(uo);
                return;
            }
        }
    }
    unmark(old);
    unmark(new);
}

/// The `Scope` moby prints for cluster networks (libnetwork `datastore.SwarmScope`).
const SWARM_SCOPE: &str = "swarm";

// ------------------------------------------------------------------------------------------
// Small JSON builder keeping Go's field order and omitempty rules.

#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn new() -> Self {
        // Most Docker API objects have a handful to a dozen fields: room for them up front
        // saves the index map's rehashes as they are put.
        Self(Map::with_capacity(8))
    }
    /// A field without `omitempty`.
    fn put(&mut self, k: &str, v: impl Into<Value>) {
        self.0.insert(k.to_owned(), v.into());
    }
    fn put_opt(&mut self, k: &str, v: Option<Value>) {
        if let Some(v) = v {
            self.put(k, v);
        }
    }
    /// `string` with `omitempty`.
    fn str_oe(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.put(k, v);
        }
    }
    fn bool_oe(&mut self, k: &str, v: bool) {
        if v {
            self.put(k, true);
        }
    }
    fn u64_oe(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.put(k, v);
        }
    }
    fn i64_oe(&mut self, k: &str, v: i64) {
        if v != 0 {
            self.put(k, v);
        }
    }
    /// `[]string` with `omitempty`.
    fn strs_oe(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            self.put(k, strs(v));
        }
    }
    /// `[]T` with `omitempty`.
    fn list_oe(&mut self, k: &str, v: Vec<Value>) {
        if !v.is_empty() {
            self.put(k, Value::Array(v));
        }
    }
    /// `map[string]string` with `omitempty`.
    fn map_oe(&mut self, k: &str, v: &HashMap<String, String>) {
        if !v.is_empty() {
            self.put(k, smap(v));
        }
    }
    /// `[]byte` with `omitempty`.
    fn bytes_oe(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            self.put(k, B64.encode(v));
        }
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn strs(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.clone())).collect())
}

/// A Go `map[string]string`: keys sorted as `encoding/json` does.
fn smap(m: &HashMap<String, String>) -> Value {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for k in keys {
        out.insert(k.clone(), Value::String(m[k].clone()));
    }
    Value::Object(out)
}

/// A Go `map[string]string` without `omitempty`: `null` when nil (empty in protobuf).
fn smap_or_null(m: &HashMap<String, String>) -> Value {
    if m.is_empty() { Value::Null } else { smap(m) }
}

/// `string(bytes)` as Go would print it (invalid UTF-8 becomes U+FFFD).
fn bytes_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A Go `float32` as `encoding/json` prints it: shortest float32 representation; integral
/// values print without a fraction (so they compare equal to parsed integers).
fn float32(f: f32) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        return Value::from(f as i64);
    }
    let short: f64 = f.to_string().parse().unwrap_or(f64::from(f));
    serde_json::Number::from_f64(short).map_or(Value::Null, Value::Number)
}

// ------------------------------------------------------------------------------------------
// Time.

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Normalized (seconds, nanoseconds in [0, 1e9)) as Go's `time.Unix` does.
fn norm(ts: &Timestamp) -> (i64, i64) {
    let nanos = i64::from(ts.nanos);
    let secs = ts.seconds.saturating_add(nanos.div_euclid(1_000_000_000));
    (secs, nanos.rem_euclid(1_000_000_000))
}

/// Append `v` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, v: u64, width: usize) {
    let mut d = [b'0'; 20];
    let mut n = v;
    let mut i = d.len();
    while n > 0 || i == d.len() {
        i -= 1;
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let digits = d.len() - i;
    for _ in digits..width {
        out.push('0');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&d[i..]).unwrap_or_default());
}

/// Append the date, `sep`, the clock and the trimmed fraction (".123", or nothing when zero):
/// `2026-11-27T11:10:02.123456789` with `sep` 'T'. Years before 0 get a sign, as Go prints them.
fn push_time(out: &mut String, ts: &Timestamp, sep: char) {
    let (secs, nanos) = norm(ts);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    if y < 0 {
        out.push('-');
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, mo as u64, 2);
    out.push('-');
    push_padded(out, d as u64, 2);
    out.push(sep);
    push_padded(out, sod / 3600, 2);
    out.push(':');
    push_padded(out, sod % 3600 / 60, 2);
    out.push(':');
    push_padded(out, sod % 60, 2);
    if nanos != 0 {
        let mut n = nanos as u64;
        let mut width = 9;
        while n.is_multiple_of(10) {
            n /= 10;
            width -= 1;
        }
        out.push('.');
        push_padded(out, n, width);
    }
}

/// A protobuf timestamp as Go prints a UTC `time.Time` in JSON (RFC 3339 with nanoseconds,
/// trailing zeros of the fraction trimmed): `2026-11-27T11:10:02.123456789Z`.
pub fn timestamp(ts: &Timestamp) -> String {
    let mut s = String::with_capacity(32);
    push_time(&mut s, ts, 'T');
    s.push('Z');
    s
}

/// `gogotypes.TimestampFromProto` then JSON: a missing timestamp is the Unix epoch.
fn ts_opt(ts: Option<&Timestamp>) -> String {
    timestamp(ts.unwrap_or(&Timestamp { seconds: 0, nanos: 0 }))
}

/// A Go zero `time.Time` in JSON.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `time.Time.String()` for a UTC time: `2026-11-27 11:10:02.123456789 +0000 UTC`.
fn time_string(ts: Option<&Timestamp>) -> String {
    let mut s = String::with_capacity(48);
    push_time(&mut s, ts.unwrap_or(&Timestamp { seconds: 0, nanos: 0 }), ' ');
    s.push_str(" +0000 UTC");
    s
}

/// `gogotypes.DurationFromProto` as a Go `time.Duration` (nanoseconds); invalid or missing
/// durations convert to 0 as moby ignores the error.
fn dur_ns(d: Option<&Duration>) -> i64 {
    let Some(d) = d else { return 0 };
    const MAX_SECS: i64 = 315_576_000_000;
    if d.seconds.abs() > MAX_SECS
        || d.nanos.abs() >= 1_000_000_000
        || (d.seconds > 0 && d.nanos < 0)
        || (d.seconds < 0 && d.nanos > 0)
    {
        return 0;
    }
    d.seconds.checked_mul(1_000_000_000).and_then(|s| s.checked_add(i64::from(d.nanos))).unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// Enum spellings (lower-cased swarmkit enum names, as the engine API prints them).

/// Task state as the API prints it; legacy value 128 (Docker 1.12 `PENDING`) is "pending".
pub fn task_state(s: i32) -> &'static str {
    match s {
        0 => "new",
        64 | 128 => "pending",
        192 => "assigned",
        256 => "accepted",
        320 => "preparing",
        384 => "ready",
        448 => "starting",
        512 => "running",
        576 => "complete",
        640 => "shutdown",
        704 => "failed",
        768 => "rejected",
        800 => "remove",
        832 => "orphaned",
        _ => "unknown",
    }
}

/// Node status state (`NodeStatus.State`).
pub fn node_state(s: i32) -> &'static str {
    match s {
        0 => "unknown",
        1 => "down",
        2 => "ready",
        3 => "disconnected",
        _ => "unknown",
    }
}

/// Node availability (`NodeSpec.Availability`).
pub fn availability(a: i32) -> &'static str {
    match a {
        0 => "active",
        1 => "pause",
        2 => "drain",
        _ => "unknown",
    }
}

/// Manager reachability (`RaftMemberStatus.Reachability`).
pub fn reachability(r: i32) -> &'static str {
    match r {
        0 => "unknown",
        1 => "unreachable",
        2 => "reachable",
        _ => "unknown",
    }
}

/// Node role (`NodeRole`).
pub fn role(r: i32) -> &'static str {
    match r {
        0 => "worker",
        1 => "manager",
        _ => "unknown",
    }
}

/// Service update state (`UpdateStatus.State`); "" for UNKNOWN (omitted by the API).
fn update_state(s: i32) -> &'static str {
    match s {
        1 => "updating",
        2 => "paused",
        3 => "completed",
        4 => "rollback_started",
        5 => "rollback_paused",
        6 => "rollback_completed",
        _ => "",
    }
}

fn port_protocol(p: i32) -> &'static str {
    match p {
        0 => "tcp",
        1 => "udp",
        2 => "sctp",
        _ => "",
    }
}

fn publish_mode(m: i32) -> &'static str {
    match m {
        0 => "ingress",
        1 => "host",
        _ => "",
    }
}

// ------------------------------------------------------------------------------------------
// Common pieces.

/// `Meta` (embedded): `Version`, `CreatedAt`, `UpdatedAt`.
fn put_meta(o: &mut Obj, m: Option<&sk::Meta>) {
    let idx = m.and_then(|m| m.version.as_ref()).map_or(0, |v| v.index);
    o.put("Version", version(idx));
    o.put("CreatedAt", ts_opt(m.and_then(|m| m.created_at.as_ref())));
    o.put("UpdatedAt", ts_opt(m.and_then(|m| m.updated_at.as_ref())));
}

fn version(index: u64) -> Value {
    let mut v = Obj::new();
    v.u64_oe("Index", index);
    v.done()
}

/// `Annotations` (embedded) as `annotationsFromGRPC` makes it: `Labels` is never null.
fn put_annotations(o: &mut Obj, a: Option<&sk::Annotations>) {
    let empty = HashMap::new();
    o.str_oe("Name", a.map_or("", |a| a.name.as_str()));
    o.put("Labels", smap(a.map_or(&empty, |a| &a.labels)));
}

/// `swarm.Driver` value (`Name`, `Options`, both omitempty).
fn driver(d: &sk::Driver) -> Value {
    let mut o = Obj::new();
    o.str_oe("Name", &d.name);
    o.map_oe("Options", &d.options);
    o.done()
}

fn generic_resources(g: &[sk::GenericResource]) -> Vec<Value> {
    g.iter()
        .map(|r| {
            let mut o = Obj::new();
            if let Some(d) = &r.discrete_resource_spec {
                let mut x = Obj::new();
                x.str_oe("Kind", &d.kind);
                x.i64_oe("Value", d.value);
                o.put("DiscreteResourceSpec", x.done());
            } else if let Some(n) = &r.named_resource_spec {
                let mut x = Obj::new();
                x.str_oe("Kind", &n.kind);
                x.str_oe("Value", &n.value);
                o.put("NamedResourceSpec", x.done());
            }
            o.done()
        })
        .collect()
}

fn port_config(p: &sk::PortConfig) -> Value {
    let mut o = Obj::new();
    o.str_oe("Name", &p.name);
    o.str_oe("Protocol", port_protocol(p.protocol));
    o.put_opt("TargetPort", (p.target_port != 0).then(|| p.target_port.into()));
    o.put_opt("PublishedPort", (p.published_port != 0).then(|| p.published_port.into()));
    o.str_oe("PublishMode", publish_mode(p.publish_mode));
    o.done()
}

/// `endpointSpecFromGRPC` (the value; the caller decides on nil).
fn endpoint_spec(es: &sk::EndpointSpec) -> Value {
    let mut o = Obj::new();
    o.str_oe(
        "Mode",
        if es.mode == 1 {
            "dnsrr"
        } else if es.mode == 0 {
            "vip"
        } else {
            ""
        },
    );
    o.list_oe("Ports", es.ports.iter().map(port_config).collect());
    o.done()
}

fn endpoint(e: Option<&sk::Endpoint>) -> Value {
    let mut o = Obj::new();
    o.put("Spec", e.and_then(|e| e.spec.as_ref()).map_or_else(|| Obj::new().done(), endpoint_spec));
    if let Some(e) = e {
        o.list_oe("Ports", e.ports.iter().map(port_config).collect());
        o.list_oe(
            "VirtualIPs",
            e.virtual_ips
                .iter()
                .map(|v| {
                    let mut x = Obj::new();
                    x.str_oe("NetworkID", &v.network_id);
                    x.str_oe("Addr", &v.addr);
                    x.done()
                })
                .collect(),
        );
    }
    o.done()
}

/// Replace the value part of `KEY=value` entries.
fn redact_env(env: &[String], r: &Redaction) -> Value {
    if r.show_secrets {
        return strs(env);
    }
    Value::Array(
        env.iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => Value::String(format!("{k}={}", r.placeholder(v.as_bytes()))),
                None => Value::String(e.clone()),
            })
            .collect(),
    )
}

fn secret_bytes(b: &[u8], r: &Redaction) -> Value {
    if r.show_secrets { Value::String(B64.encode(b)) } else { Value::String(r.placeholder(b)) }
}

fn secret_str(s: &str, r: &Redaction) -> Value {
    if r.show_secrets { Value::String(s.to_owned()) } else { Value::String(r.placeholder(s.as_bytes())) }
}

// ------------------------------------------------------------------------------------------
// Node.

/// A manager's raft membership as swarmkit's `GetNode` reports it: the engine fills
/// `ManagerStatus` from the live raft member list, not from the stored node object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftManager {
    /// Raft address (`127.0.0.2:2377`).
    pub addr: String,
    /// Whether this member is the leader.
    pub leader: bool,
    /// `RaftMemberStatus.Reachability` (0 unknown, 1 unreachable, 2 reachable).
    pub reachability: i32,
}

/// `docker node inspect` (moby `NodeFromGRPC`) of the stored node. The stored object normally
/// has no `ManagerStatus` (the engine takes it from raft membership): see [`node_with_manager`].
pub fn node(n: &Node, r: &Redaction) -> Value {
    node_with_manager(n, r, None)
}

/// [`node`] with `ManagerStatus` taken from raft membership, as swarmkit's `GetNode` does
/// (`None` keeps whatever the stored object has).
pub fn node_with_manager(n: &Node, _r: &Redaction, manager: Option<&RaftManager>) -> Value {
    let mut o = Obj::new();
    o.put("ID", n.id.as_str());
    put_meta(&mut o, n.meta.as_ref());

    let mut spec = Obj::new();
    let ns = n.spec.clone().unwrap_or_default();
    put_annotations(&mut spec, ns.annotations.as_ref());
    spec.put("Role", role(ns.desired_role));
    spec.put("Availability", availability(ns.availability));
    o.put("Spec", spec.done());

    let mut desc = Obj::new();
    let mut platform = Obj::new();
    let mut resources = Obj::new();
    let mut engine = Obj::new();
    let mut tls = Obj::new();
    let mut csi = Vec::new();
    if let Some(d) = &n.description {
        desc.str_oe("Hostname", &d.hostname);
        if let Some(p) = &d.platform {
            platform.str_oe("Architecture", &p.architecture);
            platform.str_oe("OS", &p.os);
        }
        if let Some(r) = &d.resources {
            resources.i64_oe("NanoCPUs", r.nano_cpus);
            resources.i64_oe("MemoryBytes", r.memory_bytes);
            resources.list_oe("GenericResources", generic_resources(&r.generic));
        }
        if let Some(e) = &d.engine {
            engine.str_oe("EngineVersion", &e.engine_version);
            engine.map_oe("Labels", &e.labels);
            engine.list_oe(
                "Plugins",
                e.plugins
                    .iter()
                    .map(|p| {
                        let mut x = Obj::new();
                        x.str_oe("Type", &p.r#type);
                        x.str_oe("Name", &p.name);
                        x.done()
                    })
                    .collect(),
            );
        }
        if let Some(t) = &d.tls_info {
            tls.str_oe("TrustRoot", &bytes_str(&t.trust_root));
            tls.bytes_oe("CertIssuerSubject", &t.cert_issuer_subject);
            tls.bytes_oe("CertIssuerPublicKey", &t.cert_issuer_public_key);
        }
        csi = d
            .csi_info
            .iter()
            .map(|c| {
                let mut x = Obj::new();
                x.str_oe("PluginName", &c.plugin_name);
                x.str_oe("NodeID", &c.node_id);
                x.i64_oe("MaxVolumesPerNode", c.max_volumes_per_node);
                if let Some(t) = &c.accessible_topology {
                    x.put("AccessibleTopology", topology(t));
                }
                x.done()
            })
            .collect();
    }
    desc.put("Platform", platform.done());
    desc.put("Resources", resources.done());
    desc.put("Engine", engine.done());
    desc.put("TLSInfo", tls.done());
    desc.list_oe("CSIInfo", csi);
    o.put("Description", desc.done());

    let mut status = Obj::new();
    let st = n.status.clone().unwrap_or_default();
    status.put("State", node_state(st.state));
    status.str_oe("Message", &st.message);
    status.str_oe("Addr", &st.addr);
    o.put("Status", status.done());

    let ms = match manager {
        Some(m) => Some((m.leader, m.reachability, m.addr.as_str())),
        None => n.manager_status.as_ref().map(|m| (m.leader, m.reachability, m.addr.as_str())),
    };
    if let Some((leader, reach, addr)) = ms {
        let mut x = Obj::new();
        x.bool_oe("Leader", leader);
        x.put("Reachability", reachability(reach));
        x.str_oe("Addr", addr);
        o.put("ManagerStatus", x.done());
    }
    o.done()
}

fn topology(t: &sk::Topology) -> Value {
    let mut o = Obj::new();
    o.map_oe("Segments", &t.segments);
    o.done()
}

// ------------------------------------------------------------------------------------------
// Service and task specs.

/// Docker's `runtime.PluginSpec` (the payload of a `plugin` generic runtime).
#[derive(Clone, PartialEq, prost::Message)]
struct PluginSpec {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    remote: String,
    #[prost(message, repeated, tag = "3")]
    privileges: Vec<PluginPrivilege>,
    #[prost(bool, tag = "4")]
    disabled: bool,
    #[prost(string, repeated, tag = "5")]
    env: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PluginPrivilege {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    description: String,
    #[prost(string, repeated, tag = "3")]
    value: Vec<String>,
}

/// The plugin spec JSON (gogo-generated lower-case tags, all omitempty).
fn plugin_spec(payload: &[u8], r: &Redaction) -> Option<Value> {
    let p = PluginSpec::decode(payload).ok()?;
    let mut o = Obj::new();
    o.str_oe("name", &p.name);
    o.str_oe("remote", &p.remote);
    o.list_oe(
        "privileges",
        p.privileges
            .iter()
            .map(|x| {
                let mut v = Obj::new();
                v.str_oe("name", &x.name);
                v.str_oe("description", &x.description);
                v.strs_oe("value", &x.value);
                v.done()
            })
            .collect(),
    );
    o.bool_oe("disabled", p.disabled);
    if !p.env.is_empty() {
        o.put("env", redact_env(&p.env, r));
    }
    Some(o.done())
}

fn network_attachment_configs(n: &[sk::NetworkAttachmentConfig]) -> Vec<Value> {
    n.iter()
        .map(|c| {
            let mut o = Obj::new();
            o.str_oe("Target", &c.target);
            o.strs_oe("Aliases", &c.aliases);
            o.map_oe("DriverOpts", &c.driver_attachment_opts);
            o.done()
        })
        .collect()
}

/// `resourcesFromGRPC`: `nil` unless the spec has resources or a container pids limit.
fn resources(ts: &sk::TaskSpec) -> Option<Value> {
    let pids = match &ts.runtime {
        Some(task_spec::Runtime::Container(c)) => c.pids_limit,
        _ => 0,
    };
    if pids == 0 && ts.resources.is_none() {
        return None;
    }
    // Limits: present if a pids limit exists or the spec has limits.
    let lim = ts.resources.as_ref().and_then(|r| r.limits.as_ref());
    let mut o = Obj::new();
    if pids != 0 || lim.is_some() {
        let mut l = Obj::new();
        if let Some(lim) = lim {
            l.i64_oe("NanoCPUs", lim.nano_cpus);
            l.i64_oe("MemoryBytes", lim.memory_bytes);
        }
        l.i64_oe("Pids", pids);
        o.put("Limits", l.done());
    }
    if let Some(res) = ts.resources.as_ref() {
        if let Some(rv) = &res.reservations {
            let mut x = Obj::new();
            x.i64_oe("NanoCPUs", rv.nano_cpus);
            x.i64_oe("MemoryBytes", rv.memory_bytes);
            x.list_oe("GenericResources", generic_resources(&rv.generic));
            o.put("Reservations", x.done());
        }
        // Newer engines: `*int64` with `omitzero` (printed whenever set).
        o.put_opt("SwapBytes", res.swap_bytes.map(Value::from));
        o.put_opt("MemorySwappiness", res.memory_swappiness.map(Value::from));
    }
    Some(o.done())
}

fn restart_policy(p: &sk::RestartPolicy) -> Value {
    let mut o = Obj::new();
    o.put(
        "Condition",
        match p.condition {
            0 => "none",
            1 => "on-failure",
            _ => "any",
        },
    );
    if p.delay.is_some() {
        o.put("Delay", dur_ns(p.delay.as_ref()));
    }
    o.put("MaxAttempts", p.max_attempts);
    if p.window.is_some() {
        o.put("Window", dur_ns(p.window.as_ref()));
    }
    o.done()
}

fn placement(p: &sk::Placement) -> Value {
    let mut o = Obj::new();
    o.strs_oe("Constraints", &p.constraints);
    o.list_oe(
        "Preferences",
        p.preferences
            .iter()
            .filter_map(|pref| pref.spread.as_ref())
            .map(|s| {
                let mut spread = Obj::new();
                spread.put("SpreadDescriptor", s.spread_descriptor.as_str());
                let mut x = Obj::new();
                x.put("Spread", spread.done());
                x.done()
            })
            .collect(),
    );
    o.u64_oe("MaxReplicas", p.max_replicas);
    o.list_oe(
        "Platforms",
        p.platforms
            .iter()
            .map(|pl| {
                let mut x = Obj::new();
                x.str_oe("Architecture", &pl.architecture);
                x.str_oe("OS", &pl.os);
                x.done()
            })
            .collect(),
    );
    o.done()
}

fn file_target(f: &sk::FileTarget) -> Value {
    let mut o = Obj::new();
    o.put("Name", f.name.as_str());
    o.put("UID", f.uid.as_str());
    o.put("GID", f.gid.as_str());
    o.put("Mode", f.mode);
    o.done()
}

fn mount(m: &sk::Mount) -> Value {
    use sk::mount::bind_options::Propagation;
    let mut o = Obj::new();
    o.str_oe(
        "Type",
        match m.r#type {
            0 => "bind",
            1 => "volume",
            2 => "tmpfs",
            3 => "npipe",
            4 => "cluster",
            _ => "",
        },
    );
    o.str_oe("Source", &m.source);
    o.str_oe("Target", &m.target);
    o.bool_oe("ReadOnly", m.readonly);
    // moby does not convert `consistency` back from swarmkit.
    if let Some(b) = &m.bind_options {
        let mut x = Obj::new();
        let prop = Propagation::try_from(b.propagation).map_or(String::new(), |p| p.as_str_name().to_ascii_lowercase());
        x.str_oe("Propagation", &prop);
        x.bool_oe("NonRecursive", b.nonrecursive);
        x.bool_oe("CreateMountpoint", b.createmountpoint);
        x.bool_oe("ReadOnlyNonRecursive", b.readonlynonrecursive);
        x.bool_oe("ReadOnlyForceRecursive", b.readonlyforcerecursive);
        o.put("BindOptions", x.done());
    }
    if let Some(v) = &m.volume_options {
        let mut x = Obj::new();
        x.bool_oe("NoCopy", v.nocopy);
        x.map_oe("Labels", &v.labels);
        x.str_oe("Subpath", &v.subpath);
        if let Some(d) = &v.driver_config {
            x.put("DriverConfig", driver(d));
        }
        o.put("VolumeOptions", x.done());
    }
    if let Some(t) = &m.tmpfs_options {
        let mut x = Obj::new();
        x.i64_oe("SizeBytes", t.size_bytes);
        x.u64_oe("Mode", u64::from(t.mode));
        if !t.options.is_empty()
            && let Ok(opts @ Value::Array(_)) = serde_json::from_str::<Value>(&t.options)
            && opts.as_array().is_some_and(|a| !a.is_empty())
        {
            x.put("Options", opts);
        }
        o.put("TmpfsOptions", x.done());
    }
    o.done()
}

fn privileges(p: &sk::Privileges) -> Value {
    use sk::privileges::credential_spec::Source;
    let mut o = Obj::new();
    o.put(
        "CredentialSpec",
        p.credential_spec.as_ref().map_or(Value::Null, |c| {
            let (mut config, mut file, mut registry) = ("", "", "");
            match &c.source {
                Some(Source::Config(s)) => config = s,
                Some(Source::File(s)) => file = s,
                Some(Source::Registry(s)) => registry = s,
                None => {}
            }
            let mut x = Obj::new();
            x.put("Config", config);
            x.put("File", file);
            x.put("Registry", registry);
            x.done()
        }),
    );
    o.put(
        "SELinuxContext",
        p.selinux_context.as_ref().map_or(Value::Null, |s| {
            let mut x = Obj::new();
            x.put("Disable", s.disable);
            x.put("User", s.user.as_str());
            x.put("Role", s.role.as_str());
            x.put("Type", s.r#type.as_str());
            x.put("Level", s.level.as_str());
            x.done()
        }),
    );
    // Newer engines only (Docker 25+): printed when the stored spec has them.
    if let Some(s) = &p.seccomp {
        let mut x = Obj::new();
        x.str_oe(
            "Mode",
            match s.mode {
                0 => "default",
                1 => "unconfined",
                2 => "custom",
                _ => "",
            },
        );
        x.bytes_oe("Profile", &s.profile);
        o.put("Seccomp", x.done());
    }
    if let Some(a) = &p.apparmor {
        let mut x = Obj::new();
        x.str_oe(
            "Mode",
            match a.mode {
                0 => "default",
                1 => "disabled",
                _ => "",
            },
        );
        o.put("AppArmor", x.done());
    }
    o.bool_oe("NoNewPrivileges", p.no_new_privileges);
    o.done()
}

fn healthcheck(h: &sk::HealthConfig) -> Value {
    let mut o = Obj::new();
    o.strs_oe("Test", &h.test);
    o.i64_oe("Interval", dur_ns(h.interval.as_ref()));
    o.i64_oe("Timeout", dur_ns(h.timeout.as_ref()));
    o.i64_oe("StartPeriod", dur_ns(h.start_period.as_ref()));
    o.i64_oe("StartInterval", dur_ns(h.start_interval.as_ref()));
    o.i64_oe("Retries", i64::from(h.retries));
    o.done()
}

/// `containerSpecFromGRPC`.
fn container_spec(c: &sk::ContainerSpec, r: &Redaction) -> Value {
    let mut o = Obj::new();
    o.str_oe("Image", &c.image);
    o.map_oe("Labels", &c.labels);
    o.strs_oe("Command", &c.command);
    o.strs_oe("Args", &c.args);
    o.str_oe("Hostname", &c.hostname);
    if !c.env.is_empty() {
        o.put("Env", redact_env(&c.env, r));
    }
    o.str_oe("Dir", &c.dir);
    o.str_oe("User", &c.user);
    o.strs_oe("Groups", &c.groups);
    if let Some(p) = &c.privileges {
        o.put("Privileges", privileges(p));
    }
    o.put_opt("Init", c.init.map(Value::Bool));
    o.str_oe("StopSignal", &c.stop_signal);
    o.bool_oe("TTY", c.tty);
    o.bool_oe("OpenStdin", c.open_stdin);
    o.bool_oe("ReadOnly", c.read_only);
    o.list_oe("Mounts", c.mounts.iter().map(mount).collect());
    if c.stop_grace_period.is_some() {
        o.put("StopGracePeriod", dur_ns(c.stop_grace_period.as_ref()));
    }
    if let Some(h) = &c.healthcheck {
        o.put("Healthcheck", healthcheck(h));
    }
    o.strs_oe("Hosts", &c.hosts);
    if let Some(d) = &c.dns_config {
        let mut x = Obj::new();
        x.strs_oe("Nameservers", &d.nameservers);
        x.strs_oe("Search", &d.search);
        x.strs_oe("Options", &d.options);
        o.put("DNSConfig", x.done());
    }
    o.list_oe(
        "Secrets",
        c.secrets
            .iter()
            .filter_map(|s| {
                let f = s.file.as_ref()?;
                let mut x = Obj::new();
                x.put("File", file_target(f));
                x.put("SecretID", s.secret_id.as_str());
                x.put("SecretName", s.secret_name.as_str());
                Some(x.done())
            })
            .collect(),
    );
    o.list_oe(
        "Configs",
        c.configs
            .iter()
            .filter_map(|s| {
                let mut x = Obj::new();
                if s.runtime.is_some() {
                    x.put("Runtime", Obj::new().done());
                } else {
                    x.put("File", file_target(s.file.as_ref()?));
                }
                x.put("ConfigID", s.config_id.as_str());
                x.put("ConfigName", s.config_name.as_str());
                Some(x.done())
            })
            .collect(),
    );
    o.str_oe(
        "Isolation",
        match c.isolation {
            0 => "default",
            1 => "process",
            2 => "hyperv",
            _ => "",
        },
    );
    o.map_oe("Sysctls", &c.sysctls);
    o.strs_oe("CapabilityAdd", &c.capability_add);
    o.strs_oe("CapabilityDrop", &c.capability_drop);
    o.list_oe(
        "Ulimits",
        c.ulimits
            .iter()
            .map(|u| {
                let mut x = Obj::new();
                x.put("Name", u.name.as_str());
                x.put("Hard", u.hard);
                x.put("Soft", u.soft);
                x.done()
            })
            .collect(),
    );
    o.i64_oe("OomScoreAdj", c.oom_score_adj);
    // Not part of docker's output (moby never converts PullOptions back); the registry
    // credentials are stored in the spec, so show that they exist.
    if let Some(p) = &c.pull_options
        && !p.registry_auth.is_empty()
    {
        let mut x = Obj::new();
        x.put("RegistryAuth", secret_str(&p.registry_auth, r));
        o.put("PullOptions", x.done());
    }
    o.done()
}

/// `taskSpecFromGRPC`, plus the runtime fields `serviceSpecFromGRPC` adds for services.
fn task_spec(ts: &sk::TaskSpec, r: &Redaction, for_service: bool) -> Value {
    let mut o = Obj::new();
    let mut runtime = "";
    match &ts.runtime {
        Some(task_spec::Runtime::Container(c)) => {
            o.put("ContainerSpec", container_spec(c, r));
            if for_service {
                runtime = "container";
            }
        }
        Some(task_spec::Runtime::Generic(g)) if g.kind == "plugin" => {
            let payload = g.payload.as_ref().map_or(&[][..], |p| &p.value[..]);
            o.put_opt("PluginSpec", plugin_spec(payload, r));
            if for_service {
                runtime = "plugin";
            }
        }
        // Other generic kinds: moby prints neither a spec nor a runtime.
        Some(task_spec::Runtime::Generic(_)) => {}
        Some(task_spec::Runtime::Attachment(a)) => {
            let mut x = Obj::new();
            x.put("ContainerID", a.container_id.as_str());
            o.put("NetworkAttachmentSpec", x.done());
            runtime = "attachment";
        }
        None => {}
    }
    o.put_opt("Resources", resources(ts));
    o.put_opt("RestartPolicy", ts.restart.as_ref().map(restart_policy));
    o.put_opt("Placement", ts.placement.as_ref().map(placement));
    o.list_oe("Networks", network_attachment_configs(&ts.networks));
    o.put_opt("LogDriver", ts.log_driver.as_ref().map(driver));
    o.put("ForceUpdate", ts.force_update);
    o.str_oe("Runtime", runtime);
    o.done()
}

fn update_config(u: &sk::UpdateConfig) -> Value {
    let mut o = Obj::new();
    o.put("Parallelism", u.parallelism);
    o.i64_oe("Delay", dur_ns(u.delay.as_ref()));
    o.str_oe(
        "FailureAction",
        match u.failure_action {
            0 => "pause",
            1 => "continue",
            2 => "rollback",
            _ => "",
        },
    );
    if u.monitor.is_some() {
        o.i64_oe("Monitor", dur_ns(u.monitor.as_ref()));
    }
    o.put("MaxFailureRatio", float32(u.max_failure_ratio));
    o.put(
        "Order",
        match u.order {
            0 => "stop-first",
            1 => "start-first",
            _ => "",
        },
    );
    o.done()
}

/// `serviceSpecFromGRPC`.
fn service_spec(s: &sk::ServiceSpec, r: &Redaction) -> Value {
    let mut o = Obj::new();
    put_annotations(&mut o, s.annotations.as_ref());
    let ts = s.task.clone().unwrap_or_default();
    o.put("TaskTemplate", task_spec(&ts, r, true));
    let mut mode = Obj::new();
    match &s.mode {
        Some(service_spec::Mode::Replicated(x)) => {
            let mut v = Obj::new();
            v.put("Replicas", x.replicas);
            mode.put("Replicated", v.done());
        }
        Some(service_spec::Mode::Global(_)) => mode.put("Global", Obj::new().done()),
        Some(service_spec::Mode::ReplicatedJob(x)) => {
            let mut v = Obj::new();
            v.put("MaxConcurrent", x.max_concurrent);
            v.put("TotalCompletions", x.total_completions);
            mode.put("ReplicatedJob", v.done());
        }
        Some(service_spec::Mode::GlobalJob(_)) => mode.put("GlobalJob", Obj::new().done()),
        None => {}
    }
    o.put("Mode", mode.done());
    o.put_opt("UpdateConfig", s.update.as_ref().map(update_config));
    o.put_opt("RollbackConfig", s.rollback.as_ref().map(update_config));
    // Deprecated service-level networks (Docker 20.10 still prints them).
    o.list_oe("Networks", network_attachment_configs(&s.networks));
    o.put_opt("EndpointSpec", s.endpoint.as_ref().map(endpoint_spec));
    o.done()
}

fn secs(s: i64) -> Option<Duration> {
    Some(Duration { seconds: s, nanos: 0 })
}

/// swarmkit's `defaults.InterpolateService`: `docker service inspect` asks the manager to
/// fill in the defaults of the current spec (`InsertDefaults`), never of the previous spec.
fn interpolate_defaults(spec: &sk::ServiceSpec) -> sk::ServiceSpec {
    let mut spec = spec.clone();
    let ts = spec.task.get_or_insert_with(Default::default);
    if let Some(task_spec::Runtime::Container(c)) = &mut ts.runtime {
        if c.stop_grace_period.is_none() {
            c.stop_grace_period = secs(10);
        }
        if c.pull_options.is_none() {
            c.pull_options = Some(Default::default());
        }
        if c.dns_config.is_none() {
            c.dns_config = Some(Default::default());
        }
    }
    if ts.resources.is_none() {
        ts.resources = Some(Default::default());
    }
    match &mut ts.restart {
        None => {
            ts.restart = Some(sk::RestartPolicy {
                condition: sk::restart_policy::RestartCondition::Any as i32,
                delay: secs(5),
                ..Default::default()
            });
        }
        Some(rp) => {
            if rp.delay.is_none() {
                rp.delay = secs(5);
            }
        }
    }
    if ts.placement.is_none() {
        ts.placement = Some(Default::default());
    }
    for uc in [&mut spec.update, &mut spec.rollback] {
        match uc {
            None => {
                *uc = Some(sk::UpdateConfig {
                    parallelism: 1,
                    failure_action: sk::update_config::FailureAction::Pause as i32,
                    monitor: secs(5),
                    order: sk::update_config::UpdateOrder::StopFirst as i32,
                    ..Default::default()
                });
            }
            Some(u) => {
                if u.monitor.is_none() {
                    u.monitor = secs(5);
                }
            }
        }
    }
    spec
}

/// `docker service inspect` (moby `ServiceFromGRPC` of the service as the manager returns it
/// with `InsertDefaults`, which the docker CLI always requests).
pub fn service(s: &Service, r: &Redaction) -> Value {
    let mut o = Obj::new();
    o.put("ID", s.id.as_str());
    put_meta(&mut o, s.meta.as_ref());
    let spec = interpolate_defaults(&s.spec.clone().unwrap_or_default());
    o.put("Spec", service_spec(&spec, r));
    o.put_opt("PreviousSpec", s.previous_spec.as_ref().map(|p| service_spec(p, r)));
    o.put("Endpoint", endpoint(s.endpoint.as_ref()));
    if let Some(u) = &s.update_status {
        let mut x = Obj::new();
        x.str_oe("State", update_state(u.state));
        let real_time = |t: Option<&Timestamp>| {
            let t = t?;
            let (secs, nanos) = norm(t);
            let go_zero = secs == -62_135_596_800 && nanos == 0;
            (secs != 0 && !go_zero).then(|| timestamp(t))
        };
        x.put_opt("StartedAt", real_time(u.started_at.as_ref()).map(Value::String));
        x.put_opt("CompletedAt", real_time(u.completed_at.as_ref()).map(Value::String));
        x.str_oe("Message", &u.message);
        o.put("UpdateStatus", x.done());
    }
    if let Some(j) = &s.job_status {
        let mut x = Obj::new();
        x.put("JobIteration", version(j.job_iteration.map_or(0, |v| v.index)));
        x.put("LastExecution", ts_opt(j.last_execution.as_ref()));
        o.put("JobStatus", x.done());
    }
    o.done()
}

// ------------------------------------------------------------------------------------------
// Task.

/// `docker inspect <task>` (moby `TaskFromGRPC`).
pub fn task(t: &Task, r: &Redaction) -> Value {
    let mut o = Obj::new();
    o.put("ID", t.id.as_str());
    put_meta(&mut o, t.meta.as_ref());
    put_annotations(&mut o, t.annotations.as_ref());
    o.put("Spec", task_spec(&t.spec.clone().unwrap_or_default(), r, false));
    o.str_oe("ServiceID", &t.service_id);
    o.u64_oe("Slot", t.slot);
    o.str_oe("NodeID", &t.node_id);

    let st = t.status.clone().unwrap_or_default();
    let mut status = Obj::new();
    status.put("Timestamp", ts_opt(st.timestamp.as_ref()));
    status.put("State", task_state(st.state));
    status.str_oe("Message", &st.message);
    status.str_oe("Err", &st.err);
    if let Some(task_status::RuntimeStatus::Container(c)) = &st.runtime_status {
        let mut x = Obj::new();
        x.put("ContainerID", c.container_id.as_str());
        x.put("PID", c.pid);
        x.put("ExitCode", c.exit_code);
        status.put("ContainerStatus", x.done());
    }
    let mut ps = Obj::new();
    if let Some(p) = &st.port_status {
        ps.list_oe("Ports", p.ports.iter().map(port_config).collect());
    }
    status.put("PortStatus", ps.done());
    o.put("Status", status.done());

    o.put("DesiredState", task_state(t.desired_state));
    o.list_oe(
        "NetworksAttachments",
        t.networks
            .iter()
            .map(|na| {
                let mut x = Obj::new();
                x.put("Network", na.network.as_ref().map_or_else(zero_swarm_network, network_swarm));
                x.strs_oe("Addresses", &na.addresses);
                x.done()
            })
            .collect(),
    );
    o.list_oe("GenericResources", generic_resources(&t.assigned_generic_resources));
    o.put_opt("JobIteration", t.job_iteration.map(|v| version(v.index)));
    // Newer engines (cluster volumes, Docker 23+).
    o.list_oe(
        "Volumes",
        t.volumes
            .iter()
            .map(|v| {
                let mut x = Obj::new();
                x.str_oe("ID", &v.id);
                x.str_oe("Source", &v.source);
                x.str_oe("Target", &v.target);
                x.done()
            })
            .collect(),
    );
    o.done()
}

// ------------------------------------------------------------------------------------------
// Network.

/// `IsIngressNetwork`.
fn is_ingress(n: &Network) -> bool {
    let Some(spec) = &n.spec else { return false };
    if spec.ingress {
        return true;
    }
    spec.annotations.as_ref().is_some_and(|a| a.name == "ingress" && a.labels.contains_key("com.docker.swarm.internal"))
}

fn config_from(n: &Network) -> &str {
    match n.spec.as_ref().and_then(|s| s.config_from.as_ref()) {
        Some(sk::network_spec::ConfigFrom::Network(s)) => s,
        None => "",
    }
}

/// `swarm.IPAMOptions` (`ipamFromGRPC`).
fn ipam_swarm(i: &sk::IpamOptions) -> Value {
    let mut o = Obj::new();
    o.put("Driver", i.driver.as_ref().map_or_else(|| Obj::new().done(), driver));
    o.list_oe(
        "Configs",
        i.configs
            .iter()
            .map(|c| {
                let mut x = Obj::new();
                x.str_oe("Subnet", &c.subnet);
                x.str_oe("Range", &c.range);
                x.str_oe("Gateway", &c.gateway);
                x.done()
            })
            .collect(),
    );
    o.done()
}

/// A `swarm.Network` zero value (moby's `networkFromGRPC(nil)`).
fn zero_swarm_network() -> Value {
    let mut spec = Obj::new();
    spec.put("Labels", Value::Null);
    let mut o = Obj::new();
    o.put("ID", "");
    o.put("Version", Obj::new().done());
    o.put("CreatedAt", GO_ZERO_TIME);
    o.put("UpdatedAt", GO_ZERO_TIME);
    o.put("Spec", spec.done());
    o.put("DriverState", Obj::new().done());
    o.done()
}

/// A network in the `swarm.Network` shape (moby `networkFromGRPC`, as in task attachments):
/// `ID`, `Version`, `CreatedAt`, `UpdatedAt`, `Spec`, `DriverState`, `IPAMOptions`.
pub fn network_swarm(n: &Network) -> Value {
    let mut o = Obj::new();
    o.put("ID", n.id.as_str());
    put_meta(&mut o, n.meta.as_ref());
    let ns = n.spec.clone().unwrap_or_default();
    let mut spec = Obj::new();
    put_annotations(&mut spec, ns.annotations.as_ref());
    spec.put_opt("DriverConfiguration", ns.driver_config.as_ref().map(driver));
    spec.bool_oe("IPv6Enabled", ns.ipv6_enabled);
    spec.bool_oe("Internal", ns.internal);
    spec.bool_oe("Attachable", ns.attachable);
    spec.bool_oe("Ingress", is_ingress(n));
    spec.put_opt("IPAMOptions", ns.ipam.as_ref().map(ipam_swarm));
    let cf = config_from(n);
    if !cf.is_empty() {
        let mut x = Obj::new();
        x.put("Network", cf);
        spec.put("ConfigFrom", x.done());
    }
    spec.put("Scope", SWARM_SCOPE);
    o.put("Spec", spec.done());
    o.put("DriverState", n.driver_state.as_ref().map_or_else(|| Obj::new().done(), driver));
    o.put_opt("IPAMOptions", n.ipam.as_ref().map(ipam_swarm));
    o.done()
}

/// `docker network inspect` of a cluster network as the manager answers it from the swarm
/// store (moby `BasicNetworkFromGRPC`). Engines that have the network attached locally answer
/// from libnetwork instead (then `Containers`, `Peers` ... are filled) — not reproducible
/// offline.
pub fn network(n: &Network) -> Value {
    let ns = n.spec.clone().unwrap_or_default();
    let empty = HashMap::new();
    let mut ipam = Obj::new();
    let (ipam_driver, ipam_opts, ipam_cfg) = match &n.ipam {
        Some(i) => {
            let (name, opts) = i.driver.as_ref().map_or(("", &empty), |d| (d.name.as_str(), &d.options));
            let cfg: Vec<Value> = i
                .configs
                .iter()
                .map(|c| {
                    let mut x = Obj::new();
                    x.str_oe("Subnet", &c.subnet);
                    x.str_oe("IPRange", &c.range);
                    x.str_oe("Gateway", &c.gateway);
                    x.map_oe("AuxiliaryAddresses", &c.reserved);
                    x.done()
                })
                .collect();
            (name, smap_or_null(opts), Value::Array(cfg))
        }
        None => ("", Value::Null, Value::Null),
    };
    ipam.put("Driver", ipam_driver);
    ipam.put("Options", ipam_opts);
    ipam.put("Config", ipam_cfg);

    let mut o = Obj::new();
    o.put("Name", ns.annotations.as_ref().map_or("", |a| a.name.as_str()));
    o.put("Id", n.id.as_str());
    o.put("Created", ts_opt(n.meta.as_ref().and_then(|m| m.created_at.as_ref())));
    o.put("Scope", SWARM_SCOPE);
    o.put("Driver", n.driver_state.as_ref().map_or("", |d| d.name.as_str()));
    o.put("EnableIPv6", ns.ipv6_enabled);
    o.put("IPAM", ipam.done());
    o.put("Internal", ns.internal);
    o.put("Attachable", ns.attachable);
    o.put("Ingress", is_ingress(n));
    let mut cf = Obj::new();
    cf.put("Network", config_from(n));
    o.put("ConfigFrom", cf.done());
    o.put("ConfigOnly", false);
    o.put("Containers", Value::Null);
    o.put("Options", n.driver_state.as_ref().map_or(Value::Null, |d| smap_or_null(&d.options)));
    o.put("Labels", ns.annotations.as_ref().map_or(Value::Null, |a| smap_or_null(&a.labels)));
    o.done()
}

// ------------------------------------------------------------------------------------------
// Secret, config.

/// `docker secret inspect` (moby `SecretFromGRPC`). Docker never returns secret data; here
/// `Spec.Data` is `"<redacted>"` (or the base64 data with `show_secrets`) when the store holds
/// any.
pub fn secret(s: &Secret, r: &Redaction) -> Value {
    let mut o = Obj::new();
    o.put("ID", s.id.as_str());
    put_meta(&mut o, s.meta.as_ref());
    let ss = s.spec.clone().unwrap_or_default();
    let mut spec = Obj::new();
    put_annotations(&mut spec, ss.annotations.as_ref());
    if !ss.data.is_empty() {
        spec.put("Data", secret_bytes(&ss.data, r));
    }
    spec.put_opt("Driver", ss.driver.as_ref().map(driver));
    spec.put_opt("Templating", ss.templating.as_ref().map(driver));
    o.put("Spec", spec.done());
    o.done()
}

/// `docker config inspect` (moby `ConfigFromGRPC`): `Spec.Data` base64 with `show_secrets`,
/// `"<redacted>"` otherwise.
pub fn config(c: &Config, r: &Redaction) -> Value {
    let mut o = Obj::new();
    o.put("ID", c.id.as_str());
    put_meta(&mut o, c.meta.as_ref());
    let cs = c.spec.clone().unwrap_or_default();
    let mut spec = Obj::new();
    put_annotations(&mut spec, cs.annotations.as_ref());
    if !cs.data.is_empty() {
        spec.put("Data", secret_bytes(&cs.data, r));
    }
    spec.put_opt("Templating", cs.templating.as_ref().map(driver));
    o.put("Spec", spec.done());
    o.done()
}

// ------------------------------------------------------------------------------------------
// Cluster.

/// One DER TLV at the start of `b`: (tag, header length, content length).
fn der_tlv(b: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (hdr, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (2 + n, len)
    };
    (b.len() >= hdr + len).then_some((tag, hdr, len))
}

/// The raw subject and raw SubjectPublicKeyInfo of the first certificate in a PEM bundle
/// (Go's `RawSubject` / `RawSubjectPublicKeyInfo`).
fn cert_issuer_info(pem_bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let blocks = pem::parse_many(pem_bytes).ok()?;
    let der = blocks.iter().find(|b| b.tag() == "CERTIFICATE")?.contents();
    let (tag, h, _) = der_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let cert = &der[h..];
    let (tag, h, l) = der_tlv(cert)?;
    if tag != 0x30 {
        return None;
    }
    let mut tbs = &cert[h..h + l];
    // [0] version (optional), serialNumber, signature, issuer, validity, subject, spki.
    let mut elems: Vec<&[u8]> = Vec::new();
    while !tbs.is_empty() && elems.len() < 8 {
        let (_, h, l) = der_tlv(tbs)?;
        elems.push(&tbs[..h + l]);
        tbs = &tbs[h + l..];
    }
    let skip = usize::from(elems.first()?.first() == Some(&0xa0));
    let subject = elems.get(skip + 4)?;
    let spki = elems.get(skip + 5)?;
    Some((subject.to_vec(), spki.to_vec()))
}

/// `docker swarm inspect` (moby `SwarmFromGRPC` on swarmkit's redacted cluster object).
/// Join tokens are `"<redacted>"` unless `show_secrets`. Secret material docker never prints
/// is added after `JoinTokens` when present: `RootCAKey` (PEM), `RootRotationCAKey`,
/// `SigningCAKey` (in `Spec.CAConfig`, the API field reserved for it) and `UnlockKeys`
/// (`SWMKEY-1-...`, the form `docker swarm unlock` accepts).
pub fn cluster(c: &Cluster, r: &Redaction) -> Value {
    let cs = c.spec.clone().unwrap_or_default();
    let root = c.root_ca.clone().unwrap_or_default();
    let mut o = Obj::new();
    o.put("ID", c.id.as_str());
    put_meta(&mut o, c.meta.as_ref());

    let mut spec = Obj::new();
    put_annotations(&mut spec, cs.annotations.as_ref());
    let mut orch = Obj::new();
    orch.put("TaskHistoryRetentionLimit", cs.orchestration.map_or(0, |x| x.task_history_retention_limit));
    spec.put("Orchestration", orch.done());
    let raft = cs.raft.unwrap_or_default();
    let mut rv = Obj::new();
    rv.u64_oe("SnapshotInterval", raft.snapshot_interval);
    rv.put("KeepOldSnapshots", raft.keep_old_snapshots);
    rv.u64_oe("LogEntriesForSlowFollowers", raft.log_entries_for_slow_followers);
    rv.put("ElectionTick", raft.election_tick);
    rv.put("HeartbeatTick", raft.heartbeat_tick);
    spec.put("Raft", rv.done());
    let mut disp = Obj::new();
    disp.i64_oe("HeartbeatPeriod", dur_ns(cs.dispatcher.as_ref().and_then(|d| d.heartbeat_period.as_ref())));
    spec.put("Dispatcher", disp.done());
    let ca = cs.ca_config.clone().unwrap_or_default();
    let mut cav = Obj::new();
    cav.i64_oe("NodeCertExpiry", dur_ns(ca.node_cert_expiry.as_ref()));
    cav.list_oe(
        "ExternalCAs",
        ca.external_cas
            .iter()
            .map(|e| {
                let mut x = Obj::new();
                x.put("Protocol", if e.protocol == 0 { "cfssl" } else { "" });
                x.put("URL", e.url.as_str());
                x.map_oe("Options", &e.options);
                x.put("CACert", bytes_str(&e.ca_cert));
                x.done()
            })
            .collect(),
    );
    // swarmkit redacts SigningCACert and SigningCAKey; only the key is secret material.
    if !ca.signing_ca_key.is_empty() {
        cav.put("SigningCAKey", secret_str(&bytes_str(&ca.signing_ca_key), r));
    }
    cav.u64_oe("ForceRotate", ca.force_rotate);
    spec.put("CAConfig", cav.done());
    // moby does not convert TaskDefaults back from swarmkit.
    spec.put("TaskDefaults", Obj::new().done());
    let mut enc = Obj::new();
    enc.put("AutoLockManagers", cs.encryption_config.is_some_and(|e| e.auto_lock_managers));
    spec.put("EncryptionConfig", enc.done());
    o.put("Spec", spec.done());

    let mut tls = Obj::new();
    tls.str_oe("TrustRoot", &bytes_str(&root.ca_cert));
    let issuer = root.root_rotation.as_ref().map_or(&root.ca_cert, |rr| &rr.ca_cert);
    if let Some((subject, spki)) = cert_issuer_info(issuer) {
        tls.bytes_oe("CertIssuerSubject", &subject);
        tls.bytes_oe("CertIssuerPublicKey", &spki);
    }
    o.put("TLSInfo", tls.done());
    o.put("RootRotationInProgress", root.root_rotation.is_some());
    // swarmkit's redactClusters fills in the built-in defaults for display.
    if c.default_address_pool.is_empty() {
        o.put("DefaultAddrPool", Value::Array(vec!["10.0.0.0/8".into()]));
        o.put("SubnetSize", 24);
    } else {
        o.put("DefaultAddrPool", strs(&c.default_address_pool));
        o.put("SubnetSize", c.subnet_size);
    }
    o.put("DataPathPort", if c.vxlanudp_port == 0 { 4789 } else { c.vxlanudp_port });

    let jt = root.join_tokens.clone().unwrap_or_default();
    let mut tokens = Obj::new();
    tokens.put("Worker", secret_str(&jt.worker, r));
    tokens.put("Manager", secret_str(&jt.manager, r));
    o.put("JoinTokens", tokens.done());

    if !root.ca_key.is_empty() {
        o.put("RootCAKey", secret_str(&bytes_str(&root.ca_key), r));
    }
    if let Some(rr) = &root.root_rotation
        && !rr.ca_key.is_empty()
    {
        o.put("RootRotationCAKey", secret_str(&bytes_str(&rr.ca_key), r));
    }
    o.list_oe(
        "UnlockKeys",
        c.unlock_keys
            .iter()
            .map(|k| {
                let mut x = Obj::new();
                x.put("Subsystem", k.subsystem.as_str());
                let human = format!("SWMKEY-1-{}", B64_RAW.encode(&k.key));
                x.put("Key", secret_str(&human, r));
                x.done()
            })
            .collect(),
    );
    o.done()
}

// ------------------------------------------------------------------------------------------
// Volume.

/// `docker volume inspect` of a cluster (CSI) volume (moby `VolumeFromGRPC`, Docker 23+).
pub fn volume(v: &Volume) -> Value {
    use sk::volume_access_mode::AccessType;
    let vs = v.spec.clone().unwrap_or_default();
    let mut spec = Obj::new();
    spec.str_oe("Group", &vs.group);
    if let Some(am) = &vs.access_mode {
        let mut x = Obj::new();
        x.str_oe(
            "Scope",
            match am.scope {
                0 => "single",
                1 => "multi",
                _ => "",
            },
        );
        x.str_oe(
            "Sharing",
            match am.sharing {
                0 => "none",
                1 => "readonly",
                2 => "onewriter",
                3 => "all",
                _ => "",
            },
        );
        match &am.access_type {
            Some(AccessType::Mount(m)) => {
                let mut y = Obj::new();
                y.str_oe("FsType", &m.fs_type);
                y.strs_oe("MountFlags", &m.mount_flags);
                x.put("MountVolume", y.done());
            }
            Some(AccessType::Block(_)) => x.put("BlockVolume", Obj::new().done()),
            None => {}
        }
        spec.put("AccessMode", x.done());
    }
    if let Some(tr) = &vs.accessibility_requirements {
        let mut x = Obj::new();
        x.list_oe("Requisite", tr.requisite.iter().map(topology).collect());
        x.list_oe("Preferred", tr.preferred.iter().map(topology).collect());
        spec.put("AccessibilityRequirements", x.done());
    }
    if let Some(cr) = &vs.capacity_range {
        let mut x = Obj::new();
        x.put("RequiredBytes", cr.required_bytes);
        x.put("LimitBytes", cr.limit_bytes);
        spec.put("CapacityRange", x.done());
    }
    spec.list_oe(
        "Secrets",
        vs.secrets
            .iter()
            .map(|s| {
                let mut x = Obj::new();
                x.put("Key", s.key.as_str());
                x.put("Secret", s.secret.as_str());
                x.done()
            })
            .collect(),
    );
    spec.str_oe(
        "Availability",
        match vs.availability {
            0 => "active",
            1 => "pause",
            2 => "drain",
            _ => "",
        },
    );

    let mut cv = Obj::new();
    cv.put("ID", v.id.as_str());
    put_meta(&mut cv, v.meta.as_ref());
    cv.put("Spec", spec.done());
    cv.list_oe(
        "PublishStatus",
        v.publish_status
            .iter()
            .map(|p| {
                let mut x = Obj::new();
                x.str_oe("NodeID", &p.node_id);
                x.str_oe(
                    "State",
                    match p.state {
                        0 => "pending-publish",
                        1 => "published",
                        2 => "pending-node-unpublish",
                        3 => "pending-controller-unpublish",
                        _ => "",
                    },
                );
                x.map_oe("PublishContext", &p.publish_context);
                x.done()
            })
            .collect(),
    );
    if let Some(info) = &v.volume_info {
        let mut x = Obj::new();
        x.i64_oe("CapacityBytes", info.capacity_bytes);
        x.map_oe("VolumeContext", &info.volume_context);
        x.str_oe("VolumeID", &info.volume_id);
        x.list_oe("AccessibleTopology", info.accessible_topology.iter().map(topology).collect());
        cv.put("Info", x.done());
    }

    let empty = HashMap::new();
    let drv = vs.driver.as_ref();
    let mut o = Obj::new();
    o.put("ClusterVolume", cv.done());
    o.put("CreatedAt", time_string(v.meta.as_ref().and_then(|m| m.created_at.as_ref())));
    o.put("Driver", drv.map_or("", |d| d.name.as_str()));
    o.put("Labels", smap_or_null(vs.annotations.as_ref().map_or(&empty, |a| &a.labels)));
    o.put("Mountpoint", "");
    o.put("Name", vs.annotations.as_ref().map_or("", |a| a.name.as_str()));
    o.put("Options", smap_or_null(drv.map_or(&empty, |d| &d.options)));
    o.put("Scope", "global");
    o.done()
}

#[cfg(test)]
mod tests {
    //! Expected values are verbatim `docker inspect` outputs recorded from Docker Engine
    //! 20.10.24 by `fixtures/record.sh` (scenarios `churn` and `autolock`, `truth/*.json` of the
    //! 2026-11-27 recording; a re-recording changes IDs and times, so these literals are kept
    //! here rather than read from the fixture files). The protobuf objects rebuild what the same
    //! engines stored in raft for those IDs (checked field by field against the captured state).
    use super::*;
    use serde_json::json;
    use sk::{ContainerSpec, Driver, Meta, ServiceSpec, TaskSpec, container_spec::DnsConfig};

    const SHOW: Redaction = Redaction { show_secrets: true, mark: false };
    const HIDE: Redaction = Redaction { show_secrets: false, mark: false };

    /// 2026-11-27 at `hh:mm:ss` UTC plus nanoseconds.
    fn at(hms: &str, nanos: i32) -> Option<Timestamp> {
        let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        Some(Timestamp { seconds: 1_795_737_600 + p[0] * 3600 + p[1] * 60 + p[2], nanos })
    }

    fn meta(index: u64, created: Option<Timestamp>, updated: Option<Timestamp>) -> Option<Meta> {
        Some(Meta { version: Some(sk::Version { index }), created_at: created, updated_at: updated })
    }

    fn ann(name: &str, labels: &[(&str, &str)]) -> Option<sk::Annotations> {
        Some(sk::Annotations {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        })
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A container spec as the 20.10 CLI stores it (`Init` false, empty `DNSConfig`).
    fn cli_container(args: &[&str], env: &[&str]) -> ContainerSpec {
        ContainerSpec {
            image: "bb:1".into(),
            args: strings(args),
            env: strings(env),
            init: Some(false),
            dns_config: Some(DnsConfig::default()),
            ..Default::default()
        }
    }

    /// A task spec as the 20.10 CLI stores it (empty limits/reservations, empty placement).
    fn cli_task(c: ContainerSpec) -> TaskSpec {
        TaskSpec {
            resources: Some(sk::ResourceRequirements {
                limits: Some(Default::default()),
                reservations: Some(Default::default()),
                ..Default::default()
            }),
            placement: Some(Default::default()),
            runtime: Some(task_spec::Runtime::Container(c)),
            ..Default::default()
        }
    }

    fn file(name: &str) -> Option<sk::FileTarget> {
        Some(sk::FileTarget { name: name.into(), uid: "0".into(), gid: "0".into(), mode: 0o444 })
    }

    fn web_container(env: &str) -> ContainerSpec {
        let mut c = cli_container(&["/bin/sleep", "100000"], &[env]);
        c.secrets = vec![sk::SecretReference {
            secret_id: "kyho3h093cyib1wgygk435jh6".into(),
            secret_name: "sec1".into(),
            file: file("sec1"),
        }];
        c.configs = vec![sk::ConfigReference {
            config_id: "obj5ntvy7xd0yw6iao6qbxew6".into(),
            config_name: "cfg1".into(),
            file: file("/cfg1"),
            runtime: None,
        }];
        c
    }

    fn net_target(target: &str) -> Vec<sk::NetworkAttachmentConfig> {
        vec![sk::NetworkAttachmentConfig { target: target.into(), ..Default::default() }]
    }

    fn port_80_8080() -> sk::PortConfig {
        sk::PortConfig { target_port: 80, published_port: 8080, ..Default::default() }
    }

    fn web_spec(env: &str) -> ServiceSpec {
        let mut task = cli_task(web_container(env));
        task.networks = net_target("nqkq02kobeq78hfvqzwoaomio");
        ServiceSpec {
            annotations: ann("web", &[]),
            task: Some(task),
            endpoint: Some(sk::EndpointSpec { mode: 0, ports: vec![port_80_8080()] }),
            mode: Some(service_spec::Mode::Replicated(sk::ReplicatedService { replicas: 1 })),
            ..Default::default()
        }
    }

    /// A recorded `docker inspect` object (JSON text as docker printed it).
    fn truth(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn assert_json(ours: &Value, expected: &Value) {
        let a = serde_json::to_string_pretty(ours).unwrap();
        let b = serde_json::to_string_pretty(expected).unwrap();
        assert!(a == b, "JSON differs (content or key order)\n--- ours\n{a}\n--- expected\n{b}");
    }

    fn plugin(t: &str, n: &str) -> sk::PluginDescription {
        sk::PluginDescription { r#type: t.into(), name: n.into() }
    }

    const CHURN_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBazCCARCgAwIBAgIUcNDx74KKCS9g1yczWVyTwJy2dsQwCgYIKoZIzj0EAwIw\nEzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTI3MTEwNDAwWhcNNDYxMTIyMTEw\nNDAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\nA0IABFRvqlVW9n/twPBOIkksNOnkq14V/AGf2bo/mtoqYUsNkRPq4MlXbDADTZ22\nXgmA5hldUkBbhYgR+eLneJjbwImjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\nAf8EBTADAQH/MB0GA1UdDgQWBBR1KMvymvbTvfI000AmqStAi/OxjTAKBggqhkjO\nPQQDAgNJADBGAiEAzjcpktSjLZV6SkZZAr/nSadLie37nU2z07Yp1GwwueECIQCU\nDLpWOF85e9rZUPiu5kc7v/UATyjru6oORhFX4ejvIQ==\n-----END CERTIFICATE-----\n";

    fn churn_node() -> Node {
        let (subject, spki) = cert_issuer_info(CHURN_CA.as_bytes()).unwrap();
        Node {
            id: "hq1dnhsiuglc5fpgh551f3tjy".into(),
            meta: meta(214, at("11:08:46", 20_514_411), at("11:11:09", 872_876_086)),
            spec: Some(sk::NodeSpec {
                annotations: ann("", &[("last", "1"), ("rack", "r1"), ("dc", "earth")]),
                desired_role: sk::NodeRole::Manager as i32,
                ..Default::default()
            }),
            description: Some(sk::NodeDescription {
                hostname: "vm".into(),
                platform: Some(sk::Platform { architecture: "x86_64".into(), os: "linux".into() }),
                resources: Some(sk::Resources {
                    nano_cpus: 2_000_000_000,
                    memory_bytes: 25_276_502_016,
                    ..Default::default()
                }),
                engine: Some(sk::EngineDescription {
                    engine_version: "20.10.24+dfsg1".into(),
                    plugins: [
                        ("Log", "awslogs"),
                        ("Log", "fluentd"),
                        ("Log", "gcplogs"),
                        ("Log", "gelf"),
                        ("Log", "journald"),
                        ("Log", "json-file"),
                        ("Log", "local"),
                        ("Log", "logentries"),
                        ("Log", "splunk"),
                        ("Log", "syslog"),
                        ("Network", "bridge"),
                        ("Network", "host"),
                        ("Network", "ipvlan"),
                        ("Network", "macvlan"),
                        ("Network", "null"),
                        ("Network", "overlay"),
                        ("Volume", "local"),
                    ]
                    .iter()
                    .map(|(t, n)| plugin(t, n))
                    .collect(),
                    ..Default::default()
                }),
                tls_info: Some(sk::NodeTlsInfo {
                    trust_root: CHURN_CA.as_bytes().to_vec().into(),
                    cert_issuer_subject: subject.into(),
                    cert_issuer_public_key: spki.into(),
                }),
                ..Default::default()
            }),
            status: Some(sk::NodeStatus {
                state: sk::node_status::State::Ready as i32,
                addr: "127.0.0.2".into(),
                ..Default::default()
            }),
            role: sk::NodeRole::Manager as i32,
            vxlanudp_port: 4789,
            ..Default::default()
        }
    }

    #[test]
    fn node_matches_docker_node_inspect() {
        let expected = truth(
            r#"{
              "ID": "hq1dnhsiuglc5fpgh551f3tjy",
              "Version": {
                "Index": 214
              },
              "CreatedAt": "2026-11-27T11:08:46.020514411Z",
              "UpdatedAt": "2026-11-27T11:11:09.872876086Z",
              "Spec": {
                "Labels": {
                  "dc": "earth",
                  "last": "1",
                  "rack": "r1"
                },
                "Role": "manager",
                "Availability": "active"
              },
              "Description": {
                "Hostname": "vm",
                "Platform": {
                  "Architecture": "x86_64",
                  "OS": "linux"
                },
                "Resources": {
                  "NanoCPUs": 2000000000,
                  "MemoryBytes": 25276502016
                },
                "Engine": {
                  "EngineVersion": "20.10.24+dfsg1",
                  "Plugins": [
                    {
                      "Type": "Log",
                      "Name": "awslogs"
                    },
                    {
                      "Type": "Log",
                      "Name": "fluentd"
                    },
                    {
                      "Type": "Log",
                      "Name": "gcplogs"
                    },
                    {
                      "Type": "Log",
                      "Name": "gelf"
                    },
                    {
                      "Type": "Log",
                      "Name": "journald"
                    },
                    {
                      "Type": "Log",
                      "Name": "json-file"
                    },
                    {
                      "Type": "Log",
                      "Name": "local"
                    },
                    {
                      "Type": "Log",
                      "Name": "logentries"
                    },
                    {
                      "Type": "Log",
                      "Name": "splunk"
                    },
                    {
                      "Type": "Log",
                      "Name": "syslog"
                    },
                    {
                      "Type": "Network",
                      "Name": "bridge"
                    },
                    {
                      "Type": "Network",
                      "Name": "host"
                    },
                    {
                      "Type": "Network",
                      "Name": "ipvlan"
                    },
                    {
                      "Type": "Network",
                      "Name": "macvlan"
                    },
                    {
                      "Type": "Network",
                      "Name": "null"
                    },
                    {
                      "Type": "Network",
                      "Name": "overlay"
                    },
                    {
                      "Type": "Volume",
                      "Name": "local"
                    }
                  ]
                },
                "TLSInfo": {
                  "TrustRoot": "-----BEGIN CERTIFICATE-----\nMIIBazCCARCgAwIBAgIUcNDx74KKCS9g1yczWVyTwJy2dsQwCgYIKoZIzj0EAwIw\nEzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTI3MTEwNDAwWhcNNDYxMTIyMTEw\nNDAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\nA0IABFRvqlVW9n/twPBOIkksNOnkq14V/AGf2bo/mtoqYUsNkRPq4MlXbDADTZ22\nXgmA5hldUkBbhYgR+eLneJjbwImjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\nAf8EBTADAQH/MB0GA1UdDgQWBBR1KMvymvbTvfI000AmqStAi/OxjTAKBggqhkjO\nPQQDAgNJADBGAiEAzjcpktSjLZV6SkZZAr/nSadLie37nU2z07Yp1GwwueECIQCU\nDLpWOF85e9rZUPiu5kc7v/UATyjru6oORhFX4ejvIQ==\n-----END CERTIFICATE-----\n",
                  "CertIssuerSubject": "MBMxETAPBgNVBAMTCHN3YXJtLWNh",
                  "CertIssuerPublicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVG+qVVb2f+3A8E4iSSw06eSrXhX8AZ/Zuj+a2iphSw2RE+rgyVdsMANNnbZeCYDmGV1SQFuFiBH54ud4mNvAiQ=="
                }
              },
              "Status": {
                "State": "ready",
                "Addr": "127.0.0.2"
              },
              "ManagerStatus": {
                "Leader": true,
                "Reachability": "reachable",
                "Addr": "127.0.0.2:2377"
              }
            }"#,
        );
        let n = churn_node();
        let m = RaftManager { addr: "127.0.0.2:2377".into(), leader: true, reachability: 2 };
        assert_json(&node_with_manager(&n, &HIDE, Some(&m)), &expected);
        // The stored object has no manager status: only raft membership provides it.
        let mut no_ms = expected.clone();
        no_ms.as_object_mut().unwrap().remove("ManagerStatus");
        assert_json(&node(&n, &HIDE), &no_ms);
    }

    fn web_service() -> Service {
        Service {
            id: "rveoc3u861hzhexqxca7xyc7d".into(),
            meta: meta(212, at("11:08:46", 822_791_238), at("11:11:09", 477_573_603)),
            spec: Some(web_spec("FOO=baz")),
            spec_version: Some(sk::Version { index: 87 }),
            previous_spec: Some(web_spec("FOO=bar")),
            endpoint: Some(sk::Endpoint {
                spec: Some(sk::EndpointSpec { mode: 0, ports: vec![port_80_8080()] }),
                ports: vec![port_80_8080()],
                virtual_ips: vec![
                    sk::endpoint::VirtualIp {
                        network_id: "i7jbe5fk3l4n7gvo8liuc45wj".into(),
                        addr: "10.0.0.3/24".into(),
                    },
                    sk::endpoint::VirtualIp {
                        network_id: "nqkq02kobeq78hfvqzwoaomio".into(),
                        addr: "10.0.1.2/24".into(),
                    },
                ],
            }),
            update_status: Some(sk::UpdateStatus {
                state: sk::update_status::UpdateState::Completed as i32,
                started_at: at("11:10:49", 210_745_882),
                completed_at: at("11:11:09", 477_548_796),
                message: "update completed".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn replicated_service_with_env_secrets_ports_previous_spec() {
        let expected = truth(
            r#"{
              "ID": "rveoc3u861hzhexqxca7xyc7d",
              "Version": {
                "Index": 212
              },
              "CreatedAt": "2026-11-27T11:08:46.822791238Z",
              "UpdatedAt": "2026-11-27T11:11:09.477573603Z",
              "Spec": {
                "Name": "web",
                "Labels": {},
                "TaskTemplate": {
                  "ContainerSpec": {
                    "Image": "bb:1",
                    "Args": [
                      "/bin/sleep",
                      "100000"
                    ],
                    "Env": [
                      "FOO=baz"
                    ],
                    "Init": false,
                    "StopGracePeriod": 10000000000,
                    "DNSConfig": {},
                    "Secrets": [
                      {
                        "File": {
                          "Name": "sec1",
                          "UID": "0",
                          "GID": "0",
                          "Mode": 292
                        },
                        "SecretID": "kyho3h093cyib1wgygk435jh6",
                        "SecretName": "sec1"
                      }
                    ],
                    "Configs": [
                      {
                        "File": {
                          "Name": "/cfg1",
                          "UID": "0",
                          "GID": "0",
                          "Mode": 292
                        },
                        "ConfigID": "obj5ntvy7xd0yw6iao6qbxew6",
                        "ConfigName": "cfg1"
                      }
                    ],
                    "Isolation": "default"
                  },
                  "Resources": {
                    "Limits": {},
                    "Reservations": {}
                  },
                  "RestartPolicy": {
                    "Condition": "any",
                    "Delay": 5000000000,
                    "MaxAttempts": 0
                  },
                  "Placement": {},
                  "Networks": [
                    {
                      "Target": "nqkq02kobeq78hfvqzwoaomio"
                    }
                  ],
                  "ForceUpdate": 0,
                  "Runtime": "container"
                },
                "Mode": {
                  "Replicated": {
                    "Replicas": 1
                  }
                },
                "UpdateConfig": {
                  "Parallelism": 1,
                  "FailureAction": "pause",
                  "Monitor": 5000000000,
                  "MaxFailureRatio": 0,
                  "Order": "stop-first"
                },
                "RollbackConfig": {
                  "Parallelism": 1,
                  "FailureAction": "pause",
                  "Monitor": 5000000000,
                  "MaxFailureRatio": 0,
                  "Order": "stop-first"
                },
                "EndpointSpec": {
                  "Mode": "vip",
                  "Ports": [
                    {
                      "Protocol": "tcp",
                      "TargetPort": 80,
                      "PublishedPort": 8080,
                      "PublishMode": "ingress"
                    }
                  ]
                }
              },
              "PreviousSpec": {
                "Name": "web",
                "Labels": {},
                "TaskTemplate": {
                  "ContainerSpec": {
                    "Image": "bb:1",
                    "Args": [
                      "/bin/sleep",
                      "100000"
                    ],
                    "Env": [
                      "FOO=bar"
                    ],
                    "Init": false,
                    "DNSConfig": {},
                    "Secrets": [
                      {
                        "File": {
                          "Name": "sec1",
                          "UID": "0",
                          "GID": "0",
                          "Mode": 292
                        },
                        "SecretID": "kyho3h093cyib1wgygk435jh6",
                        "SecretName": "sec1"
                      }
                    ],
                    "Configs": [
                      {
                        "File": {
                          "Name": "/cfg1",
                          "UID": "0",
                          "GID": "0",
                          "Mode": 292
                        },
                        "ConfigID": "obj5ntvy7xd0yw6iao6qbxew6",
                        "ConfigName": "cfg1"
                      }
                    ],
                    "Isolation": "default"
                  },
                  "Resources": {
                    "Limits": {},
                    "Reservations": {}
                  },
                  "Placement": {},
                  "Networks": [
                    {
                      "Target": "nqkq02kobeq78hfvqzwoaomio"
                    }
                  ],
                  "ForceUpdate": 0,
                  "Runtime": "container"
                },
                "Mode": {
                  "Replicated": {
                    "Replicas": 1
                  }
                },
                "EndpointSpec": {
                  "Mode": "vip",
                  "Ports": [
                    {
                      "Protocol": "tcp",
                      "TargetPort": 80,
                      "PublishedPort": 8080,
                      "PublishMode": "ingress"
                    }
                  ]
                }
              },
              "Endpoint": {
                "Spec": {
                  "Mode": "vip",
                  "Ports": [
                    {
                      "Protocol": "tcp",
                      "TargetPort": 80,
                      "PublishedPort": 8080,
                      "PublishMode": "ingress"
                    }
                  ]
                },
                "Ports": [
                  {
                    "Protocol": "tcp",
                    "TargetPort": 80,
                    "PublishedPort": 8080,
                    "PublishMode": "ingress"
                  }
                ],
                "VirtualIPs": [
                  {
                    "NetworkID": "i7jbe5fk3l4n7gvo8liuc45wj",
                    "Addr": "10.0.0.3/24"
                  },
                  {
                    "NetworkID": "nqkq02kobeq78hfvqzwoaomio",
                    "Addr": "10.0.1.2/24"
                  }
                ]
              },
              "UpdateStatus": {
                "State": "completed",
                "StartedAt": "2026-11-27T11:10:49.210745882Z",
                "CompletedAt": "2026-11-27T11:11:09.477548796Z",
                "Message": "update completed"
              }
            }"#,
        );
        assert_json(&service(&web_service(), &SHOW), &expected);
    }

    #[test]
    fn env_values_are_redacted_in_spec_and_previous_spec() {
        let v = service(&web_service(), &HIDE);
        let env = |p: &str| v.pointer(p).cloned().unwrap();
        assert_eq!(env("/Spec/TaskTemplate/ContainerSpec/Env"), json!(["FOO=<redacted>"]));
        assert_eq!(env("/PreviousSpec/TaskTemplate/ContainerSpec/Env"), json!(["FOO=<redacted>"]));
        assert_eq!(
            redact_env(&strings(&["A=1=2", "NOVALUE", "EMPTY="]), &HIDE),
            json!(["A=<redacted>", "NOVALUE", "EMPTY=<redacted>"])
        );
    }

    #[test]
    fn a_changed_redacted_value_is_marked_and_an_unchanged_one_is_not() {
        let mark = HIDE.marking();
        assert_eq!(SHOW.marking(), SHOW, "nothing to tag when values are shown");
        let (mut a, mut b) = (redact_env(&strings(&["FOO=bar"]), &mark), redact_env(&strings(&["FOO=baz"]), &mark));
        assert_ne!(a, b, "different values, different tags");
        assert_eq!(a, redact_env(&strings(&["FOO=bar"]), &mark), "same value, same tag");
        let (mut o, mut n) = (a[0].clone(), b[0].clone());
        unmark_change(&mut o, &mut n);
        assert_eq!((o, n), (json!("FOO=<redacted>"), json!("FOO=<redacted, changed>")));
        // A renamed variable is a visible change already: both sides read <redacted>.
        let (mut o, mut n) = (a[0].clone(), redact_env(&strings(&["BAR=bar"]), &mark)[0].clone());
        unmark_change(&mut o, &mut n);
        assert_eq!((o, n), (json!("FOO=<redacted>"), json!("BAR=<redacted>")));
        unmark(&mut a);
        unmark(&mut b);
        assert_eq!(a, json!(["FOO=<redacted>"]));
        assert_eq!(a, b);
        // Text that only looks like a tag is left alone.
        let mut v = json!(["<redacted#xyz>", "<redacted#0123456789abcdef"]);
        unmark(&mut v);
        assert_eq!(v, json!(["<redacted#xyz>", "<redacted#0123456789abcdef"]));
    }

    #[test]
    fn replicated_service_with_constraint() {
        let expected = truth(
            r#"{
              "ID": "zdofoothkj02pr4ieigdmh0p1",
              "Version": {
                "Index": 198
              },
              "CreatedAt": "2026-11-27T11:08:46.898159599Z",
              "UpdatedAt": "2026-11-27T11:10:49.121406039Z",
              "Spec": {
                "Name": "mars",
                "Labels": {},
                "TaskTemplate": {
                  "ContainerSpec": {
                    "Image": "bb:1",
                    "Args": [
                      "/bin/sleep",
                      "100000"
                    ],
                    "Init": false,
                    "StopGracePeriod": 10000000000,
                    "DNSConfig": {},
                    "Isolation": "default"
                  },
                  "Resources": {
                    "Limits": {},
                    "Reservations": {}
                  },
                  "RestartPolicy": {
                    "Condition": "any",
                    "Delay": 5000000000,
                    "MaxAttempts": 0
                  },
                  "Placement": {
                    "Constraints": [
                      "node.labels.dc==mars"
                    ]
                  },
                  "ForceUpdate": 0,
                  "Runtime": "container"
                },
                "Mode": {
                  "Replicated": {
                    "Replicas": 5
                  }
                },
                "UpdateConfig": {
                  "Parallelism": 1,
                  "FailureAction": "pause",
                  "Monitor": 5000000000,
                  "MaxFailureRatio": 0,
                  "Order": "stop-first"
                },
                "RollbackConfig": {
                  "Parallelism": 1,
                  "FailureAction": "pause",
                  "Monitor": 5000000000,
                  "MaxFailureRatio": 0,
                  "Order": "stop-first"
                },
                "EndpointSpec": {
                  "Mode": "vip"
                }
              },
              "PreviousSpec": {
                "Name": "mars",
                "Labels": {},
                "TaskTemplate": {
                  "ContainerSpec": {
                    "Image": "bb:1",
                    "Args": [
                      "/bin/sleep",
                      "100000"
                    ],
                    "Init": false,
                    "DNSConfig": {},
                    "Isolation": "default"
                  },
                  "Resources": {
                    "Limits": {},
                    "Reservations": {}
                  },
                  "Placement": {
                    "Constraints": [
                      "node.labels.dc==mars"
                    ]
                  },
                  "ForceUpdate": 0,
                  "Runtime": "container"
                },
                "Mode": {
                  "Replicated": {
                    "Replicas": 9
                  }
                },
                "EndpointSpec": {
                  "Mode": "vip"
                }
              },
              "Endpoint": {
                "Spec": {}
              }
            }"#,
        );
        let spec = |replicas| {
            let mut task = cli_task(cli_container(&["/bin/sleep", "100000"], &[]));
            task.placement =
                Some(sk::Placement { constraints: strings(&["node.labels.dc==mars"]), ..Default::default() });
            ServiceSpec {
                annotations: ann("mars", &[]),
                task: Some(task),
                endpoint: Some(sk::EndpointSpec::default()),
                mode: Some(service_spec::Mode::Replicated(sk::ReplicatedService { replicas })),
                ..Default::default()
            }
        };
        let s = Service {
            id: "zdofoothkj02pr4ieigdmh0p1".into(),
            meta: meta(198, at("11:08:46", 898_159_599), at("11:10:49", 121_406_039)),
            spec: Some(spec(5)),
            previous_spec: Some(spec(9)),
            endpoint: Some(sk::Endpoint::default()),
            ..Default::default()
        };
        assert_json(&service(&s, &HIDE), &expected);
    }

    #[test]
    fn global_service() {
        let expected = truth(
            r#"{
              "ID": "14uz69nsjpickz0e53vcvfl9p",
              "Version": {
                "Index": 20
              },
              "CreatedAt": "2026-11-27T11:08:46.86427577Z",
              "UpdatedAt": "2026-11-27T11:08:46.86427577Z",
              "Spec": {
                "Name": "glob",
                "Labels": {},
                "TaskTemplate": {
                  "ContainerSpec": {
                    "Image": "bb:1",
                    "Args": [
                      "/bin/sleep",
                      "100000"
                    ],
                    "Init": false,
                    "StopGracePeriod": 10000000000,
                    "DNSConfig": {},
                    "Isolation": "default"
                  },
                  "Resources": {
                    "Limits": {},
                    "Reservations": {}
                  },
                  "RestartPolicy": {
                    "Condition": "any",
                    "Delay": 5000000000,
                    "MaxAttempts": 0
                  },
                  "Placement": {},
                  "ForceUpdate": 0,
                  "Runtime": "container"
                },
                "Mode": {
                  "Global": {}
                },
                "UpdateConfig": {
                  "Parallelism": 1,
                  "FailureAction": "pause",
                  "Monitor": 5000000000,
                  "MaxFailureRatio": 0,
                  "Order": "stop-first"
                },
                "RollbackConfig": {
                  "Parallelism": 1,
                  "FailureAction": "pause",
                  "Monitor": 5000000000,
                  "MaxFailureRatio": 0,
                  "Order": "stop-first"
                },
                "EndpointSpec": {
                  "Mode": "vip"
                }
              },
              "Endpoint": {
                "Spec": {}
              }
            }"#,
        );
        let s = Service {
            id: "14uz69nsjpickz0e53vcvfl9p".into(),
            meta: meta(20, at("11:08:46", 864_275_770), at("11:08:46", 864_275_770)),
            spec: Some(ServiceSpec {
                annotations: ann("glob", &[]),
                task: Some(cli_task(cli_container(&["/bin/sleep", "100000"], &[]))),
                endpoint: Some(sk::EndpointSpec::default()),
                mode: Some(service_spec::Mode::Global(sk::GlobalService {})),
                ..Default::default()
            }),
            endpoint: Some(sk::Endpoint::default()),
            ..Default::default()
        };
        assert_json(&service(&s, &HIDE), &expected);
    }

    #[test]
    fn failed_task_with_err_and_exit_code() {
        let expected = truth(
            r#"{
              "ID": "l8cfna6qy05kshh2ha36l62ye",
              "Version": {
                "Index": 123
              },
              "CreatedAt": "2026-11-27T11:10:10.997938993Z",
              "UpdatedAt": "2026-11-27T11:10:12.40769468Z",
              "Labels": {},
              "Spec": {
                "ContainerSpec": {
                  "Image": "bb:1",
                  "Args": [
                    "/bin/false"
                  ],
                  "Init": false,
                  "DNSConfig": {},
                  "Isolation": "default"
                },
                "Resources": {
                  "Limits": {},
                  "Reservations": {}
                },
                "RestartPolicy": {
                  "Condition": "any",
                  "Delay": 1000000000,
                  "MaxAttempts": 3
                },
                "Placement": {},
                "ForceUpdate": 0
              },
              "ServiceID": "3v2j2lkilmm0xu8au000kkmss",
              "Slot": 1,
              "NodeID": "hq1dnhsiuglc5fpgh551f3tjy",
              "Status": {
                "Timestamp": "2026-11-27T11:10:12.19275296Z",
                "State": "failed",
                "Message": "started",
                "Err": "task: non-zero exit (1)",
                "ContainerStatus": {
                  "ContainerID": "7fe348ffe628083ccdb6f2b5d9920aa0db770014eae30d6adf7ac28cef04ee09",
                  "PID": 0,
                  "ExitCode": 1
                },
                "PortStatus": {}
              },
              "DesiredState": "shutdown"
            }"#,
        );
        let mut spec = cli_task(cli_container(&["/bin/false"], &[]));
        spec.restart = Some(sk::RestartPolicy {
            condition: sk::restart_policy::RestartCondition::Any as i32,
            delay: Some(Duration { seconds: 1, nanos: 0 }),
            max_attempts: 3,
            window: None,
        });
        let t = Task {
            id: "l8cfna6qy05kshh2ha36l62ye".into(),
            meta: meta(123, at("11:10:10", 997_938_993), at("11:10:12", 407_694_680)),
            spec: Some(spec),
            spec_version: Some(sk::Version::default()),
            service_id: "3v2j2lkilmm0xu8au000kkmss".into(),
            slot: 1,
            node_id: "hq1dnhsiuglc5fpgh551f3tjy".into(),
            annotations: Some(Default::default()),
            service_annotations: ann("failer", &[]),
            status: Some(sk::TaskStatus {
                timestamp: at("11:10:12", 192_752_960),
                state: sk::TaskState::Failed as i32,
                message: "started".into(),
                err: "task: non-zero exit (1)".into(),
                runtime_status: Some(task_status::RuntimeStatus::Container(sk::ContainerStatus {
                    container_id: "7fe348ffe628083ccdb6f2b5d9920aa0db770014eae30d6adf7ac28cef04ee09".into(),
                    pid: 0,
                    exit_code: 1,
                })),
                port_status: Some(Default::default()),
                ..Default::default()
            }),
            desired_state: sk::TaskState::Shutdown as i32,
            ..Default::default()
        };
        assert_json(&task(&t, &HIDE), &expected);
    }

    fn ingress_network() -> Network {
        Network {
            id: "i7jbe5fk3l4n7gvo8liuc45wj".into(),
            meta: meta(6, at("11:08:46", 20_552_197), at("11:08:46", 36_336_458)),
            spec: Some(sk::NetworkSpec {
                annotations: ann("ingress", &[]),
                driver_config: Some(Driver::default()),
                ipam: Some(sk::IpamOptions { driver: Some(Driver::default()), configs: vec![] }),
                ingress: true,
                ..Default::default()
            }),
            driver_state: Some(overlay_state("4096")),
            ipam: Some(ipam("10.0.0.0/24", "10.0.0.1")),
            ..Default::default()
        }
    }

    fn net1_network() -> Network {
        Network {
            id: "nqkq02kobeq78hfvqzwoaomio".into(),
            meta: meta(13, at("11:08:46", 703_748_363), at("11:08:46", 704_484_599)),
            spec: Some(sk::NetworkSpec {
                annotations: ann("net1", &[]),
                driver_config: Some(Driver { name: "overlay".into(), ..Default::default() }),
                ipam: Some(sk::IpamOptions {
                    driver: Some(Driver { name: "default".into(), ..Default::default() }),
                    configs: vec![],
                }),
                ..Default::default()
            }),
            driver_state: Some(overlay_state("4097")),
            ipam: Some(ipam("10.0.1.0/24", "10.0.1.1")),
            ..Default::default()
        }
    }

    fn overlay_state(vxlan: &str) -> Driver {
        Driver {
            name: "overlay".into(),
            options: [("com.docker.network.driver.overlay.vxlanid_list".to_string(), vxlan.to_string())].into(),
        }
    }

    fn ipam(subnet: &str, gateway: &str) -> sk::IpamOptions {
        sk::IpamOptions {
            driver: Some(Driver { name: "default".into(), ..Default::default() }),
            configs: vec![sk::IpamConfig {
                family: sk::ipam_config::AddressFamily::Ipv4 as i32,
                subnet: subnet.into(),
                gateway: gateway.into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn task_network_attachments_use_the_swarm_network_shape() {
        let expected = truth(
            r#"{
              "ID": "v2tydun4ib88dbzhiuejnw5rw",
              "Version": {
                "Index": 208
              },
              "CreatedAt": "2026-11-27T11:10:30.305728899Z",
              "UpdatedAt": "2026-11-27T11:11:03.063391947Z",
              "Labels": {},
              "Spec": {
                "ContainerSpec": {
                  "Image": "bb:1",
                  "Args": [
                    "/bin/sleep",
                    "100000"
                  ],
                  "Env": [
                    "FOO=bar"
                  ],
                  "Init": false,
                  "DNSConfig": {},
                  "Secrets": [
                    {
                      "File": {
                        "Name": "sec1",
                        "UID": "0",
                        "GID": "0",
                        "Mode": 292
                      },
                      "SecretID": "kyho3h093cyib1wgygk435jh6",
                      "SecretName": "sec1"
                    }
                  ],
                  "Configs": [
                    {
                      "File": {
                        "Name": "/cfg1",
                        "UID": "0",
                        "GID": "0",
                        "Mode": 292
                      },
                      "ConfigID": "obj5ntvy7xd0yw6iao6qbxew6",
                      "ConfigName": "cfg1"
                    }
                  ],
                  "Isolation": "default"
                },
                "Resources": {
                  "Limits": {},
                  "Reservations": {}
                },
                "Placement": {},
                "Networks": [
                  {
                    "Target": "nqkq02kobeq78hfvqzwoaomio"
                  }
                ],
                "ForceUpdate": 0
              },
              "ServiceID": "rveoc3u861hzhexqxca7xyc7d",
              "Slot": 1,
              "NodeID": "hq1dnhsiuglc5fpgh551f3tjy",
              "Status": {
                "Timestamp": "2026-11-27T11:11:02.989916629Z",
                "State": "shutdown",
                "Message": "shutdown",
                "ContainerStatus": {
                  "ContainerID": "a98572c21badcc316f851bc38c7ca65da75cfd6fdd4cedd78f0502d69f788401",
                  "PID": 0,
                  "ExitCode": 137
                },
                "PortStatus": {}
              },
              "DesiredState": "shutdown",
              "NetworksAttachments": [
                {
                  "Network": {
                    "ID": "i7jbe5fk3l4n7gvo8liuc45wj",
                    "Version": {
                      "Index": 6
                    },
                    "CreatedAt": "2026-11-27T11:08:46.020552197Z",
                    "UpdatedAt": "2026-11-27T11:08:46.036336458Z",
                    "Spec": {
                      "Name": "ingress",
                      "Labels": {},
                      "DriverConfiguration": {},
                      "Ingress": true,
                      "IPAMOptions": {
                        "Driver": {}
                      },
                      "Scope": "swarm"
                    },
                    "DriverState": {
                      "Name": "overlay",
                      "Options": {
                        "com.docker.network.driver.overlay.vxlanid_list": "4096"
                      }
                    },
                    "IPAMOptions": {
                      "Driver": {
                        "Name": "default"
                      },
                      "Configs": [
                        {
                          "Subnet": "10.0.0.0/24",
                          "Gateway": "10.0.0.1"
                        }
                      ]
                    }
                  },
                  "Addresses": [
                    "10.0.0.10/24"
                  ]
                },
                {
                  "Network": {
                    "ID": "nqkq02kobeq78hfvqzwoaomio",
                    "Version": {
                      "Index": 13
                    },
                    "CreatedAt": "2026-11-27T11:08:46.703748363Z",
                    "UpdatedAt": "2026-11-27T11:08:46.704484599Z",
                    "Spec": {
                      "Name": "net1",
                      "Labels": {},
                      "DriverConfiguration": {
                        "Name": "overlay"
                      },
                      "IPAMOptions": {
                        "Driver": {
                          "Name": "default"
                        }
                      },
                      "Scope": "swarm"
                    },
                    "DriverState": {
                      "Name": "overlay",
                      "Options": {
                        "com.docker.network.driver.overlay.vxlanid_list": "4097"
                      }
                    },
                    "IPAMOptions": {
                      "Driver": {
                        "Name": "default"
                      },
                      "Configs": [
                        {
                          "Subnet": "10.0.1.0/24",
                          "Gateway": "10.0.1.1"
                        }
                      ]
                    }
                  },
                  "Addresses": [
                    "10.0.1.10/24"
                  ]
                }
              ]
            }"#,
        );
        let mut spec = cli_task(web_container("FOO=bar"));
        spec.networks = net_target("nqkq02kobeq78hfvqzwoaomio");
        let attach = |n: Network, addr: &str| sk::NetworkAttachment {
            network: Some(n),
            addresses: strings(&[addr]),
            ..Default::default()
        };
        let t = Task {
            id: "v2tydun4ib88dbzhiuejnw5rw".into(),
            meta: meta(208, at("11:10:30", 305_728_899), at("11:11:03", 63_391_947)),
            spec: Some(spec),
            service_id: "rveoc3u861hzhexqxca7xyc7d".into(),
            slot: 1,
            node_id: "hq1dnhsiuglc5fpgh551f3tjy".into(),
            status: Some(sk::TaskStatus {
                timestamp: at("11:11:02", 989_916_629),
                state: sk::TaskState::Shutdown as i32,
                message: "shutdown".into(),
                runtime_status: Some(task_status::RuntimeStatus::Container(sk::ContainerStatus {
                    container_id: "a98572c21badcc316f851bc38c7ca65da75cfd6fdd4cedd78f0502d69f788401".into(),
                    pid: 0,
                    exit_code: 137,
                })),
                ..Default::default()
            }),
            desired_state: sk::TaskState::Shutdown as i32,
            networks: vec![attach(ingress_network(), "10.0.0.10/24"), attach(net1_network(), "10.0.1.10/24")],
            ..Default::default()
        };
        assert_json(&task(&t, &SHOW), &expected);
        assert_json(&network_swarm(&ingress_network()), &expected["NetworksAttachments"][0]["Network"]);
    }

    #[test]
    fn network_in_the_network_inspect_shape() {
        // The truth of `docker network inspect net1` came from the engine's local libnetwork view
        // (the manager had containers on it): `Created`, `Containers`, `Labels` and `Peers` are
        // local facts there. Everything else matches the swarm-store conversion.
        let truth = truth(
            r#"{
              "Name": "net1",
              "Id": "nqkq02kobeq78hfvqzwoaomio",
              "Created": "2026-11-27T11:11:03.32376348Z",
              "Scope": "swarm",
              "Driver": "overlay",
              "EnableIPv6": false,
              "IPAM": {
                "Driver": "default",
                "Options": null,
                "Config": [
                  {
                    "Subnet": "10.0.1.0/24",
                    "Gateway": "10.0.1.1"
                  }
                ]
              },
              "Internal": false,
              "Attachable": false,
              "Ingress": false,
              "ConfigFrom": {
                "Network": ""
              },
              "ConfigOnly": false,
              "Containers": {
                "d786dd8d4edb2e44bbfa1c3d4497debb616564f7af4ad012bf76417c9e542a12": {
                  "Name": "web.1.yl4ghfpew2fvhd7lho95n6wn6",
                  "EndpointID": "ada1318787558462cc6c02606f4c1a1fbc759d5b2f01a0cb5bea277247527968",
                  "MacAddress": "02:42:0a:00:01:0c",
                  "IPv4Address": "10.0.1.12/24",
                  "IPv6Address": ""
                },
                "lb-net1": {
                  "Name": "net1-endpoint",
                  "EndpointID": "c055dfd013d8a2f961325b773d7dd8a8393683f78da3131a4215abc69d3a2ef0",
                  "MacAddress": "02:42:0a:00:01:0b",
                  "IPv4Address": "10.0.1.11/24",
                  "IPv6Address": ""
                }
              },
              "Options": {
                "com.docker.network.driver.overlay.vxlanid_list": "4097"
              },
              "Labels": {},
              "Peers": [
                {
                  "Name": "0fdbf7c5f983",
                  "IP": "127.0.0.2"
                }
              ]
            }"#,
        );
        let ours = network(&net1_network());
        let expected = json!({
            "Name": "net1",
            "Id": "nqkq02kobeq78hfvqzwoaomio",
            "Created": "2026-11-27T11:08:46.703748363Z",
            "Scope": "swarm",
            "Driver": "overlay",
            "EnableIPv6": false,
            "IPAM": {
                "Driver": "default",
                "Options": null,
                "Config": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]
            },
            "Internal": false,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": null,
            "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4097"},
            "Labels": null
        });
        assert_json(&ours, &expected);
        for (k, v) in ours.as_object().unwrap() {
            if !["Created", "Containers", "Labels"].contains(&k.as_str()) {
                assert_eq!(v, &truth[k], "{k}");
            }
        }
        assert_eq!(network(&ingress_network())["Ingress"], json!(true));
    }

    #[test]
    fn config_data_redacted_unless_asked() {
        let expected = truth(
            r#"{
              "ID": "obj5ntvy7xd0yw6iao6qbxew6",
              "Version": {
                "Index": 15
              },
              "CreatedAt": "2026-11-27T11:08:46.787267897Z",
              "UpdatedAt": "2026-11-27T11:08:46.787267897Z",
              "Spec": {
                "Name": "cfg1",
                "Labels": {},
                "Data": "a2V5ID0gImNodXJuIGNvbmZpZyB2MSIK"
              }
            }"#,
        );
        let c = Config {
            id: "obj5ntvy7xd0yw6iao6qbxew6".into(),
            meta: meta(15, at("11:08:46", 787_267_897), at("11:08:46", 787_267_897)),
            spec: Some(sk::ConfigSpec {
                annotations: ann("cfg1", &[]),
                data: b"key = \"churn config v1\"\n".to_vec().into(),
                templating: None,
            }),
        };
        assert_json(&config(&c, &SHOW), &expected);
        let mut redacted = expected.clone();
        redacted["Spec"]["Data"] = json!("<redacted>");
        assert_json(&config(&c, &HIDE), &redacted);
    }

    #[test]
    fn secret_data_never_shown_unless_asked() {
        let expected = truth(
            r#"{
              "ID": "kyho3h093cyib1wgygk435jh6",
              "Version": {
                "Index": 14
              },
              "CreatedAt": "2026-11-27T11:08:46.745229745Z",
              "UpdatedAt": "2026-11-27T11:08:46.745229745Z",
              "Spec": {
                "Name": "sec1",
                "Labels": {}
              }
            }"#,
        );
        let mut s = Secret {
            id: "kyho3h093cyib1wgygk435jh6".into(),
            meta: meta(14, at("11:08:46", 745_229_745), at("11:08:46", 745_229_745)),
            spec: Some(sk::SecretSpec { annotations: ann("sec1", &[]), ..Default::default() }),
            internal: false,
        };
        // Docker never returns the data: an object without data prints exactly as docker does.
        assert_json(&secret(&s, &HIDE), &expected);
        s.spec.as_mut().unwrap().data = b"top secret".to_vec().into();
        let mut redacted = expected.clone();
        redacted["Spec"]["Data"] = json!("<redacted>");
        assert_json(&secret(&s, &HIDE), &redacted);
        let mut shown = expected.clone();
        shown["Spec"]["Data"] = json!("dG9wIHNlY3JldA==");
        assert_json(&secret(&s, &SHOW), &shown);
    }

    const AUTOLOCK_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBaTCCARCgAwIBAgIUccBjVRWnyEITf1hPekKIWvWcPfwwCgYIKoZIzj0EAwIw\nEzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTI3MTEwNzAwWhcNNDYxMTIyMTEw\nNzAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\nA0IABDZx3ardTsv2MqgyjWgXlkDHRrt3frAaHqDYy5EizV80cqkFhERKAl+sJTFL\nuaqISi+BHsD/a1pKJIbUiTN83LajQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\nAf8EBTADAQH/MB0GA1UdDgQWBBS1OG4VHbhjjtNThAdjQk/QvpHVKzAKBggqhkjO\nPQQDAgNHADBEAiALFfDtZCIPazP6wANix0phmR+kV62/vXMNZGJ3MCXRPQIgXXWG\niSqu8Ye+gK+tW0DhuB8om7uC9jSoIYXHpinrB/4=\n-----END CERTIFICATE-----\n";
    /// The unlock key `docker swarm unlock-key --rotate` printed in that scenario.
    const AUTOLOCK_KEY: &str = "SWMKEY-1-Ml+pDh0sNo7nSqFIrNlbmoEkIHJ116h+92bMfkjSkMQ";
    /// Stand-in for the root CA key (not part of any truth file).
    const FAKE_CA_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n";

    fn autolock_cluster() -> Cluster {
        let kek = B64_RAW.decode(AUTOLOCK_KEY.trim_start_matches("SWMKEY-1-")).unwrap();
        Cluster {
            id: "llbz3duf7sngmq3k2qb75a6mg".into(),
            meta: meta(29, at("11:12:00", 406_700_363), at("11:12:03", 271_947_109)),
            spec: Some(sk::ClusterSpec {
                annotations: ann("default", &[]),
                orchestration: Some(sk::OrchestrationConfig { task_history_retention_limit: 5 }),
                raft: Some(sk::RaftConfig {
                    snapshot_interval: 10_000,
                    keep_old_snapshots: 0,
                    log_entries_for_slow_followers: 500,
                    heartbeat_tick: 1,
                    election_tick: 10,
                }),
                dispatcher: Some(sk::DispatcherConfig { heartbeat_period: Some(Duration { seconds: 5, nanos: 0 }) }),
                ca_config: Some(sk::CaConfig {
                    node_cert_expiry: Some(Duration { seconds: 7_776_000, nanos: 0 }),
                    ..Default::default()
                }),
                task_defaults: Some(Default::default()),
                encryption_config: Some(sk::EncryptionConfig { auto_lock_managers: true }),
            }),
            root_ca: Some(sk::RootCa {
                ca_key: FAKE_CA_KEY.as_bytes().to_vec().into(),
                ca_cert: AUTOLOCK_CA.as_bytes().to_vec().into(),
                ca_cert_hash: "sha256:7ddf8d484d8236573736c056f818d81f0db99918866a47c2de238cc91af38852".into(),
                join_tokens: Some(sk::JoinTokens {
                    worker: "SWMTKN-1-34xvrtt7xu2uzynzv1bpzplawtbnz5l0ejxguiz6m7p96t2atu-8jesd1tk1408x3lzjeoj793do"
                        .into(),
                    manager: "SWMTKN-1-34xvrtt7xu2uzynzv1bpzplawtbnz5l0ejxguiz6m7p96t2atu-9i1z4qgk0febqx1eg4odhjq41"
                        .into(),
                }),
                ..Default::default()
            }),
            unlock_keys: vec![sk::EncryptionKey {
                subsystem: "swarm-manager".into(),
                key: kek.into(),
                ..Default::default()
            }],
            vxlanudp_port: 4789,
            ..Default::default()
        }
    }

    #[test]
    fn cluster_matches_docker_swarm_inspect() {
        let truth = truth(
            r#"{
              "ID": "llbz3duf7sngmq3k2qb75a6mg",
              "Version": {
                "Index": 29
              },
              "CreatedAt": "2026-11-27T11:12:00.406700363Z",
              "UpdatedAt": "2026-11-27T11:12:03.271947109Z",
              "Spec": {
                "Name": "default",
                "Labels": {},
                "Orchestration": {
                  "TaskHistoryRetentionLimit": 5
                },
                "Raft": {
                  "SnapshotInterval": 10000,
                  "KeepOldSnapshots": 0,
                  "LogEntriesForSlowFollowers": 500,
                  "ElectionTick": 10,
                  "HeartbeatTick": 1
                },
                "Dispatcher": {
                  "HeartbeatPeriod": 5000000000
                },
                "CAConfig": {
                  "NodeCertExpiry": 7776000000000000
                },
                "TaskDefaults": {},
                "EncryptionConfig": {
                  "AutoLockManagers": true
                }
              },
              "TLSInfo": {
                "TrustRoot": "-----BEGIN CERTIFICATE-----\nMIIBaTCCARCgAwIBAgIUccBjVRWnyEITf1hPekKIWvWcPfwwCgYIKoZIzj0EAwIw\nEzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTI3MTEwNzAwWhcNNDYxMTIyMTEw\nNzAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\nA0IABDZx3ardTsv2MqgyjWgXlkDHRrt3frAaHqDYy5EizV80cqkFhERKAl+sJTFL\nuaqISi+BHsD/a1pKJIbUiTN83LajQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\nAf8EBTADAQH/MB0GA1UdDgQWBBS1OG4VHbhjjtNThAdjQk/QvpHVKzAKBggqhkjO\nPQQDAgNHADBEAiALFfDtZCIPazP6wANix0phmR+kV62/vXMNZGJ3MCXRPQIgXXWG\niSqu8Ye+gK+tW0DhuB8om7uC9jSoIYXHpinrB/4=\n-----END CERTIFICATE-----\n",
                "CertIssuerSubject": "MBMxETAPBgNVBAMTCHN3YXJtLWNh",
                "CertIssuerPublicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENnHdqt1Oy/YyqDKNaBeWQMdGu3d+sBoeoNjLkSLNXzRyqQWEREoCX6wlMUu5qohKL4EewP9rWkokhtSJM3zctg=="
              },
              "RootRotationInProgress": false,
              "DefaultAddrPool": [
                "10.0.0.0/8"
              ],
              "SubnetSize": 24,
              "DataPathPort": 4789,
              "JoinTokens": {
                "Worker": "SWMTKN-1-34xvrtt7xu2uzynzv1bpzplawtbnz5l0ejxguiz6m7p96t2atu-8jesd1tk1408x3lzjeoj793do",
                "Manager": "SWMTKN-1-34xvrtt7xu2uzynzv1bpzplawtbnz5l0ejxguiz6m7p96t2atu-9i1z4qgk0febqx1eg4odhjq41"
              }
            }"#,
        );
        let mut expected = truth.clone();
        let extra = expected.as_object_mut().unwrap();
        extra.insert("RootCAKey".into(), json!(FAKE_CA_KEY));
        extra.insert("UnlockKeys".into(), json!([{"Subsystem": "swarm-manager", "Key": AUTOLOCK_KEY}]));
        assert_json(&cluster(&autolock_cluster(), &SHOW), &expected);

        let mut redacted = truth.clone();
        let extra = redacted.as_object_mut().unwrap();
        extra.insert("JoinTokens".into(), json!({"Worker": "<redacted>", "Manager": "<redacted>"}));
        extra.insert("RootCAKey".into(), json!("<redacted>"));
        extra.insert("UnlockKeys".into(), json!([{"Subsystem": "swarm-manager", "Key": "<redacted>"}]));
        assert_json(&cluster(&autolock_cluster(), &HIDE), &redacted);
    }

    #[test]
    fn cluster_defaults_filled_like_swarmkit_redact_clusters() {
        let mut c = autolock_cluster();
        c.vxlanudp_port = 0;
        c.default_address_pool = strings(&["10.20.0.0/16"]);
        c.subnet_size = 26;
        let v = cluster(&c, &HIDE);
        assert_eq!(v["DefaultAddrPool"], json!(["10.20.0.0/16"]));
        assert_eq!(v["SubnetSize"], json!(26));
        assert_eq!(v["DataPathPort"], json!(4789));
    }

    #[test]
    fn timestamps_print_like_go_time_json() {
        let t = |seconds, nanos| timestamp(&Timestamp { seconds, nanos });
        assert_eq!(t(1_795_777_802, 123_456_789), "2026-11-27T11:10:02.123456789Z");
        assert_eq!(t(1_795_777_802, 120_000_000), "2026-11-27T11:10:02.12Z");
        assert_eq!(t(1_795_777_802, 0), "2026-11-27T11:10:02Z");
        assert_eq!(t(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(t(-1, 500_000_000), "1969-12-31T23:59:59.5Z");
        assert_eq!(t(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(t(-62_135_596_800, 0), GO_ZERO_TIME);
        assert_eq!(t(1_795_777_802, 1), "2026-11-27T11:10:02.000000001Z");
        assert_eq!(t(1_795_777_802, 1_000), "2026-11-27T11:10:02.000001Z");
        assert_eq!(t(-62_198_755_200, 0), "-0001-01-01T00:00:00Z");
        assert_eq!(t(253_402_300_800, 0), "10000-01-01T00:00:00Z");
        assert_eq!(ts_opt(None), "1970-01-01T00:00:00Z");
        assert_eq!(time_string(at("11:10:02", 120_000_000).as_ref()), "2026-11-27 11:10:02.12 +0000 UTC");
    }

    #[test]
    fn enum_spellings() {
        assert_eq!(task_state(0), "new");
        assert_eq!(task_state(64), "pending");
        assert_eq!(task_state(128), "pending");
        assert_eq!(task_state(704), "failed");
        assert_eq!(task_state(832), "orphaned");
        assert_eq!(task_state(5), "unknown");
        assert_eq!(node_state(3), "disconnected");
        assert_eq!(availability(2), "drain");
        assert_eq!(reachability(1), "unreachable");
        assert_eq!(role(0), "worker");
        assert_eq!(role(1), "manager");
    }

    #[test]
    fn numbers_print_like_go() {
        assert_eq!(serde_json::to_string(&float32(0.0)).unwrap(), "0");
        assert_eq!(serde_json::to_string(&float32(0.2)).unwrap(), "0.2");
        assert_eq!(serde_json::to_string(&float32(1.0)).unwrap(), "1");
        assert_eq!(dur_ns(Some(&Duration { seconds: 5, nanos: 1 })), 5_000_000_001);
        assert_eq!(dur_ns(Some(&Duration { seconds: 1, nanos: -1 })), 0);
        assert_eq!(dur_ns(None), 0);
    }

    #[test]
    fn defaults_are_inserted_into_the_current_spec_only() {
        let s = Service {
            id: "x".into(),
            spec: Some(ServiceSpec {
                task: Some(TaskSpec {
                    runtime: Some(task_spec::Runtime::Container(ContainerSpec {
                        image: "img".into(),
                        ..Default::default()
                    })),
                    restart: Some(sk::RestartPolicy { max_attempts: 2, ..Default::default() }),
                    ..Default::default()
                }),
                update: Some(sk::UpdateConfig {
                    parallelism: 3,
                    max_failure_ratio: 0.25,
                    order: 1,
                    failure_action: 2,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            previous_spec: Some(ServiceSpec::default()),
            ..Default::default()
        };
        let v = service(&s, &HIDE);
        assert_json(
            &v["Spec"],
            &json!({
                "Labels": {},
                "TaskTemplate": {
                    "ContainerSpec": {
                        "Image": "img",
                        "StopGracePeriod": 10_000_000_000_i64,
                        "DNSConfig": {},
                        "Isolation": "default"
                    },
                    "Resources": {},
                    "RestartPolicy": {"Condition": "none", "Delay": 5_000_000_000_i64, "MaxAttempts": 2},
                    "Placement": {},
                    "ForceUpdate": 0,
                    "Runtime": "container"
                },
                "Mode": {},
                "UpdateConfig": {
                    "Parallelism": 3,
                    "FailureAction": "rollback",
                    "Monitor": 5_000_000_000_i64,
                    "MaxFailureRatio": 0.25,
                    "Order": "start-first"
                },
                "RollbackConfig": {
                    "Parallelism": 1,
                    "FailureAction": "pause",
                    "Monitor": 5_000_000_000_i64,
                    "MaxFailureRatio": 0,
                    "Order": "stop-first"
                }
            }),
        );
        assert_json(&v["PreviousSpec"], &json!({"Labels": {}, "TaskTemplate": {"ForceUpdate": 0}, "Mode": {}}));
        assert_json(&v["Endpoint"], &json!({"Spec": {}}));
    }

    #[test]
    fn container_spec_extras_follow_go_field_order() {
        use sk::privileges::{SeLinuxContext, credential_spec::Source};
        let c = ContainerSpec {
            image: "img".into(),
            labels: [("b".to_string(), "2".to_string()), ("a".to_string(), "1".to_string())].into(),
            command: strings(&["sh"]),
            hostname: "h".into(),
            dir: "/w".into(),
            user: "u".into(),
            groups: strings(&["g"]),
            privileges: Some(sk::Privileges {
                credential_spec: Some(sk::privileges::CredentialSpec {
                    source: Some(Source::File("spec.json".into())),
                }),
                selinux_context: Some(SeLinuxContext { r#type: "t".into(), ..Default::default() }),
                ..Default::default()
            }),
            init: Some(true),
            stop_signal: "SIGINT".into(),
            tty: true,
            mounts: vec![sk::Mount {
                r#type: sk::mount::Type::Volume as i32,
                source: "vol".into(),
                target: "/data".into(),
                readonly: true,
                volume_options: Some(sk::mount::VolumeOptions {
                    nocopy: true,
                    driver_config: Some(Driver { name: "local".into(), ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            healthcheck: Some(sk::HealthConfig {
                test: strings(&["CMD", "true"]),
                interval: Some(Duration { seconds: 30, nanos: 0 }),
                retries: 3,
                ..Default::default()
            }),
            hosts: strings(&["1.2.3.4 x"]),
            isolation: sk::container_spec::Isolation::Hyperv as i32,
            pids_limit: 100,
            ulimits: vec![sk::container_spec::Ulimit { name: "nofile".into(), soft: 1, hard: 2 }],
            pull_options: Some(sk::PullOptions { registry_auth: "cred".into() }),
            configs: vec![sk::ConfigReference {
                config_id: "c1".into(),
                config_name: "cfg".into(),
                file: None,
                runtime: Some(sk::RuntimeTarget {}),
            }],
            ..Default::default()
        };
        let ts = TaskSpec { runtime: Some(task_spec::Runtime::Container(c)), ..Default::default() };
        let v = task_spec(&ts, &HIDE, false);
        assert_json(
            &v,
            &json!({
                "ContainerSpec": {
                    "Image": "img",
                    "Labels": {"a": "1", "b": "2"},
                    "Command": ["sh"],
                    "Hostname": "h",
                    "Dir": "/w",
                    "User": "u",
                    "Groups": ["g"],
                    "Privileges": {
                        "CredentialSpec": {"Config": "", "File": "spec.json", "Registry": ""},
                        "SELinuxContext": {"Disable": false, "User": "", "Role": "", "Type": "t", "Level": ""}
                    },
                    "Init": true,
                    "StopSignal": "SIGINT",
                    "TTY": true,
                    "Mounts": [{
                        "Type": "volume",
                        "Source": "vol",
                        "Target": "/data",
                        "ReadOnly": true,
                        "VolumeOptions": {"NoCopy": true, "DriverConfig": {"Name": "local"}}
                    }],
                    "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30_000_000_000_i64, "Retries": 3},
                    "Hosts": ["1.2.3.4 x"],
                    "Configs": [{"Runtime": {}, "ConfigID": "c1", "ConfigName": "cfg"}],
                    "Isolation": "hyperv",
                    "Ulimits": [{"Name": "nofile", "Hard": 2, "Soft": 1}],
                    "PullOptions": {"RegistryAuth": "<redacted>"}
                },
                "Resources": {"Limits": {"Pids": 100}},
                "ForceUpdate": 0
            }),
        );
        let shown = task_spec(&ts, &SHOW, false);
        assert_eq!(shown["ContainerSpec"]["PullOptions"]["RegistryAuth"], json!("cred"));
    }

    #[test]
    fn plugin_runtime_and_jobs() {
        let payload = PluginSpec {
            name: "vieux/sshfs".into(),
            remote: "vieux/sshfs:latest".into(),
            env: strings(&["PASS=x"]),
            ..Default::default()
        }
        .encode_to_vec();
        let s = Service {
            id: "p".into(),
            spec: Some(ServiceSpec {
                task: Some(TaskSpec {
                    runtime: Some(task_spec::Runtime::Generic(sk::GenericRuntimeSpec {
                        kind: "plugin".into(),
                        payload: Some(prost_types::Any {
                            type_url: "types.docker.com/RuntimePlugin".into(),
                            value: payload,
                        }),
                    })),
                    ..Default::default()
                }),
                mode: Some(service_spec::Mode::ReplicatedJob(sk::ReplicatedJob {
                    max_concurrent: 2,
                    total_completions: 4,
                })),
                ..Default::default()
            }),
            job_status: Some(sk::JobStatus {
                job_iteration: Some(sk::Version { index: 7 }),
                last_execution: at("11:10:02", 0),
            }),
            ..Default::default()
        };
        let v = service(&s, &HIDE);
        assert_json(
            &v["Spec"]["TaskTemplate"]["PluginSpec"],
            &json!({"name": "vieux/sshfs", "remote": "vieux/sshfs:latest", "env": ["PASS=<redacted>"]}),
        );
        assert_eq!(v["Spec"]["TaskTemplate"]["Runtime"], json!("plugin"));
        assert_eq!(v["Spec"]["Mode"], json!({"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 4}}));
        assert_json(&v["JobStatus"], &json!({"JobIteration": {"Index": 7}, "LastExecution": "2026-11-27T11:10:02Z"}));
    }

    #[test]
    fn missing_attachment_network_is_a_go_zero_value() {
        let t = Task { networks: vec![sk::NetworkAttachment::default()], ..Default::default() };
        let v = task(&t, &HIDE);
        assert_json(
            &v["NetworksAttachments"][0]["Network"],
            &json!({
                "ID": "",
                "Version": {},
                "CreatedAt": "0001-01-01T00:00:00Z",
                "UpdatedAt": "0001-01-01T00:00:00Z",
                "Spec": {"Labels": null},
                "DriverState": {}
            }),
        );
        assert_eq!(v["CreatedAt"], json!("1970-01-01T00:00:00Z"));
        assert_eq!(v["Status"]["State"], json!("new"));
    }

    #[test]
    fn cluster_volume() {
        let v = Volume {
            id: "vol1".into(),
            meta: meta(9, at("11:10:02", 5), at("11:10:03", 0)),
            spec: Some(sk::VolumeSpec {
                annotations: ann("data", &[("team", "a")]),
                group: "g".into(),
                driver: Some(Driver { name: "csi-x".into(), ..Default::default() }),
                access_mode: Some(sk::VolumeAccessMode {
                    scope: 1,
                    sharing: 3,
                    access_type: Some(sk::volume_access_mode::AccessType::Mount(Default::default())),
                }),
                capacity_range: Some(sk::CapacityRange { required_bytes: 1, limit_bytes: 2 }),
                ..Default::default()
            }),
            publish_status: vec![sk::VolumePublishStatus { node_id: "n1".into(), state: 1, ..Default::default() }],
            ..Default::default()
        };
        assert_json(
            &volume(&v),
            &json!({
                "ClusterVolume": {
                    "ID": "vol1",
                    "Version": {"Index": 9},
                    "CreatedAt": "2026-11-27T11:10:02.000000005Z",
                    "UpdatedAt": "2026-11-27T11:10:03Z",
                    "Spec": {
                        "Group": "g",
                        "AccessMode": {"Scope": "multi", "Sharing": "all", "MountVolume": {}},
                        "CapacityRange": {"RequiredBytes": 1, "LimitBytes": 2},
                        "Availability": "active"
                    },
                    "PublishStatus": [{"NodeID": "n1", "State": "published"}]
                },
                "CreatedAt": "2026-11-27 11:10:02.000000005 +0000 UTC",
                "Driver": "csi-x",
                "Labels": {"team": "a"},
                "Mountpoint": "",
                "Name": "data",
                "Options": null,
                "Scope": "global"
            }),
        );
    }
}
