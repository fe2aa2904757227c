//! swarmsift: offline forensics of Docker Swarm manager state.
pub mod pb {
    //! Generated protobuf types (prost), from our own `.proto` subset under `proto/`.
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/_protos.rs"));
}
