#!/usr/bin/env bash
# Recovery time of a big center: acdfill puts 10,000 agents (not ready) and 100,000 waiting calls
# into acdd on a data dir, acdload then runs calls through other agents until the journal holds
# about RECORDS records, acdd is killed with SIGKILL and started again on the same data dir. Reports
# the journal's size, how long the restart took to serve (exec to its "listening" line), acdd's
# own recovery figures and the replay speed.
#   bench/journal_recovery.sh [RECORDS (1000000)] [OUT_DIR (build/bench-recovery)]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}; out=${2:-build/bench-recovery}
bin=build/bin; data="$out/data"
rm -rf "$out"; mkdir -p "$out"

start() {  # label
  local t0; t0=$(date +%s.%N)
  $bin/acdd --grpc_listen 127.0.0.1:0 --http_listen 127.0.0.1:0 --data_dir "$data" \
    > "$out/acdd-$1.out" 2> "$out/acdd-$1.err" &
  pid=$!
  for _ in $(seq 1200); do grep -q listening "$out/acdd-$1.out" 2>/dev/null && break; sleep 0.05; done
  serving=$(python3 -c "print('%.2f' % ($(date +%s.%N) - $t0))")
  grpc=$(sed -E 's/.*grpc=([^ ]*) .*/\1/' "$out/acdd-$1.out")
  http=$(sed -E 's/.*http=(.*)/\1/' "$out/acdd-$1.out")
}
journal_records() { $bin/acdctl journal stats "$data" | awk '$1 == "all" {print $2}'; }

start first
$bin/acdfill --server "$grpc" --metrics "$http" --steps 100000 --json > "$out/fill.json"
echo "filled: $(cut -c1-200 "$out/fill.json")"
while true; do
  have=$(journal_records)
  echo "journal: $have records"
  [ "$have" -ge "$records" ] && break
  # ~5 records a call at 2,000 calls/s through 200 agents of another queue (support).
  left=$(( (records - have) / 10000 + 1 )); [ $left -gt 60 ] && left=60
  $bin/acdload --server "$grpc" --rate 2000 --seconds "$left" --agents 200 --queue support \
    --skill tech_support --switch_id acdload-$have --json > "$out/load-$have.json"
done
curl -s "http://$http/metrics" | grep -E '^acd_queue_calls_waiting\{queue="sales"\}' || true
kill -KILL $pid; wait $pid 2>/dev/null || true

bytes=$(du -sb "$data" | cut -f1)
start recovered
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
waiting=$(curl -s "http://$http/metrics" | grep -E '^acd_queue_calls_waiting\{queue="sales"\}' | awk '{print $2}')
line=$(grep "recovered from" "$out/acdd-recovered.err")
kill -TERM $pid; wait $pid || true
echo "$line"
python3 - "$line" "$serving" "$bytes" "$rss" "$waiting" <<'PY'
import re, sys
line, serving, size, rss, waiting = sys.argv[1:6]
m = re.search(r": (\d+) records in ([\d.]+)(ms|s)", line)
n, t = int(m.group(1)), float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
print("journal %d records, %.1f MB (%.0f B/record); replayed in %.2f s (%.0f records/s); "
      "serving %s s after exec; %s calls waiting in sales after recovery; RSS %.0f MB" % (
      n, int(size) / 1e6, int(size) / n, t, n / t, serving, waiting, int(rss) / 1024))
PY
