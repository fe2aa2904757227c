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
#                                            limits. Then a second data set with half the WAL (same
#                                            flags otherwise) shows how peak RSS depends on WAL size.
#                                            Results go to benches/results/.
#
# Needs the Rust toolchain; --synth also needs GNU time (/usr/bin/time, Debian package `time`)
# and python3. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/swarmsift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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
  } | tee "$out"
  /usr/bin/time -f '%e %M' -o "$work/gen.time" "$bin" synth -o "$dir" "${flags[@]}" --json > "$work/synth.json"
  read -r gen_s gen_kb < "$work/gen.time"
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
  crc=$(awk '$2 == "crc32c" {print $5}' "$work/limits")
  sbx=$(awk '$2 == "secretbox-decrypt-2-threads" {print $5}' "$work/limits")
  cmds=("info" "wal --format json" "snapshots" "state" "verify" "verify --no-decrypt")
  {
    echo
    echo "## commands (data = WAL record bytes + snapshot bytes = $total bytes; ratio = limit MB/s / command MB/s)"
    printf '%-20s %8s %8s %8s %8s %10s %9s %9s %9s\n' COMMAND WALL_S USER_S SYS_S MB/S ENTRIES/S PEAK_MB X_CRC X_SBOX
  } | tee -a "$out"
  # run DIR COMMAND...: time one command; sets wall, user, sys, rss. Commands under 2 s are run
  # three times and the fastest run is kept (a fraction of a second is at the mercy of the
  # machine's other tenants).
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
  for c in "${cmds[@]}"; do
    read -r -a args <<< "$c"
    run "$dir" "${args[@]}"
    awk -v c="$c" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v n="$total" -v e="$entries" -v crc="${crc:-0}" -v sbx="${sbx:-0}" \
      'BEGIN {mb = n / w / 1e6; printf "%-20s %8.2f %8.2f %8.2f %8.0f %10.0f %9d %9.1f %9.1f\n", c, w, u, s, mb, e / w, r, (mb > 0 ? crc / mb : 0), (mb > 0 ? sbx / mb : 0)}' | tee -a "$out"
  done
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
  "$bin" synth -o "$work/half" "${half[@]}" --json > /dev/null
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
