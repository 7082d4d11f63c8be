#!/usr/bin/python3
"""The live daemon's wait estimates on one of acdsim's scenarios, in scaled real time: acdd (the
real binary, on loopback) runs the scenario's policy, and this client plays the switch and the
agents over gRPC (Python grpcio, none of our C++): callers arrive as the scenario says, agents
accept every offer at once and talk for a sampled handle time, impatient callers hang up. Every
duration of the scenario (talk, patience, the policy's wrap-ups) is divided by --scale, and every
figure printed is multiplied back, so they read as the scenario's seconds.

  /usr/bin/python3 bench/live_ewt.py [--scenario routing/sim/scenarios/nested60_rho95.yaml]
      [--scale 60] [--minutes 10] [--acdd build/bin/acdd] [--seed 1] [--json FILE]
      [--check_ratio R]

For each queue, over callers who waited and were answered after the first tenth of the run, it
prints the RMSE / mean wait and the bias / mean wait of acd's expected wait (EnqueueCall's
expected_wait_seconds), of head-of-line delay and of Asterisk's moving average, computed by this
client as acdsim computes them. A caller's wait is acd's own, enqueue to offer, as the offer
reports it: this client's lag in reading and accepting offers on a loaded machine, scaled up, would
add seconds to every wait. With --check_ratio R it exits 1 unless acd's RMSE is at most R x the
moving average's and at most head of line's, over all queues together (the short CTest run).
"""

import argparse
import heapq
import json
import math
import os
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from python_client_test import Api, read_line  # noqa: E402

SWITCH = "live-ewt"


def sample(distribution, rng):
    mean = distribution["mean_seconds"]
    kind = distribution.get("distribution", "exponential")
    if kind == "exponential":
        return rng.expovariate(1 / mean)
    if kind == "constant":
        return mean
    if kind == "lognormal":
        sd = distribution["stddev_seconds"]
        sigma2 = math.log1p(sd * sd / (mean * mean))
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    raise ValueError("unknown distribution " + kind)


def scaled_policy(scenario_path, scenario, scale):
    """The scenario's policy with its wrap-ups divided by `scale`, as a temporary file."""
    with open(os.path.join(os.path.dirname(scenario_path), scenario["policy_file"])) as f:
        policy = yaml.safe_load(f)
    for q in policy.get("queues", []):
        if "wrap_up_seconds" in q:
            q["wrap_up_seconds"] = q["wrap_up_seconds"] / scale
    out = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    yaml.safe_dump(policy, out)
    out.close()
    return out.name


class Estimates:
    """Per queue: each waiting caller's predictions, the waits that followed, the baselines."""

    def __init__(self):
        self.moving_average = {}
        self.samples = {}  # queue -> list of (wait, {estimator: prediction})

    def score(self, queue_name, wait, predictions, measured):
        if measured and wait > 0:
            self.samples.setdefault(queue_name, []).append((wait, predictions))
        ma = self.moving_average.get(queue_name, 0.0)
        self.moving_average[queue_name] = (3 * ma + wait) / 4

    def figures(self):
        result = {}
        for name, samples in sorted(self.samples.items()):
            mean = sum(w for w, _ in samples) / len(samples)
            row = {"waited": len(samples), "mean_wait_seconds": mean, "rel_rmse": {},
                   "rel_bias": {}}
            for estimator in ("acd", "hol", "moving_average"):
                errors = [p[estimator] - w for w, p in samples]
                row["rel_rmse"][estimator] = math.sqrt(sum(e * e for e in errors) / len(errors)) / mean
                row["rel_bias"][estimator] = sum(errors) / len(errors) / mean
            result[name] = row
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=os.path.join(ROOT, "routing", "sim", "scenarios",
                                                           "nested60_rho95.yaml"))
    parser.add_argument("--scale", type=float, default=60)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--acdd", default=os.path.join(ROOT, "build", "bin", "acdd"))
    parser.add_argument("--descriptor_set", default=os.path.join(ROOT, "build", "acd_v1.desc"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the figures here as JSON")
    parser.add_argument("--check_ratio", type=float)
    args = parser.parse_args()

    with open(args.scenario) as f:
        scenario = yaml.safe_load(f)
    rng = random.Random(args.seed)
    scale = args.scale
    policy = scaled_policy(args.scenario, scenario, scale)
    acdd = subprocess.Popen([args.acdd, "--grpc_listen", "127.0.0.1:0", "--http_listen",
                             "127.0.0.1:0", "--policy", policy],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        line = read_line(acdd.stdout, 20)
        listening = re.fullmatch(r"acdd listening grpc=(\S+) http=(\S+)", line)
        if not listening:
            sys.exit("acdd did not start; it printed %r" % line)
        figures = run(args, scenario, rng, scale, listening.group(1))
    finally:
        acdd.kill()
        acdd.wait()
        os.unlink(policy)

    print("%s live: %s, %.0f min at %gx, %s" % (
        os.path.basename(args.scenario), os.path.basename(args.acdd), args.minutes, scale,
        "RMSE / mean wait and bias / mean wait over answered callers who waited"))
    print("%-12s %7s %8s %16s %16s %16s %8s" % ("queue", "waited", "wait s", "acd", "hol",
                                                 "moving_average", "acd/ma"))
    for name, row in figures.items():
        cells = ["%6.3f / %+.3f" % (row["rel_rmse"][e], row["rel_bias"][e])
                 for e in ("acd", "hol", "moving_average")]
        print("%-12s %7d %8.1f %16s %16s %16s %8.3f" % (
            name, row["waited"], row["mean_wait_seconds"], *cells,
            row["rel_rmse"]["acd"] / row["rel_rmse"]["moving_average"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scenario": scenario.get("name"), "scale": scale, "minutes": args.minutes,
                       "acdd": args.acdd, "queues": figures}, f, indent=1)
    if args.check_ratio is not None:
        return check(figures, args.check_ratio)
    return 0


def check(figures, ratio):
    """acd against the baselines over all queues together (pooled squared errors)."""
    total = {e: 0.0 for e in ("acd", "hol", "moving_average")}
    waits = count = 0
    for row in figures.values():
        n, mean = row["waited"], row["mean_wait_seconds"]
        count += n
        waits += n * mean
        for e in total:
            total[e] += n * (row["rel_rmse"][e] * mean) ** 2
    if count < 200:
        print("FAIL: only %d answered callers waited" % count)
        return 1
    rmse = {e: math.sqrt(total[e] / count) / (waits / count) for e in total}
    ok = rmse["acd"] <= ratio * rmse["moving_average"] and rmse["acd"] <= rmse["hol"]
    print("all queues: acd %.3f, hol %.3f, moving_average %.3f (need acd <= %g x moving_average "
          "and <= hol): %s" % (rmse["acd"], rmse["hol"], rmse["moving_average"], ratio,
                               "ok" if ok else "FAIL"))
    return 0 if ok else 1


def read_commands(stream, into):
    """The switch's command stream, onto a queue (None when it ends)."""
    try:
        for command in stream:
            into.put(command)
    except grpc.RpcError:
        pass
    into.put(None)


def run(args, scenario, rng, scale, address):
    api = Api(args.descriptor_set)
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=10)
    rpc = api.bind(channel)
    commands = queue.Queue()
    threading.Thread(target=read_commands, daemon=True, args=(
        rpc.StreamCommands(api.StreamCommandsRequest(switch_id=SWITCH)), commands)).start()
    for group in scenario["agents"]:
        for i in range(group["count"]):
            rpc.Login(api.LoginRequest(
                agent_id="%s-%d" % (group["name"], i), ready=True,
                languages=group.get("languages", []),
                skills=[{"skill": s["skill"], "proficiency": s["proficiency"]}
                        for s in group["skills"]]), timeout=10)

    start = time.monotonic()
    end = start + args.minutes * 60
    measured_from = start + args.minutes * 6  # the first tenth warms acd's learning up
    events = []  # (real time, order, kind, data)
    order = 0

    def at(t, kind, data):
        nonlocal order
        heapq.heappush(events, (t, order, kind, data))
        order += 1

    traffic = scenario["traffic"]
    for i, t in enumerate(traffic):
        at(start + rng.expovariate(t["arrivals_per_hour"] * scale / 3600), "arrival", i)
    waiting = {}  # call id -> (queue, enqueued at, predictions, traffic index)
    lines = {}    # queue -> call ids in arrival order (for head-of-line delay)
    connected = set()
    estimates = Estimates()
    next_call = 0

    def model_seconds(real):
        return real * scale

    while True:
        now = time.monotonic()
        if now >= end:
            break
        # Commands first: an offer is answered at once.
        try:
            command = commands.get(timeout=max(0.0, min(events[0][0] if events else end, end) - now))
            if command is None:
                sys.exit("acdd ended the command stream")
        except queue.Empty:
            command = None
        if command is not None and command.WhichOneof("command") == "offer_call":
            offer = command.offer_call
            call = waiting.pop(offer.call_id, None)
            if call is not None:
                queue_name, enqueued, predictions, ti = call
                try:
                    rpc.ReportCallEvent(api.CallEvent(
                        switch_id=SWITCH, call_id=offer.call_id, agent_id=offer.agent_id,
                        offer_sequence=command.sequence, offer_accepted={}), timeout=10)
                except grpc.RpcError:
                    continue  # the caller hung up meanwhile
                lines[queue_name].remove(offer.call_id)
                t = time.monotonic()
                if predictions is not None:
                    # The wait is acd's own (enqueue to offer): this client's lag in reading the
                    # offer and accepting it is not the caller's, and scaled it would be seconds.
                    estimates.score(queue_name, offer.waited_seconds * scale, predictions,
                                    enqueued >= measured_from)
                connected.add(offer.call_id)
                at(t + sample(traffic[ti]["handle_time"], rng) / scale, "end", offer.call_id)
            continue
        now = time.monotonic()
        while events and events[0][0] <= now:
            _, _, kind, data = heapq.heappop(events)
            if kind == "arrival":
                t = traffic[data]
                at(now + rng.expovariate(t["arrivals_per_hour"] * scale / 3600), "arrival", data)
                call_id = "c%d" % next_call
                next_call += 1
                line = lines.setdefault(t["queue"], [])
                head = model_seconds(now - waiting[line[0]][1]) if line else 0.0
                reply = rpc.EnqueueCall(api.EnqueueCallRequest(
                    switch_id=SWITCH, call_id=call_id, queue=t["queue"],
                    language=t.get("language", "")), timeout=10)
                queued = reply.disposition == api.Disposition.values_by_name[
                    "DISPOSITION_QUEUED"].number
                predictions = None
                if queued:
                    predictions = {
                        "acd": max(0.0, reply.expected_wait_seconds) * scale,
                        "hol": head,
                        "moving_average": estimates.moving_average.get(t["queue"], 0.0)}
                    if "patience" in t:
                        at(now + sample(t["patience"], rng) / scale, "hang_up", call_id)
                waiting[call_id] = (t["queue"], now, predictions, data)
                line.append(call_id)
            elif kind == "hang_up" and data in waiting:
                queue_name = waiting.pop(data)[0]
                lines[queue_name].remove(data)
                try:
                    rpc.ReportCallEvent(api.CallEvent(switch_id=SWITCH, call_id=data,
                                                      caller_abandoned={}), timeout=10)
                except grpc.RpcError:
                    pass  # offered meanwhile: the offer is cancelled by acd or fails to accept
            elif kind == "end" and data in connected:
                connected.discard(data)
                rpc.ReportCallEvent(api.CallEvent(switch_id=SWITCH, call_id=data, call_ended={}),
                                    timeout=10)
    channel.close()
    return estimates.figures()


if __name__ == "__main__":
    sys.exit(main())
