#!/usr/bin/env bash
# The hardware-planning table of docs/restart-planning.md: for each node count, `swarmsift synth
# --plan` writes a swarm of that size (TASKS_PER_NODE tasks per node over its history, one
# manager, the other flags at synth's defaults) into a temporary dir, reads it back and prices a
# manager restart with the shipped model of measured Docker restarts (assets/recovery-model.json),
# scaled to other vCPU counts. Prints a Markdown table. Run by hand; needs no Docker.
#
#   benches/plan-table.sh [N...]          default N: 500 1000 2000 3000 4000 5000
#
# Env: SWARMSIFT_BIN (default $CARGO_TARGET_DIR/release/swarmsift), TASKS_PER_NODE (default 20,
# Swarm3k's ratio: about 100,000 tasks on 4,700 nodes), SEED (default 1), VCPUS (default
# 2,4,8,16,20).
set -euo pipefail
cd "$(dirname "$0")/.."
SS=${SWARMSIFT_BIN:-${CARGO_TARGET_DIR:-target}/release/swarmsift}
[[ -x $SS ]] || cargo build --release -q
TPN=${TASKS_PER_NODE:-20}
SEED=${SEED:-1}
VCPUS=${VCPUS:-2,4,8,16,20}
NS=("$@")
((${#NS[@]})) || NS=(500 1000 2000 3000 4000 5000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
IFS=, read -r -a VS <<<"$VCPUS"
hdr="| nodes | tasks asked | tasks live | newest snapshot | WAL after it | restart here |"
sep="|---|---|---|---|---|---|"
for v in "${VS[@]}"; do hdr="$hdr $v vCPUs |"; sep="$sep---|"; done
echo "$hdr"; echo "$sep"
for n in "${NS[@]}"; do
    out=$work/s$n
    t=$((n * TPN))
    "$SS" -q synth -o "$out" --nodes "$n" --managers 1 --tasks "$t" --seed "$SEED" --addr 127.0.0.1 \
        --plan --vcpus "$VCPUS" --format json >"$work/p$n.json"
    python3 - "$work/p$n.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
p = j["plan"]
row = [f"{p['nodes']:,}", f"{p['tasks_created']:,}", f"{p['live_tasks']:,}",
       f"{p['snapshot_bytes'] / 1e6:.1f} MB", f"{p['wal_entries']:,} entries, {p['wal_bytes'] / 1e6:.1f} MB",
       f"{p['restart_s']:.1f} s"]
row += [f"{s:.1f} s" for _, s in p["scaled"]]
print("| " + " | ".join(row) + " |")
EOF
    rm -rf "$out"
done
cal=$(python3 -c "import json; m=json.load(open('assets/recovery-model.json')); print(f\"{m['source']}: Docker {m['engine']} on {m['cpus']} CPUs, parallel fraction {m['parallel_fraction']}\")")
echo
echo "Calibration: $cal (assets/recovery-model.json); $TPN tasks per node asked for, seed $SEED, $("$SS" --version)."
