#!/usr/bin/env bash
# CTest's short run of acdload (its figures come from session_load.sh and journal_load.sh): each
# way acdload plays a switch, against a fresh acdd: --mode unary, --mode session, with --pipeline,
# and with --session_hold_ms (an agent's events held for the next arrival, or written by the hold's
# own timer when none comes: at 100 arrivals/s most of them are). Each run must exit 0 (no request
# failed or went unanswered), measure offers, and say in its JSON how it ran.
#   bench/acdload_modes.sh ACDD ACDLOAD OUT_DIR
set -euo pipefail
acdd=$1 acdload=$2 out=$3
mkdir -p "$out"
source "$(dirname "$0")/acdd_start.sh"
ACDD=$acdd
acdd_pid=
trap '[ -n "$acdd_pid" ] && kill -KILL "$acdd_pid" 2>/dev/null' EXIT
run() {  # name acdload-flags...
  local name=$1; shift
  ACDD_START_SECONDS=30 start_acdd "$out/acdd-$name" || { echo "$name: no acdd to load"; return 1; }
  local pid=$acdd_pid grpc=$acdd_grpc
  local rc=0
  "$acdload" --server "$grpc" --acdd_pid "$pid" --rate 100 --seconds 2 --agents 20 --json "$@" \
    > "$out/load-$name.json" || rc=$?
  kill -TERM "$pid"
  local acdd_rc=0
  wait "$pid" || acdd_rc=$?
  acdd_pid=
  [ "$acdd_rc" = 0 ] || { echo "$name: acdd exited $acdd_rc after SIGTERM"; return 1; }
  /usr/bin/python3 - "$out/load-$name.json" "$name" "$rc" "$@" <<'PY'
import json, sys
path, name, rc, flags = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
try:
    d = json.load(open(path))
except ValueError as e:
    sys.exit("%s: acdload exited %d without its JSON (%s)" % (name, rc, e))
want_mode = "session" if "session" in flags else "unary"
hold = float(flags[flags.index("--session_hold_ms") + 1]) if "--session_hold_ms" in flags else 0
problems = []
if rc != 0: problems.append("acdload exited %d; failures %s" % (rc, d.get("failures")))
if d["errors"] != 0: problems.append("%d errors" % d["errors"])
if d["offers_measured"] < 100: problems.append("only %d offers measured" % d["offers_measured"])
if d["mode"] != want_mode: problems.append("mode %s, not %s" % (d["mode"], want_mode))
if d["pipeline"] != ("--pipeline" in flags): problems.append("pipeline %s" % d["pipeline"])
if d["session_hold_ms"] != hold: problems.append("session_hold_ms %s, not %s" % (d["session_hold_ms"], hold))
print("%-9s %s: %d calls, %d offers measured, p99 %.0f us, %d errors%s" % (
    name, " ".join(flags), d["calls"], d["offers_measured"], d["p99_us"], d["errors"],
    "; " + "; ".join(problems) if problems else ""))
sys.exit(1 if problems else 0)
PY
}
failed=0
run unary --mode unary || failed=1
run session --mode session || failed=1
run pipelined --mode session --pipeline || failed=1
run held --mode session --session_hold_ms 3 || failed=1
exit $failed
