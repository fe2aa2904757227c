//! Decryption of swarmkit `MaybeEncryptedRecord`s (raft entry data and snapshot data).
//!
//! swarmkit replaces the `Data` of every raft entry in `wal-v3-encrypted/` and of every
//! snapshot in `snap-v3-encrypted/` with a marshaled `MaybeEncryptedRecord
//! {algorithm = 1, data = 2, nonce = 3}`. Two algorithms exist:
//!
//! * **secretbox** (algorithm 1, the default): NaCl XSalsa20-Poly1305 with a 32-byte key and
//!   the 24-byte nonce in field 3; `data` = 16-byte Poly1305 tag ‖ ciphertext.
//! * **Fernet** (algorithm 2, FIPS mode): `data` is the base64url token text
//!   `0x80 ‖ u64 BE timestamp ‖ 16-byte IV ‖ AES-128-CBC/PKCS#7 ciphertext ‖ HMAC-SHA256`;
//!   key bytes 0..16 sign, 16..32 encrypt. The timestamp is never checked (swarmkit
//!   passes TTL −1), but it is reported because it records when the entry was encrypted.
//!
//! Invariants:
//! * Nothing here panics on untrusted input, and no allocation is sized by a length field
//!   read from the input (prost checks lengths against the buffer; everything else is
//!   bounded by the input length).
//! * Key-independent problems (not a record, `NONE`, unknown algorithm, wrong nonce size,
//!   malformed token) are reported before any key is tried; a record is only called
//!   [`DecryptError::NoKeyFits`] when every DEK failed *authentication*.
//! * Keys are used like swarmkit does: copied into a 32-byte array (zero-padded or
//!   truncated), so a DEK of unusual length behaves as it would in swarmkit.
//! * Key material lives in [`Zeroizing`] buffers and is never printed by `Debug`.
//!
//! Implementations, chosen by `benches/cipher.rs` (criterion, one thread; both runs in
//! `benches/results/cipher-20261201T232604Z.txt`, summary in docs/performance.md):
//! * secretbox: libsodium (`libsodium-sys-stable`, which builds the libsodium source it ships
//!   with the machine's C compiler, no network). `sodium_init` picks its SIMD Salsa20 and
//!   Poly1305 code for the CPU; RustCrypto's `crypto_secretbox` runs Salsa20 in portable Rust.
//!   Opening 64 KiB boxes: libsodium 1.74 GiB/s, RustCrypto 332 MiB/s (5.2x); 300-byte boxes:
//!   328 vs 101 MiB/s (3.2x).
//! * Fernet: RustCrypto (`hmac`+`sha2`, `aes`+`cbc`). HMAC-SHA256 is most of the cost, and
//!   `sha2` already runs on the SHA extensions and `aes` on VAES/AES-NI, picked at run time.
//!   64 KiB tokens: RustCrypto 1.18 GiB/s, AWS-LC 1.29, OpenSSL 1.14, libsodium's HMAC
//!   (portable C SHA-256) + RustCrypto AES 0.26; 300-byte tokens: RustCrypto 437 MiB/s, AWS-LC
//!   306, OpenSSL 27. No candidate wins at both sizes, so none is worth another C library.

use std::fmt;
use std::sync::OnceLock;

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit as _, Mac as _};
use libsodium_sys::{crypto_secretbox_easy, crypto_secretbox_open_easy, sodium_init};
use prost::Message as _;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::pb::docker::swarmkit::v1::MaybeEncryptedRecord;

/// Size of a swarmkit DEK/KEK (`naclSecretboxKeySize`).
pub const KEY_LEN: usize = 32;
/// Size of the secretbox nonce stored in field 3 of the record.
pub const SECRETBOX_NONCE_LEN: usize = 24;
/// Size of the Poly1305 tag that prefixes secretbox data.
pub const SECRETBOX_TAG_LEN: usize = 16;

const FERNET_VERSION: u8 = 0x80;
const FERNET_HEADER_LEN: usize = 1 + 8 + 16;
const FERNET_HMAC_LEN: usize = 32;
const AES_BLOCK: usize = 16;

/// base64url that accepts tokens with or without `=` padding (fernet-go writes padding).
const B64_URL_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(true).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Where a DEK came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DekSource {
    /// The `raft-dek` PEM header.
    Current,
    /// The `raft-dek-pending` PEM header (mid-rotation).
    Pending,
    /// Any other origin (e.g. a key given on the command line); the string is shown as is.
    Other(String),
}

impl fmt::Display for DekSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DekSource::Current => f.write_str("raft-dek"),
            DekSource::Pending => f.write_str("raft-dek-pending"),
            DekSource::Other(s) => f.write_str(s),
        }
    }
}

/// A raft data-encryption key. `Debug` shows the source and length only, never the key.
#[derive(Clone)]
pub struct Dek {
    /// Where the key came from.
    pub source: DekSource,
    key: Zeroizing<Vec<u8>>,
}

impl Dek {
    /// Wraps key bytes (normally 32) taken from `source`. The bytes are copied into a
    /// zeroizing buffer.
    pub fn new(source: DekSource, key: &[u8]) -> Dek {
        Dek { source, key: Zeroizing::new(key.to_vec()) }
    }

    /// The raw key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dek")
            .field("source", &self.source)
            .field("key", &format_args!("<redacted {} bytes>", self.key.len()))
            .finish()
    }
}

/// `MaybeEncryptedRecord.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 0 = `NONE`: `data` is the plaintext.
    None,
    /// 1 = `SECRETBOX_SALSA20_POLY1305`.
    Secretbox,
    /// 2 = `FERNET_AES_128_CBC`.
    Fernet,
    /// Any other wire value.
    Unknown(i32),
}

impl Algorithm {
    /// Maps the protobuf enum value.
    pub fn from_wire(value: i32) -> Algorithm {
        match value {
            0 => Algorithm::None,
            1 => Algorithm::Secretbox,
            2 => Algorithm::Fernet,
            n => Algorithm::Unknown(n),
        }
    }

    /// The protobuf enum value.
    pub fn to_wire(self) -> i32 {
        match self {
            Algorithm::None => 0,
            Algorithm::Secretbox => 1,
            Algorithm::Fernet => 2,
            Algorithm::Unknown(n) => n,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::None => f.write_str("none"),
            Algorithm::Secretbox => f.write_str("secretbox"),
            Algorithm::Fernet => f.write_str("fernet"),
            Algorithm::Unknown(n) => write!(f, "unknown({n})"),
        }
    }
}

/// A successfully decrypted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext (empty for leader no-op entries).
    pub plaintext: Vec<u8>,
    /// The record's algorithm (`Secretbox` or `Fernet`).
    pub algorithm: Algorithm,
    /// Index into the `deks` slice of the key that authenticated the record.
    pub dek: usize,
    /// Fernet only: the Unix timestamp in the token (when it was encrypted; unverified).
    pub fernet_timestamp: Option<u64>,
}

/// Why a record could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The bytes do not parse as a `MaybeEncryptedRecord`.
    #[error("not an encrypted record: bytes do not parse as MaybeEncryptedRecord")]
    NotARecord,
    /// Algorithm `NONE`: swarmkit refuses these in the encrypted directories.
    #[error("record is not encrypted (algorithm NONE), which swarmkit refuses in encrypted raft data")]
    Plaintext,
    /// An algorithm value swarmkit does not know.
    #[error("unknown encryption algorithm {0} in record")]
    UnknownAlgorithm(i32),
    /// A secretbox record whose nonce is not 24 bytes.
    #[error("secretbox record has a {len}-byte nonce, 24 bytes are required")]
    BadNonce {
        /// Actual nonce length.
        len: usize,
    },
    /// No DEK was supplied.
    #[error("missing key: no raft DEK available to decrypt the record")]
    NoKeys,
    /// Authentication failed with every DEK.
    #[error("no key fits: authentication failed with all {tried} DEK(s) (wrong key, or the record is damaged)")]
    NoKeyFits {
        /// How many DEKs were tried.
        tried: usize,
    },
    /// Structurally broken record (too short, bad base64, bad padding after a valid MAC, …).
    #[error("malformed encrypted record: {0}")]
    Malformed(String),
}

/// A `MaybeEncryptedRecord` read in place: its `data` and `nonce` borrow the marshaled bytes, so
/// an 88 MB snapshot's ciphertext is not copied before it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordRef<'a> {
    algorithm: i32,
    data: &'a [u8],
    nonce: &'a [u8],
}

/// Reads a marshaled `MaybeEncryptedRecord` without copying it. Accepts and rejects what prost's
/// `MaybeEncryptedRecord::decode` does: fields 1 (varint, truncated to `int32`), 2 and 3
/// (length-delimited; the last occurrence wins), unknown fields skipped, a wrong wire type on
/// a known field rejected.
fn decode_record(record: &[u8]) -> Result<RecordRef<'_>, DecryptError> {
    use crate::format::cursor::Cursor;
    use prost::encoding::WireType;
    let mut c = Cursor::new(record, 0);
    let mut r = RecordRef { algorithm: 0, data: &[], nonce: &[] };
    let bad = |_| DecryptError::NotARecord;
    while !c.is_empty() {
        let (tag, wt) = c.key().map_err(bad)?;
        match (tag, wt) {
            (1, WireType::Varint) => r.algorithm = c.varint().map_err(bad)? as i32,
            (2, WireType::LengthDelimited) => r.data = c.delimited().map_err(bad)?,
            (3, WireType::LengthDelimited) => r.nonce = c.delimited().map_err(bad)?,
            (1..=3, _) => return Err(DecryptError::NotARecord),
            _ => c.skip(tag, wt).map_err(bad)?,
        }
    }
    Ok(r)
}

/// The algorithm of a marshaled record, without decrypting it.
pub fn record_algorithm(record: &[u8]) -> Result<Algorithm, DecryptError> {
    decode_record(record).map(|r| Algorithm::from_wire(r.algorithm))
}

/// The `data` of a record with algorithm `NONE`; `None` if the bytes are not a record or
/// the record is encrypted. Lets callers decide whether to accept unencrypted records.
pub fn plaintext_of_none_record(record: &[u8]) -> Option<Vec<u8>> {
    let r = decode_record(record).ok()?;
    (Algorithm::from_wire(r.algorithm) == Algorithm::None).then(|| r.data.to_vec())
}

/// Copies a key into a fixed 32-byte array like swarmkit's `copy(key[:], k)`.
fn key32(key: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let n = key.len().min(KEY_LEN);
    if let (Some(dst), Some(src)) = (out.get_mut(..n), key.get(..n)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Splits a normalized 32-byte key into the Fernet (signing, encryption) halves.
fn fernet_halves(key: &[u8; KEY_LEN]) -> (Zeroizing<[u8; 16]>, Zeroizing<[u8; 16]>) {
    let mut sign = Zeroizing::new([0u8; 16]);
    let mut enc = Zeroizing::new([0u8; 16]);
    let (a, b) = key.split_at(16);
    sign.copy_from_slice(a);
    enc.copy_from_slice(b);
    (sign, enc)
}

/// HMAC-SHA256 keyed with a 16-byte key. HMAC zero-pads keys shorter than the 64-byte
/// block, so keying with the padded block is the same function and cannot fail.
fn fernet_mac(sign_key: &[u8; 16]) -> Hmac<Sha256> {
    let mut block = Zeroizing::new([0u8; 64]);
    if let Some(dst) = block.get_mut(..16) {
        dst.copy_from_slice(sign_key);
    }
    Hmac::<Sha256>::new(&(*block).into())
}

/// Decrypts a marshaled `MaybeEncryptedRecord`, trying every DEK in order (pass current
/// and pending). Returns the plaintext and the index of the key that worked.
pub fn decrypt_record(record: &[u8], deks: &[Dek]) -> Result<Decrypted, DecryptError> {
    let r = decode_record(record)?;
    match Algorithm::from_wire(r.algorithm) {
        Algorithm::None => Err(DecryptError::Plaintext),
        Algorithm::Unknown(n) => Err(DecryptError::UnknownAlgorithm(n)),
        Algorithm::Secretbox => open_secretbox(r.data, r.nonce, deks),
        Algorithm::Fernet => open_fernet(r.data, deks),
    }
}

/// [`decrypt_record`] for a record too big to hold twice (a snapshot's payload): the ciphertext
/// is copied in 1 MiB chunks into the buffer that becomes the plaintext, `release` is told of
/// each chunk of `record` once it is copied (so mapped pages can be dropped as the copy goes),
/// and the box is opened in place. Same results, byte for byte, as [`decrypt_record`].
pub fn decrypt_record_releasing(
    record: &[u8],
    deks: &[Dek],
    release: &dyn Fn(&[u8]),
) -> Result<Decrypted, DecryptError> {
    let r = decode_record(record)?;
    if Algorithm::from_wire(r.algorithm) != Algorithm::Secretbox {
        let d = decrypt_record(record, deks);
        release(record);
        return d;
    }
    let nonce: &[u8; SECRETBOX_NONCE_LEN] =
        r.nonce.try_into().map_err(|_| DecryptError::BadNonce { len: r.nonce.len() })?;
    let Some(plain_len) = r.data.len().checked_sub(SECRETBOX_TAG_LEN) else {
        return open_secretbox(r.data, r.nonce, deks);
    };
    if deks.is_empty() {
        return Err(DecryptError::NoKeys);
    }
    sodium();
    let mut buf: Vec<u8> = Vec::with_capacity(r.data.len());
    for chunk in r.data.chunks(1 << 20) {
        buf.extend_from_slice(chunk);
        release(chunk);
    }
    for (i, dek) in deks.iter().enumerate() {
        let key = key32(dek.key());
        let p = buf.as_mut_ptr();
        // SAFETY: `p` points at `buf.len()` initialised bytes (tag ‖ ciphertext); libsodium's
        // "easy" open allows the output to be the input (it moves the ciphertext when they
        // overlap) and writes `len - 16` bytes there. A failed open (tag mismatch) returns -1
        // before it writes anything, so the next key sees the same ciphertext.
        let rc = unsafe { crypto_secretbox_open_easy(p, p, buf.len() as u64, nonce.as_ptr(), key.as_ptr()) };
        if rc == 0 {
            buf.truncate(plain_len);
            return Ok(Decrypted { plaintext: buf, algorithm: Algorithm::Secretbox, dek: i, fernet_timestamp: None });
        }
    }
    Err(DecryptError::NoKeyFits { tried: deks.len() })
}

/// Makes sure libsodium is initialised, once per process. `sodium_init` selects the SIMD
/// implementations of Salsa20 and Poly1305 for this CPU (without it libsodium still works,
/// on its portable code) and is itself thread-safe; the `OnceLock` only saves the repeat
/// calls. It returns 0 when it initialised the library, 1 when that was already done (by
/// another user of libsodium in the process), and -1 only when its internal mutex fails, after
/// which libsodium must not be used: that is a broken process, not bad input, so it panics.
pub(crate) fn sodium() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        // SAFETY: sodium_init has no preconditions and may be called from any thread.
        let rc = unsafe { sodium_init() };
        assert!(rc >= 0, "libsodium failed to initialise (sodium_init returned {rc})");
    });
}

fn open_secretbox(data: &[u8], nonce: &[u8], deks: &[Dek]) -> Result<Decrypted, DecryptError> {
    let nonce: &[u8; SECRETBOX_NONCE_LEN] =
        nonce.try_into().map_err(|_| DecryptError::BadNonce { len: nonce.len() })?;
    let Some(plain_len) = data.len().checked_sub(SECRETBOX_TAG_LEN) else {
        return Err(DecryptError::Malformed(format!(
            "secretbox data is {} bytes, shorter than the 16-byte tag",
            data.len()
        )));
    };
    if deks.is_empty() {
        return Err(DecryptError::NoKeys);
    }
    sodium();
    // `data` is tag ‖ ciphertext, libsodium's "easy" layout. At least one byte of capacity, so
    // the output pointer is a real allocation even for an empty plaintext.
    let mut buf: Vec<u8> = Vec::with_capacity(plain_len.max(1));
    for (i, dek) in deks.iter().enumerate() {
        let key = key32(dek.key());
        // SAFETY: `buf` has room for the `data.len() - 16` bytes a successful open writes, and
        // does not overlap `data`; `data` is `data.len()` readable bytes, `nonce` 24 and `key`
        // 32, the sizes libsodium reads. A failed open (tag mismatch) returns -1 before it
        // writes any output. usize -> u64 is lossless on every target Rust supports.
        let rc = unsafe {
            crypto_secretbox_open_easy(buf.as_mut_ptr(), data.as_ptr(), data.len() as u64, nonce.as_ptr(), key.as_ptr())
        };
        if rc == 0 {
            // SAFETY: the open succeeded, so libsodium wrote the first `plain_len` bytes.
            unsafe { buf.set_len(plain_len) };
            return Ok(Decrypted { plaintext: buf, algorithm: Algorithm::Secretbox, dek: i, fernet_timestamp: None });
        }
    }
    Err(DecryptError::NoKeyFits { tried: deks.len() })
}

fn open_fernet(data: &[u8], deks: &[Dek]) -> Result<Decrypted, DecryptError> {
    let token = B64_URL_ANY_PAD
        .decode(data)
        .map_err(|e| DecryptError::Malformed(format!("fernet token is not base64url: {e}")))?;
    let min = FERNET_HEADER_LEN + AES_BLOCK + FERNET_HMAC_LEN;
    if token.len() < min {
        return Err(DecryptError::Malformed(format!(
            "fernet token is {} bytes, at least {min} are required",
            token.len()
        )));
    }
    let Some((signed, mac)) = token.split_last_chunk::<FERNET_HMAC_LEN>() else {
        return Err(DecryptError::Malformed("fernet token too short".into()));
    };
    let Some((&version, rest)) = signed.split_first() else {
        return Err(DecryptError::Malformed("fernet token too short".into()));
    };
    if version != FERNET_VERSION {
        return Err(DecryptError::Malformed(format!("fernet version byte is {version:#04x}, expected 0x80")));
    }
    let Some((ts, rest)) = rest.split_first_chunk::<8>() else {
        return Err(DecryptError::Malformed("fernet token too short".into()));
    };
    let Some((iv, ciphertext)) = rest.split_first_chunk::<16>() else {
        return Err(DecryptError::Malformed("fernet token too short".into()));
    };
    if !ciphertext.len().is_multiple_of(AES_BLOCK) {
        return Err(DecryptError::Malformed(format!(
            "fernet ciphertext is {} bytes, not a multiple of 16",
            ciphertext.len()
        )));
    }
    if deks.is_empty() {
        return Err(DecryptError::NoKeys);
    }
    for (i, dek) in deks.iter().enumerate() {
        let key = key32(dek.key());
        let (sign, enc) = fernet_halves(&key);
        let mut m = fernet_mac(&sign);
        m.update(signed);
        if m.verify_slice(mac).is_err() {
            continue;
        }
        // Authenticated with this key: any failure from here on is damage, not a wrong key.
        let plaintext = cbc::Decryptor::<aes::Aes128>::new(&(*enc).into(), &(*iv).into())
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| {
                DecryptError::Malformed("fernet token authenticated but its PKCS#7 padding is invalid".into())
            })?;
        return Ok(Decrypted {
            plaintext,
            algorithm: Algorithm::Fernet,
            dek: i,
            fernet_timestamp: Some(u64::from_be_bytes(*ts)),
        });
    }
    Err(DecryptError::NoKeyFits { tried: deks.len() })
}

/// Encrypts `plain` with NaCl secretbox and returns the marshaled `MaybeEncryptedRecord`
/// exactly as swarmkit writes it (for test writers and synthetic data). Deterministic.
pub fn encrypt_secretbox(plain: &[u8], key: &[u8], nonce: &[u8; SECRETBOX_NONCE_LEN]) -> Vec<u8> {
    let key = key32(key);
    sodium();
    let len = SECRETBOX_TAG_LEN + plain.len();
    let mut data: Vec<u8> = Vec::with_capacity(len);
    // SAFETY: `data` has room for the 16 + plain.len() bytes crypto_secretbox_easy writes
    // (tag ‖ ciphertext, the layout swarmkit stores) and does not overlap `plain`; `nonce` is
    // 24 bytes and `key` 32. usize -> u64 is lossless on every target Rust supports.
    let rc = unsafe {
        crypto_secretbox_easy(data.as_mut_ptr(), plain.as_ptr(), plain.len() as u64, nonce.as_ptr(), key.as_ptr())
    };
    // crypto_secretbox_easy has no failure return (it aborts on messages near 2^64 bytes).
    assert_eq!(rc, 0, "crypto_secretbox_easy failed");
    // SAFETY: the seal succeeded, so libsodium wrote all `len` bytes.
    unsafe { data.set_len(len) };
    MaybeEncryptedRecord { algorithm: Algorithm::Secretbox.to_wire(), data: data.into(), nonce: nonce.to_vec().into() }
        .encode_to_vec()
}

/// Encrypts `plain` as a Fernet token (base64url with padding, like fernet-go) and returns
/// the marshaled `MaybeEncryptedRecord` (empty nonce). Deterministic given `iv` and
/// `timestamp`.
pub fn encrypt_fernet(plain: &[u8], key: &[u8], iv: &[u8; 16], timestamp: u64) -> Vec<u8> {
    let key = key32(key);
    let (sign, enc) = fernet_halves(&key);
    let ciphertext =
        cbc::Encryptor::<aes::Aes128>::new(&(*enc).into(), &(*iv).into()).encrypt_padded_vec::<Pkcs7>(plain);
    let mut token = Vec::with_capacity(FERNET_HEADER_LEN + ciphertext.len() + FERNET_HMAC_LEN);
    token.push(FERNET_VERSION);
    token.extend_from_slice(&timestamp.to_be_bytes());
    token.extend_from_slice(iv);
    token.extend_from_slice(&ciphertext);
    let mut m = fernet_mac(&sign);
    m.update(&token);
    token.extend_from_slice(&m.finalize().into_bytes());
    MaybeEncryptedRecord {
        algorithm: Algorithm::Fernet.to_wire(),
        data: B64_URL_ANY_PAD.encode(&token).into_bytes().into(),
        nonce: Default::default(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2));
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // ---- Vectors produced by third-party implementations -------------------------------
    //
    // Generated with PyNaCl 1.6.2 and Python cryptography 50.0.2:
    //   DEK         = sha256(b"swarmsift test dek current")
    //   DEK_PENDING = sha256(b"swarmsift test dek pending")
    //   NONCE1      = sha256(b"nonce 1")[:24]
    //   SECRETBOX_RECORD = 08 01 12 <len> SecretBox(DEK).encrypt(PLAIN, NONCE1).ciphertext
    //                      1a 18 NONCE1            (ciphertext = tag || ct)
    //   SECRETBOX_RECORD_PENDING: same with DEK_PENDING, sha256(b"nonce 2")[:24],
    //                      plaintext b"written after rotation"
    //   SECRETBOX_RECORD_EMPTY: DEK, sha256(b"nonce 3")[:24], empty plaintext
    //   FERNET_*: Fernet(urlsafe_b64encode(FERNET_KEY))._encrypt_from_parts(
    //                FERNET_PLAIN, 1700000000, sha256(b"fernet iv")[:16]),
    //             FERNET_KEY = sha256(b"swarmsift test fernet key"); record = 08 02 12 <len> token
    const DEK: &str = "2a4c707e27655b7b5a813716c4eeec0b2e2b0885786ae3b0a227f9d075732660";
    const DEK_PENDING: &str = "e48bd9a36c1a021a1e8598d42b5093fc356bd9e0251fe5c193d84e8a5338387f";
    const NONCE1: &str = "654e2c87d7820cbeb1b5b550f43166549582b5b353e00e27";
    const PLAIN: &[u8] = b"hello swarm raft entry \x00\x01\x02";
    const SECRETBOX_RECORD: &str = "0801122afadcd3c3d4261ea21272714071ade21b63f6439cc8c837727bd9a94285dfacb9dea7380513d0b5698ba01a18654e2c87d7820cbeb1b5b550f43166549582b5b353e00e27";
    const SECRETBOX_RECORD_PENDING: &str = "080112262a4fd0586c3b99d2923aa867996bac64897f33c7c21c2b9b4c4c08741e6fac868618bd76b2b61a18e889d30b85421e8cc830d15f3b5008c1896600e9a9129e09";
    const SECRETBOX_RECORD_EMPTY: &str =
        "0801121052ab1a48157f9ed6338042c423f58f9f1a18801125136d32a6287ce42b2630f06d53dcb3a0c8de7d1ace";
    const FERNET_KEY: &str = "13e2af72fb594554381f0d178bdc0d000d64fbacefed18da5677c08682f83ffd";
    const FERNET_IV: &str = "c4aeb2148968652df3dff8189976a84d";
    const FERNET_TS: u64 = 1_700_000_000;
    const FERNET_PLAIN: &[u8] = b"fernet plaintext for swarmsift, longer than one block";
    const FERNET_TOKEN: &str = "gAAAAABlU_EAxK6yFIloZS3z3_gYmXaoTVNobhZog0Q38tgzQYawxbClrsNzy6zawbDPoFZy4yODhDvB_TXo-9RcQXpehIZkBSBdWoJuGXLXC5ThcaVShRLKHPGFPT3AXBymJ2kQk_9cznWc0ANM0MdjWT8wla42Cw==";

    fn dek(h: &str, src: DekSource) -> Dek {
        Dek::new(src, &hex(h))
    }

    fn fernet_record(token: &[u8]) -> Vec<u8> {
        MaybeEncryptedRecord { algorithm: 2, data: token.to_vec().into(), nonce: Default::default() }.encode_to_vec()
    }

    #[test]
    fn pynacl_secretbox_vector_decrypts() {
        let deks = [dek(DEK, DekSource::Current)];
        let d = decrypt_record(&hex(SECRETBOX_RECORD), &deks).unwrap();
        assert_eq!(d.plaintext, PLAIN);
        assert_eq!(d.algorithm, Algorithm::Secretbox);
        assert_eq!(d.dek, 0);
        assert_eq!(d.fernet_timestamp, None);
    }

    #[test]
    fn our_secretbox_matches_pynacl_bytes() {
        let nonce: [u8; 24] = hex(NONCE1).try_into().unwrap();
        assert_eq!(encrypt_secretbox(PLAIN, &hex(DEK), &nonce), hex(SECRETBOX_RECORD));
    }

    #[test]
    fn empty_plaintext_record() {
        let deks = [dek(DEK, DekSource::Current)];
        let d = decrypt_record(&hex(SECRETBOX_RECORD_EMPTY), &deks).unwrap();
        assert!(d.plaintext.is_empty());
    }

    #[test]
    fn python_fernet_vector_decrypts_and_matches_ours() {
        let rec = fernet_record(FERNET_TOKEN.as_bytes());
        let deks = [dek(DEK, DekSource::Current), dek(FERNET_KEY, DekSource::Pending)];
        let d = decrypt_record(&rec, &deks).unwrap();
        assert_eq!(d.plaintext, FERNET_PLAIN);
        assert_eq!(d.algorithm, Algorithm::Fernet);
        assert_eq!(d.dek, 1);
        assert_eq!(d.fernet_timestamp, Some(FERNET_TS));
        let iv: [u8; 16] = hex(FERNET_IV).try_into().unwrap();
        assert_eq!(encrypt_fernet(FERNET_PLAIN, &hex(FERNET_KEY), &iv, FERNET_TS), rec);
    }

    #[test]
    fn fernet_without_padding_is_accepted() {
        let rec = fernet_record(FERNET_TOKEN.trim_end_matches('=').as_bytes());
        let deks = [dek(FERNET_KEY, DekSource::Current)];
        assert_eq!(decrypt_record(&rec, &deks).unwrap().plaintext, FERNET_PLAIN);
    }

    #[test]
    fn fernet_timestamp_is_not_checked() {
        // Far in the future and at zero: both must decrypt (swarmkit uses TTL -1).
        let key = hex(FERNET_KEY);
        for ts in [0, u64::MAX] {
            let rec = encrypt_fernet(b"x", &key, &[7; 16], ts);
            let d = decrypt_record(&rec, &[Dek::new(DekSource::Current, &key)]).unwrap();
            assert_eq!((d.plaintext.as_slice(), d.fernet_timestamp), (&b"x"[..], Some(ts)));
        }
    }

    #[test]
    fn wrong_key_is_no_key_fits() {
        let deks = [dek(DEK_PENDING, DekSource::Current), Dek::new(DekSource::Pending, &[0; 32])];
        assert_eq!(decrypt_record(&hex(SECRETBOX_RECORD), &deks), Err(DecryptError::NoKeyFits { tried: 2 }));
        let rec = fernet_record(FERNET_TOKEN.as_bytes());
        assert_eq!(decrypt_record(&rec, &deks), Err(DecryptError::NoKeyFits { tried: 2 }));
    }

    #[test]
    fn pending_dek_used_when_current_fails() {
        let deks = [dek(DEK, DekSource::Current), dek(DEK_PENDING, DekSource::Pending)];
        let d = decrypt_record(&hex(SECRETBOX_RECORD_PENDING), &deks).unwrap();
        assert_eq!(d.plaintext, b"written after rotation");
        assert_eq!(d.dek, 1);
        assert_eq!(deks[d.dek].source.to_string(), "raft-dek-pending");
        // and the current one still works for old records, whatever the order
        let d = decrypt_record(&hex(SECRETBOX_RECORD), &deks).unwrap();
        assert_eq!(d.dek, 0);
    }

    #[test]
    fn no_keys() {
        assert_eq!(decrypt_record(&hex(SECRETBOX_RECORD), &[]), Err(DecryptError::NoKeys));
        let rec = fernet_record(FERNET_TOKEN.as_bytes());
        assert_eq!(decrypt_record(&rec, &[]), Err(DecryptError::NoKeys));
    }

    #[test]
    fn flipped_bytes_are_no_key_fits() {
        let deks = [dek(DEK, DekSource::Current)];
        let good = hex(SECRETBOX_RECORD);
        // 08 01 12 2a <42 bytes tag+ciphertext> 1a 18 <24-byte nonce>
        let data_range = 4..4 + 42;
        for i in data_range.clone() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert_eq!(decrypt_record(&bad, &deks), Err(DecryptError::NoKeyFits { tried: 1 }), "flip at {i}");
        }
        for i in data_range.end + 2..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x80;
            assert_eq!(decrypt_record(&bad, &deks), Err(DecryptError::NoKeyFits { tried: 1 }));
        }
        // Fernet: flip a byte inside the decoded token and re-encode.
        let key = hex(FERNET_KEY);
        let token = B64_URL_ANY_PAD.decode(FERNET_TOKEN).unwrap();
        for i in 1..token.len() {
            let mut t = token.clone();
            t[i] ^= 0x04;
            let rec = fernet_record(B64_URL_ANY_PAD.encode(&t).as_bytes());
            assert_eq!(
                decrypt_record(&rec, &[Dek::new(DekSource::Current, &key)]),
                Err(DecryptError::NoKeyFits { tried: 1 }),
                "fernet flip at {i}"
            );
        }
    }

    #[test]
    fn key_independent_errors() {
        let deks = [dek(DEK, DekSource::Current)];
        // NONE record
        let none = MaybeEncryptedRecord { algorithm: 0, data: b"clear".to_vec().into(), nonce: Default::default() }
            .encode_to_vec();
        assert_eq!(decrypt_record(&none, &deks), Err(DecryptError::Plaintext));
        assert_eq!(record_algorithm(&none), Ok(Algorithm::None));
        assert_eq!(plaintext_of_none_record(&none).as_deref(), Some(&b"clear"[..]));
        assert_eq!(plaintext_of_none_record(&hex(SECRETBOX_RECORD)), None);
        assert_eq!(plaintext_of_none_record(&[0xff]), None);
        // unknown algorithm
        let unk = MaybeEncryptedRecord { algorithm: 7, ..Default::default() }.encode_to_vec();
        assert_eq!(decrypt_record(&unk, &deks), Err(DecryptError::UnknownAlgorithm(7)));
        assert_eq!(record_algorithm(&unk), Ok(Algorithm::Unknown(7)));
        // nonce of the wrong size
        let mut r = MaybeEncryptedRecord::decode(&hex(SECRETBOX_RECORD)[..]).unwrap();
        r.nonce = r.nonce.slice(..23);
        assert_eq!(decrypt_record(&r.encode_to_vec(), &deks), Err(DecryptError::BadNonce { len: 23 }));
        // data shorter than the tag
        let mut r = MaybeEncryptedRecord::decode(&hex(SECRETBOX_RECORD)[..]).unwrap();
        r.data = r.data.slice(..15);
        assert!(matches!(decrypt_record(&r.encode_to_vec(), &deks), Err(DecryptError::Malformed(_))));
        // not a record at all
        assert_eq!(decrypt_record(&[0xff, 0xff], &deks), Err(DecryptError::NotARecord));
        assert_eq!(record_algorithm(&[0x12, 0x05, 1]), Err(DecryptError::NotARecord));
        // fernet: bad base64, short token, bad version byte
        for tok in [&b"!!!!"[..], b"gAAAAA==", FERNET_TOKEN.replacen('g', "A", 1).as_bytes()] {
            assert!(matches!(decrypt_record(&fernet_record(tok), &deks), Err(DecryptError::Malformed(_))));
        }
    }

    /// The in-place record reader agrees with prost's decoder: same fields, same rejections.
    fn agrees_with_prost(b: &[u8]) {
        let ours = decode_record(b);
        match MaybeEncryptedRecord::decode(b) {
            Ok(p) => {
                let r = ours.unwrap_or_else(|e| panic!("{b:02x?}: prost accepts, we say {e}"));
                assert_eq!((r.algorithm, r.data, r.nonce), (p.algorithm, &p.data[..], &p.nonce[..]), "{b:02x?}");
            }
            Err(_) => assert_eq!(ours, Err(DecryptError::NotARecord), "{b:02x?}"),
        }
    }

    #[test]
    fn record_reader_matches_prost() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x08, 0x01, 0x12, 0x02, 0xaa, 0xbb, 0x1a, 0x01, 0xcc], // algorithm 1, data, nonce
            &[0x12, 0x01, 0xaa, 0x12, 0x01, 0xbb],                   // data twice: the last wins
            &[0x08, 0xff, 0xff, 0xff, 0xff, 0x1f],                   // algorithm past int32: truncated
            &[0x28, 0x05, 0x12, 0x00],                               // unknown varint field 5 skipped
            &[0x0a, 0x00],                                           // field 1 length-delimited: rejected
            &[0x10, 0x01],                                           // field 2 as varint: rejected
            &[0x12, 0x05, 0x01],                                     // data runs past the end
            &[0x00, 0x00],                                           // field 0
            &[0x0b, 0x0c],                                           // group start and end
        ];
        for c in cases {
            agrees_with_prost(c);
        }
        agrees_with_prost(&hex(SECRETBOX_RECORD));
        // Every one-byte change and every cut of a real record, and pseudo-random bytes.
        let real = hex(SECRETBOX_RECORD);
        for i in 0..real.len().min(64) {
            for v in [0x00, 0x08, 0x12, 0x1a, 0x80, 0xff] {
                let mut b = real.clone();
                b[i] = v;
                agrees_with_prost(&b);
            }
            agrees_with_prost(&real[..i]);
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut b = Vec::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push([0x08, 0x12, 0x1a, 0x02, 0x01, 0x80, 0x00, 0xff, 0x0b, 0x0c, 0x22, 0x05][(x % 12) as usize]);
            }
            x = x.wrapping_add(1);
            agrees_with_prost(&b);
        }
    }

    #[test]
    fn in_place_open_equals_open() {
        let key = [7u8; 32];
        let deks = [Dek::new(DekSource::Pending, &[1u8; 32]), Dek::new(DekSource::Current, &key)];
        for len in [0usize, 1, 31, 32, 33, 64, 65, 1000, (1 << 20) - 1, 1 << 20, (1 << 20) + 17, 3 << 20] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let rec = encrypt_secretbox(&plain, &key, &[3u8; SECRETBOX_NONCE_LEN]);
            let released = std::cell::Cell::new(0usize);
            let a = decrypt_record_releasing(&rec, &deks, &|c| released.set(released.get() + c.len())).unwrap();
            let b = decrypt_record(&rec, &deks).unwrap();
            assert_eq!(a, b, "len {len}");
            assert_eq!(a.plaintext, plain, "len {len}");
            assert_eq!(a.dek, 1, "the second key opens it, after the first failed in place");
            assert_eq!(released.get(), len + SECRETBOX_TAG_LEN, "every ciphertext byte released once");
            // A flipped byte: no key fits, in place as out of place.
            let mut bad = rec.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(decrypt_record_releasing(&bad, &deks, &|_| ()), decrypt_record(&bad, &deks));
        }
        // Errors before any copy are the same as decrypt_record's.
        for rec in [vec![0xff, 0xff], MaybeEncryptedRecord { algorithm: 1, ..Default::default() }.encode_to_vec()] {
            assert_eq!(decrypt_record_releasing(&rec, &deks, &|_| ()), decrypt_record(&rec, &deks));
        }
        let fernet = fernet_record(b"!!!!");
        assert_eq!(decrypt_record_releasing(&fernet, &deks, &|_| ()), decrypt_record(&fernet, &deks));
    }

    #[test]
    fn fernet_bad_padding_after_valid_hmac_is_malformed() {
        // Hand-build a token whose last plaintext block has invalid padding, then sign it.
        let key = key32(&hex(FERNET_KEY));
        let (sign, enc) = fernet_halves(&key);
        let iv = [9u8; 16];
        let mut block = [0x41u8; 16];
        block[15] = 0; // padding byte 0 is never valid PKCS#7
        let ct = cbc::Encryptor::<aes::Aes128>::new(&(*enc).into(), &iv.into())
            .encrypt_padded_vec::<aes::cipher::block_padding::NoPadding>(&block);
        let mut token = vec![0x80];
        token.extend_from_slice(&5u64.to_be_bytes());
        token.extend_from_slice(&iv);
        token.extend_from_slice(&ct);
        let mut m = fernet_mac(&sign);
        m.update(&token);
        token.extend_from_slice(&m.finalize().into_bytes());
        let rec = fernet_record(B64_URL_ANY_PAD.encode(&token).as_bytes());
        let err = decrypt_record(&rec, &[Dek::new(DekSource::Current, &*key)]).unwrap_err();
        assert!(matches!(err, DecryptError::Malformed(ref s) if s.contains("padding")), "{err}");
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        let deks = [dek(DEK, DekSource::Current), dek(DEK_PENDING, DekSource::Pending)];
        let fernet = fernet_record(FERNET_TOKEN.as_bytes());
        for good in [hex(SECRETBOX_RECORD), fernet.clone()] {
            for n in 0..good.len() {
                assert!(decrypt_record(&good[..n], &deks).is_err(), "truncated to {n}");
                let _ = record_algorithm(&good[..n]);
                let _ = plaintext_of_none_record(&good[..n]);
            }
        }
        // every truncation of the token text inside a well-formed record
        for n in 0..FERNET_TOKEN.len() {
            let rec = fernet_record(&FERNET_TOKEN.as_bytes()[..n]);
            assert!(decrypt_record(&rec, &deks).is_err());
        }
        // xorshift garbage, raw and wrapped in record framing
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for round in 0..4000 {
            let len = (next() % 200) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 && !buf.is_empty() {
                // make it look like a record more often
                buf[0] = 0x08;
                if buf.len() > 1 {
                    buf[1] = (round % 4) as u8;
                }
            }
            let _ = decrypt_record(&buf, &deks);
            let _ = decrypt_record(&buf, &[]);
            let _ = record_algorithm(&buf);
            let _ = plaintext_of_none_record(&buf);
            let nonce = [0u8; 24];
            let rec = MaybeEncryptedRecord {
                algorithm: round % 3,
                data: buf.clone().into(),
                nonce: if round % 5 == 0 { Default::default() } else { nonce.to_vec().into() },
            }
            .encode_to_vec();
            assert!(decrypt_record(&rec, &deks).is_err());
        }
    }

    #[test]
    fn short_and_long_keys_behave_like_swarmkit_copy() {
        // swarmkit copies the key into [32]byte: a 31-byte key == that key + one zero byte.
        let mut k = hex(DEK);
        k[31] = 0;
        let nonce = [3u8; 24];
        let rec = encrypt_secretbox(b"p", &k, &nonce);
        let short = Dek::new(DekSource::Other("short".into()), &k[..31]);
        assert_eq!(decrypt_record(&rec, &[short]).unwrap().plaintext, b"p");
        let mut long = k.clone();
        long.extend_from_slice(b"ignored");
        assert!(decrypt_record(&rec, &[Dek::new(DekSource::Current, &long)]).is_ok());
    }

    #[test]
    fn display_and_debug() {
        assert_eq!(DekSource::Current.to_string(), "raft-dek");
        assert_eq!(DekSource::Pending.to_string(), "raft-dek-pending");
        assert_eq!(DekSource::Other("cli".into()).to_string(), "cli");
        assert_eq!(Algorithm::None.to_string(), "none");
        assert_eq!(Algorithm::Secretbox.to_string(), "secretbox");
        assert_eq!(Algorithm::Fernet.to_string(), "fernet");
        assert_eq!(Algorithm::Unknown(9).to_string(), "unknown(9)");
        let d = Dek::new(DekSource::Current, &[0xab; 32]);
        let dbg = format!("{d:?}");
        assert!(dbg.contains("redacted 32 bytes") && !dbg.contains("171") && !dbg.contains("ab"));
        assert_eq!(d.key(), &[0xab; 32]);
        assert!(DecryptError::NoKeys.to_string().contains("missing key"));
        assert!(DecryptError::NoKeyFits { tried: 2 }.to_string().contains("wrong key"));
    }
}
