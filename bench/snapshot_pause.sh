#!/usr/bin/env bash
# What snapshots cost a big center while it works: acdfill puts 10,000 agents (not ready) and
# 100,000 waiting calls into acdd on a data dir; then, RUNS times, acdload drives 2,000 calls/s
# through 200 other agents for SECONDS, once with no snapshot taken ("off") and once with one every
# EVERY records ("on"), interleaved, each from a copy of the filled data dir. Reports per run acdload's arrival->offer p50/p99 and its
# no-op floor, the snapshots taken (from acdd's log), how long each took to publish and its size.
#   bench/snapshot_pause.sh [RUNS (3)] [SECONDS (30)] [EVERY (100000)] [OUT_DIR (build/bench-snapshot)]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; seconds=${2:-30}; every=${3:-100000}; out=${4:-build/bench-snapshot}
bin=build/bin; data="$out/data"
rm -rf "$out"; mkdir -p "$out"
no_snapshots=(--snapshot_every_records=0 --snapshot_every=0)

start() {  # label, acdd flags...
  local label=$1; shift
  $bin/acdd --grpc_listen 127.0.0.1:0 --http_listen 127.0.0.1:0 --data_dir "$data" "$@" \
    > "$out/acdd-$label.out" 2> "$out/acdd-$label.err" &
  pid=$!
  for _ in $(seq 1200); do grep -q listening "$out/acdd-$label.out" 2>/dev/null && break; sleep 0.05; done
  grpc=$(sed -E 's/.*grpc=([^ ]*) .*/\1/' "$out/acdd-$label.out")
  http=$(sed -E 's/.*http=(.*)/\1/' "$out/acdd-$label.out")
}
stop() { kill -TERM $pid; wait $pid || true; }

start fill "${no_snapshots[@]}"
$bin/acdfill --server "$grpc" --metrics "$http" --steps 100000 --json > "$out/fill.json"
echo "filled: $(cut -c1-200 "$out/fill.json")"
stop
# One snapshot of the filled center first, so that every later start recovers quickly.
start first --snapshot_every_records=1 --snapshot_every=0
for _ in $(seq 600); do grep -q "snapshot at record" "$out/acdd-first.err" && break; sleep 0.1; done
grep "snapshot at record" "$out/acdd-first.err"
stop
# Every run starts from this data dir, so that no run inherits another's backlog.
cp -r "$data" "$out/filled"

for n in $(seq "$runs"); do
  for mode in off on; do
    if [ $mode = on ]; then flags=(--snapshot_every_records="$every" --snapshot_every=0); else flags=("${no_snapshots[@]}"); fi
    rm -rf "$data"; cp -r "$out/filled" "$data"
    start "$mode-$n" "${flags[@]}"
    $bin/acdload --server "$grpc" --rate 2000 --seconds "$seconds" --agents 200 --queue support \
      --skill tech_support --switch_id "acdload-$mode-$n" --json > "$out/load-$mode-$n.json" ||
      failed=1  # acdload exits 1 after its JSON when requests failed: report the run all the same
    sleep 2  # a snapshot started near the end reports
    stop
    python3 - "$out/load-$mode-$n.json" "$out/acdd-$mode-$n.err" "$mode" "$n" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1])); log = open(sys.argv[2]).read(); mode, n = sys.argv[3], sys.argv[4]
unit = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}
def ms(v, u): return float(v) * unit[u]
snaps = re.findall(r"snapshot at record \d+: (\d+) bytes in ([\d.]+)(ns|us|ms|s)", log)
took = [ms(t, u) for _, t, u in snaps]
print("%-3s run %s  %7.1f arrivals/s  p50 %6.0f  p99 %6.0f  p99.9 %6.0f us  floor p99 %6.0f us  "
      "errors %d  snapshots %d  publish %s ms  size %s MB" % (
      mode, n, d["arrivals_per_s"], d["p50_us"], d["p99_us"], d["p999_us"], d["floor_p99_us"],
      d["errors"], len(snaps),
      "/".join("%.0f" % t for t in took) or "-",
      "%.1f" % (int(snaps[-1][0]) / 1e6) if snaps else "-"))
PY
  done
done
exit "${failed:-0}"
