#!/usr/bin/env bash
# Whole-tool throughput: time `swarmsift info` (full decode: WAL scan, decryption, payload
# decoding, replay) on unpacked real captures, and report WAL+snapshot bytes per second.
# Usage: benches/whole-tool.sh [scenario...]   (default: every fixtures/*/ capture)
# Needs only the Rust toolchain; uses hyperfine when installed for repeated runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/swarmsift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for d in fixtures/*/; do scenarios+=("$(basename "$d")"); done
fi
printf '%-16s %-16s %12s %12s %10s %10s\n' SCENARIO CAPTURE DATA_BYTES LAST_INDEX SECONDS MB/S
for s in "${scenarios[@]}"; do
  for t in fixtures/"$s"/*.tar.gz; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .tar.gz)
    dest="$work/$s-$name"
    mkdir -p "$dest"
    tar -xzf "$t" -C "$dest"
    dir="$dest/swarm"
    # Bytes actually holding records (the preallocated zero tail is skipped by the scanner but
    # still mapped), plus snapshots.
    bytes=$(find "$dir/raft" -name '*.wal' -o -name '*.snap' | xargs -r du -b --apparent-size | awk '{s+=$1} END {print s+0}')
    key=()
    if [ -f "fixtures/$s/meta.json" ] && grep -q '"unlock_key"' "fixtures/$s/meta.json"; then
      k=$(sed -n 's/.*"unlock_key": *"\([^"]*\)".*/\1/p' "fixtures/$s/meta.json")
      printf '%s\n' "$k" > "$work/key"
      key=(--unlock-key-file "$work/key")
    fi
    entries=$("$bin" info "$dir" "${key[@]}" --format json 2>/dev/null | grep -o '"last_index": [0-9]*' | head -1 | grep -o '[0-9]*$' || true)
    start=$(date +%s.%N)
    for _ in 1 2 3; do "$bin" info "$dir" "${key[@]}" >/dev/null 2>&1 || true; done
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN {print (b - a) / 3}')
    mbs=$(awk -v n="$bytes" -v s="$secs" 'BEGIN {print n / s / 1000000}')
    printf '%-16s %-16s %12d %12s %10.3f %10.1f\n' "$s" "$name" "$bytes" "${entries:-?}" "$secs" "$mbs"
  done
done
