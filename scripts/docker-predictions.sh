#!/usr/bin/env bash
# Start the REAL Docker engine on every damaged variant of the loopback fixtures and record what
# it did into tests/golden/docker-outcomes.json, the file `tests/docker_predictions.rs` holds
# `swarmsift verify`'s "what Docker would do" to.
#
# Run by hand, as root, never in CI:
#     scripts/docker-predictions.sh [VARIANT...]          # no args = every variant
#     DOCKERD=/path/to/dockerd-29 DOCKER_CLI=/usr/local/bin/docker scripts/docker-predictions.sh
#
# Env:
#   DOCKERD      the engine (default Debian's /usr/sbin/dockerd). Never built by this repo.
#   DOCKER_CLI   its client (default /usr/bin/docker; a 29.x engine needs a current client).
#   ENGINE_WAIT  seconds to wait for the engine to settle (default 60).
#   SWARMSIFT_PRED_WORK  work dir (default a fresh /tmp/dock-pred.XXXXXX, removed on exit unless
#                SWARMSIFT_PRED_KEEP=1).
#
# The variants are `tests/common/variants.rs` (fixtures + the corruption matrix's named
# mutators), written by `cargo run --example docker-variants`. For each one the script:
#   1. checks that every address stored in the data is on loopback (127.0.0.0/8): the raft
#      members and node addresses as `swarmsift state --format json` reads them from the clean
#      capture and from the variant, and every address in docker-state.json. Anything else:
#      the variant is refused, no engine starts;
#   2. copies it to a fresh data root and starts the engine there in its own network namespace
#      (`unshare --net`, only `lo` up): the addresses it binds and dials exist only inside it, and
#      nothing off the machine can be reached (no image pull, no DNS);
#   3. waits until the engine settles and records the outcome:
#        started   the swarm node came up (LocalNodeState active, or pending with raft running)
#        locked    it came up locked (autolock without the key)
#        repaired  started, and it set files aside as .broken (listed)
#        refused   the swarm component failed: its error
#        panicked  dockerd died: its `panic:` message
#      with the raft state etcd logged at startup (`newRaft ... commit: C, ..., lastindex: L`);
#   4. stops it (SIGTERM to its own pid, then SIGKILL after 60 s) and removes its data.
# The engine's entry in the golden file (keyed by its version) is replaced; other engines' stay.
#
# One private containerd (own root, state and socket under the work dir) serves every engine;
# containerd namespaces dock15-N / dock15p-N. Only processes this script started are stopped.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER_CLI:-/usr/bin/docker}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
ENGINE_WAIT=${ENGINE_WAIT:-60}
GOLDEN=$REPO/tests/golden/docker-outcomes.json

log() { printf '[docker-predictions %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
for b in "$DOCKERD" "$DOCKER" "$CONTAINERD" jq unshare ip cargo timeout; do
    command -v "$b" >/dev/null || die "missing $b"
done

ENGINE_VERSION=$("$DOCKERD" --version | sed -n 's/^Docker version \([^,]*\),.*/\1/p')
[[ -n $ENGINE_VERSION ]] || die "cannot read the version of $DOCKERD"
MODERN=0
[[ ${ENGINE_VERSION%%.*} -ge 23 ]] && MODERN=1

WORK=${SWARMSIFT_PRED_WORK:-$(mktemp -d /tmp/dock-pred.XXXXXX)}
mkdir -p "$WORK"
CTD_DIR=$WORK/ctd
CTD_SOCK=$CTD_DIR/containerd.sock
CTD_PID=
ENGINE_PID=

alive() {
    local st
    st=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $st && $st != Z ]]
}

stop_pid() { # stop_pid PID: SIGTERM, wait up to 60 s, SIGKILL
    local pid=$1
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 120); do alive "$pid" || break; sleep 0.5; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    [[ -n $ENGINE_PID ]] && stop_pid "$ENGINE_PID"
    [[ -n $CTD_PID ]] && stop_pid "$CTD_PID"
    awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    if [[ ${SWARMSIFT_PRED_KEEP:-0} == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build and variants
log "building swarmsift and the variants writer"
(cd "$REPO" && cargo build --quiet --bin swarmsift --example docker-variants) || die "cargo build failed"
TGT=${CARGO_TARGET_DIR:-$REPO/target}
SWARMSIFT=$TGT/debug/swarmsift
"$TGT/debug/examples/docker-variants" "$WORK/variants" "$@" || die "writing the variants failed"

# ---------------------------------------------------------------- loopback check
# every address stored in a swarm dir, one a line: raft members and node addresses as swarmsift
# reads them, and docker-state.json's
stored_addresses() { # stored_addresses SWARM_DIR
    local s=$1 envs=()
    [[ -n ${KEY:-} ]] && envs=("SWARMSIFT_UNLOCK_KEY=$KEY")
    # this node and the raft members (info), every node's own and manager address (state)
    env "${envs[@]}" "$SWARMSIFT" info "$s" --format json 2>/dev/null |
        jq -r '[.node.addr?, (.topology.groups[]?.managers[]?.addr)] | .[] | select(. != null and . != "")' || true
    env "${envs[@]}" "$SWARMSIFT" state "$s" --format json 2>/dev/null |
        jq -r '[.nodes[]? | (.Status.Addr?, .ManagerStatus.Addr?)] | .[] | select(. != null and . != "")' || true
    if [[ -f $s/docker-state.json ]]; then
        jq -r '[.LocalAddr, .RemoteAddr, .ListenAddr, .AdvertiseAddr, .DataPathAddr] | .[] | select(. != null and . != "")' \
            "$s/docker-state.json"
    fi
}
host_of() { local a=$1; a=${a%:*}; a=${a#[}; echo "${a%]}"; }
all_loopback() { # all_loopback SWARM_DIR...: true when at least one address was found and all are 127/8
    local n=0 a h
    for s in "$@"; do
        while read -r a; do
            [[ -z $a ]] && continue
            h=$(host_of "$a")
            [[ $h =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "non-loopback address $a stored in $s"; return 1; }
            n=$((n + 1))
        done < <(stored_addresses "$s")
    done
    ((n > 0)) || { log "no stored address found in $*"; return 1; }
}

# ---------------------------------------------------------------- containerd
mkdir -p "$CTD_DIR"
cat >"$CTD_DIR/config.toml" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$CTD_SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CTD_DIR/opt"
EOF
"$CONTAINERD" --config "$CTD_DIR/config.toml" >"$CTD_DIR/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 120); do [[ -S $CTD_SOCK ]] && break; sleep 0.5; done
[[ -S $CTD_SOCK ]] || die "containerd did not start (see $CTD_DIR/containerd.log)"

# ---------------------------------------------------------------- one engine run
raft_files() { (cd "$1" && find . -type f | sed 's|^\./||' | sort); }

# the swarm part of `docker info`, or nothing
swarm_info() { timeout 5 "$DOCKER" -H "unix://$1/sock" info --format '{{json .Swarm}}' 2>/dev/null || true; }

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
n=0
while IFS=$'\t' read -r name scenario capture what; do
    n=$((n + 1))
    src=$WORK/variants/$name/swarm
    clean=$WORK/clean/$scenario
    if [[ ! -d $clean ]]; then
        mkdir -p "$clean" && tar -C "$clean" -xzf "$REPO/fixtures/$scenario/$capture"
    fi
    # swarmsift reads an autolocked capture's addresses with its recorded key (the engine never gets it)
    key=$(jq -r '.unlock_key // empty' "$REPO/fixtures/$scenario/meta.json")
    if ! KEY=$key all_loopback "$clean/swarm" "$src"; then
        log "$name: NOT started: an address stored in the data is not on loopback"
        continue
    fi
    d=$WORK/e$n
    mkdir -p "$d/root" "$d/exec"
    cp -a "$src" "$d/root/swarm"
    raft_files "$d/root/swarm/raft" >"$d/before" 2>/dev/null || : >"$d/before"
    extra=()
    if ((MODERN)); then
        echo '{"features": {"containerd-snapshotter": false, "time-namespaces": false}}' >"$d/daemon.json"
        extra=(--config-file "$d/daemon.json" --ip6tables=false --userland-proxy=false)
    fi
    log "$name: starting $DOCKERD ($ENGINE_VERSION)"
    # shellcheck disable=SC2016
    unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
        "$DOCKERD" --data-root "$d/root" --exec-root "$d/exec" --pidfile "$d/pid" \
        -H "unix://$d/sock" --containerd="$CTD_SOCK" \
        --containerd-namespace "dock15-$n" --containerd-plugins-namespace "dock15p-$n" \
        --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none "${extra[@]}" \
        >"$d/dockerd.log" 2>&1 &
    ENGINE_PID=$!
    outcome= message= end=$((SECONDS + ENGINE_WAIT))
    while :; do
        if ! alive "$ENGINE_PID"; then
            wait "$ENGINE_PID" 2>/dev/null || true
            if grep -q '^panic: ' "$d/dockerd.log"; then
                outcome=panicked
                message=$(grep -m1 '^panic: ' "$d/dockerd.log")
                # raft's logger panics with the logrus entry; its message is the line logged at level panic
                if [[ $message == *"(*logrus.Entry)"* ]]; then
                    message="panic: $(grep -m1 'level=panic' "$d/dockerd.log" | sed -n 's/.*msg="\(.*\)"$/\1/p; s/.*msg="\([^"]*\)".*/\1/p' | head -1)"
                fi
            else
                outcome=exited
                message=$(grep -E 'level=(fatal|error)' "$d/dockerd.log" | tail -1 | sed -n 's/.*msg="\([^"]*\)".*/\1/p')
            fi
            ENGINE_PID=
            break
        fi
        info=$(swarm_info "$d")
        if line=$(grep -m1 'swarm component could not be started' "$d/dockerd.log"); then
            # an autolocked node logs this too, and then answers as locked
            [[ -z $info ]] && { sleep 1; info=$(swarm_info "$d"); }
            if [[ $(jq -r '.LocalNodeState // ""' <<<"$info" 2>/dev/null) == locked ]]; then outcome=locked; break; fi
            outcome=refused
            message=$(sed -n 's/.* error="\(.*\)"$/\1/p' <<<"$line" | sed 's/\\"/"/g')
            break
        fi
        if [[ -n $info ]]; then
            st=$(jq -r '.LocalNodeState // ""' <<<"$info")
            case $st in
                active) outcome=started; break ;;
                locked) outcome=locked; break ;;
                error) outcome=refused; message=$(jq -r '.Error // ""' <<<"$info"); break ;;
            esac
        fi
        if ((SECONDS >= end)); then
            # a manager without quorum stays pending: raft is up when etcd logged newRaft
            if grep -q 'newRaft' "$d/dockerd.log"; then outcome=started; else outcome=timeout; fi
            break
        fi
        sleep 0.5
    done
    # let a started engine finish what it does at startup (repairs, renames) before stopping it
    [[ $outcome == started || $outcome == locked ]] && sleep 3
    [[ -n $ENGINE_PID ]] && { stop_pid "$ENGINE_PID"; ENGINE_PID=; }
    # a dead engine leaves its sandbox mounts (netns files) behind
    awk -v w="$d/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    raft_files "$d/root/swarm/raft" >"$d/after" 2>/dev/null || : >"$d/after"
    broken=$(comm -13 "$d/before" "$d/after" | grep '\.broken$' || true)
    if [[ $outcome == started && -n $broken ]]; then outcome=repaired; fi
    raftline=$(grep -m1 'newRaft' "$d/dockerd.log" || true)
    commit=$(sed -n 's/.*commit: \([0-9]*\),.*/\1/p' <<<"$raftline")
    lastindex=$(sed -n 's/.*lastindex: \([0-9]*\),.*/\1/p' <<<"$raftline")
    message=${message//"$d/root"/<data-root>}
    log "$name: $outcome${message:+: $message}${broken:+ (set aside: $(echo $broken))}"
    jq -nc --arg name "$name" --arg what "$what" --arg outcome "$outcome" --arg message "$message" \
        --arg broken "$broken" --arg commit "$commit" --arg last "$lastindex" '
        {($name): ({what: $what, outcome: $outcome}
            + (if $message != "" then {message: $message} else {} end)
            + {broken: ($broken | split("\n") | map(select(. != "")))}
            + (if $last != "" then {raft: {commit: ($commit | tonumber), last_index: ($last | tonumber)}} else {} end))}' \
        >>"$RESULTS"
    if [[ ${SWARMSIFT_PRED_KEEP:-0} != 1 ]]; then rm -rf "$d"; fi
done <"$WORK/variants/variants.tsv"

# ---------------------------------------------------------------- golden
[[ -s $RESULTS ]] || die "no variant was run"
[[ -f $GOLDEN ]] || echo '{"engines": {}}' >"$GOLDEN"
tmp=$(mktemp "$GOLDEN.XXXXXX")
jq --arg v "$ENGINE_VERSION" --arg bin "$("$DOCKERD" --version)" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --slurpfile r "$RESULTS" '
    .engines[$v] = {dockerd: $bin, recorded: $at,
                    variants: ((.engines[$v].variants // {}) + ($r | add))}' "$GOLDEN" >"$tmp"
mv "$tmp" "$GOLDEN"
log "wrote $GOLDEN ($ENGINE_VERSION: $(jq -s length "$RESULTS") variants)"
