#!/usr/bin/python3
"""acd's history as operations read it: a scripted scenario played through the real acdd (with a
data dir) by the independent client, then `acdctl report` on that data dir, checked against
figures worked out by hand; and the feeds acdd writes as it runs (LiveFeedsTest). Waits are slept, so they are real: each is chosen half a second away
from a whole second, and queue_log truncates to whole seconds as Asterisk does.

  t=0    alice logs in to sales (offer timeout 1 s, wrap-up 30 s); r1 arrives and rings her
  t=1    the offer rings out (1,000 ms by acdd's timer) and rings her again
  t=1.5  she takes r1 (waited 1.5 s, rang 0.5 s); r2 arrives and waits first in line
  t=2.7  r2 hangs up after 1.2 s in line (a short abandon: under 5 s)
  t=3.7  r1 ends (talk 2.2 s); acdd stops

  /usr/bin/python3 reports_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]
"""

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import python_client_test as base
from python_client_test import RPC_TIMEOUT_SECONDS
import journal_test


class AcddOnADataDir(unittest.TestCase):
    """acdd on a data dir, the client and acdctl, as the journal's tests have them (not their
    tests), and the report acdctl makes of the data dir."""
    setUp = journal_test.JournalTest.setUp
    start = journal_test.JournalTest.start
    login = journal_test.JournalTest.login
    enqueue_request = journal_test.JournalTest.enqueue_request
    enqueue = journal_test.JournalTest.enqueue
    acdctl = journal_test.JournalTest.acdctl

    def event(self, acdd, call_id, agent_id, **event):
        acdd.rpc.ReportCallEvent(self.api.CallEvent(switch_id="sw", call_id=call_id,
                                                    agent_id=agent_id, **event),
                                 timeout=RPC_TIMEOUT_SECONDS)

    def report(self, *args):
        got = self.acdctl("report", *args, self.data_dir)
        self.assertEqual(got.returncode, 0, got.stderr)
        return got.stdout


class ReportsTest(AcddOnADataDir):

    def play_the_scenario(self):
        acdd = self.start()
        self.login(acdd, "alice", "sales", ready=True)
        self.enqueue(acdd, "r1")
        time.sleep(1.5)
        self.event(acdd, "r1", "alice", offer_accepted={})
        self.enqueue(acdd, "r2")
        time.sleep(1.2)
        self.event(acdd, "r2", "", caller_abandoned={})
        time.sleep(1.0)
        self.event(acdd, "r1", "alice", call_ended={})
        self.assertEqual(acdd.stop(), 0)

    def test_the_queue_log_call_records_and_intervals_tell_the_scenario(self):
        self.play_the_scenario()

        lines = self.report("queue-log").splitlines()
        # time|callid|queue|agent|event|data, the time Unix seconds.
        shapes = [re.sub(r"^\d+\|", "T|", line) for line in lines]
        self.assertEqual(shapes, [
            "T|NONE|sales|alice|ADDMEMBER|",
            "T|r1|sales|NONE|ENTERQUEUE||",
            "T|r1|sales|alice|RINGNOANSWER|1000",
            "T|r1|sales|alice|CONNECT|1|r1|0",
            "T|r2|sales|NONE|ENTERQUEUE||",
            "T|r2|sales|NONE|ABANDON|1|1|1",
            "T|r1|sales|alice|COMPLETEAGENT|1|2|1",
        ])
        times = [int(line.split("|")[0]) for line in lines]
        self.assertEqual(times, sorted(times))
        self.assertLessEqual(times[-1] - times[0], 5)

        records = [json.loads(line) for line in self.report("calls").splitlines()]
        by_call = {r["call_id"]: r for r in records}
        self.assertEqual(sorted(by_call), ["r1", "r2"])
        r1, r2 = by_call["r1"], by_call["r2"]
        self.assertEqual((r1["outcome"], r1["queues"], r1["agents"], r1["offers"]),
                         ("ended", ["sales"], ["alice"], 2))
        self.assertAlmostEqual(r1["wait_seconds"], 1.5, delta=0.4)
        self.assertAlmostEqual(r1["talk_seconds"], 2.2, delta=0.4)
        self.assertEqual((r2["outcome"], r2["agents"], r2["offers"], r2["answered_after_seconds"]),
                         ("abandoned", [], 0, None))
        self.assertAlmostEqual(r2["wait_seconds"], 1.2, delta=0.4)
        for record in records:
            self.assertNotIn("attributes", record)

        rows = list(csv.DictReader(io.StringIO(self.report("intervals", "--interval_minutes",
                                                           "60"))))
        sales = [row for row in rows if row["queue"] == "sales"]
        self.assertIn(len(sales), (1, 2), "the scenario lasts seconds: one hour, or two")
        total = lambda field: sum(int(row[field]) for row in sales)
        self.assertEqual((total("offered"), total("answered"), total("answered_within_threshold"),
                          total("abandoned"), total("short_abandoned")), (2, 1, 1, 1, 1))
        counted = [row for row in sales if row["answered"] == "1"][0]
        # r2 hung up within the 20 s threshold: it counts for neither side of the service level.
        self.assertEqual(counted["service_level"], "1.000")
        self.assertAlmostEqual(float(counted["asa_seconds"]), 1.5, delta=0.4)
        self.assertAlmostEqual(float(counted["aht_seconds"]), 2.2 + 30, delta=0.4)
        # alice staffed sales for the seconds acdd ran, of an hour.
        self.assertLess(sum(float(row["average_agents_staffed"]) for row in sales), 0.01)

    def test_acdsim_replays_the_recorded_scenario_under_the_policy_that_ran_and_a_candidate(self):
        self.play_the_scenario()
        candidate = os.path.join(self.work, "candidate.yaml")
        with open(self.policy_path) as f:
            text = f.read()
        # The candidate rings an agent for 3 s before trying again: r1 would not ring out at 1 s.
        with open(candidate, "w") as f:
            f.write(text.replace("offer_timeout_seconds: 1\n    wrap_up_seconds: 30",
                                 "offer_timeout_seconds: 3\n    wrap_up_seconds: 30", 1))
        acdsim = os.path.join(os.path.dirname(base.ACDD_PATH), "acdsim")
        got = subprocess.run([acdsim, "--replay", self.data_dir, "--policy", candidate, "--json"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(got.returncode, 0, got.stderr)
        what_if = json.loads(got.stdout)
        self.assertEqual((what_if["calls"], what_if["candidate_policy"]), (2, candidate))
        sales = [q for q in what_if["queues"] if q["name"] == "sales"][0]
        recorded, replay = sales["recorded"], sales["replay_recorded_policy"]
        self.assertEqual((recorded["offered"], recorded["answered"], recorded["abandoned"]),
                         (2, 1, 1))
        # The replay under the policy that ran: the same calls, the same ends.
        for figure in ("offered", "answered", "abandoned", "service_level"):
            self.assertEqual(replay[figure], recorded[figure], figure)
        self.assertAlmostEqual(replay["asa_seconds"], recorded["asa_seconds"], delta=0.05)
        self.assertAlmostEqual(recorded["asa_seconds"], 1.5, delta=0.4)
        self.assertIn("replay_candidate", sales)
        self.assertEqual(sales["replay_candidate"]["offered"], 2)

    def test_acdctl_asks_a_running_acdd_for_the_what_if_of_a_policy_file(self):
        acdd = self.start()
        self.login(acdd, "alice", "sales", ready=True)
        self.enqueue(acdd, "p1")
        self.event(acdd, "p1", "alice", offer_accepted={})
        self.event(acdd, "p1", "alice", call_ended={})
        candidate = os.path.join(self.work, "candidate.yaml")
        shutil.copy(self.policy_path, candidate)
        got = self.acdctl("--server", acdd.grpc_address, "policy", "whatif", candidate)
        self.assertEqual(got.returncode, 0, got.stderr)
        lines = got.stdout.splitlines()
        self.assertIn("1 calls", lines[0])
        self.assertEqual(lines[1], "recorded policy: %s; candidate: %s" % (self.policy_path,
                                                                           candidate))
        offered = [l.split() for l in lines if l.startswith("sales")]
        self.assertEqual(offered, [["sales", "offered", "1", "1", "1"]])
        refused = self.acdctl("--server", acdd.grpc_address, "policy", "whatif", "--to",
                              "yesterday", candidate)
        self.assertEqual(refused.returncode, 2)
        self.assertEqual(acdd.stop(), 0)

    def test_a_report_range_keeps_only_what_entered_in_it(self):
        self.play_the_scenario()
        first = int(self.report("queue-log").splitlines()[0].split("|")[0])
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first + 3600))
        self.assertEqual(self.report("calls", "--from", later), "")
        self.assertEqual(self.report("queue-log", "--from", later), "")
        refused = self.acdctl("report", "calls", "--from", "yesterday", self.data_dir)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("--from: 'yesterday' is not a time", refused.stderr)


class LiveFeedsTest(AcddOnADataDir):
    """acdd writing the feeds as it runs (--queue_log, --call_records): the same lines as the
    report made afterwards from its journal, none lost or doubled across kill -9 or a file that
    could not be written, and the files reopened by name on SIGHUP (logrotate)."""

    def start_with_feeds(self):
        self.queue_log = os.path.join(self.work, "queue_log")
        self.call_records = os.path.join(self.work, "calls.jsonl")
        return self.start("--queue_log", self.queue_log, "--call_records", self.call_records)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def wait_for_lines(self, path, n):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(path) and len(self.read(path).splitlines()) >= n:
                return self.read(path).splitlines()
            time.sleep(0.02)
        self.fail("%s has not %d lines: %r" % (path, n, self.read(path) if os.path.exists(path)
                                                else None))

    def test_the_feeds_say_what_the_report_of_the_journal_says(self):
        acdd = self.start_with_feeds()
        self.login(acdd, "alice", "sales", ready=True)
        self.enqueue(acdd, "f1")
        self.event(acdd, "f1", "alice", offer_accepted={})
        self.enqueue(acdd, "f2")
        self.event(acdd, "f2", "", caller_abandoned={})
        self.event(acdd, "f1", "alice", call_ended={})
        live = self.wait_for_lines(self.queue_log, 6)
        self.assertEqual(len(self.wait_for_lines(self.call_records, 2)), 2)
        self.assertEqual(acdd.stop(), 0)
        self.assertEqual(self.read(self.queue_log), self.report("queue-log"))
        self.assertEqual([l.split("|")[4] for l in live],
                         ["ADDMEMBER", "ENTERQUEUE", "CONNECT", "ENTERQUEUE", "ABANDON",
                          "COMPLETEAGENT"])
        self.assertEqual(self.read(self.call_records), self.report("calls"))

    def test_nothing_is_lost_or_written_twice_across_kill_9(self):
        acdd = self.start_with_feeds()
        self.login(acdd, "alice", "sales", ready=True)
        self.enqueue(acdd, "k1")
        self.event(acdd, "k1", "alice", offer_accepted={})
        self.wait_for_lines(self.queue_log, 3)
        for n in range(2, 6):  # these lines may or may not be out when acdd dies
            self.enqueue(acdd, "k%d" % n)
        acdd.kill9()
        acdd = self.start_with_feeds()
        for n in range(2, 6):
            self.event(acdd, "k%d" % n, "", caller_abandoned={})
        self.event(acdd, "k1", "alice", call_ended={})
        self.wait_for_lines(self.call_records, 5)
        self.assertEqual(acdd.stop(), 0)
        lines = self.read(self.queue_log).splitlines()
        self.assertEqual(len(lines), len(set(lines)), "a line written twice")
        self.assertEqual(self.read(self.queue_log), self.report("queue-log"))
        records = [json.loads(l) for l in self.read(self.call_records).splitlines()]
        self.assertEqual(sorted(r["call_id"] for r in records), ["k1", "k2", "k3", "k4", "k5"])
        self.assertTrue(all(r["complete"] for r in records))

    def test_lines_a_feed_could_not_write_are_written_after_a_restart(self):
        acdd = self.start_with_feeds()
        self.login(acdd, "alice", "sales", ready=True)
        self.wait_for_lines(self.queue_log, 1)
        # The file's name becomes a directory: reopened on SIGHUP, it cannot be written.
        os.rename(self.queue_log, self.queue_log + ".kept")
        os.mkdir(self.queue_log)
        acdd.process.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        for n in range(1, 4):
            self.enqueue(acdd, "w%d" % n)
        deadline = time.monotonic() + 10
        while "the history feeds cannot be written" not in acdd.stderr():
            self.assertLess(time.monotonic(), deadline, acdd.stderr())
            time.sleep(0.05)
        acdd.kill9()
        os.rmdir(self.queue_log)
        os.rename(self.queue_log + ".kept", self.queue_log)
        acdd = self.start_with_feeds()
        lines = self.wait_for_lines(self.queue_log, 4)
        self.assertEqual([l.split("|")[1:5] for l in lines],
                         [["NONE", "sales", "alice", "ADDMEMBER"],
                          ["w1", "sales", "NONE", "ENTERQUEUE"],
                          ["w2", "sales", "NONE", "ENTERQUEUE"],
                          ["w3", "sales", "NONE", "ENTERQUEUE"]])
        self.assertEqual(acdd.stop(), 0)
        self.assertEqual(self.read(self.queue_log), self.report("queue-log"))

    def test_sighup_reopens_the_files_by_name_for_logrotate(self):
        acdd = self.start_with_feeds()
        self.login(acdd, "alice", "sales", ready=True)
        self.wait_for_lines(self.queue_log, 1)
        os.rename(self.queue_log, self.queue_log + ".1")
        acdd.process.send_signal(signal.SIGHUP)
        time.sleep(0.2)  # the signal is taken before the next write
        self.enqueue(acdd, "h1")
        self.assertEqual([l.split("|")[4] for l in self.wait_for_lines(self.queue_log, 1)],
                         ["ENTERQUEUE"])
        self.assertEqual([l.split("|")[4] for l in self.read(self.queue_log + ".1").splitlines()],
                         ["ADDMEMBER"])
        self.assertEqual(acdd.stop(), 0)


if __name__ == "__main__":
    base.main()
