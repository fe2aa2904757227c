//! Replay: the one engine that turns a loaded log into state. Every command that shows or checks
//! state gets it from here, with the same rules: one base-snapshot choice, one committed rule,
//! and store anomalies reported as findings.
//!
//! Layer: above [`crate::decode`], below the analyses.

pub mod analysis;
pub mod engine;
pub mod point;
pub mod store;
