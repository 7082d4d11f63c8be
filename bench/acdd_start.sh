# Sourced by bench/'s scripts: start acdd in the background and wait for its "listening" line.
#   source bench/acdd_start.sh
#   start_acdd "$out/acdd-run1" --data_dir "$data"   # acdd's stdout/stderr in PREFIX.out/.err
#   ... "$acdd_grpc" "$acdd_pid" ...
# Sets acdd_pid and acdd_grpc (HOST:PORT); gRPC and HTTP on free loopback ports. Waits up to
# ACDD_START_SECONDS (60) for the line (a recovery can take a while).
start_acdd() {
  local prefix=$1; shift
  build/bin/acdd --grpc_listen 127.0.0.1:0 --http_listen 127.0.0.1:0 "$@" \
    > "$prefix.out" 2> "$prefix.err" &
  acdd_pid=$!
  local tenths=$(( ${ACDD_START_SECONDS:-60} * 10 ))
  for _ in $(seq "$tenths"); do grep -q listening "$prefix.out" 2>/dev/null && break; sleep 0.1; done
  acdd_grpc=$(sed -E 's/.*grpc=([^ ]*) .*/\1/' "$prefix.out")
}
