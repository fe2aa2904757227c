//! A per-run random key, and the keyed hash (BLAKE3 in keyed mode) made with it, for comparing
//! secret values without showing them. BLAKE3's keyed mode is a PRF under a 32-byte key, as
//! HMAC-SHA256 is; on the 360 KB config payloads of the real capture it ran 1.7x faster than
//! HMAC-SHA256 with SHA-NI (benches/cipher.rs, `keyed_digest`; docs/performance.md).
//!
//! Invariants:
//! - The key is 32 random bytes from libsodium's `randombytes_buf` (the OS's CSPRNG), drawn once
//!   per process, never printed, never written anywhere, zeroised at exit only by the end of the
//!   process. Equal values therefore hash equal within one run of the tool (a change of a
//!   redacted value can be told from no change), while a hash seen in one run cannot be tested
//!   offline against guessed values: without the key there is nothing to test with.
//! - Nothing here is ever persisted or compared across runs.

use std::sync::OnceLock;

/// The key of this run.
fn run_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        super::cipher::sodium();
        let mut k = [0u8; 32];
        // SAFETY: `k` is a valid, writable buffer of exactly the length passed; libsodium is
        // initialised (`sodium`), and randombytes_buf has no other precondition.
        unsafe { libsodium_sys::randombytes_buf(k.as_mut_ptr().cast(), k.len()) };
        k
    })
}

/// BLAKE3 keyed hash of `data` under this run's key.
pub fn keyed_hash(data: &[u8]) -> [u8; 32] {
    *blake3::keyed_hash(run_key(), data).as_bytes()
}

/// The first 8 bytes of [`keyed_hash`] in hex: enough to tell values apart within one run.
pub fn keyed_tag(data: &[u8]) -> String {
    keyed_hash(data)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equal_and_different_ones_do_not() {
        assert_eq!(keyed_hash(b"bar"), keyed_hash(b"bar"));
        assert_ne!(keyed_hash(b"bar"), keyed_hash(b"baz"));
        assert_eq!(keyed_tag(b"bar").len(), 16);
    }

    #[test]
    fn the_key_is_not_a_fixed_one() {
        // An all-zero (or empty) key would make the hash a public function of the value.
        let k = run_key();
        assert_ne!(k, &[0u8; 32]);
        assert_ne!(keyed_hash(b"bar"), *blake3::keyed_hash(&[0u8; 32], b"bar").as_bytes());
        assert_ne!(keyed_hash(b"bar"), *blake3::hash(b"bar").as_bytes());
    }
}
