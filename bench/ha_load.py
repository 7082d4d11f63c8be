#!/usr/bin/python3
"""acdload against an HA pair whose standby is in sync (every acknowledgement waits for both
journals) and against a lone acdd with the same journal settings, pair by pair in one run on the
same machine, so the two can be set side by side. Three etcd members (tests/integration's
EtcdCluster, on /dev/shm) serve the pair's leadership; all five processes share this machine's
cores, as the standby's CPU is part of what the pair costs.

  /usr/bin/python3 bench/ha_load.py [--pairs 5] [--rate 1000] [--seconds 10] [--out DIR]
                                    [--journal_sync write|fsync] [--mode unary|session]
                                    [--compare_bin OTHER_ACDD]

Prints one line per run (setup, run, arrivals/s, p50/p99/p99.9 us, EnqueueCall round trip p99,
errors; a pair whose standby fell out of sync during the run stops the benchmark) and then,
over the pairs, the median of p99(pair)/p99(lone) and of the arrival rates'
ratio. With --compare_bin each round also runs the pair on that acdd binary (another build, e.g.
the one before a change), setup "base", so a change is measured side by side with what it
replaces. acdload's JSON and each acdd's stderr stay in --out (build/bench-ha by default).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from etcd_cluster import EtcdCluster, _free_ports  # noqa: E402

BIN = os.path.join(ROOT, "build", "bin")
POLICY = os.path.join(ROOT, "deploy", "policy.example.yaml")


def start_acdd(prefix, grpc_port, extra, binary=os.path.join(BIN, "acdd")):
    out, err = open(prefix + ".out", "w"), open(prefix + ".err", "w")
    proc = subprocess.Popen(
        [binary, "--grpc_listen", "127.0.0.1:%d" % grpc_port,
         "--http_listen", "127.0.0.1:0", "--policy", POLICY] + extra, stdout=out, stderr=err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(prefix + ".out") as f:
            if "listening" in f.read():
                return proc
        time.sleep(0.05)
    raise RuntimeError("acdd did not start: see %s.err" % prefix)


def status(address):
    """acdctl ha status's text, for waiting until the standby is in sync."""
    return subprocess.run([os.path.join(BIN, "acdctl"), "--server", address, "ha", "status"],
                          capture_output=True, text=True).stdout


def wait_in_sync(leader, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = status(leader).splitlines()
        rows = [l.split() for l in lines if l.startswith("  ") and "REPLICA" not in l]
        if any(len(r) >= 3 and r[1] == "yes" and r[2] == "yes" for r in rows):
            return
        time.sleep(0.1)
    raise RuntimeError("the standby never got in sync:\n" + status(leader))


def load(server, args, json_path):
    with open(json_path, "w") as out:
        subprocess.run([os.path.join(BIN, "acdload"), "--server", server, "--rate", str(args.rate),
                        "--seconds", str(args.seconds), "--agents", "200", "--queue", "sales",
                        "--skill", "sales", "--mode", args.mode, "--json",
                        "--session_hold_ms", str(args.session_hold_ms)], stdout=out)
    with open(json_path) as f:
        result = json.load(f)
    # acdload exits 1 after its JSON when requests failed: the run is reported, the script fails.
    result["acdload_failed"] = bool(result.get("failures"))
    return result


def one(setup, n, args, etcd):
    data = os.path.join(args.out, "data-%s-%d" % (setup, n))
    shutil.rmtree(data, ignore_errors=True)
    journal = ["--journal_sync", args.journal_sync]
    procs = []
    try:
        if setup == "lone":
            (port,) = _free_ports(1)
            procs.append(start_acdd(os.path.join(args.out, "acdd-lone-%d" % n), port,
                                    ["--data_dir", data + "-0"] + journal))
            server = "127.0.0.1:%d" % port
        else:
            ports = _free_ports(2)
            cluster = "bench-%s-%d" % (setup, n)
            binary = args.compare_bin if setup == "base" else os.path.join(BIN, "acdd")
            for i in range(2):
                address = "127.0.0.1:%d" % ports[i]
                procs.append(start_acdd(
                    os.path.join(args.out, "acdd-%s%d-%d" % (setup, i, n)), ports[i],
                    ["--data_dir", "%s-%d" % (data, i), "--etcd_endpoints", etcd.endpoints,
                     "--ha_cluster", cluster, "--replica_id", "r%d" % i,
                     "--advertise_address", address] + journal, binary))
                if i == 0:
                    time.sleep(1.5)  # r0 founds the cluster and leads
            server = "127.0.0.1:%d" % ports[0]
            wait_in_sync(server)
        d = load(server, args, os.path.join(args.out, "load-%s-%d.json" % (setup, n)))
        if setup != "lone":
            # The figures count only if every acknowledgement of the run waited for the standby.
            with open(os.path.join(args.out, "acdd-%s0-%d.err" % (setup, n))) as f:
                if "durable within" in f.read():  # "standby X has not made record N durable within"
                    raise RuntimeError("the standby fell out of sync during run %d" % n)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        for i in range(2):
            shutil.rmtree("%s-%d" % (data, i), ignore_errors=True)
    print("%-5s run %d  %7.1f arrivals/s  p50 %6.0f  p99 %6.0f  p99.9 %6.0f us  "
          "enqueue rtt p99 %6.0f us  errors %d" % (
              setup, n, d["arrivals_per_s"], d["p50_us"], d["p99_us"], d["p999_us"],
              d["enqueue_rtt_p99_us"], d["errors"]), flush=True)
    return d


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--journal_sync", default="write")
    parser.add_argument("--mode", default="unary", choices=["unary", "session"],
                        help="acdload's: one RPC per request, or the switch's session")
    parser.add_argument("--session_hold_ms", type=float, default=0,
                        help="acdload's, with --mode session: how long an agent's events may wait "
                             "for the next arrival's write (0: none)")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench-ha"))
    parser.add_argument("--compare_bin", help="another acdd: its pair runs too, as setup 'base'")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    pairs = ["pair", "base"] if args.compare_bin else ["pair"]
    p99_ratios = {setup: [] for setup in pairs}
    rate_ratios = {setup: [] for setup in pairs}
    failed = False
    with EtcdCluster() as etcd:
        for n in range(1, args.pairs + 1):
            lone = one("lone", n, args, etcd)
            failed = failed or lone["acdload_failed"]
            # The pairs' order alternates from round to round.
            for setup in (pairs if n % 2 else pairs[::-1]):
                pair = one(setup, n, args, etcd)
                failed = failed or pair["acdload_failed"]
                p99_ratios[setup].append(pair["p99_us"] / lone["p99_us"])
                rate_ratios[setup].append(pair["arrivals_per_s"] / lone["arrivals_per_s"])
    for setup in pairs:
        print("p99 %s/lone per pair: %s; median %.2f" % (
            setup, ", ".join("%.2f" % r for r in p99_ratios[setup]),
            statistics.median(p99_ratios[setup])))
        print("arrivals %s/lone per pair: %s; median %.3f" % (
            setup, ", ".join("%.3f" % r for r in rate_ratios[setup]),
            statistics.median(rate_ratios[setup])))
    if failed:
        sys.exit("acdload's requests failed in some runs (its JSON in %s says which)" % args.out)


if __name__ == "__main__":
    main()
