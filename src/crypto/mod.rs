//! Crypto: opening `MaybeEncryptedRecord`s (secretbox, Fernet), the keys in `swarm-node.key`
//! and the unlock key, and the keyring of one input.
//!
//! Layer: above [`crate::input`] and [`crate::format`], below [`crate::decode`]. Key material is
//! zeroised when dropped and never printed.

pub mod cipher;
pub mod keyed;
pub mod keyring;
pub mod keys;

pub use cipher::*;
