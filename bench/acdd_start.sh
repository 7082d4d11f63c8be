# Sourced by bench/'s scripts: start acdd in the background and wait for its "listening" line.
#   source bench/acdd_start.sh
#   start_acdd "$out/acdd-run1" --data_dir "$data"   # acdd's stdout/stderr in PREFIX.out/.err
#   ... "$acdd_grpc" "$acdd_pid" ...
# Sets acdd_pid and acdd_grpc (HOST:PORT); gRPC and HTTP on free loopback ports. Runs $ACDD
# (build/bin/acdd by default). Waits up to ACDD_START_SECONDS (60) for the line (a recovery can
# take a while); returns 1, saying why on stderr, when acdd exits or does not listen by then.
start_acdd() {
  local prefix=$1; shift
  "${ACDD:-build/bin/acdd}" --grpc_listen 127.0.0.1:0 --http_listen 127.0.0.1:0 "$@" \
    > "$prefix.out" 2> "$prefix.err" &
  acdd_pid=$!
  acdd_grpc=
  local tenths=$(( ${ACDD_START_SECONDS:-60} * 10 ))
  for _ in $(seq "$tenths"); do
    grep -q listening "$prefix.out" 2>/dev/null && break
    if ! kill -0 "$acdd_pid" 2>/dev/null; then
      echo "acdd exited before listening: $(tail -3 "$prefix.err")" >&2
      return 1
    fi
    sleep 0.1
  done
  if ! grep -q listening "$prefix.out" 2>/dev/null; then
    echo "acdd did not listen within ${ACDD_START_SECONDS:-60} s (see $prefix.err)" >&2
    return 1
  fi
  acdd_grpc=$(sed -E 's/.*grpc=([^ ]*) .*/\1/' "$prefix.out")
}
