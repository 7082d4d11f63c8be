#!/usr/bin/env bash
# Every estimator's accuracy and bias on every shipped acdsim scenario, the oracle included.
#   bench/ewt_accuracy.sh [ORACLE_RUNS (200)] [OUT_DIR (build/bench-ewt)] [HOURS]
# HOURS (optional) replaces every scenario's measured hours: the oracle costs about a
# millisecond per caller in the 100-agent scenarios, so 200 hours of them take the best part of
# an hour.
# Leaves acdsim's JSON per scenario in OUT_DIR and prints one block per scenario; exits 1 if any
# queue misses the targets of tests/routing/sim/check_ewt_accuracy.py (acd <= 0.75 x the moving
# average, or within 5% of the oracle where the oracle itself is above that; acd <= hol;
# |bias| <= 10%).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}; out=${2:-build/bench-ewt}; hours=(); [ -n "${3:-}" ] && hours=(--hours "$3")
mkdir -p "$out"
failed=0
for scenario in routing/sim/scenarios/*.yaml; do
  grep -q '^traffic:' "$scenario" || continue  # a policy file
  name=$(basename "$scenario" .yaml)
  build/bin/acdsim --scenario "$scenario" --json --oracle_runs "$runs" "${hours[@]}" \
    > "$out/$name.json" \
    2> "$out/$name.err"
  python3 - "$out/$name.json" "$(cat "$out/$name.err")" <<'PY' || failed=1
import json, sys
r = json.load(open(sys.argv[1]))
names = ["acd", "hol", "les", "moving_average", "ql_m_reference", "oracle"]
print(f"\n{r['scenario']}  ({r['hours']:.0f} h, seed {r['seed']}, oracle {r['oracle_runs']} runs; "
      f"{sys.argv[2].strip()})")
print(f"{'queue':12} {'waited':>7} {'wait s':>7}  " + " ".join(f"{n[:14]:>14}" for n in names) +
      "   acd/ma  target")
bad = False
for q in r["queues"]:
    rmse, bias = q["ewt_rel_rmse"], q["ewt_rel_bias"]
    cells = " ".join(f"{rmse[n]:6.3f}/{bias[n]:+.2f}".rjust(14) for n in names)
    ratio = rmse["acd"] / rmse["moving_average"]
    reach = rmse["oracle"] <= 0.75 * rmse["moving_average"]
    ok = (ratio <= 0.75 if reach else rmse["acd"] <= 1.05 * rmse["oracle"]) and \
        rmse["acd"] <= rmse["hol"] and abs(bias["acd"]) <= 0.10
    bad |= not ok
    print(f"{q['name']:12} {q['waited']:7d} {q['mean_wait_of_waiters_seconds']:7.1f}  {cells}   "
          f"{ratio:6.3f}  {'ok' if ok else 'MISSED'}{'' if reach else ' (0.75 out of reach)'}")
sys.exit(1 if bad else 0)
PY
done
echo
echo "cells: RMSE / mean wait / bias / mean wait, over answered callers who waited"
exit $failed
