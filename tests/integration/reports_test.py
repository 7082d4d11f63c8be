#!/usr/bin/python3
"""acd's history as operations read it: a scripted scenario played through the real acdd (with a
data dir) by the independent client, then `acdctl report` on that data dir, checked against
figures worked out by hand. Waits are slept, so they are real: each is chosen half a second away
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
import re
import time
import unittest

import python_client_test as base
from python_client_test import RPC_TIMEOUT_SECONDS
import journal_test


class ReportsTest(unittest.TestCase):
    # acdd on a data dir, the client and acdctl, as the journal's tests have them (not their tests).
    setUp = journal_test.JournalTest.setUp
    start = journal_test.JournalTest.start
    login = journal_test.JournalTest.login
    enqueue_request = journal_test.JournalTest.enqueue_request
    enqueue = journal_test.JournalTest.enqueue
    acdctl = journal_test.JournalTest.acdctl

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

    def event(self, acdd, call_id, agent_id, **event):
        acdd.rpc.ReportCallEvent(self.api.CallEvent(switch_id="sw", call_id=call_id,
                                                    agent_id=agent_id, **event),
                                 timeout=RPC_TIMEOUT_SECONDS)

    def report(self, *args):
        got = self.acdctl("report", *args, self.data_dir)
        self.assertEqual(got.returncode, 0, got.stderr)
        return got.stdout

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

    def test_a_report_range_keeps_only_what_entered_in_it(self):
        self.play_the_scenario()
        first = int(self.report("queue-log").splitlines()[0].split("|")[0])
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first + 3600))
        self.assertEqual(self.report("calls", "--from", later), "")
        self.assertEqual(self.report("queue-log", "--from", later), "")
        refused = self.acdctl("report", "calls", "--from", "yesterday", self.data_dir)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("--from: 'yesterday' is not a time", refused.stderr)


if __name__ == "__main__":
    base.main()
