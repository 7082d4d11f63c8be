#!/usr/bin/env bash
# bench/fuzz.sh builds fuzz/'s harnesses as libFuzzer binaries (clang-14, ASan, UBSan; CMake
# -DACD_FUZZ=ON) in build-fuzz/ and runs one, or all one after another, seeded from its committed
# corpus fuzz/corpus/<harness>/. Each run takes a core: two at once at most on this machine.
#   bench/fuzz.sh policy_text                 # 100000 runs
#   bench/fuzz.sh core_api 10000000           # -runs=N
#   bench/fuzz.sh all 1000000 -max_total_time=600   # flags after RUNS go to libFuzzer
# New inputs go to a scratch corpus outside the repo, $ACD_FUZZ_WORK/<harness>/corpus (default
# /tmp/acd-fuzz); a crash, leak or timeout to $ACD_FUZZ_WORK/<harness>/artifacts/, and the run
# stops there (a unit slower than 60 s is a timeout). At the
# end it prints the run's figures: executions, wall time, execs/s, coverage (cov: edges, ft:
# features), the corpus size, and libFuzzer's final stats.
# ACD_FUZZ_FAST=1 uses the fast build, build-fuzz-fast/: UBSan without ASan, and no comparison
# tracing. core_api runs about 3 times as many inputs a second there (175 against 55), for runs
# of millions; ASan's memory and leak checks and libFuzzer's comparison-guided mutations are left
# out, so say which build ran how many. Its runs preload tcmalloc (ASan brings its own
# allocator; fuzz/README.md has the figures).
# Needs clang-14 and libfuzzer-14-dev, and for the fast build libtcmalloc-minimal4 (./acd.sh test
# installs all three, the last with libgoogle-perftools-dev).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

usage="usage: bench/fuzz.sh policy_text|core_api|journal|all [RUNS] [libFuzzer flags...]"
harness=${1:?$usage}
runs=${2:-100000}
shift $(($# < 2 ? $# : 2))
work=${ACD_FUZZ_WORK:-/tmp/acd-fuzz}
say() { printf 'fuzz.sh: %s\n' "$*" >&2; }

fast=${ACD_FUZZ_FAST:-0}
packages=(clang-14 libfuzzer-14-dev)
[ "$fast" = 1 ] && packages+=(libtcmalloc-minimal4)
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    say "$p is not installed: apt-get install -y $p"
    exit 2
  fi
done
build=build-fuzz flavour="ASan, UBSan" options=() preload=()
if [ "$fast" = 1 ]; then
  build=build-fuzz-fast flavour="fast: UBSan, no comparison tracing, tcmalloc"
  options=(-DACD_FUZZ_SANITIZERS=undefined -DACD_FUZZ_TRACE_CMP=OFF)
  preload=(env "LD_PRELOAD=$(dpkg-query -L libtcmalloc-minimal4 | grep -m 1 '/libtcmalloc_minimal\.so\.4$')")
fi
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DACD_FUZZ=ON "${options[@]}" >/dev/null
fi

# Inputs longer than this are not made: a policy of a few queues, 64 core steps, a few journal
# records and a small snapshot each fit.
declare -A max_len=([policy_text]=4096 [core_api]=512 [journal]=8192)
declare -A extra=([policy_text]="-dict=fuzz/policy_text.dict" [core_api]="" [journal]="")

run() {
  local h=$1
  shift
  [ -n "${max_len[$h]:-}" ] || { say "$usage"; exit 2; }
  cmake --build "$build" -j "${ACD_JOBS:-2}" --target "${h}_fuzzer"
  mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
  local log="$work/$h/libfuzzer-$(date +%Y%m%d-%H%M%S)-$$.log"  # one per run: runs may overlap
  say "$h ($flavour, $build/): $runs runs; new inputs in $work/$h/corpus, findings in $work/$h/artifacts, log $log"
  local start end status=0
  start=$(date +%s.%N)
  # -entropic=0: libFuzzer's default scheduler spends most of each run updating the frequencies of
  # its features when there are as many as here (80,000 on core_api): 30-70 execs/s against
  # 120-220 without it, measured side by side from the same corpus.
  # -timeout=60: core_api's slowest units (a clock moved 3 hours, every prompt timer of it
  # firing) take 0.8-1.8 s alone under ASan and took 12 s beside a build on both cores; a unit
  # that takes a minute is a hang. A run stopped (SIGSTOP) for longer than that is taken for a
  # hang when it resumes, and ends with a "timeout" artifact that replays in milliseconds: end a
  # run with SIGINT (it prints its figures) rather than pause it.
  # shellcheck disable=SC2086  # extra holds whole flags
  "${preload[@]}" "$build/bin/${h}_fuzzer" -runs="$runs" -max_len="${max_len[$h]}" -rss_limit_mb=4096 \
    -timeout=60 -entropic=0 -print_final_stats=1 -artifact_prefix="$work/$h/artifacts/" \
    ${extra[$h]} "$@" "$work/$h/corpus" "fuzz/corpus/$h" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  local last execs
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log")
  printf '%s: %s executions in %.0f s (%s execs/s), %s\n' "$h" "${execs:-?}" "$(awk "BEGIN{print $end - $start}")" \
    "$(sed -n 's/^stat::average_exec_per_sec: //p' "$log")" \
    "$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last" || echo "no coverage line")"
  grep -E '^stat::' "$log" || true
  if [ "$status" -ne 0 ]; then
    grep -E 'ERROR|fuzz property broken|Test unit written|SUMMARY' "$log" || true
    say "$h: libFuzzer stopped with status $status; see $log and $work/$h/artifacts"
    return "$status"
  fi
}

if [ "$harness" = all ]; then
  for h in policy_text core_api journal; do run "$h" "$@"; done
else
  run "$harness" "$@"
fi
