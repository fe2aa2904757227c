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
# 2,4,8,16,20). PLAN_CACHE=DIR keeps each size's `synth --plan --format json` output there and
# reuses it; the table is then priced with the current model by the same formula synth --plan
# applies (tests/restart_model.rs checks synth's side of it).
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
cache=${PLAN_CACHE:-$work}
mkdir -p "$cache"
files=()
for n in "${NS[@]}"; do
    j=$cache/plan-$n.json
    files+=("$j")
    [[ -s $j ]] && continue
    "$SS" -q synth -o "$work/s$n" --nodes "$n" --managers 1 --tasks "$((n * TPN))" --seed "$SEED" --addr 127.0.0.1 \
        --plan --vcpus "$VCPUS" --format json >"$j.tmp"
    mv "$j.tmp" "$j"
    rm -rf "$work/s$n"
done
python3 - "$VCPUS" "$TPN" "$SEED" "$("$SS" --version)" "${files[@]}" <<'PY'
import json, sys
vcpus = [int(v) for v in sys.argv[1].split(",")]
tpn, seed, version, files = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
m = json.load(open("assets/recovery-model.json"))
pf = m.get("parallel_fraction") or 0.0
at = lambda n: (1 - pf) + pf / n
print(f"| nodes | tasks asked | tasks live | newest snapshot | WAL entries after it | restart here ({m['cpus']} CPUs) | "
      + " | ".join(f"{v} vCPUs" for v in vcpus) + " |")
print("|---" * (6 + len(vcpus)) + "|")
for f in files:
    p = json.load(open(f))["plan"]
    s = (m["fixed_s"] + m["s_per_snapshot_mb"] * p["snapshot_bytes"] / 1e6
         + m["s_per_wal_entry"] * p["wal_entries"] + m["s_per_wal_mb"] * p["wal_bytes"] / 1e6)
    row = [f"{p['nodes']:,}", f"{p['tasks_created']:,}", f"{p['live_tasks']:,}",
           f"{p['snapshot_bytes'] / 1e6:.1f} MB", f"{p['wal_entries']:,} ({p['wal_bytes'] / 1e6:.1f} MB)",
           f"{s:.1f} s"] + [f"{s * at(v) / at(m['cpus']):.1f} s" for v in vcpus]
    print("| " + " | ".join(row) + " |")
print()
print(f"Calibration: {m['source']}, Docker {m['engine']} on {m['cpus']} CPUs, parallel fraction "
      f"{m.get('parallel_fraction')} (assets/recovery-model.json); {tpn} tasks per node asked for, seed {seed}, {version}.")
PY
