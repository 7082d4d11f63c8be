#!/usr/bin/env bash
# What a switch session saves over the unary RPCs: acdload in --mode unary, --mode session,
# --mode session --pipeline (the agent's three answers sent as one message) and --mode session
# --session_hold_ms 5 (an agent's events wait up to 5 ms to go with the next arrival) against a
# fresh acdd each run, in turn, PAIRS times (the order rotating), then acdload --max in each.
#   bench/session_load.sh [PAIRS (3)] [RATE (2000)] [SECONDS (10)] [OUT_DIR (build/bench-session)]
#   MAX=0 bench/session_load.sh ...   # without the --max searches
# Per run: arrivals/s, arrival->offer p50/p99, the floor p99 of its mode (health Check round
# trip; ping on a second session), p99 / floor p99, and CPU seconds per 1000 calls of both
# processes. Per round and as medians: session / unary for p99 and for CPU per call (plain,
# pipelined and held). Then each one's highest rate with p99 under 10 ms, and the ratios. acdload's JSON and acdd's stderr stay
# in OUT_DIR. A run whose requests failed is reported all the same; the script then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-3}; rate=${2:-2000}; seconds=${3:-10}; out=${4:-build/bench-session}
bin=build/bin
failed=0
mkdir -p "$out"
source bench/acdd_start.sh

one() {  # setup name [acdload flags...]
  local setup=$1 name=$2 flags=(--mode "$1"); shift 2
  [ "$setup" = pipelined ] && flags=(--mode session --pipeline)
  [ "$setup" = held ] && flags=(--mode session --session_hold_ms 5)
  start_acdd "$out/acdd-$name"
  $bin/acdload --server "$acdd_grpc" --acdd_pid "$acdd_pid" "${flags[@]}" --agents 200 --json \
    "$@" > "$out/load-$name.json" || failed=1
  kill -TERM "$acdd_pid"; wait "$acdd_pid" || true
}

setups=(unary session pipelined held)
for n in $(seq "$pairs"); do
  for i in "${!setups[@]}"; do
    setup=${setups[$(( (i + n - 1) % ${#setups[@]} ))]}
    one "$setup" "$setup-$n" --rate "$rate" --seconds "$seconds"
  done
done
if [ "${MAX:-1}" != 0 ]; then
  for setup in "${setups[@]}"; do one "$setup" "max-$setup" --max --rate "$rate" --seconds 5; done
fi

python3 - "$out" "$pairs" "${MAX:-1}" <<'PY'
import json, statistics, sys
out, pairs, with_max = sys.argv[1], int(sys.argv[2]), sys.argv[3] != "0"
load = lambda name: json.load(open("%s/load-%s.json" % (out, name)))
setups = ("unary", "session", "pipelined", "held")
ratios = {(s, what): [] for s in setups[1:] for what in ("p99_us", "cpu_seconds_per_1000_calls")}
for n in range(1, pairs + 1):
    runs = {s: load("%s-%d" % (s, n)) for s in setups}
    for s, d in runs.items():
        print("%-9s run %d  %7.1f arrivals/s  p50 %6.0f  p99 %6.0f us  floor p99 %6.0f us  "
              "p99/floor %.2f  errors %d  CPU/1000 calls %.3f s (acdload %.3f + acdd %.3f)" % (
                  s, n, d["arrivals_per_s"], d["p50_us"], d["p99_us"], d["floor_p99_us"],
                  d["p99_over_floor_p99"], d["errors"], d["cpu_seconds_per_1000_calls"],
                  d["acdload_cpu_seconds_per_1000_calls"], d["acdd_cpu_seconds_per_1000_calls"]))
    for (s, what), values in ratios.items():
        values.append(runs[s][what] / runs["unary"][what])
for (s, what), values in ratios.items():
    print("%s/unary %s per round: %s; median %.2f" % (
        s, "p99" if what == "p99_us" else "CPU per call", ", ".join("%.2f" % r for r in values),
        statistics.median(values)))
if with_max:
    best = {}
    for s in setups:
        d = load("max-" + s)
        best[s] = d["max_rate"]
        print("%-9s --max: %.0f calls/s with p99 under 10 ms; steps %s" % (s, d["max_rate"], ", ".join(
            "%.0f/s p99 %.1f ms%s" % (step["rate"], step["p99_us"] / 1000,
                                      "" if step.get("passed", True) else " (failed)")
            for step in d["steps"])))
    for s in setups[1:]:
        print("%s/unary highest rate: %.2f" % (s, best[s] / best["unary"]))
PY
exit $failed
