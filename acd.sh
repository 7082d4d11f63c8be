#!/usr/bin/env bash
# acd.sh sets up a Debian 12 machine for acd (apt packages, idempotent), configures and builds
# incrementally into build/, then runs what you ask for:
#   ./acd.sh run [FLAGS]   build and run acdd on the built-in policy, loopback only (flags pass on)
#   ./acd.sh test          build and run the whole test suite through CTest
#   ./acd.sh bench [ARGS]  build and run the routing benchmarks (Google Benchmark flags pass through)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

# What building (and so running) needs.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libasio-dev prometheus-cpp-dev libyaml-cpp-dev
  libbenchmark-dev libgtest-dev libgmock-dev libgoogle-perftools-dev libssl-dev
)
# What the test suite needs on top: an independent gRPC client (Python grpcio), Prometheus and
# promtool, a headless browser for the wallboard, clang-14 for the -Wthread-safety check and
# with libFuzzer for bench/fuzz.sh, openssl for test certificates, and etcd for the hot standby's
# leadership (the tests run their own members on loopback, and read its keys with etcdctl).
TEST_PACKAGES=(
  python3-grpcio python3-protobuf python3-yaml
  prometheus chromium
  clang-14 libfuzzer-14-dev openssl
  etcd-server etcd-client
)
JOBS=${ACD_JOBS:-2}

say() { printf 'acd.sh: %s\n' "$*" >&2; }

setup() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build build -j "$JOBS"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    setup "${PACKAGES[@]}" && build
    say "starting acdd on 127.0.0.1 with demo traffic (gRPC :50051, HTTP :9464), its journal in build/acd-data; Ctrl-C drains and stops it"
    exec build/bin/acdd --grpc_listen 127.0.0.1:50051 --http_listen 127.0.0.1:9464 --demo \
      --data_dir build/acd-data "$@"
    ;;
  test)
    setup "${PACKAGES[@]}" "${TEST_PACKAGES[@]}" && build
    exec ctest --test-dir build --output-on-failure -j "$JOBS" "$@"
    ;;
  bench)
    setup "${PACKAGES[@]}" && build
    exec build/bin/routing_bench "$@"
    ;;
  *)
    echo "usage: ./acd.sh run|test|bench [args]" >&2
    exit 2
    ;;
esac
