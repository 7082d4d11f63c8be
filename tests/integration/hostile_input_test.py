#!/usr/bin/python3
"""Input a hostile or buggy client sends, against the real acdd through the independent client:
every reply stays short and valid UTF-8, any policy however malformed gets problems and never a
crash, a policy past its size bound is refused at once, thousands of problems come back as a
hundred, a switch that stops reading its commands cannot flood the log, and the connection (with
its command stream) and acdd itself stay healthy throughout.

  /usr/bin/python3 hostile_input_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]
"""

import re
import select
import socket
import tempfile
import time
import urllib.request

import grpc

import python_client_test as base
from python_client_test import RPC_TIMEOUT_SECONDS, CommandReader

MAX_MESSAGE_BYTES = 4096  # routing::kMaxMessageBytes
ELLIPSIS = "\u2026"


class HostileInputTest(base.AcddTestCase):

    def set_policy(self, yaml, validate_only):
        request = self.api.SetPolicyRequest(yaml=yaml, validate_only=validate_only)
        return self.rpc.SetPolicy(request, timeout=RPC_TIMEOUT_SECONDS)

    def refused(self, yaml):
        """The status of applying `yaml`, which must be refused as INVALID_ARGUMENT."""
        with self.assertRaises(grpc.RpcError) as raised:
            self.set_policy(yaml, validate_only=False)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        details = raised.exception.details()
        self.assertLessEqual(len(details.encode("utf-8")), MAX_MESSAGE_BYTES)
        return details

    def assert_still_serves_a_call(self, commands, call_id):
        """acdd routes a call to a ready agent and the switch's command stream delivers the offer."""
        self.rpc.EnqueueCall(self.enqueue_request("py-switch", call_id, "sales"),
                             timeout=RPC_TIMEOUT_SECONDS)
        offer = commands.next()
        self.assertEqual(offer.offer_call.call_id, call_id)
        self.assertIsNone(self.acdd.poll(), "acdd exited")

    def test_a_huge_quoted_value_comes_back_short_and_the_connection_lives_on(self):
        commands = CommandReader(self.rpc, self.api, "py-switch")
        self.addCleanup(commands.cancel)
        self.login("py-agent", "sales", 3)
        name = "x" * 500_000
        details = self.refused("skills: [{name: %s}]\nqueues: [{name: q}]\n" % name)
        self.assertIn("'" + "x" * 128 + ELLIPSIS + "' (500000 bytes)", details)
        # The same channel, and the command stream opened on it before, still work.
        self.assert_still_serves_a_call(commands, "after-a-huge-name")
        self.assertEqual(self.stop_acdd(), 0)

    def test_a_quote_that_cuts_a_multibyte_name_is_still_valid_utf8(self):
        name = "\u00e9" * 100  # 200 bytes: the cut falls between two characters, or inside one
        for shift in ("", "a"):
            yaml = "skills: [{name: %s%s}]\nqueues: [{name: q}]\n" % (shift, name)
            response = self.set_policy(yaml, validate_only=True)
            messages = [p.message for p in response.problems]
            self.assertTrue(any(ELLIPSIS + "' (20" in m for m in messages), messages)
            # grpcio decodes a status message that is not UTF-8 as Latin-1, where the ellipsis
            # would read as "\u00e2\u0080\u00a6": a valid one reads as itself.
            details = self.refused(yaml)
            self.assertIn(ELLIPSIS + "' (20", details)
            self.assertIn("\u00e9" * 10, details)
        self.assertEqual(self.stop_acdd(), 0)

    def test_any_malformed_policy_gets_problems_and_never_a_crash(self):
        commands = CommandReader(self.rpc, self.api, "py-switch")
        self.addCleanup(commands.cancel)
        self.login("py-agent", "sales", 3)
        policies = [
            # Every skill nameless, and a queue requiring an unknown one: this crashed acdd.
            'skills: [{name: ""}]\nqueues: [{name: q, skills: [{skill: x, min_proficiency: 2}]}]\n',
            'skills: [{name: " "}, {name: " "}]\nqueues: [{name: "", skills: [{skill: " "}]}]\n',
            'languages: ["", ""]\ntiers: [{name: ""}, {name: ""}]\nqueues: [{name: " "}, {name: " "}]\n',
            'queues: [{name: a, fallback: ""}, {name: a, escalation: [{after_seconds: -1}]}]\n',
            "queues: []\n",
            "",
            "\x00\x01\x02",
            "[1, 2, 3]\n",
            "skills: {name: {name: {name: x}}}\n",
        ]
        for yaml in policies:
            response = self.set_policy(yaml, validate_only=True)
            self.assertGreater(len(response.problems), 0, yaml)
            self.refused(yaml)
            self.assertIsNone(self.acdd.poll(), "acdd exited after %r" % yaml)
        self.assert_still_serves_a_call(commands, "after-malformed-policies")
        self.assertEqual(self.stop_acdd(), 0)

    def test_a_policy_past_its_size_bound_is_refused_at_once(self):
        padding = "# " + "p" * 100 + "\n"
        yaml = "queues: [{name: q}]\n" + padding * 11_000  # about 1.1 MB
        response = self.set_policy(yaml, validate_only=True)
        self.assertEqual(len(response.problems), 1)
        self.assertIn("at most 1048576", response.problems[0].message)
        self.assertIn("at most 1048576", self.refused(yaml))
        self.assertEqual(self.stop_acdd(), 0)

    def test_thousands_of_problems_come_back_as_a_hundred_and_a_count(self):
        queues = ", ".join("{name: Q%d}" % i for i in range(3000))  # capitals: a bad name each
        yaml = "queues: [%s]\n" % queues
        response = self.set_policy(yaml, validate_only=True)
        self.assertEqual(len(response.problems), 101)
        self.assertEqual(response.problems[100].message, "and 2900 more problems")
        details = self.refused(yaml)
        self.assertIn("policy has 3000 problems", details)
        self.assertIn("and 2980 more", details)
        self.assertEqual(self.stop_acdd(), 0)


class ConnectionFloodTest(base.AcddTestCase):
    HTTP_CONNECTION_CAP = 256  # metrics/http_server.cc, kMaxConnections

    def test_idle_http_connections_past_the_cap_are_closed_and_http_serves_again(self):
        host, port = self.http_address.rsplit(":", 1)
        flood = []
        self.addCleanup(lambda: [s.close() for s in flood])
        for _ in range(self.HTTP_CONNECTION_CAP + 44):
            flood.append(socket.create_connection((host, int(port)), timeout=5))
        # acdd closes the ones past its cap at once (the peer sees the end of the stream); the
        # others wait for a request.
        deadline = time.monotonic() + 5
        closed = set()
        while time.monotonic() < deadline and len(closed) < 44:
            ready, _, _ = select.select([s for s in flood if s not in closed], [], [], 0.2)
            for s in ready:
                try:
                    if s.recv(1) == b"":
                        closed.add(s)
                except OSError:
                    closed.add(s)
        self.assertGreaterEqual(len(closed), 44, "connections past the cap were left open")
        self.assertLessEqual(len(closed), 44 + 8, "connections under the cap were closed early")
        # gRPC is untouched, and once the idle ones go, HTTP answers again.
        self.rpc.GetPolicy(self.api.GetPolicyRequest(), timeout=RPC_TIMEOUT_SECONDS)
        for s in flood:
            s.close()
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen("http://%s/metrics" % self.http_address,
                                            timeout=5) as page:
                    self.assertEqual(page.status, 200)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.assertEqual(self.stop_acdd(), 0)


class LogFloodTest(base.AcddTestCase):
    """A switch that never reads its command stream, with room for 5 unwritten commands."""

    FLAGS = ["--max_outbox", "5"]

    def setUp(self):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(self.log.close)
        self.STDERR = self.log
        super().setUp()

    def test_a_switch_that_stops_reading_cannot_flood_the_log(self):
        for i in range(200):  # each waiting call owes its switch a command: 195 are dropped
            self.rpc.EnqueueCall(self.enqueue_request("silent-switch", "call-%d" % i, "sales"),
                                 timeout=RPC_TIMEOUT_SECONDS)
        with urllib.request.urlopen("http://%s/metrics" % self.http_address, timeout=10) as page:
            metrics = page.read().decode()
        suppressed = re.search(
            r'^acd_log_lines_suppressed_total\{topic="commands_dropped"\} (\S+)$', metrics, re.M)
        self.assertIsNotNone(suppressed, "no suppressed-lines counter for dropped commands")
        self.assertGreaterEqual(float(suppressed.group(1)), 150)
        self.assertEqual(self.stop_acdd(), 0)
        self.log.seek(0)
        lines = [l for l in self.log.read().splitlines() if "has not read its commands" in l]
        self.assertGreater(len(lines), 0)
        self.assertLessEqual(len(lines), 10, "\n".join(lines[:20]))


if __name__ == "__main__":
    base.main()
