#!/usr/bin/env bash
# Recovery time of a big center: acdfill puts 10,000 agents (not ready) and 100,000 waiting calls
# into acdd on a data dir; acdd is restarted to take a snapshot of that state (its size, how long
# it took); acdload then runs calls through other agents
# until the journal holds about RECORDS records after the snapshot, acdd is killed with SIGKILL and
# started again on the same data dir. Reports how long the restart took to serve (exec to its
# "listening" line), acdd's own recovery figures and the replay speed. With SNAPSHOT=0 no snapshot
# is taken and the restart replays the whole journal.
#   bench/journal_recovery.sh [RECORDS (1000000)] [OUT_DIR (build/bench-recovery)]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}; out=${2:-build/bench-recovery}; snapshot=${SNAPSHOT:-1}
bin=build/bin; data="$out/data"
rm -rf "$out"; mkdir -p "$out"

start() {  # label, acdd flags...
  local label=$1; shift
  local t0; t0=$(date +%s.%N)
  $bin/acdd --grpc_listen 127.0.0.1:0 --http_listen 127.0.0.1:0 --data_dir "$data" "$@" \
    > "$out/acdd-$label.out" 2> "$out/acdd-$label.err" &
  pid=$!
  for _ in $(seq 1200); do grep -q listening "$out/acdd-$label.out" 2>/dev/null && break; sleep 0.05; done
  serving=$(python3 -c "print('%.2f' % ($(date +%s.%N) - $t0))")
  grpc=$(sed -E 's/.*grpc=([^ ]*) .*/\1/' "$out/acdd-$label.out")
  http=$(sed -E 's/.*http=(.*)/\1/' "$out/acdd-$label.out")
}
stop() { kill -TERM $pid; wait $pid || true; }
metric() { curl -s "http://$http/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
journal_records() { $bin/acdctl journal stats "$data" | awk '$1 == "all" {print $2}'; }
last_sequence() { $bin/acdctl journal verify "$data" | sed -nE 's/.*sequences [0-9]+ to ([0-9]+),.*/\1/p'; }
no_snapshots=(--snapshot_every_records=0 --snapshot_every=0)

start fill "${no_snapshots[@]}"
$bin/acdfill --server "$grpc" --metrics "$http" --steps 100000 --json > "$out/fill.json"
echo "filled: $(cut -c1-200 "$out/fill.json")"
stop
base=0
if [ "$snapshot" = 1 ]; then
  # Every record so far is due: the restart snapshots the filled center at once.
  start snapshot --snapshot_every_records=1 --snapshot_every=0
  for _ in $(seq 600); do [ "$(metric 'acd_snapshots_total{result="published"}')" = 1 ] && break; sleep 0.1; done
  grep "snapshot at record" "$out/acdd-snapshot.err"
  base=$(metric acd_snapshot_sequence)
  stop
fi
start load "${no_snapshots[@]}"
while true; do
  have=$(last_sequence)
  echo "journal: $have records ($((have - base)) after the snapshot)"
  [ $((have - base)) -ge "$records" ] && break
  # ~5 records a call at 2,000 calls/s through 200 agents of another queue (support).
  left=$(( (records - (have - base)) / 10000 + 1 )); [ $left -gt 60 ] && left=60
  $bin/acdload --server "$grpc" --rate 2000 --seconds "$left" --agents 200 --queue support \
    --skill tech_support --switch_id acdload-$have --json > "$out/load-$have.json" ||
    failed=1  # acdload exits 1 after its JSON when requests failed: go on, exit 1 at the end
done
metric 'acd_queue_calls_waiting{queue="sales"}'
kill -KILL $pid; wait $pid 2>/dev/null || true

bytes=$(du -sb "$data" | cut -f1)
start recovered "${no_snapshots[@]}"
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
waiting=$(metric 'acd_queue_calls_waiting{queue="sales"}')
line=$(grep "recovered from" "$out/acdd-recovered.err")
stop
echo "$line"
python3 - "$line" "$serving" "$bytes" "$rss" "$waiting" <<'PY'
import re, sys
line, serving, size, rss, waiting = sys.argv[1:6]
m = re.search(r": (\d+) records in ([\d.]+)(ms|s)", line)
n, t = int(m.group(1)), float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
print("data dir %.1f MB; recovered (snapshot loaded, if any, and %d records replayed) in %.2f s "
      "(%.0f records/s overall); serving %s s after exec; %s calls waiting in sales after "
      "recovery; RSS %.0f MB" % (int(size) / 1e6, n, t, n / t, serving, waiting, int(rss) / 1024))
PY
exit "${failed:-0}"
