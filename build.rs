//! Compiles our own `.proto` subset under `proto/` with protox (pure Rust, no `protoc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "etcd/walpb.proto",
        "etcd/raftpb.proto",
        "etcd/snappb.proto",
        "swarmkit/types.proto",
        "swarmkit/specs.proto",
        "swarmkit/objects.proto",
        "swarmkit/raft.proto",
        "swarmkit/snapshot.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(files, ["proto"])?;
    // The same descriptors, for the wire validator (src/wirecheck.rs).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptors.bin"), prost::Message::encode_to_vec(&fds))?;
    let mut cfg = prost_build::Config::new();
    cfg.bytes(["."]);
    // StoreAction's objects boxed: the oneof is then a pointer wide, so an entry's
    // `repeated StoreAction` (5,000 tasks in one service create) grows by moving pointers, not
    // whole tasks (memmove was a sixth of the real WAL's replay profile).
    for f in ["node", "service", "task", "network", "cluster", "secret", "resource", "extension", "config", "volume"] {
        cfg.boxed(format!(".docker.swarmkit.v1.StoreAction.target.{f}"));
    }
    cfg.include_file("_protos.rs");
    cfg.compile_fds(fds)?;
    Ok(())
}
