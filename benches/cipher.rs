//! The candidate implementations of the two record ciphers, side by side on the same bytes:
//!
//! * `secretbox_open`: NaCl XSalsa20-Poly1305 open (authenticate + decrypt) with RustCrypto's
//!   `crypto_secretbox` and with libsodium (`libsodium-sys-stable`, which builds the libsodium
//!   source it ships), plus `swarmsift::crypto::decrypt_record` (whatever the library uses,
//!   including the record decode and the plaintext allocation).
//! * `fernet_open`: Fernet verify + decrypt of a decoded token (HMAC-SHA256 over the token,
//!   then AES-128-CBC with PKCS#7) with RustCrypto (`hmac`+`sha2`, `aes`+`cbc`) and
//!   libsodium's HMAC-SHA256 with RustCrypto's AES (libsodium has no AES-CBC), plus
//!   `swarmsift::crypto::decrypt_record` (which also decodes the base64 text). With
//!   `--features cipher-alternatives` also OpenSSL (`openssl` crate on the system libssl:
//!   Debian's libssl-dev) and AWS-LC (`aws-lc-rs`, built from its C source, no cmake needed).
//! * `fernet_parts`: the two halves of Fernet alone on 64 KiB, to see where the time goes.
//! * `keyed_digest`: the keyed hash that stands in for a secret's or config's payload in the
//!   store (`swarmsift::crypto::keyed`): HMAC-SHA256 (RustCrypto, SHA-NI where the CPU has it)
//!   against BLAKE3 in keyed mode, on 300 bytes and on 360,000 bytes (the size of the real
//!   capture's configs; swarmkit allows up to 500 KB).
//!
//! Sizes: 300 bytes (a typical small raft entry) and 64 KiB; throughput is plaintext bytes.
//! Every implementation's output is checked against the plaintext, and a damaged input is
//! checked to be refused, before anything is timed.
//!
//!     cargo bench --bench cipher
//!     cargo bench --bench cipher --features cipher-alternatives    # + OpenSSL, AWS-LC

use std::hint::black_box;

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crypto_secretbox::aead::{AeadInPlace, KeyInit as _};
use crypto_secretbox::{Nonce, Tag, XSalsa20Poly1305};
use hmac::{Hmac, KeyInit as _, Mac as _};
use libsodium_sys as sodium;
use sha2::Sha256;
use swarmsift::crypto::{Dek, DekSource, decrypt_record, encrypt_fernet, encrypt_secretbox};

const SIZES: [usize; 2] = [300, 64 * 1024];
const KEY: [u8; 32] = [0x5a; 32];
const NONCE: [u8; 24] = [0x17; 24];
const IV: [u8; 16] = [0x42; 16];

fn plaintext(len: usize) -> Vec<u8> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

fn sodium_init() {
    // SAFETY: sodium_init takes no arguments; 0 = initialised, 1 = already was, -1 = failure.
    assert!(unsafe { sodium::sodium_init() } >= 0, "sodium_init failed");
}

// ---- secretbox ----------------------------------------------------------------------

/// `tag ‖ ciphertext`, the `data` of a swarmkit secretbox record (= libsodium's "easy" box).
fn sealed_box(plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    let tag = XSalsa20Poly1305::new(&KEY.into()).encrypt_in_place_detached(&Nonce::from(NONCE), b"", &mut buf).unwrap();
    let mut data = tag.to_vec();
    data.extend_from_slice(&buf);
    data
}

fn open_rustcrypto(data: &[u8], out: &mut Vec<u8>) -> bool {
    let (tag, ct) = data.split_first_chunk::<16>().unwrap();
    out.clear();
    out.extend_from_slice(ct);
    XSalsa20Poly1305::new(&KEY.into())
        .decrypt_in_place_detached(&Nonce::from(NONCE), b"", out, &Tag::from(*tag))
        .is_ok()
}

fn open_libsodium(data: &[u8], out: &mut [u8]) -> bool {
    assert_eq!(out.len() + 16, data.len());
    // SAFETY: `out` holds data.len() - 16 bytes, nonce and key are 24 and 32 bytes.
    unsafe {
        sodium::crypto_secretbox_open_easy(
            out.as_mut_ptr(),
            data.as_ptr(),
            data.len() as u64,
            NONCE.as_ptr(),
            KEY.as_ptr(),
        ) == 0
    }
}

fn secretbox_open(c: &mut Criterion) {
    sodium_init();
    let deks = [Dek::new(DekSource::Current, &KEY)];
    let mut g = c.benchmark_group("secretbox_open");
    for size in SIZES {
        let plain = plaintext(size);
        let data = sealed_box(&plain);
        let record = encrypt_secretbox(&plain, &KEY, &NONCE);
        let mut rc = Vec::with_capacity(size);
        let mut ls = vec![0u8; size];
        assert!(open_rustcrypto(&data, &mut rc) && rc == plain);
        assert!(open_libsodium(&data, &mut ls) && ls == plain);
        assert_eq!(decrypt_record(&record, &deks).unwrap().plaintext, plain);
        let mut bad = data.clone();
        bad[20] ^= 1;
        assert!(!open_rustcrypto(&bad, &mut rc) && !open_libsodium(&bad, &mut ls));

        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("rustcrypto", size), &data, |b, d| {
            b.iter(|| black_box(open_rustcrypto(black_box(d), &mut rc)))
        });
        g.bench_with_input(BenchmarkId::new("libsodium", size), &data, |b, d| {
            b.iter(|| black_box(open_libsodium(black_box(d), &mut ls)))
        });
        g.bench_with_input(BenchmarkId::new("swarmsift_decrypt_record", size), &record, |b, r| {
            b.iter(|| black_box(decrypt_record(black_box(r), &deks).unwrap().plaintext.len()))
        });
    }
    g.finish();
}

// ---- Fernet ------------------------------------------------------------------------

/// A decoded Fernet token: `0x80 ‖ ts ‖ iv ‖ ciphertext ‖ hmac`, with the key halves.
struct Token {
    bytes: Vec<u8>,
    sign: [u8; 16],
    enc: [u8; 16],
}

impl Token {
    fn new(plain: &[u8]) -> Token {
        let sign: [u8; 16] = KEY[..16].try_into().unwrap();
        let enc: [u8; 16] = KEY[16..].try_into().unwrap();
        let ct = cbc::Encryptor::<aes::Aes128>::new(&enc.into(), &IV.into()).encrypt_padded_vec::<Pkcs7>(plain);
        let mut bytes = vec![0x80];
        bytes.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        bytes.extend_from_slice(&IV);
        bytes.extend_from_slice(&ct);
        let mut m = <Hmac<Sha256>>::new_from_slice(&sign).unwrap();
        m.update(&bytes);
        bytes.extend_from_slice(&m.finalize().into_bytes());
        Token { bytes, sign, enc }
    }
    fn signed(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - 32]
    }
    fn mac(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - 32..]
    }
    fn iv(&self) -> [u8; 16] {
        self.bytes[9..25].try_into().unwrap()
    }
    fn ciphertext(&self) -> &[u8] {
        &self.bytes[25..self.bytes.len() - 32]
    }
}

fn hmac_rustcrypto(t: &Token) -> bool {
    // As src/crypto.rs keys it: the 16-byte key zero-padded to the 64-byte block.
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(&t.sign);
    let mut m = Hmac::<Sha256>::new(&block.into());
    m.update(t.signed());
    m.verify_slice(t.mac()).is_ok()
}

fn aes_rustcrypto(t: &Token) -> Option<Vec<u8>> {
    cbc::Decryptor::<aes::Aes128>::new(&t.enc.into(), &t.iv().into()).decrypt_padded_vec::<Pkcs7>(t.ciphertext()).ok()
}

fn fernet_rustcrypto(t: &Token) -> Option<Vec<u8>> {
    hmac_rustcrypto(t).then(|| aes_rustcrypto(t)).flatten()
}

#[cfg(feature = "cipher-alternatives")]
fn hmac_openssl(t: &Token) -> bool {
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(&t.sign).unwrap();
    let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
    let mac = s.sign_oneshot_to_vec(t.signed()).unwrap();
    openssl::memcmp::eq(&mac, t.mac())
}

#[cfg(feature = "cipher-alternatives")]
fn aes_openssl(t: &Token) -> Option<Vec<u8>> {
    use openssl::symm::{Cipher, decrypt};
    decrypt(Cipher::aes_128_cbc(), &t.enc, Some(&t.iv()), t.ciphertext()).ok()
}

#[cfg(feature = "cipher-alternatives")]
fn fernet_openssl(t: &Token) -> Option<Vec<u8>> {
    hmac_openssl(t).then(|| aes_openssl(t)).flatten()
}

#[cfg(feature = "cipher-alternatives")]
fn hmac_awslc(t: &Token) -> bool {
    use aws_lc_rs::hmac;
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &t.sign), t.signed(), t.mac()).is_ok()
}

#[cfg(feature = "cipher-alternatives")]
fn aes_awslc(t: &Token) -> Option<Vec<u8>> {
    use aws_lc_rs::cipher::{AES_128, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
    use aws_lc_rs::iv::FixedLength;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &t.enc).ok()?).ok()?;
    let mut buf = t.ciphertext().to_vec();
    let n = key.decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(t.iv()))).ok()?.len();
    buf.truncate(n);
    Some(buf)
}

#[cfg(feature = "cipher-alternatives")]
fn fernet_awslc(t: &Token) -> Option<Vec<u8>> {
    hmac_awslc(t).then(|| aes_awslc(t)).flatten()
}

fn hmac_libsodium(t: &Token) -> bool {
    // crypto_auth_hmacsha256 takes a 32-byte key; HMAC zero-pads keys to the 64-byte block,
    // so the 16-byte key followed by 16 zero bytes is the same function.
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&t.sign);
    let signed = t.signed();
    // SAFETY: mac is 32 bytes, key 32 bytes, signed.len() bytes at signed.as_ptr().
    unsafe {
        sodium::crypto_auth_hmacsha256_verify(t.mac().as_ptr(), signed.as_ptr(), signed.len() as u64, key.as_ptr()) == 0
    }
}

fn fernet_libsodium_hmac(t: &Token) -> Option<Vec<u8>> {
    hmac_libsodium(t).then(|| aes_rustcrypto(t)).flatten()
}

type FernetImpl = fn(&Token) -> Option<Vec<u8>>;
type MacImpl = fn(&Token) -> bool;

fn fernet_impls() -> Vec<(&'static str, FernetImpl)> {
    let mut v: Vec<(&str, FernetImpl)> = vec![("rustcrypto", fernet_rustcrypto)];
    #[cfg(feature = "cipher-alternatives")]
    v.extend([("openssl", fernet_openssl as FernetImpl), ("aws-lc-rs", fernet_awslc)]);
    v.push(("libsodium-hmac+rustcrypto-aes", fernet_libsodium_hmac));
    v
}

fn mac_impls() -> Vec<(&'static str, MacImpl)> {
    let mut v: Vec<(&str, MacImpl)> = vec![("hmac_sha256/rustcrypto", hmac_rustcrypto)];
    #[cfg(feature = "cipher-alternatives")]
    v.extend([("hmac_sha256/openssl", hmac_openssl as MacImpl), ("hmac_sha256/aws-lc-rs", hmac_awslc)]);
    v.push(("hmac_sha256/libsodium", hmac_libsodium));
    v
}

fn aes_impls() -> Vec<(&'static str, FernetImpl)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&str, FernetImpl)> = vec![("aes128cbc_decrypt/rustcrypto", aes_rustcrypto)];
    #[cfg(feature = "cipher-alternatives")]
    v.extend([("aes128cbc_decrypt/openssl", aes_openssl as FernetImpl), ("aes128cbc_decrypt/aws-lc-rs", aes_awslc)]);
    v
}

fn fernet_open(c: &mut Criterion) {
    sodium_init();
    let deks = [Dek::new(DekSource::Current, &KEY)];
    let mut g = c.benchmark_group("fernet_open");
    for size in SIZES {
        let plain = plaintext(size);
        let t = Token::new(&plain);
        let record = encrypt_fernet(&plain, &KEY, &IV, 1_700_000_000);
        let mut bad = Token::new(&plain);
        bad.bytes[30] ^= 1;
        for (name, f) in fernet_impls() {
            assert_eq!(f(&t).as_deref(), Some(&plain[..]), "{name}");
            assert_eq!(f(&bad), None, "{name} accepted a damaged token");
        }
        assert_eq!(decrypt_record(&record, &deks).unwrap().plaintext, plain);

        g.throughput(Throughput::Bytes(size as u64));
        for (name, f) in fernet_impls() {
            g.bench_with_input(BenchmarkId::new(name, size), &t, |b, t| b.iter(|| black_box(f(black_box(t)))));
        }
        g.bench_with_input(BenchmarkId::new("swarmsift_decrypt_record", size), &record, |b, r| {
            b.iter(|| black_box(decrypt_record(black_box(r), &deks).unwrap().plaintext.len()))
        });
    }
    g.finish();
}

fn fernet_parts(c: &mut Criterion) {
    sodium_init();
    let size = 64 * 1024;
    let plain = plaintext(size);
    let t = Token::new(&plain);
    let mut g = c.benchmark_group("fernet_parts");
    g.throughput(Throughput::Bytes(size as u64));
    for (name, f) in mac_impls() {
        assert!(f(&t), "{name}");
        g.bench_function(BenchmarkId::new(name, size), |b| b.iter(|| black_box(f(black_box(&t)))));
    }
    for (name, f) in aes_impls() {
        assert_eq!(f(&t).as_deref(), Some(&plain[..]), "{name}");
        g.bench_function(BenchmarkId::new(name, size), |b| b.iter(|| black_box(f(black_box(&t)))));
    }
    g.finish();
}

fn keyed_digest(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyed_digest");
    for len in [300, 360_000] {
        let data = plaintext(len);
        // Both are deterministic for a key, and tell two payloads apart.
        let hmac = |d: &[u8]| -> [u8; 32] {
            let mut m = Hmac::<Sha256>::new_from_slice(&KEY).unwrap();
            m.update(d);
            m.finalize().into_bytes().into()
        };
        let b3 = |d: &[u8]| -> [u8; 32] { *blake3::keyed_hash(&KEY, d).as_bytes() };
        let mut other = data.clone();
        other[len / 2] ^= 1;
        assert!(hmac(&data) == hmac(&data) && hmac(&data) != hmac(&other));
        assert!(b3(&data) == b3(&data) && b3(&data) != b3(&other));
        assert_eq!(swarmsift::crypto::keyed::keyed_hash(&data).len(), 32);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("hmac_sha256", len), &data, |b, d| b.iter(|| hmac(black_box(d))));
        g.bench_with_input(BenchmarkId::new("blake3_keyed", len), &data, |b, d| b.iter(|| b3(black_box(d))));
        g.bench_with_input(BenchmarkId::new("swarmsift_keyed_hash", len), &data, |b, d| {
            b.iter(|| swarmsift::crypto::keyed::keyed_hash(black_box(d)))
        });
    }
    g.finish();
}

criterion_group!(benches, secretbox_open, fernet_open, fernet_parts, keyed_digest);
criterion_main!(benches);
