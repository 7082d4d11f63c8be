#!/usr/bin/python3
"""Failover under load: an HA pair of acdd replicas (three etcd members on /dev/shm, all on this
machine) takes calls from acdfailover (a switch and its agents that follow the leader) at
--rate calls/s with agents answering, while the leader is killed with SIGKILL --kills times in a
row; each time the killed replica is started again with its own command line and becomes the
standby, and the next kill waits until it is in sync. Reports, per kill, the time from the kill to
the first EnqueueCall the new leader accepted (sent after the kill), and their p50 and max. Then
it checks on the last leader that every call acknowledged across the run is there, with the
arrival time it was acknowledged with (within its send..ack window, read in the clocks of the
leaders, which part from the wall clock when it steps), and in the order of acknowledgement (a call
acknowledged before another was sent arrived no later).

  /usr/bin/python3 bench/failover.py [--kills 10] [--rate 300] [--settle 3] [--out DIR]

Exit status 0 when every check held; 1 with what did not. acdd's stderr, the ledger and etcd's
logs (on failure) stay in --out (build/bench-failover by default).
"""

import argparse
import bisect
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

# gRPC core's fork handlers (on by default in Debian's grpcio) can hang a fork() for good while a
# channel's threads are busy, and this forks with channels open (preexec_fn). Off before grpc
# starts; nothing here forks into gRPC.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import grpc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from etcd_cluster import EtcdCluster, _free_ports  # noqa: E402
import python_client_test as base  # noqa: E402

BIN = os.path.join(ROOT, "build", "bin")
POLICY = os.path.join(ROOT, "deploy", "policy.example.yaml")


class Pair:
    """The two replicas: started, killed, started again; asked for their status."""

    def __init__(self, out, etcd, api):
        self.out, self.api = out, api
        self.ports = _free_ports(2)
        self.addresses = ["127.0.0.1:%d" % p for p in self.ports]
        self.procs = [None, None]
        self.args = []
        for i in range(2):
            data = os.path.join(out, "data-%d" % i)
            shutil.rmtree(data, ignore_errors=True)
            self.args.append([
                os.path.join(BIN, "acdd"), "--grpc_listen", self.addresses[i],
                "--http_listen", "127.0.0.1:0", "--policy", POLICY, "--data_dir", data,
                "--etcd_endpoints", etcd.endpoints, "--ha_cluster", "failover",
                "--replica_id", "r%d" % i, "--advertise_address", self.addresses[i]])
        self.GetStatusRequest = api._message_class("acd.ha.v1.GetStatusRequest")
        self.ReplicaStatus = api._message_class("acd.ha.v1.ReplicaStatus")

    def start(self, i):
        err = open(os.path.join(self.out, "acdd-%d.err" % i), "a")
        self.procs[i] = subprocess.Popen(self.args[i], stdout=subprocess.DEVNULL, stderr=err)

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def status(self, i):
        channel = grpc.insecure_channel(self.addresses[i])
        try:
            get = channel.unary_unary("/acd.ha.v1.Replicas/GetStatus",
                                      request_serializer=self.GetStatusRequest.SerializeToString,
                                      response_deserializer=self.ReplicaStatus.FromString)
            return get(self.GetStatusRequest(), timeout=1)
        except grpc.RpcError:
            return None
        finally:
            channel.close()

    def clock_offset_ns(self, i):
        """Replica i's clock less this machine's wall clock, in ns: ListQueues' `at`, taken as
        halfway between request and reply (the shorter round trip of two). acdd reads the wall
        clock once at start and goes on with the steady clock, so the two part when the wall
        clock steps while it runs."""
        channel = grpc.insecure_channel(self.addresses[i])
        try:
            stubs = self.api.bind(channel)
            readings = []
            for _ in range(3):  # the first also waits for the connection
                asked = time.time_ns()
                at = stubs.ListQueues(self.api.ListQueuesRequest(), timeout=5).at
                answered = time.time_ns()
                readings.append((answered - asked, at.seconds * 10**9 + at.nanos -
                                 (asked + answered) // 2))
            return min(readings[1:])[1]
        finally:
            channel.close()

    def leader(self):
        for i in range(2):
            s = self.status(i)
            if s is not None and s.role == "leader":
                return i
        return None

    def wait_in_sync(self, leader, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status(leader)
            if s is not None and s.role == "leader" and any(
                    st.in_sync and st.counted for st in s.standbys):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in self.procs:
            if p is not None:
                p.wait()


def read_ledger(path):
    acked, refused = [], 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[0] == "ack":
                acked.append((parts[1], int(parts[2]), int(parts[3])))
            elif parts and parts[0] == "refused":
                refused += 1
    return acked, refused


def first_accepted_after(path, kill_ns, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        acked, _ = read_ledger(path)
        after = [a for (_, sent, a) in acked if sent > kill_ns]
        if after:
            return min(after)
        time.sleep(0.02)
    return None


def check_calls(api, address, acked, offsets):
    """Every acknowledged call on the leader, with its arrival time in its send..ack window (read
    in the leaders' clocks: `offsets`, each leader's clock less the wall clock) and in
    acknowledgement order. Returns a list of problems (empty: all held)."""
    channel = grpc.insecure_channel(address)
    stubs = api.bind(channel)
    problems, arrived = [], {}
    futures = [(call_id, stubs.GetCall.future(api.GetCallRequest(call_id=call_id), timeout=30))
               for (call_id, _, _) in acked]
    for call_id, future in futures:
        try:
            info = future.result()
            arrived[call_id] = info.arrived.seconds * 10**9 + info.arrived.nanos
        except grpc.RpcError as e:
            problems.append("%s: %s %s" % (call_id, e.code().name, e.details()))
    channel.close()
    return problems + ledger_problems(acked, arrived, offsets)


def ledger_problems(acked, arrived, offsets):
    """What the arrival times `arrived` (call id -> Unix ns, as the leader holds them) say against
    the ledger `acked` ((call id, sent ns, acked ns), on the wall clock): a time outside its call's
    send..ack window (moved into the leaders' clocks by the least and the greatest of `offsets`),
    or a call that arrived before one acknowledged before it was sent."""
    problems = []
    slack = 2 * 10**6  # the journal keeps whole microseconds; clocks read on both sides
    earliest, latest = min(offsets), max(offsets)
    for call_id, sent, ack in acked:
        t = arrived.get(call_id)
        if t is not None and not (sent + earliest - slack <= t <= ack + latest + slack):
            problems.append("%s arrived at %d, outside its send..ack window %d..%d" % (
                call_id, t, sent, ack))
    by_ack = sorted((ack, arrived[c]) for (c, _, ack) in acked if c in arrived)
    acks = [a for a, _ in by_ack]
    running_max, m = [], 0
    for _, t in by_ack:
        m = max(m, t)
        running_max.append(m)
    for call_id, sent, _ in acked:
        t = arrived.get(call_id)
        k = bisect.bisect_left(acks, sent)
        if t is not None and k > 0 and running_max[k - 1] > t + slack:
            problems.append("%s arrived before a call acknowledged before it was sent" % call_id)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--settle", type=float, default=3,
                        help="seconds of load between the standby being in sync and the kill")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench-failover"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    api = base.Api(os.path.join(ROOT, "build", "acd_v1.desc"))
    ledger = os.path.join(args.out, "ledger.txt")
    takeovers, problems = [], []
    with EtcdCluster() as etcd:
        pair = Pair(args.out, etcd, api)
        load = None
        try:
            pair.start(0)
            time.sleep(1.5)  # r0 founds the cluster
            pair.start(1)
            if not pair.wait_in_sync(0, 20):
                raise RuntimeError("r1 never got in sync")
            offsets = [pair.clock_offset_ns(0)]  # each leader's clock, read while it leads
            load = subprocess.Popen(
                [os.path.join(BIN, "acdfailover"), "--servers", ",".join(pair.addresses),
                 "--rate", str(args.rate), "--seconds", "100000", "--ledger", ledger,
                 "--agents", "100"], stderr=open(os.path.join(args.out, "acdfailover.err"), "w"))
            for k in range(1, args.kills + 1):
                time.sleep(args.settle)
                leader = pair.leader()
                if leader is None:
                    raise RuntimeError("no leader before kill %d" % k)
                offsets.append(pair.clock_offset_ns(leader))  # the wall clock may have stepped
                kill_ns = time.time_ns()
                pair.kill(leader)
                first = first_accepted_after(ledger, kill_ns, 30)
                if first is None:
                    raise RuntimeError("no call accepted within 30 s of kill %d" % k)
                offsets.append(pair.clock_offset_ns(1 - leader))
                took = (first - kill_ns) / 1e9
                takeovers.append(took)
                print("kill %2d: r%d killed; first accepted EnqueueCall on r%d %.3f s later" % (
                    k, leader, 1 - leader, took), flush=True)
                pair.start(leader)
                if not pair.wait_in_sync(1 - leader, 60):
                    raise RuntimeError("r%d never got in sync again after kill %d" % (leader, k))
            time.sleep(args.settle)
            load.send_signal(signal.SIGTERM)
            load.wait()
            load = None
            acked, refused = read_ledger(ledger)
            leader = pair.leader()
            offsets.append(pair.clock_offset_ns(leader))
            problems = check_calls(api, pair.addresses[leader], acked, offsets)
            print("%d calls acknowledged, %d refused (during takeovers); %d checked on the last "
                  "leader r%d: %s" % (len(acked), refused, len(acked), leader,
                                      "all there, at their arrival times, in order"
                                      if not problems else "%d problems" % len(problems)))
        finally:
            if load is not None:
                load.kill()
            pair.stop()
    with open(os.path.join(args.out, "acdfailover.err")) as f:
        sys.stdout.write(f.read())
    if takeovers:
        print("kill -> first accepted EnqueueCall over %d kills: p50 %.3f s, max %.3f s" % (
            len(takeovers), statistics.median(takeovers), max(takeovers)))
    for p in problems[:20]:
        print("problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
