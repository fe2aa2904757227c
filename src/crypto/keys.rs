//! Key handling: the unlock key (KEK), `certificates/swarm-node.key` with its raft DEK
//! headers, and the node certificate `certificates/swarm-node.crt`.
//!
//! * The unlock key is `SWMKEY-1-` + unpadded standard base64 of the raw KEK bytes.
//! * `swarm-node.key` is one PEM block (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, or legacy
//!   `EC PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED` / `DEK-Info`) whose RFC 1421 headers
//!   carry `kek-version`, `raft-dek`, `raft-dek-pending`, `raft-dek-needs-rotation`. Each
//!   `raft-dek*` value is standard base64 of a `MaybeEncryptedRecord` holding the 32-byte
//!   DEK: algorithm `NONE` when autolock is off, encrypted with the KEK when it is on.
//! * With autolock on, the private key itself is encrypted with the raw KEK bytes as the
//!   password (PKCS#8 PBES2, or legacy OpenSSL `EVP_BytesToKey` + AES-CBC).
//!
//! Invariants:
//! * Nothing here panics on untrusted input; sizes come from the input itself, never from
//!   length fields in it. PBKDF2 iteration counts above [`MAX_PBKDF2_ITERATIONS`] are
//!   refused rather than run.
//! * Parsing is tolerant where forensics needs it: a damaged `raft-dek*` value does not fail
//!   [`parse_node_key`]; it is recorded on the [`DekHeader`] and reported by
//!   [`node_key_deks`] as [`KeyError::DamagedHeader`].
//! * The header algorithm decides how a DEK header is read (like a robust reader, unlike
//!   swarmkit, which picks by whether a KEK was supplied): `NONE` headers are read without
//!   a KEK even if one is given.
//! * KEK, DEKs, private-key DER and decrypted key bytes live in [`Zeroizing`] buffers, and no
//!   `Debug` impl here prints them (`raft-dek*` header values are redacted).

use std::fmt;

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use md5::{Digest as _, Md5};
use pkcs8::der::{Decode as _, Tag, Tagged as _};
use pkcs8::pkcs5;
use zeroize::Zeroizing;

use crate::crypto::{self, Algorithm, DecryptError, Dek, DekSource};

/// Prefix of a human-readable unlock key.
pub const UNLOCK_KEY_PREFIX: &str = "SWMKEY-1-";
/// PBKDF2 iteration counts above this are refused (swarmkit writes 2048).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

const HDR_DEK: &str = "raft-dek";
const HDR_DEK_PENDING: &str = "raft-dek-pending";
const HDR_NEEDS_ROTATION: &str = "raft-dek-needs-rotation";
const HDR_KEK_VERSION: &str = "kek-version";

/// Standard base64 alphabet, padding optional (for unlock keys and header values).
const B64_STD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Errors from key, unlock-key and certificate handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The unlock key does not start with `SWMKEY-1-`.
    #[error("unlock key must start with \"SWMKEY-1-\"")]
    UnlockKeyPrefix,
    /// The part after the prefix is not base64.
    #[error("unlock key is not valid base64 after \"SWMKEY-1-\": {0}")]
    UnlockKeyBase64(String),
    /// Nothing after the prefix.
    #[error("unlock key is empty after \"SWMKEY-1-\"")]
    UnlockKeyEmpty,
    /// The file is not PEM (or a block is broken).
    #[error("not a valid PEM file: {0}")]
    Pem(String),
    /// No PEM block at all.
    #[error("no PEM block found")]
    NoPemBlock,
    /// `swarm-node.key` must hold exactly one block.
    #[error("swarm-node.key holds {0} PEM blocks, exactly one was expected")]
    MultiplePemBlocks(usize),
    /// The PEM block is not a private key.
    #[error("PEM block is \"{block_type}\", not a private key")]
    NotAPrivateKey {
        /// The PEM label found.
        block_type: String,
    },
    /// No `raft-dek` header.
    #[error("no raft DEK in swarm-node.key: not a manager, or demoted")]
    NoDek,
    /// Encrypted material, no KEK supplied.
    #[error("autolock is on: give the unlock key with --unlock-key-file or SWARMSIFT_UNLOCK_KEY")]
    Locked,
    /// The KEK does not authenticate the DEK headers.
    #[error("wrong unlock key: it does not authenticate the raft DEK header(s) of swarm-node.key")]
    WrongUnlockKey,
    /// A `raft-dek*` header value is unreadable.
    #[error("damaged {header} header in swarm-node.key: {detail}")]
    DamagedHeader {
        /// `raft-dek` or `raft-dek-pending`.
        header: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The private key structure is unreadable.
    #[error("damaged private key in swarm-node.key: {0}")]
    DamagedPrivateKey(String),
    /// An encryption scheme we do not handle.
    #[error("unsupported private key encryption: {0}")]
    UnsupportedKeyEncryption(String),
    /// No `CERTIFICATE` block.
    #[error("no CERTIFICATE block found")]
    NoCertificate,
    /// The certificate does not parse as X.509.
    #[error("bad certificate: {0}")]
    BadCertificate(String),
}

// ---- Unlock key ---------------------------------------------------------------------------

/// The key-encryption key from the unlock key. `Debug` redacts it.
#[derive(Clone)]
pub struct UnlockKey(Zeroizing<Vec<u8>>);

impl UnlockKey {
    /// Parses `SWMKEY-1-<base64>` (surrounding whitespace ignored; base64 with or without
    /// padding). Like swarmkit, any non-empty length is accepted (normally 32 bytes).
    pub fn parse(s: &str) -> Result<UnlockKey, KeyError> {
        let rest = s.trim().strip_prefix(UNLOCK_KEY_PREFIX).ok_or(KeyError::UnlockKeyPrefix)?;
        if rest.is_empty() {
            return Err(KeyError::UnlockKeyEmpty);
        }
        let bytes = B64_STD_ANY_PAD.decode(rest).map_err(|e| KeyError::UnlockKeyBase64(e.to_string()))?;
        Ok(UnlockKey(Zeroizing::new(bytes)))
    }

    /// Wraps raw KEK bytes (e.g. from `Cluster.unlock_keys` in a snapshot).
    pub fn from_bytes(kek: &[u8]) -> UnlockKey {
        UnlockKey(Zeroizing::new(kek.to_vec()))
    }

    /// The raw KEK bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The human-readable form `SWMKEY-1-…` (as `docker swarm unlock-key` prints it).
    pub fn to_human(&self) -> String {
        format!("{UNLOCK_KEY_PREFIX}{}", STANDARD_NO_PAD.encode(&*self.0))
    }
}

impl fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnlockKey(<redacted {} bytes>)", self.0.len())
    }
}

// ---- swarm-node.key -----------------------------------------------------------------------

/// A `raft-dek` / `raft-dek-pending` header value. `Debug` never shows the key material.
#[derive(Clone)]
pub struct DekHeader {
    /// Algorithm of the wrapping record: `NONE` when autolock is off, `Secretbox` (or
    /// `Fernet` in FIPS mode) when the DEK is encrypted with the KEK. `None` when the value
    /// is not base64 of a `MaybeEncryptedRecord` (see [`DekHeader::damage`]).
    pub algorithm: Option<Algorithm>,
    raw: Zeroizing<Vec<u8>>,
    value_len: usize,
    damage: Option<String>,
}

impl DekHeader {
    fn parse(value: &str) -> DekHeader {
        let value_len = value.len();
        let raw = match B64_STD_ANY_PAD.decode(value) {
            Ok(raw) => Zeroizing::new(raw),
            Err(e) => {
                return DekHeader {
                    algorithm: None,
                    raw: Zeroizing::new(Vec::new()),
                    value_len,
                    damage: Some(format!("value is not base64: {e}")),
                };
            }
        };
        match crypto::record_algorithm(&raw) {
            Ok(alg) => DekHeader { algorithm: Some(alg), raw, value_len, damage: None },
            Err(e) => DekHeader { algorithm: None, raw, value_len, damage: Some(e.to_string()) },
        }
    }

    /// Why the value is unreadable, if it is.
    pub fn damage(&self) -> Option<&str> {
        self.damage.as_deref()
    }

    /// Length of the base64 header text (48 when autolock is off, 104 with secretbox).
    pub fn value_len(&self) -> usize {
        self.value_len
    }

    /// Length of the decoded record bytes.
    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }
}

impl fmt::Debug for DekHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DekHeader")
            .field("algorithm", &self.algorithm)
            .field("value_len", &self.value_len)
            .field("damage", &self.damage)
            .finish_non_exhaustive()
    }
}

/// A parsed `swarm-node.key`. `Debug` redacts `raft-dek*` values and the key DER.
#[derive(Clone)]
pub struct NodeKey {
    /// PEM label: `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY` or `EC PRIVATE KEY`.
    pub block_type: String,
    /// `ENCRYPTED PRIVATE KEY`, or a legacy block with `Proc-Type: 4,ENCRYPTED`.
    pub encrypted: bool,
    /// `kek-version` header; `None` if absent or not a decimal u64 (the raw text stays in
    /// `headers`).
    pub kek_version: Option<u64>,
    /// `raft-dek` header.
    pub raft_dek: Option<DekHeader>,
    /// `raft-dek-pending` header (present during a DEK rotation).
    pub raft_dek_pending: Option<DekHeader>,
    /// `raft-dek-needs-rotation` header present.
    pub needs_rotation: bool,
    /// All PEM headers in file order. Values of `raft-dek*` are key material: show them
    /// through [`NodeKey::redacted_headers`].
    pub headers: Vec<(String, String)>,
    der: Zeroizing<Vec<u8>>,
}

impl NodeKey {
    /// The PEM body (DER; encrypted if `encrypted`).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// `headers` with the values of `raft-dek` and `raft-dek-pending` replaced by
    /// `<redacted, N base64 chars>`.
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                if is_secret_header(k) {
                    (k.clone(), format!("<redacted, {} base64 chars>", v.len()))
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn legacy_encrypted(&self) -> bool {
        self.header("Proc-Type").is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("4,ENCRYPTED"))
    }
}

fn is_secret_header(name: &str) -> bool {
    name == HDR_DEK || name == HDR_DEK_PENDING
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("block_type", &self.block_type)
            .field("encrypted", &self.encrypted)
            .field("kek_version", &self.kek_version)
            .field("raft_dek", &self.raft_dek)
            .field("raft_dek_pending", &self.raft_dek_pending)
            .field("needs_rotation", &self.needs_rotation)
            .field("headers", &self.redacted_headers())
            .field("der", &format_args!("<{} bytes>", self.der.len()))
            .finish()
    }
}

fn single_pem_block(pem_text: &[u8]) -> Result<pem::Pem, KeyError> {
    let mut blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
    match blocks.len() {
        0 => Err(KeyError::NoPemBlock),
        1 => blocks.pop().ok_or(KeyError::NoPemBlock),
        n => Err(KeyError::MultiplePemBlocks(n)),
    }
}

/// Parses `swarm-node.key` (exactly one PEM block, RFC 1421 headers kept). Does not decrypt
/// anything.
pub fn parse_node_key(pem_text: &[u8]) -> Result<NodeKey, KeyError> {
    let block = single_pem_block(pem_text)?;
    let block_type = block.tag().to_string();
    if !block_type.ends_with("PRIVATE KEY") {
        return Err(KeyError::NotAPrivateKey { block_type });
    }
    let headers: Vec<(String, String)> = block.headers().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut key = NodeKey {
        encrypted: false,
        kek_version: None,
        raft_dek: None,
        raft_dek_pending: None,
        needs_rotation: false,
        headers,
        der: Zeroizing::new(block.into_contents()),
        block_type,
    };
    key.encrypted = key.block_type == "ENCRYPTED PRIVATE KEY" || key.legacy_encrypted();
    key.kek_version = key.header(HDR_KEK_VERSION).and_then(|v| v.trim().parse::<u64>().ok());
    key.raft_dek = key.header(HDR_DEK).map(DekHeader::parse);
    key.raft_dek_pending = key.header(HDR_DEK_PENDING).map(DekHeader::parse);
    key.needs_rotation = key.header(HDR_NEEDS_ROTATION).is_some();
    Ok(key)
}

/// Outcome of reading one DEK header with a KEK.
enum HeaderRead {
    Dek(Zeroizing<Vec<u8>>),
    /// Encrypted, and the KEK did not authenticate it.
    NotAuthenticated,
}

fn read_dek_header(header: &'static str, dek: &DekHeader, kek: Option<&UnlockKey>) -> Result<HeaderRead, KeyError> {
    let damaged = |detail: String| KeyError::DamagedHeader { header, detail };
    let Some(alg) = dek.algorithm else {
        return Err(damaged(dek.damage.clone().unwrap_or_else(|| "unreadable".into())));
    };
    match alg {
        Algorithm::None => {
            let data = crypto::plaintext_of_none_record(&dek.raw)
                .map(Zeroizing::new)
                .ok_or_else(|| damaged("not a MaybeEncryptedRecord".into()))?;
            if data.is_empty() {
                return Err(damaged("unencrypted record holds an empty DEK".into()));
            }
            Ok(HeaderRead::Dek(data))
        }
        Algorithm::Unknown(n) => Err(damaged(format!("unknown algorithm {n}"))),
        Algorithm::Secretbox | Algorithm::Fernet => {
            let kek = kek.ok_or(KeyError::Locked)?;
            let keys = [Dek::new(DekSource::Other("unlock key".into()), kek.as_bytes())];
            match crypto::decrypt_record(&dek.raw, &keys) {
                Ok(d) => {
                    let data = Zeroizing::new(d.plaintext);
                    if data.is_empty() {
                        return Err(damaged("decrypted DEK is empty".into()));
                    }
                    Ok(HeaderRead::Dek(data))
                }
                Err(DecryptError::NoKeyFits { .. }) => Ok(HeaderRead::NotAuthenticated),
                Err(e) => Err(damaged(e.to_string())),
            }
        }
    }
}

/// The raft DEKs of a manager, current first, then pending.
///
/// `NONE` headers (autolock off) need no KEK. Encrypted headers need `kek`: without it
/// [`KeyError::Locked`]; if it authenticates neither header [`KeyError::WrongUnlockKey`]; if
/// it authenticates one header but not the other, the other is [`KeyError::DamagedHeader`].
/// A pending header without a current one is returned alone (swarmkit would refuse it).
pub fn node_key_deks(key: &NodeKey, kek: Option<&UnlockKey>) -> Result<Vec<Dek>, KeyError> {
    let present: Vec<(&'static str, DekSource, &DekHeader)> = [
        (HDR_DEK, DekSource::Current, key.raft_dek.as_ref()),
        (HDR_DEK_PENDING, DekSource::Pending, key.raft_dek_pending.as_ref()),
    ]
    .into_iter()
    .filter_map(|(name, src, h)| h.map(|h| (name, src, h)))
    .collect();
    if present.is_empty() {
        return Err(KeyError::NoDek);
    }
    let mut reads = Vec::with_capacity(present.len());
    for (name, src, h) in present {
        reads.push((name, src, read_dek_header(name, h, kek)?));
    }
    let any_authenticated = reads.iter().any(|(_, _, r)| matches!(r, HeaderRead::Dek(_)));
    let mut out = Vec::with_capacity(reads.len());
    for (name, src, r) in reads {
        match r {
            HeaderRead::Dek(bytes) => out.push(Dek::new(src, &bytes)),
            HeaderRead::NotAuthenticated if any_authenticated => {
                return Err(KeyError::DamagedHeader {
                    header: name,
                    detail: "the unlock key opens the other DEK header but not this one".into(),
                });
            }
            HeaderRead::NotAuthenticated => return Err(KeyError::WrongUnlockKey),
        }
    }
    Ok(out)
}

// ---- Private key encryption check ---------------------------------------------------------

/// Result of [`verify_private_key_kek`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// The KEK decrypts the private key to a well-formed key.
    Ok,
    /// The KEK does not decrypt the private key (wrong unlock key, or a damaged key body:
    /// CBC has no MAC, so the two cannot be told apart here).
    WrongKey,
    /// The private key is not encrypted (autolock off); nothing to check.
    NotEncrypted,
}

/// Checks the KEK against the private key's own encryption (independent evidence besides
/// the DEK headers): PKCS#8 PBES2 for `ENCRYPTED PRIVATE KEY`, OpenSSL legacy PEM encryption
/// for `Proc-Type: 4,ENCRYPTED`. Returns [`KeyError::Locked`] for an encrypted key without a
/// KEK.
pub fn verify_private_key_kek(key: &NodeKey, kek: Option<&UnlockKey>) -> Result<KeyCheck, KeyError> {
    if key.block_type == "ENCRYPTED PRIVATE KEY" {
        let kek = kek.ok_or(KeyError::Locked)?;
        check_pkcs8(&key.der, kek.as_bytes())
    } else if key.legacy_encrypted() {
        let kek = kek.ok_or(KeyError::Locked)?;
        let dek_info = key
            .header("DEK-Info")
            .ok_or_else(|| KeyError::DamagedPrivateKey("Proc-Type is ENCRYPTED but DEK-Info is missing".into()))?;
        check_legacy(&key.der, dek_info, kek.as_bytes())
    } else {
        Ok(KeyCheck::NotEncrypted)
    }
}

fn check_pkcs8(der: &[u8], password: &[u8]) -> Result<KeyCheck, KeyError> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der)
        .map_err(|e| KeyError::DamagedPrivateKey(format!("not PKCS#8 EncryptedPrivateKeyInfo: {e}")))?;
    match &info.encryption_algorithm {
        pkcs5::EncryptionScheme::Pbes2(params) => match &params.kdf {
            pkcs5::pbes2::Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => {
                return Err(KeyError::UnsupportedKeyEncryption(format!(
                    "PBKDF2 iteration count {} above the limit {MAX_PBKDF2_ITERATIONS}",
                    p.iteration_count
                )));
            }
            pkcs5::pbes2::Kdf::Pbkdf2(_) => {}
            other => {
                return Err(KeyError::UnsupportedKeyEncryption(format!("PBES2 key derivation {other:?}")));
            }
        },
        other => {
            return Err(KeyError::UnsupportedKeyEncryption(format!("{other:?}")));
        }
    }
    match info.decrypt(password) {
        Ok(doc) => {
            if pkcs8::PrivateKeyInfoRef::from_der(doc.as_bytes()).is_ok() {
                Ok(KeyCheck::Ok)
            } else {
                Ok(KeyCheck::WrongKey)
            }
        }
        // Bad padding, or a decryption that is not valid DER.
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::DecryptFailed)) | Err(pkcs8::Error::Asn1(_)) => {
            Ok(KeyCheck::WrongKey)
        }
        Err(e) => Err(KeyError::UnsupportedKeyEncryption(e.to_string())),
    }
}

/// OpenSSL `EVP_BytesToKey` with MD5, one iteration: D_i = MD5(D_{i-1} ‖ pass ‖ salt).
fn evp_bytes_to_key_md5(password: &[u8], salt: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev: Option<Zeroizing<[u8; 16]>> = None;
    while out.len() < key_len {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(&p[..]);
        }
        h.update(password);
        h.update(salt);
        let d = Zeroizing::new(<[u8; 16]>::from(h.finalize()));
        out.extend_from_slice(&d[..]);
        prev = Some(d);
    }
    out.truncate(key_len);
    out
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|c| {
            let hi = (c.first()?).to_ascii_lowercase();
            let lo = (c.get(1)?).to_ascii_lowercase();
            let v = |b: u8| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            };
            Some(v(hi)? << 4 | v(lo)?)
        })
        .collect()
}

fn check_legacy(der: &[u8], dek_info: &str, password: &[u8]) -> Result<KeyCheck, KeyError> {
    Ok(if open_legacy(der, dek_info, password)?.is_some() { KeyCheck::Ok } else { KeyCheck::WrongKey })
}

/// The plaintext DER of a legacy encrypted PEM key, `None` when `password` does not open it.
fn open_legacy(der: &[u8], dek_info: &str, password: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| KeyError::DamagedPrivateKey(format!("DEK-Info \"{dek_info}\" is not \"CIPHER,IV\"")))?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let key_len = match cipher.as_str() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        _ => {
            return Err(KeyError::UnsupportedKeyEncryption(format!("legacy PEM cipher {cipher}")));
        }
    };
    let iv: [u8; 16] = parse_hex(iv_hex.trim())
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| KeyError::DamagedPrivateKey(format!("DEK-Info IV \"{}\" is not 16 hex bytes", iv_hex.trim())))?;
    if der.is_empty() || !der.len().is_multiple_of(16) {
        return Err(KeyError::DamagedPrivateKey(format!(
            "encrypted key body is {} bytes, not a positive multiple of 16",
            der.len()
        )));
    }
    let salt = iv.get(..8).unwrap_or(&iv);
    let key = evp_bytes_to_key_md5(password, salt, key_len);
    let invalid = |_| KeyError::DamagedPrivateKey("cipher key/IV length".into());
    let plain = match key_len {
        16 => {
            cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv).map_err(invalid)?.decrypt_padded_vec::<Pkcs7>(der)
        }
        24 => {
            cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv).map_err(invalid)?.decrypt_padded_vec::<Pkcs7>(der)
        }
        _ => {
            cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv).map_err(invalid)?.decrypt_padded_vec::<Pkcs7>(der)
        }
    };
    let Ok(plain) = plain.map(Zeroizing::new) else {
        return Ok(None);
    };
    // A right key yields a DER SEQUENCE (SEC1 ECPrivateKey / PKCS#1) spanning all bytes.
    match pkcs8::der::AnyRef::from_der(&plain) {
        Ok(any) if any.tag() == Tag::Sequence => Ok(Some(plain)),
        _ => Ok(None),
    }
}

/// Whether the private key of `swarm-node.key` is the one of the certificate `swarm-node.crt`
/// (Go's `tls.X509KeyPair`, which Docker calls first when it loads the node's TLS identity:
/// `tls: private key does not match public key`). `None`: not checked (an encrypted key
/// without the unlock key, an unlock key that does not open it, or a key that is not P-256).
pub fn key_matches_cert(key: &NodeKey, kek: Option<&UnlockKey>, cert_pem: &[u8]) -> Result<Option<bool>, KeyError> {
    use p256::pkcs8::DecodePrivateKey as _;
    let plain: Zeroizing<Vec<u8>> = if key.block_type == "ENCRYPTED PRIVATE KEY" {
        let Some(kek) = kek else { return Ok(None) };
        if check_pkcs8(&key.der, kek.as_bytes())? != KeyCheck::Ok {
            return Ok(None);
        }
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(&key.der[..])
            .map_err(|e| KeyError::DamagedPrivateKey(format!("not PKCS#8 EncryptedPrivateKeyInfo: {e}")))?;
        match info.decrypt(kek.as_bytes()) {
            Ok(doc) => Zeroizing::new(doc.as_bytes().to_vec()),
            Err(_) => return Ok(None),
        }
    } else if key.legacy_encrypted() {
        let Some(kek) = kek else { return Ok(None) };
        let dek_info = key
            .header("DEK-Info")
            .ok_or_else(|| KeyError::DamagedPrivateKey("Proc-Type is ENCRYPTED but DEK-Info is missing".into()))?;
        match open_legacy(&key.der, dek_info, kek.as_bytes())? {
            Some(p) => p,
            None => return Ok(None),
        }
    } else {
        Zeroizing::new(key.der.to_vec())
    };
    let secret = match p256::SecretKey::from_pkcs8_der(&plain).or_else(|_| p256::SecretKey::from_sec1_der(&plain)) {
        Ok(k) => k,
        Err(_) => return Ok(None),
    };
    let blocks = pem::parse_many(cert_pem).map_err(|e| KeyError::Pem(e.to_string()))?;
    let block = blocks.iter().find(|b| b.tag() == "CERTIFICATE").ok_or(KeyError::NoCertificate)?;
    let cert =
        x509_cert::Certificate::from_der(block.contents()).map_err(|e| KeyError::BadCertificate(e.to_string()))?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let Ok(public) = p256::PublicKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()) else {
        // The certificate's key is not P-256 while the private key is: they cannot match.
        return Ok(Some(false));
    };
    Ok(Some(secret.public_key() == public))
}

// ---- Certificate --------------------------------------------------------------------------

/// Identity facts from `swarm-node.crt` (the first certificate of the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject CN: the node ID (empty if absent).
    pub node_id: String,
    /// Subject OU: the role, `swarm-manager` or `swarm-worker` (empty if absent).
    pub role: String,
    /// Subject O: the cluster ID (empty if absent).
    pub cluster_id: String,
    /// Issuer DN in RFC 4514 form.
    pub issuer: String,
    /// Serial number, lowercase hex without leading zero bytes.
    pub serial_hex: String,
    /// notBefore.
    pub not_before: jiff::Timestamp,
    /// notAfter.
    pub not_after: jiff::Timestamp,
}

fn name_attr(r: pkcs8::der::Result<Option<x509_cert::ext::pkix::name::DirectoryString>>) -> String {
    match r {
        Ok(Some(s)) => s.value().into_owned(),
        _ => String::new(),
    }
}

fn x509_time(t: x509_cert::time::Time, which: &str) -> Result<jiff::Timestamp, KeyError> {
    i64::try_from(t.to_unix_duration().as_secs())
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .ok_or_else(|| KeyError::BadCertificate(format!("{which} out of range")))
}

/// Parses the first `CERTIFICATE` block of `swarm-node.crt`.
pub fn parse_node_cert(pem_text: &[u8]) -> Result<CertInfo, KeyError> {
    let blocks = pem::parse_many(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
    let block = blocks.iter().find(|b| b.tag() == "CERTIFICATE").ok_or(KeyError::NoCertificate)?;
    let cert =
        x509_cert::Certificate::from_der(block.contents()).map_err(|e| KeyError::BadCertificate(e.to_string()))?;
    let tbs = cert.tbs_certificate();
    let subject = tbs.subject();
    let serial = tbs.serial_number().as_bytes();
    let first = serial.iter().position(|&b| b != 0).unwrap_or(serial.len().saturating_sub(1));
    let serial_hex = serial.get(first..).unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect();
    Ok(CertInfo {
        node_id: name_attr(subject.common_name()),
        role: name_attr(subject.organization_unit()),
        cluster_id: name_attr(subject.organization()),
        issuer: tbs.issuer().to_string(),
        serial_hex,
        not_before: x509_time(tbs.validity().not_before, "notBefore")?,
        not_after: x509_time(tbs.validity().not_after, "notAfter")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        parse_hex(s).unwrap()
    }

    // ---- Vectors produced by third-party implementations -------------------------------
    //
    // KEK = first sha256(b"swarmsift test kek %d") with no 0x00/0x0a/0x0d byte (i = 0), so
    // it can be handed to `openssl -passout file:KEK.bin` verbatim (OpenSSL reads one line).
    // UNLOCK_KEY = "SWMKEY-1-" + base64.b64encode(KEK) without "=".
    // DEK / DEK_PENDING as in crypto.rs tests. Header values (Python, PyNaCl 1.6.2,
    // cryptography 50.0.2), record layout per swarmkit api/types.proto:
    //   HDR_NONE         = b64(12 20 DEK)                                  (autolock off)
    //   HDR_KEK          = b64(08 01 12 30 SecretBox(KEK).encrypt(DEK, n).ciphertext 1a 18 n),
    //                      n = sha256(b"hdr nonce")[:24]
    //   HDR_KEK_PENDING  = same for DEK_PENDING, n = sha256(b"hdr nonce p")[:24]
    //   HDR_KEK_FERNET   = b64(08 02 12 8c 01 Fernet(urlsafe_b64(KEK))._encrypt_from_parts(
    //                      DEK, 1700000000, sha256(b"hdr fernet iv")[:16]))
    // OpenSSL 3.0.19:
    //   openssl ecparam -name prime256v1 -genkey -noout -out ec_sec1.pem
    //   openssl pkcs8 -topk8 -nocrypt -in ec_sec1.pem                                -> P8_BODY
    //   openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA1 -iter 2048 \
    //           -in ec_sec1.pem -passout file:KEK.bin                                -> P8_ENC_BODY
    //   openssl ec -in ec_sec1.pem -aes256 -passout file:KEK.bin                     -> LEGACY_*
    //   openssl req -x509 -new -key ec_sec1.pem -days 3650 -set_serial 0x1234abcd \
    //           -subj "/O=clusterid123/OU=swarm-manager/CN=nodeid456"                -> CERT
    // Python cryptography's load_pem_private_key(password=KEK) opens both encrypted keys.
    const KEK: &str = "b461012632146e556138e81ebde82e6641d668e6e76efb622ee9d976c0f421a1";
    const UNLOCK_KEY: &str = "SWMKEY-1-tGEBJjIUblVhOOgeveguZkHWaObnbvtiLunZdsD0IaE";
    const DEK: &str = "2a4c707e27655b7b5a813716c4eeec0b2e2b0885786ae3b0a227f9d075732660";
    const DEK_PENDING: &str = "e48bd9a36c1a021a1e8598d42b5093fc356bd9e0251fe5c193d84e8a5338387f";
    const HDR_NONE: &str = "EiAqTHB+J2Vbe1qBNxbE7uwLLisIhXhq47CiJ/nQdXMmYA==";
    const HDR_NONE_PENDING: &str = "EiDki9mjbBoCGh6FmNQrUJP8NWvZ4CUf5cGT2E6KUzg4fw==";
    const HDR_KEK: &str =
        "CAESMLWEOQfQq2B/FotxGMlj6AIahrKRy9xjqy2akXcT/83HwI3JCH4f5YIvX72vFJBKmBoYXvNy5iTrHT9zFg3G9F9+oQrShJgO5UFx";
    const HDR_KEK_PENDING: &str =
        "CAESMCrO7R6dlRwqP4aZyTWSERWnf3BaS3Y7WZnuqVjR9kDUfXxCW5QyB9eUyQk3C4yIHRoYfjYt7F/z2UWXVU5dNyPgqFDsqEoxEMwa";
    const HDR_KEK_FERNET: &str = "CAISjAFnQUFBQUFCbFVfRUE3VmUwWXA4WlBfWmgwdUNtZ2pfbW5DQUNYY092LXJBREFMWUFNNXZrbzZnLTZlYTA5aHpMSkJ2V2ZCdktYX05vWXUtbEZ1eU5GZ0hpb2w0dEtXbUZSUjFLd0lmN0tnNHMxSy1IRlJ5NHdQcm13a2ZpOXVNbXhVNnQzUUdtb25SZA==";
    // secretbox record under DEK_PENDING (crypto.rs SECRETBOX_RECORD_PENDING, PyNaCl)
    const WAL_RECORD_PENDING: &str = "080112262a4fd0586c3b99d2923aa867996bac64897f33c7c21c2b9b4c4c08741e6fac868618bd76b2b61a18e889d30b85421e8cc830d15f3b5008c1896600e9a9129e09";

    const P8_BODY: &str = "\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5CQnBU0QEN3TYlcD
uNMtjkIykeH4ihhxr/UZn9cNMzChRANCAARDHCkKXV7pSXt53y4FNzh1lNOWwAe4
+PJtOdddzI/tkWSOK9fEADiPCNXFdmFEcGLjmSZ2wq32xYnzbpQGtdCP";
    const P8_ENC_BODY: &str = "\
MIHeMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAj0sGJvlStrhgICCAAw
HQYJYIZIAWUDBAEqBBBLltslfHbNgX3sgWJ+GU2iBIGQLMISqaqJx2H1WQ2Pa4gJ
p0d5oMTJJ50JBv/EHWEyvt83V+XSjdXEif1u9A9c5eJ+US6NRQFqht9f1vBAnHrw
VE64qwTUiy90K+bsvDsgWx2RLNMuRTAA7q4b8EFNigZbG4WOKC16jviFX7V5l1XW
GeY8H5VORjAdnQa/rGwMqyGzwbu5ZY91nOch9xySkioe";
    const LEGACY_DEK_INFO: &str = "AES-256-CBC,C5D3CAAAA04ABF4A112A08C4FB7C728D";
    const LEGACY_BODY: &str = "\
/V4mkJZSEU85a5Mq7DXQT7dm2q8IDRpR2T8o7OQbSIZ557CDDwYx0b77ZYoJcSB1
aspMhpd3U5A2wiaeYqgdbsvlb2qlYn3vBMnbchLdlGCRb2GLB/B/QmoSGpxW2PRB
vg3yufJz02vPdGxqQUVM5AhZDByUPmCi1Gbo/BBZRz0=";
    const CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIByjCCAXGgAwIBAgIEEjSrzTAKBggqhkjOPQQDAjBDMRUwEwYDVQQKDAxjbHVz
dGVyaWQxMjMxFjAUBgNVBAsMDXN3YXJtLW1hbmFnZXIxEjAQBgNVBAMMCW5vZGVp
ZDQ1NjAeFw0yNjExMjcxMTA5NDVaFw0zNjExMjQxMTA5NDVaMEMxFTATBgNVBAoM
DGNsdXN0ZXJpZDEyMzEWMBQGA1UECwwNc3dhcm0tbWFuYWdlcjESMBAGA1UEAwwJ
bm9kZWlkNDU2MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQxwpCl1e6Ul7ed8u
BTc4dZTTlsAHuPjybTnXXcyP7ZFkjivXxAA4jwjVxXZhRHBi45kmdsKt9sWJ826U
BrXQj6NTMFEwHQYDVR0OBBYEFM64qbGgbgdTnsJhFpfEBtv5A+0qMB8GA1UdIwQY
MBaAFM64qbGgbgdTnsJhFpfEBtv5A+0qMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDRwAwRAIgKdyVn6qTBkeq5iJN3pazrCTz3fv0mX1d5dXv1HHlSPUCIAee
lMGoKIEnZEzUigKKMaWEiFp18ob6G497Fa2sr/1i
-----END CERTIFICATE-----
";

    /// Assembles a PEM block the way Go's `pem.Encode` writes one with headers.
    fn pem_block(tag: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut s = format!("-----BEGIN {tag}-----\n");
        for (k, v) in headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        if !headers.is_empty() {
            s.push('\n');
        }
        s.push_str(body);
        s.push_str(&format!("\n-----END {tag}-----\n"));
        s
    }

    fn kek() -> UnlockKey {
        UnlockKey::parse(UNLOCK_KEY).unwrap()
    }

    fn wrong_kek() -> UnlockKey {
        UnlockKey::from_bytes(&[0x42; 32])
    }

    #[test]
    fn unlock_key_parse_and_format() {
        let k = kek();
        assert_eq!(k.as_bytes(), hex(KEK));
        assert_eq!(k.to_human(), UNLOCK_KEY);
        // whitespace and padded base64 are accepted
        let padded = format!("  {UNLOCK_KEY}=\n");
        assert_eq!(UnlockKey::parse(&padded).unwrap().as_bytes(), hex(KEK));
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "UnlockKey(<redacted 32 bytes>)");
    }

    #[test]
    fn unlock_key_errors() {
        assert_eq!(UnlockKey::parse("").unwrap_err(), KeyError::UnlockKeyPrefix);
        assert_eq!(UnlockKey::parse("SWMKEY-2-tGEBJjIU").unwrap_err(), KeyError::UnlockKeyPrefix);
        assert_eq!(UnlockKey::parse("swmkey-1-tGEBJjIU").unwrap_err(), KeyError::UnlockKeyPrefix);
        assert_eq!(UnlockKey::parse("SWMKEY-1-").unwrap_err(), KeyError::UnlockKeyEmpty);
        assert_eq!(UnlockKey::parse(" SWMKEY-1- ").unwrap_err(), KeyError::UnlockKeyEmpty);
        for bad in ["SWMKEY-1-***", "SWMKEY-1-tGEB JjIU", "SWMKEY-1-tGEBJjIU_-", "SWMKEY-1-t"] {
            assert!(matches!(UnlockKey::parse(bad), Err(KeyError::UnlockKeyBase64(_))), "{bad}");
        }
    }

    #[test]
    fn autolock_off_node_key() {
        let text = pem_block("PRIVATE KEY", &[("kek-version", "0"), ("raft-dek", HDR_NONE)], P8_BODY);
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert_eq!(key.block_type, "PRIVATE KEY");
        assert!(!key.encrypted);
        assert_eq!(key.kek_version, Some(0));
        assert!(!key.needs_rotation);
        let dh = key.raft_dek.as_ref().unwrap();
        assert_eq!(dh.algorithm, Some(Algorithm::None));
        assert_eq!((dh.value_len(), dh.raw_len()), (48, 34));
        assert!(key.raft_dek_pending.is_none());
        // no KEK needed, and a supplied KEK does not hurt
        for k in [None, Some(&kek())] {
            let deks = node_key_deks(&key, k).unwrap();
            assert_eq!(deks.len(), 1);
            assert_eq!(deks[0].key(), hex(DEK));
            assert_eq!(deks[0].source, DekSource::Current);
        }
        assert_eq!(verify_private_key_kek(&key, None), Ok(KeyCheck::NotEncrypted));
        assert_eq!(verify_private_key_kek(&key, Some(&kek())), Ok(KeyCheck::NotEncrypted));
        assert!(pkcs8::PrivateKeyInfoRef::from_der(key.der()).is_ok());
        // secrets never appear in Debug
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(HDR_NONE) && dbg.contains("redacted, 48 base64 chars"), "{dbg}");
    }

    #[test]
    fn autolock_on_node_key_with_rotation() {
        let text = pem_block(
            "ENCRYPTED PRIVATE KEY",
            &[
                ("kek-version", "7"),
                ("raft-dek", HDR_KEK),
                ("raft-dek-pending", HDR_KEK_PENDING),
                ("raft-dek-needs-rotation", "true"),
            ],
            P8_ENC_BODY,
        );
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert!(key.encrypted);
        assert_eq!(key.kek_version, Some(7));
        assert!(key.needs_rotation);
        assert_eq!(key.raft_dek.as_ref().unwrap().algorithm, Some(Algorithm::Secretbox));
        assert_eq!(key.raft_dek.as_ref().unwrap().value_len(), 104);
        assert_eq!(key.headers.len(), 4);
        assert_eq!(key.headers[0], ("kek-version".to_string(), "7".to_string()));
        let red = key.redacted_headers();
        assert!(red.iter().all(|(_, v)| v != HDR_KEK && v != HDR_KEK_PENDING));

        assert_eq!(node_key_deks(&key, None).unwrap_err(), KeyError::Locked);
        assert_eq!(node_key_deks(&key, Some(&wrong_kek())).unwrap_err(), KeyError::WrongUnlockKey);
        let deks = node_key_deks(&key, Some(&kek())).unwrap();
        assert_eq!(deks.len(), 2);
        assert_eq!((deks[0].key(), &deks[0].source), (&hex(DEK)[..], &DekSource::Current));
        assert_eq!((deks[1].key(), &deks[1].source), (&hex(DEK_PENDING)[..], &DekSource::Pending));
        // end to end: a WAL record written with the pending DEK
        let d = crypto::decrypt_record(&hex(WAL_RECORD_PENDING), &deks).unwrap();
        assert_eq!((d.plaintext.as_slice(), d.dek), (&b"written after rotation"[..], 1));

        // PKCS#8 PBES2 (PBKDF2-HMAC-SHA1, 2048, AES-256-CBC) made by OpenSSL
        assert_eq!(verify_private_key_kek(&key, Some(&kek())), Ok(KeyCheck::Ok));
        assert_eq!(verify_private_key_kek(&key, Some(&wrong_kek())), Ok(KeyCheck::WrongKey));
        assert_eq!(verify_private_key_kek(&key, None), Err(KeyError::Locked));
        // a KEK one byte short is wrong for the PEM key (password = raw bytes, no padding)
        let short = UnlockKey::from_bytes(&hex(KEK)[..31]);
        assert_eq!(verify_private_key_kek(&key, Some(&short)), Ok(KeyCheck::WrongKey));
    }

    #[test]
    fn legacy_encrypted_ec_key_and_fernet_header() {
        let text = pem_block(
            "EC PRIVATE KEY",
            &[
                ("Proc-Type", "4,ENCRYPTED"),
                ("DEK-Info", LEGACY_DEK_INFO),
                ("kek-version", "12"),
                ("raft-dek", HDR_KEK_FERNET),
            ],
            LEGACY_BODY,
        );
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert_eq!(key.block_type, "EC PRIVATE KEY");
        assert!(key.encrypted);
        assert_eq!(key.kek_version, Some(12));
        assert_eq!(key.raft_dek.as_ref().unwrap().algorithm, Some(Algorithm::Fernet));
        let deks = node_key_deks(&key, Some(&kek())).unwrap();
        assert_eq!(deks.len(), 1);
        assert_eq!(deks[0].key(), hex(DEK));
        assert_eq!(node_key_deks(&key, Some(&wrong_kek())).unwrap_err(), KeyError::WrongUnlockKey);

        // OpenSSL EVP_BytesToKey(MD5) + AES-256-CBC, traditional PEM
        assert_eq!(verify_private_key_kek(&key, Some(&kek())), Ok(KeyCheck::Ok));
        assert_eq!(verify_private_key_kek(&key, Some(&wrong_kek())), Ok(KeyCheck::WrongKey));
        for i in 0..40u8 {
            let k = UnlockKey::from_bytes(&[i; 32]);
            assert_eq!(verify_private_key_kek(&key, Some(&k)), Ok(KeyCheck::WrongKey));
        }
        assert_eq!(verify_private_key_kek(&key, None), Err(KeyError::Locked));

        // DEK-Info problems
        for (info, unsupported) in [
            ("DES-EDE3-CBC,C5D3CAAAA04ABF4A", true),
            ("AES-256-CBC,C5D3", false),
            ("AES-256-CBC,ZZD3CAAAA04ABF4A112A08C4FB7C728D", false),
            ("AES-256-CBC", false),
        ] {
            let t = pem_block("EC PRIVATE KEY", &[("Proc-Type", "4,ENCRYPTED"), ("DEK-Info", info)], LEGACY_BODY);
            let k = parse_node_key(t.as_bytes()).unwrap();
            let e = verify_private_key_kek(&k, Some(&kek())).unwrap_err();
            if unsupported {
                assert!(matches!(e, KeyError::UnsupportedKeyEncryption(_)), "{info}: {e}");
            } else {
                assert!(matches!(e, KeyError::DamagedPrivateKey(_)), "{info}: {e}");
            }
        }
        let t = pem_block("EC PRIVATE KEY", &[("Proc-Type", "4,ENCRYPTED")], LEGACY_BODY);
        let k = parse_node_key(t.as_bytes()).unwrap();
        assert!(matches!(verify_private_key_kek(&k, Some(&kek())), Err(KeyError::DamagedPrivateKey(_))));
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // openssl enc -aes-256-cbc -pass pass:password -S 0102030405060708 -md md5 -P
        //   key=E7B0971E52CA5CC8D0539FB3412F6316F7BA2E6EE293D9F3457B99436B51CE02
        //   iv =8D450E2ED75A84A923D4EAC9FE49226B   (key || iv = 48 derived bytes)
        let k = evp_bytes_to_key_md5(b"password", &[1, 2, 3, 4, 5, 6, 7, 8], 48);
        assert_eq!(
            &k[..],
            hex("E7B0971E52CA5CC8D0539FB3412F6316F7BA2E6EE293D9F3457B99436B51CE02\
                 8D450E2ED75A84A923D4EAC9FE49226B")
        );
        let k16 = evp_bytes_to_key_md5(b"password", &[1, 2, 3, 4, 5, 6, 7, 8], 16);
        assert_eq!(&k16[..], &k[..16]);
    }

    #[test]
    fn pending_only_and_no_dek() {
        let text = pem_block("PRIVATE KEY", &[("raft-dek-pending", HDR_NONE_PENDING)], P8_BODY);
        let key = parse_node_key(text.as_bytes()).unwrap();
        let deks = node_key_deks(&key, None).unwrap();
        assert_eq!(deks.len(), 1);
        assert_eq!(deks[0].source, DekSource::Pending);
        assert_eq!(deks[0].key(), hex(DEK_PENDING));

        let text = pem_block("PRIVATE KEY", &[("kek-version", "3")], P8_BODY);
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert_eq!(node_key_deks(&key, None).unwrap_err(), KeyError::NoDek);
        assert!(KeyError::NoDek.to_string().contains("not a manager, or demoted"));
        let text = pem_block("PRIVATE KEY", &[], P8_BODY);
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert!(key.headers.is_empty() && key.kek_version.is_none());
        assert_eq!(node_key_deks(&key, Some(&kek())).unwrap_err(), KeyError::NoDek);
    }

    #[test]
    fn damaged_headers() {
        let cases = [
            ("not*base64", "raft-dek"),
            ("/////w==", "raft-dek"), // base64 fine, not a record
            ("CAc=", "raft-dek"),     // algorithm 7
            ("", "raft-dek"),         // empty record = NONE with no DEK
        ];
        for (value, header) in cases {
            let text = pem_block("PRIVATE KEY", &[("raft-dek", value)], P8_BODY);
            let key = parse_node_key(text.as_bytes()).unwrap();
            let e = node_key_deks(&key, Some(&kek())).unwrap_err();
            assert!(matches!(&e, KeyError::DamagedHeader { header: h, .. } if *h == header), "{value}: {e}");
        }
        // truncated encrypted header: every prefix of the record is damaged, locked or
        // wrong-key, never a panic and never a DEK
        let raw = B64_STD_ANY_PAD.decode(HDR_KEK).unwrap();
        for n in 0..raw.len() {
            let v = B64_STD_ANY_PAD.encode(&raw[..n]);
            let text = pem_block("PRIVATE KEY", &[("raft-dek", &v)], P8_BODY);
            let key = parse_node_key(text.as_bytes()).unwrap();
            assert!(node_key_deks(&key, Some(&kek())).is_err(), "prefix {n}");
            let _ = node_key_deks(&key, None);
        }
        // KEK opens the current header but not the pending one (flipped byte)
        let mut p = B64_STD_ANY_PAD.decode(HDR_KEK_PENDING).unwrap();
        p[10] ^= 1;
        let p = B64_STD_ANY_PAD.encode(&p);
        let text = pem_block("ENCRYPTED PRIVATE KEY", &[("raft-dek", HDR_KEK), ("raft-dek-pending", &p)], P8_ENC_BODY);
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert!(matches!(
            node_key_deks(&key, Some(&kek())),
            Err(KeyError::DamagedHeader { header: "raft-dek-pending", .. })
        ));
        assert_eq!(node_key_deks(&key, None).unwrap_err(), KeyError::Locked);
    }

    #[test]
    fn pem_level_errors() {
        assert_eq!(parse_node_key(b"").unwrap_err(), KeyError::NoPemBlock);
        assert_eq!(parse_node_key(b"hello").unwrap_err(), KeyError::NoPemBlock);
        let two = format!("{}{}", pem_block("PRIVATE KEY", &[], P8_BODY), pem_block("PRIVATE KEY", &[], P8_BODY));
        assert_eq!(parse_node_key(two.as_bytes()).unwrap_err(), KeyError::MultiplePemBlocks(2));
        assert_eq!(
            parse_node_key(CERT.as_bytes()).unwrap_err(),
            KeyError::NotAPrivateKey { block_type: "CERTIFICATE".into() }
        );
        let bad = pem_block("PRIVATE KEY", &[], "!!!!");
        assert!(matches!(parse_node_key(bad.as_bytes()), Err(KeyError::Pem(_))));
        // damaged PKCS#8 envelope
        let text = pem_block("ENCRYPTED PRIVATE KEY", &[], "MAA=");
        let key = parse_node_key(text.as_bytes()).unwrap();
        assert!(matches!(verify_private_key_kek(&key, Some(&kek())), Err(KeyError::DamagedPrivateKey(_))));
    }

    #[test]
    fn node_key_garbage_never_panics() {
        let full = pem_block(
            "ENCRYPTED PRIVATE KEY",
            &[("kek-version", "7"), ("raft-dek", HDR_KEK), ("raft-dek-pending", HDR_KEK_PENDING)],
            P8_ENC_BODY,
        );
        let legacy = pem_block(
            "EC PRIVATE KEY",
            &[("Proc-Type", "4,ENCRYPTED"), ("DEK-Info", LEGACY_DEK_INFO), ("raft-dek", HDR_KEK)],
            LEGACY_BODY,
        );
        let k = kek();
        for text in [full.as_bytes(), legacy.as_bytes(), CERT.as_bytes()] {
            for n in 0..text.len() {
                if let Ok(key) = parse_node_key(&text[..n]) {
                    let _ = node_key_deks(&key, Some(&k));
                    let _ = verify_private_key_kek(&key, Some(&k));
                }
                let _ = parse_node_cert(&text[..n]);
            }
        }
        // flip bytes in the base64 bodies (every 7th position to keep it quick)
        let mut s: u32 = 12345;
        for text in [full.as_bytes(), legacy.as_bytes(), CERT.as_bytes()] {
            for i in (0..text.len()).step_by(7) {
                let mut t = text.to_vec();
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                t[i] = b"AZaz09+/="[(s >> 16) as usize % 9];
                if let Ok(key) = parse_node_key(&t) {
                    let _ = node_key_deks(&key, Some(&k));
                    let _ = verify_private_key_kek(&key, Some(&k));
                }
                let _ = parse_node_cert(&t);
            }
        }
    }

    #[test]
    fn certificate_fields() {
        let c = parse_node_cert(CERT.as_bytes()).unwrap();
        assert_eq!(c.node_id, "nodeid456");
        assert_eq!(c.role, "swarm-manager");
        assert_eq!(c.cluster_id, "clusterid123");
        assert_eq!(c.issuer, "CN=nodeid456,OU=swarm-manager,O=clusterid123");
        assert_eq!(c.serial_hex, "1234abcd");
        // openssl x509 -dates: Nov 27 11:09:45 2026 GMT / Nov 24 11:09:45 2036 GMT
        assert_eq!(c.not_before.as_second(), 1_795_777_785);
        assert_eq!(c.not_after.as_second(), 2_111_137_785);
        assert_eq!(c.not_before.to_string(), "2026-11-27T11:09:45Z");
        // the node cert is the first CERTIFICATE of a chain, after any other blocks
        let chain = format!("{}{CERT}", pem_block("PRIVATE KEY", &[], P8_BODY));
        assert_eq!(parse_node_cert(chain.as_bytes()).unwrap(), c);
        assert_eq!(
            parse_node_cert(pem_block("PRIVATE KEY", &[], P8_BODY).as_bytes()).unwrap_err(),
            KeyError::NoCertificate
        );
        let bad = pem_block("CERTIFICATE", &[], P8_BODY);
        assert!(matches!(parse_node_cert(bad.as_bytes()), Err(KeyError::BadCertificate(_))));
    }

    #[test]
    fn error_messages() {
        assert!(KeyError::Locked.to_string().contains("--unlock-key-file or SWARMSIFT_UNLOCK_KEY"));
        assert!(KeyError::WrongUnlockKey.to_string().contains("wrong unlock key"));
        assert_eq!(
            KeyError::DamagedHeader { header: "raft-dek", detail: "x".into() }.to_string(),
            "damaged raft-dek header in swarm-node.key: x"
        );
    }
}
