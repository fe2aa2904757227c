#!/usr/bin/env bash
# Whole-tool throughput.
#
#   benches/whole-tool.sh [scenario...]      time `swarmsift info` (full decode: WAL scan,
#                                            decryption, payload decoding, replay) on unpacked
#                                            real captures (default: every fixtures/*/ capture)
#   benches/whole-tool.sh --synth [FLAGS...] generate a Swarm3k-scale dir with `swarmsift synth`
#                                            (default flags: about 1.4 GB of WAL written, 1.1 GB
#                                            kept after GC, 5 snapshots of about 80 MB), measure
#                                            the machine's limits on the same bytes (page-cache
#                                            read, CRC-32C, secretbox), then time info, wal --format
#                                            json, snapshots, state, verify and verify --no-decrypt:
#                                            wall/user/sys seconds (best of 3 for runs under 2 s),
#                                            MB/s, entries/s, peak RSS (/usr/bin/time -v), and
#                                            each command's ratio to the
#                                            limits. Then the peer comparison (below) when
#                                            SWARM_RAFTTOOL is set. Then a second data set with half
#                                            the WAL (same flags otherwise) shows how peak RSS
#                                            depends on WAL size. Results go to benches/results/.
#   benches/whole-tool.sh --real DIR         the same on a real swarm dir (the dir holding raft/ and
#                                            certificates/, e.g. the local, never committed capture
#                                            of `fixtures/record.sh big-real-wal`): time info,
#                                            verify, wal --format json, snapshots, timeline and
#                                            state --format json (wall/user/sys s, MB/s, entries/s,
#                                            peak RSS in MiB, best of 3 under 2 s), then the peer
#                                            comparison when SWARM_RAFTTOOL is set. DIR is only read.
#                                            Results go to benches/results/real-*.txt.
#
# Peer comparison (--synth and --real, when SWARM_RAFTTOOL=/path/to/swarm-rafttool is set): on the
# same data in the same run, `swarmsift state DIR --format json > /dev/null` against swarmkit's
# `swarm-rafttool dump-object task -d COPY > /dev/null` (both rebuild the whole store and print
# every task), wall seconds and peak RSS from `/usr/bin/time -f '%e %M'` (best of 3 for runs
# under 2 s), and the ratios peer / swarmsift. COPY is a fresh `cp -a` of the data dir before
# every peer run (not timed): swarm-rafttool opens the WAL for writing, locks it and repairs a
# torn tail, so it never gets the original; whether it changed its copy is reported. The results
# name the peer: SWARM_RAFTTOOL_VERSION (e.g. "swarmkit <commit> <date>"), else what
# `swarm-rafttool --version` prints, else "unknown", plus the binary's sha256. An autolocked dir
# needs SWARMSIFT_UNLOCK_KEY (--synth: taken from the synth report when it made one); the peer
# gets the same key as --unlock-key.
#
# SWARMSIFT_BIN=PATH uses that prebuilt swarmsift binary instead of `cargo build --release`
# (--synth still runs `cargo bench --bench limits` in the repo).
#
# Needs the Rust toolchain; --synth and --real also need GNU time (/usr/bin/time, Debian package
# `time`) and python3. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SWARMSIFT_BIN:-}" ]; then
  bin=$SWARMSIFT_BIN
  [ -x "$bin" ] || { echo "SWARMSIFT_BIN=$bin is not an executable" >&2; exit 2; }
else
  cargo build --release -q
  bin=${CARGO_TARGET_DIR:-target}/release/swarmsift
fi
peer=${SWARM_RAFTTOOL:-}
if [ -n "$peer" ] && [ ! -x "$peer" ]; then
  echo "SWARM_RAFTTOOL=$peer is not an executable" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run DIR COMMAND...: time one swarmsift command; sets wall, user, sys, rss (MiB). Commands under
# 2 s are run three times and the fastest run is kept (a fraction of a second is at the mercy of
# the machine's other tenants).
run() {
  local d=$1 best="" i w
  shift
  for i in 1 2 3; do
    /usr/bin/time -v -o "$work/t$i" "$bin" "$1" "$d" "${@:2}" --no-progress > /dev/null 2>&1 || true
    w=$(awk -F': ' '/Elapsed/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/t$i")
    if [ -z "$best" ] || awk -v a="$w" -v b="$wall" 'BEGIN {exit !(a < b)}'; then best=$i; wall=$w; fi
    awk -v a="$w" 'BEGIN {exit !(a >= 2)}' && break
  done
  user=$(awk -F': ' '/User time/ {print $2}' "$work/t$best")
  sys=$(awk -F': ' '/System time/ {print $2}' "$work/t$best")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%d", $2 / 1024}' "$work/t$best")
}

# peer_version: how the results name the peer.
peer_version() {
  local v=${SWARM_RAFTTOOL_VERSION:-}
  if [ -z "$v" ]; then
    v=$("$peer" --version 2>/dev/null | head -1) || v=""
  fi
  echo "${v:-unknown (set SWARM_RAFTTOOL_VERSION)}; sha256 $(sha256sum "$peer" | cut -c1-16)"
}

# timed OUT CMD...: best of 3 (for runs under 2 s) of `/usr/bin/time -f '%e %M' CMD > /dev/null`,
# stderr to OUT.err; sets twall, trss (MiB), trc (exit status of the fastest run). Before every
# run the function named by $before (if any) is called, untimed.
timed() {
  local o=$1 i w m rc
  shift
  twall=""
  for i in 1 2 3; do
    [ -z "${before:-}" ] || "$before"
    rc=0
    /usr/bin/time -f '%e %M' -o "$o.t" "$@" > /dev/null 2> "$o.err" || rc=$?
    read -r w m < <(tail -1 "$o.t")
    if [ -z "$twall" ] || awk -v a="$w" -v b="$twall" 'BEGIN {exit !(a < b)}'; then
      twall=$w; trss=$((m / 1024)); trc=$rc
    fi
    awk -v a="$w" 'BEGIN {exit !(a >= 2)}' && break
  done
  return 0
}

# listing DIR: every file under DIR with size, mode and mtime (to see what the peer changed)
listing() { (cd "$1" && find . -printf '%y %P %s %m %T@\n' | sort -k2); }

# peer_compare DIR OUTFILE: swarmsift state --format json against swarm-rafttool dump-object task
# on DIR (the peer on a fresh copy each run); appends the table to OUTFILE.
peer_compare() {
  local d=$1 out=$2 copy=$work/peer-copy pkey=() ours_w ours_r ours_rc changed dl
  [ -z "${SWARMSIFT_UNLOCK_KEY:-}" ] || pkey=(--unlock-key "$SWARMSIFT_UNLOCK_KEY")
  before=""
  timed "$work/ours" "$bin" state "$d" --format json --no-progress
  ours_w=$twall; ours_r=$trss; ours_rc=$trc
  fresh_copy() { rm -rf "$copy"; cp -a "$d" "$copy"; sync -f "$copy" 2>/dev/null || true; }
  before=fresh_copy
  timed "$work/peer" "$peer" dump-object task -d "$copy" "${pkey[@]}"
  before=""
  # what the peer did to its input (the copy of its last run against the original)
  dl=$(diff <(listing "$d") <(listing "$copy") | grep '^[<>]' || true)
  changed=$(grep -c '^>' <<< "$dl" || true)
  local cmpd=0 gone=0 f
  while IFS= read -r f; do
    if [ ! -e "$copy/$f" ]; then gone=$((gone + 1)); elif ! cmp -s "$d/$f" "$copy/$f"; then cmpd=$((cmpd + 1)); fi
  done < <(cd "$d" && find . -type f -printf '%P\n')
  {
    echo
    echo "## swarmsift against the peer on the same data (best of 3 under 2 s; /usr/bin/time -f '%e %M')"
    echo "peer:    $peer: $(peer_version)"
    printf '%-42s %8s %9s %5s\n' TOOL WALL_S PEAK_MIB EXIT
    printf '%-42s %8.2f %9d %5d\n' "swarmsift state --format json" "$ours_w" "$ours_r" "$ours_rc"
    printf '%-42s %8.2f %9d %5d\n' "swarm-rafttool dump-object task (on a copy)" "$twall" "$trss" "$trc"
    awk -v pw="$twall" -v pr="$trss" -v w="$ours_w" -v r="$ours_r" \
      'BEGIN {printf "%-42s %8.2f %9.2f\n", "ratio peer / swarmsift", (w > 0 ? pw / w : 0), (r > 0 ? pr / r : 0)}'
    if [ "$trc" -ne 0 ]; then echo "peer failed (exit $trc): $(tail -3 "$work/peer.err" | tr '\n' ' ')"; fi
    if [ "$ours_rc" -ne 0 ]; then echo "swarmsift state exit $ours_rc: $(tail -3 "$work/ours.err" | tr '\n' ' ')"; fi
    echo "peer's copy after its last run: $changed files or dirs new or with another size, mode or mtime; $cmpd files with other content than the original, $gone removed${dl:+ (< original, > copy: type, path, size, mode, mtime)}"
    [ -z "$dl" ] || head -20 <<< "$dl" | sed 's/^/    /'
  } | tee -a "$out"
  rm -rf "$copy"
}

if [ "${1:-}" = "--synth" ]; then
  shift
  flags=("$@")
  if [ ${#flags[@]} -eq 0 ]; then
    # --start: the history ends shortly before today, so the node certificate (90 days, as
    # Docker issues them) is still valid and `verify` judges the data, not the calendar.
    flags=(--wal-bytes 1400M --snapshot-interval 50000 --keep-old-snapshots 10
      --start "$(date -u -d '-30 days' +%Y-%m-%dT%H:%M:%SZ)")
  fi
  mkdir -p benches/results
  out="benches/results/synth-$(date -u +%Y%m%dT%H%M%SZ).txt"
  dir="$work/swarm"
  {
    echo "# swarmsift whole-tool benchmark on a synth data set"
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1e6}' /proc/meminfo), $(uname -sr)"
    echo "cpu:     $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "version: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)')"
    echo "synth:   ${flags[*]}"
    [ -z "$peer" ] || echo "peer:    $peer: $(peer_version)"
  } | tee "$out"
  /usr/bin/time -f '%e %M' -o "$work/gen.time" "$bin" synth -o "$dir" "${flags[@]}" --format json > "$work/synth.json"
  read -r gen_s gen_kb < "$work/gen.time"
  # an autolocked synth dir (--autolock, --unlock-key-file): its key, for us and for the peer
  k=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("unlock_key") or "")' "$work/synth.json" 2>/dev/null || true)
  [ -z "$k" ] || export SWARMSIFT_UNLOCK_KEY="$k"
  "$bin" info "$dir" --format json > "$work/info.json" 2>/dev/null || true
  read -r wal_bytes snap_bytes entries snap_max < <(python3 - "$work/info.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
w = sum(s["valid_bytes"] for s in d["wal"]["segments"])
sn = [s["bytes"] for s in d["snapshots"]]
print(w, sum(sn), d["wal"]["entries"] + d["wal"]["overwritten"], max(sn or [0]))
PY
)
  total=$((wal_bytes + snap_bytes))
  {
    echo "data:    $wal_bytes bytes of WAL records, $snap_bytes bytes of snapshots (largest $snap_max), $entries entries; generated in ${gen_s}s (peak RSS $((gen_kb / 1024)) MB)"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (load average before the runs: other work on the machine slows wall times)"
    echo
    echo "## limits on the same bytes (best of 3)"
    echo "LIMIT                          BYTES    SECONDS   MB/S"
  } | tee -a "$out"
  SWARMSIFT_LIMITS_DIR="$dir" cargo bench -q --bench limits 2>/dev/null | grep '^limit' > "$work/limits" || true
  awk '{printf "%-26s %12d %10.3f %6d\n", $2, $3, $4, $5}' "$work/limits" | tee -a "$out"
  [ -s "$work/limits" ] || echo "(none: the limits bench printed nothing; try SWARMSIFT_LIMITS_DIR=DIR cargo bench --bench limits)" | tee -a "$out"
  crc=$(awk '$2 == "crc32c" {print $5}' "$work/limits")
  sbx=$(awk '$2 == "secretbox-decrypt-2-threads" {print $5}' "$work/limits")
  cmds=("info" "wal --format json" "snapshots" "state" "verify" "verify --no-decrypt")
  {
    echo
    echo "## commands (data = WAL record bytes + snapshot bytes = $total bytes; ratio = limit MB/s / command MB/s)"
    printf '%-20s %8s %8s %8s %8s %10s %9s %9s %9s\n' COMMAND WALL_S USER_S SYS_S MB/S ENTRIES/S PEAK_MB X_CRC X_SBOX
  } | tee -a "$out"
  for c in "${cmds[@]}"; do
    read -r -a args <<< "$c"
    run "$dir" "${args[@]}"
    awk -v c="$c" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v n="$total" -v e="$entries" -v crc="${crc:-0}" -v sbx="${sbx:-0}" \
      'BEGIN {mb = n / w / 1e6; printf "%-20s %8.2f %8.2f %8.2f %8.0f %10.0f %9d %9.1f %9.1f\n", c, w, u, s, mb, e / w, r, (mb > 0 ? crc / mb : 0), (mb > 0 ? sbx / mb : 0)}' | tee -a "$out"
  done
  if [ -n "$peer" ]; then peer_compare "$dir" "$out"; fi
  # Memory against WAL size: the same flags with half the WAL. Streaming commands should peak at
  # the same RSS on both (what remains is the live store and one snapshot, not the log).
  half=()
  for ((i = 0; i < ${#flags[@]}; i++)); do
    if [ "${flags[$i]}" = "--wal-bytes" ]; then
      v=${flags[$((i + 1))]}
      half+=(--wal-bytes "$(( ${v%M} / 2 ))M")
      i=$((i + 1))
    else
      half+=("${flags[$i]}")
    fi
  done
  rm -rf "$dir"
  "$bin" synth -o "$work/half" "${half[@]}" --format json > /dev/null
  "$bin" info "$work/half" --format json > "$work/half.json" 2>/dev/null || true
  read -r hwal hentries < <(python3 - "$work/half.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(s["valid_bytes"] for s in d["wal"]["segments"]), d["wal"]["entries"] + d["wal"]["overwritten"])
PY
)
  {
    echo
    echo "## peak RSS against WAL size (second data set: ${half[*]})"
    printf '%-20s %12s %12s\n' COMMAND "PEAK_MB@${wal_bytes}" "PEAK_MB@${hwal}"
  } | tee -a "$out"
  for c in "info" "wal --format json" "verify" "verify --no-decrypt" "state"; do
    read -r -a args <<< "$c"
    full=$(awk -v c="$c" 'index($0, c " ") == 1 {print $(NF - 2); exit}' <(sed -n '/^## commands/,/^$/p' "$out" | tail -n +3))
    run "$work/half" "${args[@]}"
    printf '%-20s %12s %12s\n' "$c" "$full" "$rss" | tee -a "$out"
  done
  echo "($hentries entries in the second set)" | tee -a "$out"
  echo "results written to $out"
  exit 0
fi

if [ "${1:-}" = "--real" ]; then
  dir=${2:-}
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "usage: $0 --real SWARM-DIR" >&2; exit 2; }
  dir=$(cd "$dir" && pwd)
  mkdir -p benches/results
  name=$(basename "$dir")
  [ "$name" != swarm ] || name=$(basename "$(dirname "$dir")")
  out="benches/results/real-$name-$(date -u +%Y%m%dT%H%M%SZ).txt"
  # exit 1 = problems found (the JSON is still whole); 2 = could not run (e.g. locked, no key)
  rc=0; "$bin" info "$dir" --format json --no-progress > "$work/info.json" 2> "$work/info.err" || rc=$?
  [ "$rc" -le 1 ] || { echo "swarmsift info $dir failed: $(cat "$work/info.err")" >&2; exit 2; }
  read -r wal_bytes segs snap_bytes nsnaps entries tasks last < <(python3 - "$work/info.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
segs = d["wal"]["segments"]
sn = [s["bytes"] for s in d["snapshots"]]
print(sum(s["valid_bytes"] for s in segs), len(segs), sum(sn), len(sn),
      d["wal"]["entries"] + d["wal"]["overwritten"], d["objects"]["tasks"], d["wal"]["last_index"])
PY
)
  wal_files=$(find "$dir" -name '*.wal' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  total=$((wal_bytes + snap_bytes))
  {
    echo "# swarmsift whole-tool benchmark on a real swarm dir"
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1e6}' /proc/meminfo), $(uname -sr)"
    echo "cpu:     $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "version: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)')$([ -z "${SWARMSIFT_BIN:-}" ] || echo "; binary $SWARMSIFT_BIN")"
    echo "input:   $dir"
    echo "data:    $wal_bytes bytes of WAL records in $segs segments ($wal_files bytes of segment files), $snap_bytes bytes in $nsnaps snapshots, $entries entries (last index $last), $tasks tasks in the final state"
    [ -z "$peer" ] || echo "peer:    $peer: $(peer_version)"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (load average before the runs: other work on the machine slows wall times)"
    echo
    echo "## commands (data = WAL record bytes + snapshot bytes = $total bytes)"
    printf '%-20s %8s %8s %8s %8s %10s %9s\n' COMMAND WALL_S USER_S SYS_S MB/S ENTRIES/S PEAK_MIB
  } | tee "$out"
  for c in "info" "verify" "wal --format json" "snapshots" "timeline" "state --format json"; do
    read -r -a args <<< "$c"
    run "$dir" "${args[@]}"
    awk -v c="$c" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v n="$total" -v e="$entries" \
      'BEGIN {printf "%-20s %8.2f %8.2f %8.2f %8.0f %10.0f %9d\n", c, w, u, s, (w > 0 ? n / w / 1e6 : 0), (w > 0 ? e / w : 0), r}' | tee -a "$out"
  done
  if [ -n "$peer" ]; then peer_compare "$dir" "$out"; fi
  echo "results written to $out"
  exit 0
fi

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
