//! The keyring of one input: the node certificate's identity, `swarm-node.key` parsed, and the
//! raft DEKs unwrapped (with the unlock key when autolock is on).
//!
//! Invariants: reads only through [`Source`]; a key that cannot be used is a fact in [`KeyInfo`]
//! or a finding, never a panic. The unlock key comes from a file or `SWARMSIFT_UNLOCK_KEY`.

use crate::crypto::Dek;
use crate::crypto::keys::{self, CertInfo, NodeKey, UnlockKey};
use crate::error::{Code, Error, Finding, Result, Severity};
use crate::input::layout::Layout;
use crate::input::source::Source;
use serde::Serialize;
use std::path::Path;

/// What we know about the keys.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyInfo {
    /// Display path of `swarm-node.key`.
    pub key_file: Option<String>,
    /// PEM block type.
    pub block_type: Option<String>,
    /// Whether the private key and DEK headers are encrypted with a KEK (autolock on).
    pub autolock: Option<bool>,
    /// `kek-version` header.
    pub kek_version: Option<u64>,
    /// `raft-dek` present.
    pub has_dek: bool,
    /// `raft-dek-pending` present: a DEK rotation is in progress.
    pub rotation_pending: bool,
    /// `raft-dek-needs-rotation` present.
    pub needs_rotation: bool,
    /// How many DEKs we could use.
    pub deks_usable: usize,
    /// Why DEKs could not be obtained, if so.
    pub problem: Option<String>,
    /// The node certificate.
    pub cert: Option<CertSummary>,
    /// Whether `swarm-node.crt` holds the public key of `swarm-node.key`; `None`: not checked
    /// (an encrypted key without its unlock key, a key that is not P-256, a file missing).
    pub cert_matches_key: Option<bool>,
}

/// The node certificate's identity.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    /// Display path.
    pub file: String,
    /// CN = node ID.
    pub node_id: String,
    /// OU = role.
    pub role: String,
    /// O = cluster ID.
    pub cluster_id: String,
    /// Not before.
    pub not_before: String,
    /// Not after (expiry).
    pub not_after: String,
    /// Whether it is expired now.
    pub expired: bool,
}

/// Read the unlock key from a file path or the `SWARMSIFT_UNLOCK_KEY` environment variable.
pub fn unlock_key_from(file: Option<&Path>) -> Result<Option<UnlockKey>> {
    if let Some(p) = file {
        let text = std::fs::read_to_string(p).map_err(|e| Error::Io { path: p.to_path_buf(), source: e })?;
        return UnlockKey::parse(&text).map(Some).map_err(|e| Error::Key(format!("{}: {e}", p.display())));
    }
    match std::env::var("SWARMSIFT_UNLOCK_KEY") {
        Ok(v) if !v.trim().is_empty() => {
            UnlockKey::parse(&v).map(Some).map_err(|e| Error::Key(format!("SWARMSIFT_UNLOCK_KEY: {e}")))
        }
        _ => Ok(None),
    }
}

fn ts_string(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// Load keys: parse the node key and certificate and unwrap the DEKs.
pub fn load_keys(
    src: &Source,
    lay: &Layout,
    kek: Option<&UnlockKey>,
    findings: &mut Vec<Finding>,
) -> (KeyInfo, Vec<Dek>, Option<NodeKey>) {
    let mut info = KeyInfo::default();
    let mut deks = Vec::new();
    let mut nk = None;
    if let Some(cf) = &lay.cert_file {
        match src.read(cf).map_err(|e| e.to_string()).and_then(|b| keys::parse_node_cert(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                let CertInfo { node_id, role, cluster_id, not_before, not_after, .. } = c;
                let expired = not_after < jiff::Timestamp::now();
                info.cert = Some(CertSummary {
                    file: src.display(cf),
                    node_id,
                    role,
                    cluster_id,
                    not_before: ts_string(not_before),
                    not_after: ts_string(not_after),
                    expired,
                });
            }
            Err(e) => findings.push(
                Finding::new(
                    Code::KeyCertUnreadable,
                    Severity::Warning,
                    format!("node certificate does not parse: {e}"),
                )
                .file(src.display(cf)),
            ),
        }
    }
    let Some(kf) = &lay.key_file else {
        info.problem = Some("no certificates/swarm-node.key: the raft DEK is not available".into());
        return (info, deks, nk);
    };
    info.key_file = Some(src.display(kf));
    let parsed = match src.read(kf) {
        Ok(b) => keys::parse_node_key(&b),
        Err(e) => {
            info.problem = Some(e.to_string());
            return (info, deks, nk);
        }
    };
    match parsed {
        Ok(k) => {
            info.block_type = Some(k.block_type.clone());
            info.autolock = Some(k.encrypted);
            info.kek_version = k.kek_version;
            info.has_dek = k.raft_dek.is_some();
            info.rotation_pending = k.raft_dek_pending.is_some();
            info.needs_rotation = k.needs_rotation;
            match keys::node_key_deks(&k, kek) {
                Ok(d) => deks = d,
                Err(e) => {
                    info.problem = Some(e.to_string());
                }
            }
            if let Some(cf) = lay.cert_file.as_ref().filter(|_| info.cert.is_some()) {
                info.cert_matches_key = src
                    .read(cf)
                    .map_err(|e| e.to_string())
                    .and_then(|b| keys::key_matches_cert(&k, kek, &b).map_err(|e| e.to_string()))
                    .ok()
                    .flatten();
                if info.cert_matches_key == Some(false) {
                    findings.push(
                        Finding::new(
                            Code::KeyCertKeyMismatch,
                            Severity::Error,
                            format!(
                                "{} is not the certificate of {}: its public key is not the private key's (files of two nodes were mixed)",
                                src.display(cf),
                                src.display(kf)
                            ),
                        )
                        .file(src.display(cf)),
                    );
                }
            }
            nk = Some(k);
        }
        Err(e) => {
            info.problem = Some(format!("{}: {e}", src.display(kf)));
            findings.push(
                Finding::new(Code::KeyUnreadable, Severity::Error, format!("swarm-node.key does not parse: {e}"))
                    .file(src.display(kf)),
            );
        }
    }
    info.deks_usable = deks.len();
    (info, deks, nk)
}
