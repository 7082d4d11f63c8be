#!/usr/bin/env bash
# acdload against acdd in memory, with --journal_sync=write and with fsync, interleaved run by run
# on the same machine, so the three can be set side by side.
#   bench/journal_load.sh [RUNS (3)] [RATE (2000)] [SECONDS (10)] [OUT_DIR (build/bench-journal)]
#   MODE=session bench/journal_load.sh ...   # acdload's --mode (unary by default)
# Prints one line per run (mode, run, arrivals/s, p50/p99/p99.9 µs, floor p99, acdd CPU s,
# journal bytes per call) and leaves acdload's JSON and acdd's stderr in OUT_DIR. A run whose
# requests failed is reported all the same, and the script then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; rate=${2:-2000}; seconds=${3:-10}; out=${4:-build/bench-journal}
load_mode=${MODE:-unary}
failed=0
bin=build/bin
mkdir -p "$out"
source bench/acdd_start.sh

one() {  # mode run
  local mode=$1 n=$2 data="$out/data-$1-$2" flags=()
  rm -rf "$data"
  case $mode in
    write) flags=(--data_dir "$data" --journal_sync write) ;;
    fsync) flags=(--data_dir "$data" --journal_sync fsync) ;;
  esac
  start_acdd "$out/acdd-$mode-$n" "${flags[@]}"
  local pid=$acdd_pid grpc=$acdd_grpc
  # acdload exits 1 after its JSON when requests failed: stop acdd and report the run all the same.
  $bin/acdload --server "$grpc" --mode "$load_mode" --rate "$rate" --seconds "$seconds" \
    --agents 200 --json > "$out/load-$mode-$n.json" || failed=1
  local cpu
  cpu=$(awk '{print ($14+$15)/100}' /proc/$pid/stat)
  kill -TERM $pid; wait $pid || true
  local bytes=0
  [ "$mode" != memory ] && bytes=$(du -sb "$data" | cut -f1)
  python3 - "$out/load-$mode-$n.json" "$mode" "$n" "$cpu" "$bytes" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); mode, n, cpu, journal = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
calls = d.get("calls", 0) or 1
print("%-6s run %s  %7.1f arrivals/s  p50 %6.0f  p99 %6.0f  p99.9 %6.0f us  floor p99 %6.0f us  "
      "p99/floor %.2f  errors %d  acdd cpu %.2f s  journal %s B/call" % (
      mode, n, d["arrivals_per_s"], d["p50_us"], d["p99_us"], d["p999_us"], d["floor_p99_us"],
      d["p99_us"] / d["floor_p99_us"], d["errors"], cpu, "%.0f" % (journal / calls) if journal else "-"))
PY
  rm -rf "$data"
}

for n in $(seq "$runs"); do
  for mode in memory write fsync; do one $mode "$n"; done
done
exit $failed
