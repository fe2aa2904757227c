//! Decode: decrypted records turned into swarmkit objects, raft entries and snapshot contents,
//! and those objects as the Docker API shows them.
//!
//! Layer: above [`crate::format`] and [`crate::crypto`], below [`crate::replay::point`]. Nothing here
//! holds state across entries.

pub mod docker_api;
pub mod entry;
pub mod object;
pub mod snapshot;

use crate::crypto::{self, Dek};

/// Decrypt (when needed) a payload with every DEK.
pub(crate) fn open_payload(
    data: &[u8],
    encrypted: bool,
    deks: &[Dek],
) -> std::result::Result<(Vec<u8>, Option<String>), crypto::DecryptError> {
    if !encrypted {
        return Ok((data.to_vec(), None));
    }
    match crypto::decrypt_record(data, deks) {
        Ok(d) => Ok((d.plaintext, deks.get(d.dek).map(|k| k.source.to_string()))),
        Err(e) => Err(e),
    }
}

/// [`open_payload`] for a payload too big to hold twice: `release` is told of each part of
/// `data` once it has been copied (see [`crypto::decrypt_record_releasing`]).
pub(crate) fn open_payload_releasing(
    data: &[u8],
    encrypted: bool,
    deks: &[Dek],
    release: &dyn Fn(&[u8]),
) -> std::result::Result<(Vec<u8>, Option<String>), crypto::DecryptError> {
    if !encrypted {
        let plain = data.to_vec();
        release(data);
        return Ok((plain, None));
    }
    let d = crypto::decrypt_record_releasing(data, deks, release)?;
    Ok((d.plaintext, deks.get(d.dek).map(|k| k.source.to_string())))
}
