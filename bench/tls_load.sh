#!/usr/bin/env bash
# acdload against acdd in plain gRPC (no tokens) and over mutual TLS with a bearer token, run by
# run alternately on the same machine, so the two can be set side by side: what TLS and token
# checks cost a switch.
#   bench/tls_load.sh [PAIRS (5)] [RATE (2000)] [SECONDS (10)] [OUT_DIR (build/bench-tls)]
# Prints one line per run (mode, pair, arrivals/s, p50/p99/p99.9 µs, floor p99, acdd CPU s), then
# per pair the TLS/plain ratios of p99 and arrivals/s and their medians. acdload's JSON and
# acdd's stderr stay in OUT_DIR; the CA, certificates and token are made there too. A run whose
# requests failed is reported all the same, and the script then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}; rate=${2:-2000}; seconds=${3:-10}; out=${4:-build/bench-tls}
failed=0
bin=build/bin
mkdir -p "$out"
source bench/acdd_start.sh
bash deploy/tls/make-test-ca.sh "$out/tls" > /dev/null
# acdload logs its agents in and reads the policy, besides being a switch: an admin token.
{ read -r token; read -r line; } < <($bin/acdctl token acdload admin)
printf '%s\n' "$token" > "$out/acdload.token"; chmod 600 "$out/acdload.token"
printf '%s\n' "$line" > "$out/tokens"

one() {  # mode pair
  local mode=$1 n=$2 flags=() client=()
  if [ "$mode" = tls ]; then
    flags=(--tls_cert "$out/tls/server.pem" --tls_key "$out/tls/server.key"
           --tls_client_ca "$out/tls/ca.pem" --auth_tokens "$out/tokens")
    client=(--tls_ca "$out/tls/ca.pem" --tls_cert "$out/tls/client.pem"
            --tls_key "$out/tls/client.key" --token_file "$out/acdload.token")
  fi
  start_acdd "$out/acdd-$mode-$n" "${flags[@]}"
  local pid=$acdd_pid grpc=$acdd_grpc
  # acdload exits 1 after its JSON when requests failed: stop acdd and report the run all the same.
  $bin/acdload --server "$grpc" "${client[@]}" --rate "$rate" --seconds "$seconds" --agents 200 \
    --json > "$out/load-$mode-$n.json" || failed=1
  local cpu
  cpu=$(awk '{print ($14+$15)/100}' /proc/$pid/stat)
  kill -TERM $pid; wait $pid || true
  echo "$cpu" > "$out/cpu-$mode-$n"
}

for n in $(seq "$pairs"); do
  # Which goes first alternates, so a drift of the machine over a pair does not favour one mode.
  if [ $((n % 2)) -eq 1 ]; then one plain "$n"; one tls "$n"; else one tls "$n"; one plain "$n"; fi
done

python3 - "$out" "$pairs" <<'PY'
import json, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
def load(mode, n):
    d = json.load(open("%s/load-%s-%d.json" % (out, mode, n)))
    d["cpu"] = float(open("%s/cpu-%s-%d" % (out, mode, n)).read())
    return d
p99, rate = [], []
for n in range(1, pairs + 1):
    runs = {m: load(m, n) for m in ("plain", "tls")}
    for m, d in runs.items():
        print("%-5s pair %d  %7.1f arrivals/s  p50 %6.0f  p99 %6.0f  p99.9 %6.0f us  floor p99 %6.0f us"
              "  errors %d  acdd cpu %.2f s" % (m, n, d["arrivals_per_s"], d["p50_us"], d["p99_us"],
              d["p999_us"], d["floor_p99_us"], d["errors"], d["cpu"]))
    p99.append(runs["tls"]["p99_us"] / runs["plain"]["p99_us"])
    rate.append(runs["tls"]["arrivals_per_s"] / runs["plain"]["arrivals_per_s"])
    print("pair %d  tls/plain: p99 %.2fx  arrivals/s %.3fx" % (n, p99[-1], rate[-1]))
print("median over %d pairs  tls/plain: p99 %.2fx (min %.2f, max %.2f)  arrivals/s %.3fx" % (
    pairs, statistics.median(p99), min(p99), max(p99), statistics.median(rate)))
PY
exit $failed
