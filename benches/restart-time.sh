#!/usr/bin/env bash
# Real Docker manager restart time: how long a real `dockerd` takes from its start to
# `docker node ls` answering, on copies of swarm dirs of several sizes. Run by hand, as root,
# never in CI (it starts real engines).
#
#   benches/restart-time.sh [--runs N] [--cpus "2 1"] INPUT...
#
# INPUT: a swarm dir (holding raft/ and certificates/) or a fixture tarball holding swarm/
# (fixtures/NAME/swarm.tar.gz). A label may be given as LABEL=INPUT. Inputs are only read: each
# run starts its engine on a fresh copy (an engine writes to its dir).
#
# What is refused (the input is skipped with the reason in the results):
# - any stored address not on 127.0.0.0/8. The addresses are taken from swarmsift's own output of
#   the data (`info --format json`: the WAL's own member and the raft members;
#   `state --format json`: every node's status address and manager address) and from the two
#   start files dockerd reads (state.json: the managers the agent dials; docker-state.json: the
#   listen/advertise addresses). An engine started on a copied swarm dir dials what is stored in
#   it, and only loopback may be dialled here.
# - more than one raft member (a lone engine would have no quorum: `node ls` never answers);
# - an autolocked dir (the engine would wait for `docker swarm unlock`).
# In the copy (never in the input) the two start files are rewritten to listen on and dial
# $RESTART_ADDR (default 127.0.0.50), port kept. The raft data is not changed: its stored member
# address is the engine's own, which a single-member raft does not dial.
#
# Each run: copy, start dockerd (DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: a task assigned to this
# node never pulls an image), poll `docker node ls` every 0.05 s, take the time of the first
# answer, compare the node count with swarmsift's state, stop the engine with SIGTERM and wait
# for it, scan its log for dials to any address other than $RESTART_ADDR. `--cpus "2 1"` repeats
# every input pinned with taskset to that many CPUs (for the scaling estimate; default: all).
#
# The workload of each input (newest snapshot's bytes, WAL entries after it and their bytes) is
# what `swarmsift chart recovery --format json` reports for the last index: the same quantities
# the chart's calibration turns into seconds. The machine is shared (other builds run): the
# 1-minute load average is recorded at each start.
#
# Env: DOCKERD (default /usr/sbin/dockerd), DOCKER (client, default /usr/bin/docker), CONTAINERD
# (default /usr/bin/containerd; a private one is started under the work dir), SWARMSIFT_BIN
# (default $CARGO_TARGET_DIR/release/swarmsift, built if missing), RESTART_ADDR,
# RESTART_WORK (work dir, default a fresh /tmp/ssrestart.XXXXXX, removed at the end),
# RESTART_NS (containerd namespace prefix, default restart), RESTART_TIMEOUT (s, default 900),
# OUT (default benches/results/restart-<UTC time>.tsv).
#
# Output: a TSV, one row per run: input, label, snapshot_mb, wal_entries, wal_mb, nodes (swarmsift),
# nodes_seen (docker node ls), cpus, run, seconds, load1, engine, nproc, status, note. Comment lines
# (#) above it say where and when it was taken.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[restart %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 2; }

RUNS=3
CPUS_LIST=""
INPUTS=()
while (($#)); do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --cpus) CPUS_LIST=$2; shift 2 ;;
        -h|--help) sed -n '2,48p' "$0"; exit 0 ;;
        *) INPUTS+=("$1"); shift ;;
    esac
done
((${#INPUTS[@]})) || die "no INPUT (see --help)"
[[ $(id -u) -eq 0 ]] || die "must run as root"

DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER:-/usr/bin/docker}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
ADDR=${RESTART_ADDR:-127.0.0.50}
NS=${RESTART_NS:-restart}
TIMEOUT=${RESTART_TIMEOUT:-900}
for b in "$DOCKERD" "$DOCKER" "$CONTAINERD" jq python3 taskset; do
    command -v "$b" >/dev/null || die "missing $b"
done
[[ $ADDR == 127.* ]] || die "RESTART_ADDR=$ADDR is not on 127.0.0.0/8"
if [[ -n ${SWARMSIFT_BIN:-} ]]; then
    SS=$SWARMSIFT_BIN
else
    SS=${CARGO_TARGET_DIR:-target}/release/swarmsift
    [[ -x $SS ]] || cargo build --release -q
fi
[[ -x $SS ]] || die "no swarmsift binary at $SS"

WORK=${RESTART_WORK:-$(mktemp -d /tmp/ssrestart.XXXXXX)}
mkdir -p "$WORK"
OUT=${OUT:-benches/results/restart-$(date -u +%Y%m%dT%H%M%SZ).tsv}
ENGINE_VERSION=$("$DOCKERD" --version | sed 's/^Docker version //; s/,.*//')
NPROC=$(nproc)
CTD=$WORK/ctd
CTD_PID=
ENGINE_PID=

alive() { local st; st=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) || return 1; [[ -n $st && $st != Z ]]; }

start_containerd() {
    mkdir -p "$CTD"
    cat >"$CTD/config.toml" <<EOF
version = 2
root = "$CTD/root"
state = "$CTD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD/containerd.sock"
[ttrpc]
  address = "$CTD/containerd.sock.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CTD/opt"
EOF
    "$CONTAINERD" --config "$CTD/config.toml" >"$CTD/containerd.log" 2>&1 &
    CTD_PID=$!
    for _ in $(seq 120); do [[ -S $CTD/containerd.sock ]] && return 0; sleep 0.5; done
    die "containerd did not start (see $CTD/containerd.log)"
}

stop_engine() {
    [[ -n $ENGINE_PID ]] || return 0
    if alive "$ENGINE_PID"; then
        kill -TERM "$ENGINE_PID"
        for _ in $(seq 360); do alive "$ENGINE_PID" || break; sleep 0.5; done
        alive "$ENGINE_PID" && { log "engine $ENGINE_PID did not stop; SIGKILL"; kill -KILL "$ENGINE_PID"; }
    fi
    wait "$ENGINE_PID" 2>/dev/null || true
    ENGINE_PID=
}

cleanup() {
    local rc=$?
    set +e
    stop_engine
    if [[ -n $CTD_PID ]]; then
        kill -TERM "$CTD_PID" 2>/dev/null
        for _ in $(seq 60); do alive "$CTD_PID" || break; sleep 0.5; done
        alive "$CTD_PID" && kill -KILL "$CTD_PID"
        wait "$CTD_PID" 2>/dev/null
    fi
    awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    [[ -z ${RESTART_WORK:-} ]] && rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# unpack INPUT into DIR/swarm (read-only use of INPUT)
materialize() {
    local in=$1 dst=$2
    rm -rf "$dst"; mkdir -p "$dst"
    if [[ -d $in ]]; then
        cp -a "$in" "$dst/swarm"
    else
        tar -C "$dst" -xzf "$in"
        [[ -d $dst/swarm ]] || die "$in: no swarm/ inside"
    fi
}

# every address stored in the data, one per line, from swarmsift's output and the start files
stored_addrs() {
    local d=$1
    "$SS" -q info "$d" --format json | jq -r '(.. | objects | select(has("addr")) | .addr), (.. | objects | select(has("members")) | .members[]? | .addr? // empty)' 2>/dev/null
    "$SS" -q state "$d" --format json | jq -r '.nodes[]? | (.Status.Addr? // empty), (.ManagerStatus.Addr? // empty)'
    [[ -f $d/state.json ]] && jq -r '.[]?.addr // empty' "$d/state.json"
    [[ -f $d/docker-state.json ]] && jq -r '.LocalAddr, .ListenAddr, .AdvertiseAddr, .RemoteAddr, .DataPathAddr | select(. != null and . != "")' "$d/docker-state.json"
    return 0
}

# host part of ADDR[:PORT]
host_of() { local a=$1; a=${a%:*}; [[ $1 != *:* ]] && a=$1; echo "$a"; }

rewrite_start_files() {
    local d=$1
    python3 - "$d" "$ADDR" <<'EOF'
import json, sys, os
d, addr = sys.argv[1], sys.argv[2]
def re(a):
    if not a:
        return a
    host, sep, port = a.rpartition(":")
    return f"{addr}:{port}" if sep else addr
p = os.path.join(d, "state.json")
if os.path.exists(p):
    v = json.load(open(p))
    for m in v:
        m["addr"] = re(m.get("addr", ""))
    open(p, "w").write(json.dumps(v))
p = os.path.join(d, "docker-state.json")
if os.path.exists(p):
    v = json.load(open(p))
    for k in ("LocalAddr",):
        if v.get(k):
            v[k] = addr
    for k in ("ListenAddr", "AdvertiseAddr"):
        if v.get(k):
            v[k] = re(v[k])
    open(p, "w").write(json.dumps(v))
EOF
}

{
    echo "# benches/restart-time.sh: real dockerd restarts, start to \`docker node ls\` answering"
    echo "# taken $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm), $NPROC CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
    echo "# engine: $DOCKERD ($("$DOCKERD" --version)); client $DOCKER; containerd $("$CONTAINERD" --version | awk '{print $3}')"
    echo "# the machine is shared with other agents' builds and engines: load1 is the 1-minute load average at each start"
    echo "# workload (snapshot_mb, wal_entries, wal_mb) from swarmsift $("$SS" --version | awk '{print $2}') chart recovery at the last index; MB = 1e6 bytes"
    printf 'input\tlabel\tsnapshot_mb\twal_entries\twal_mb\tnodes\tnodes_seen\tcpus\trun\tseconds\tload1\tengine\tnproc\tstatus\tnote\n'
} >"$OUT"
log "results -> $OUT"

start_containerd
n=0
for spec in "${INPUTS[@]}"; do
    label=${spec%%=*}; in=${spec#*=}
    [[ $spec == *=* ]] || label=$(basename "$(dirname "$in")")/$(basename "$in")
    [[ -e $in ]] || die "$in does not exist"
    src=$WORK/src
    materialize "$in" "$src"
    d=$src/swarm
    row_skip() { printf '%s\t%s\t\t\t\t\t\t\t\t\t\t%s\t%s\tskipped\t%s\n' "$in" "$label" "$ENGINE_VERSION" "$NPROC" "$1" >>"$OUT"; log "skip $label: $1"; }
    # refusals
    if grep -q 'ENCRYPTED PRIVATE KEY' "$d/certificates/swarm-node.key" 2>/dev/null; then row_skip "autolocked"; continue; fi
    "$SS" -q info "$d" --format json >/dev/null 2>&1 || { row_skip "swarmsift cannot read it, so its addresses are unknown"; continue; }
    bad=$(stored_addrs "$d" | while read -r a; do h=$(host_of "$a"); [[ $h == 127.* ]] || echo "$a"; done | sort -u | tr '\n' ' ')
    [[ -z $bad ]] || { row_skip "stored addresses not on 127.0.0.0/8: $bad"; continue; }
    [[ -n $(stored_addrs "$d") ]] || { row_skip "no stored address found"; continue; }
    members=$("$SS" -q info "$d" --format json | jq '[.. | objects | select(has("members")) | .members | length] | max // 0')
    ((members <= 1)) || { row_skip "$members raft members: a lone engine has no quorum"; continue; }
    w=$("$SS" -q chart recovery "$d" --format json --calibration 1,1,1 | jq -c '.points[-1] | [.snapshot_bytes, .entries, .wal_bytes]')
    snap_mb=$(jq -r '.[0] / 1e6' <<<"$w"); ents=$(jq -r '.[1]' <<<"$w"); wal_mb=$(jq -r '.[2] / 1e6' <<<"$w")
    nodes=$("$SS" -q state "$d" --format json | jq '.nodes | length')
    log "$label: snapshot $snap_mb MB, $ents entries / $wal_mb MB after it, $nodes nodes"
    for cpus in ${CPUS_LIST:-$NPROC}; do
        pin=()
        ((cpus < NPROC)) && pin=(taskset -c "0-$((cpus - 1))")
        for run in $(seq "$RUNS"); do
            n=$((n + 1))
            e=$WORK/e$n
            materialize "$in" "$e/root"
            rewrite_start_files "$e/root/swarm"
            load1=$(cut -d' ' -f1 /proc/loadavg)
            t0=$(date +%s.%N)
            DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 "${pin[@]}" "$DOCKERD" --data-root "$e/root" --exec-root "$e/exec" \
                --pidfile "$e/pid" -H "unix://$e/sock" --containerd="$CTD/containerd.sock" \
                --containerd-namespace "$NS-$n" --containerd-plugins-namespace "$NS-plugins-$n" \
                --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none >"$e/dockerd.log" 2>&1 &
            ENGINE_PID=$!
            status=ok; secs=
            while :; do
                if "$DOCKER" -H "unix://$e/sock" node ls -q >/dev/null 2>&1; then
                    secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(date +%s.%N)")
                    break
                fi
                alive "$ENGINE_PID" || { status=engine-exited; break; }
                [[ $(python3 -c "import sys,time; print(int(time.time() - float(sys.argv[1])))" "$t0") -lt $TIMEOUT ]] || { status=timeout; break; }
                sleep 0.05
            done
            seen=$("$DOCKER" -H "unix://$e/sock" node ls -q 2>/dev/null | wc -l || true)
            stop_engine
            note=
            [[ $status == ok ]] || note="$(grep -m1 -E 'level=(fatal|error)' "$e/dockerd.log" | cut -c1-200 | tr '\t' ' ')"
            dials=$(grep -oE 'dial tcp [0-9.]+:[0-9]+' "$e/dockerd.log" | awk '{print $3}' | sort -u | grep -v "^$ADDR:" | tr '\n' ' ' || true)
            [[ -n $dials ]] && note="$note dialled: $dials"
            [[ $status == ok && $seen != "$nodes" ]] && note="$note node ls shows $seen of $nodes"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$in" "$label" "$snap_mb" "$ents" "$wal_mb" \
                "$nodes" "$seen" "$cpus" "$run" "$secs" "$load1" "$ENGINE_VERSION" "$NPROC" "$status" "${note# }" >>"$OUT"
            log "$label cpus=$cpus run $run: ${secs:-?} s ($status, $seen/$nodes nodes, load $load1)${note:+ - $note}"
            [[ $status == ok ]] || cp "$e/dockerd.log" "$WORK/failed-$n.log" 2>/dev/null || true
            awk -v w="$e/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
            rm -rf "$e"
        done
    done
done
log "done: $OUT"
