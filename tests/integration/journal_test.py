#!/usr/bin/python3
"""acdd with a data dir, restarted, damaged and starved of disk, seen from an independent client
(Python grpcio, messages from the descriptor set): what it acknowledged survives kill -9, a torn
last write is cut, damage in the middle stops it (or is cut when the operator says so), a full
disk turns state changes away while reads go on, and `acdctl journal` reads the data dir.

  /usr/bin/python3 journal_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]
"""

import glob
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import grpc

import python_client_test as base
from python_client_test import RPC_TIMEOUT_SECONDS, EXIT_TIMEOUT_SECONDS


class Acdd:
    """One acdd process on a data dir: started, asked, stopped or killed."""

    def __init__(self, test, data_dir, extra_args=(), limit_file_bytes=None):
        self.test = test
        self.stderr_path = tempfile.mktemp(prefix="acdd-stderr-", dir=test.work)
        policy = test.policy_path
        args = [base.ACDD_PATH, "--grpc_listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
                "--policy", policy, "--data_dir", data_dir] + list(extra_args)

        def limit():
            if limit_file_bytes is not None:
                # A soft limit only, which the test (same user) may raise again later.
                resource.setrlimit(resource.RLIMIT_FSIZE,
                                   (limit_file_bytes, resource.RLIM_INFINITY))

        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr,
                                            stdin=subprocess.DEVNULL, preexec_fn=limit)
        self.channel = None
        line = base.read_line(self.process.stdout, base.STARTUP_TIMEOUT_SECONDS)
        listening = re.fullmatch(
            r"acdd listening grpc=(127\.0\.0\.1:[1-9]\d*) http=(127\.0\.0\.1:[1-9]\d*)", line)
        if listening:
            self.grpc_address, self.http_address = listening.group(1), listening.group(2)
            self.channel = grpc.insecure_channel(self.grpc_address)
            grpc.channel_ready_future(self.channel).result(timeout=RPC_TIMEOUT_SECONDS)
            self.rpc = test.api.bind(self.channel)

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self):
        return self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)

    def kill9(self):
        self.process.kill()
        self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        self.close()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        self.close()
        return code

    def close(self):
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        self.process.stdout.close()

    def metric(self, name):
        with urllib.request.urlopen("http://%s/metrics" % self.http_address, timeout=5) as r:
            text = r.read().decode()
        found = re.search(r"^%s (\S+)$" % re.escape(name), text, re.MULTILINE)
        return float(found.group(1)) if found else None


class JournalTest(unittest.TestCase):

    def setUp(self):
        self.api = base.Api(base.DESCRIPTOR_SET_PATH)
        self.work = tempfile.mkdtemp(prefix="acd-journal-test-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.data_dir = os.path.join(self.work, "data")
        self.policy_path = os.path.join(self.work, "center.yaml")
        shutil.copy(os.path.join(base.SOURCE_DIR, "tests", "integration", "testdata",
                                 "center.yaml"), self.policy_path)

    def start(self, *extra_args, **kwargs):
        acdd = Acdd(self, self.data_dir, extra_args, **kwargs)
        self.addCleanup(acdd.close)
        if acdd.channel is None:
            self.fail("acdd did not start; its stderr:\n" + acdd.stderr())
        return acdd

    def start_expecting_failure(self, *extra_args):
        acdd = Acdd(self, self.data_dir, extra_args)
        self.addCleanup(acdd.close)
        self.assertIsNone(acdd.channel, "acdd started; it should have refused")
        self.assertEqual(acdd.wait(), 1)
        return acdd.stderr()

    # The switch, the agent desktop and the operator.

    def login(self, acdd, agent_id, skill, ready):
        request = self.api.LoginRequest(agent_id=agent_id, ready=ready)
        request.skills.add(skill=skill, proficiency=3)
        return acdd.rpc.Login(request, timeout=RPC_TIMEOUT_SECONDS)

    def enqueue(self, acdd, call_id, queue="sales", **attributes):
        request = self.api.EnqueueCallRequest(switch_id="sw", call_id=call_id, queue=queue)
        request.attributes.update(attributes)
        return acdd.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS)

    def call(self, acdd, call_id):
        return acdd.rpc.GetCall(self.api.GetCallRequest(call_id=call_id),
                                timeout=RPC_TIMEOUT_SECONDS)

    def agents(self, acdd):
        listed = acdd.rpc.ListAgents(self.api.ListAgentsRequest(), timeout=RPC_TIMEOUT_SECONDS)
        return {a.agent_id: self.api.AgentState.values_by_number[a.state].name
                for a in listed.agents}

    def not_ready(self, acdd, agent_id, reason):
        request = self.api.SetAgentStateRequest(agent_id=agent_id)
        request.not_ready.reason = reason
        return acdd.rpc.SetAgentState(request, timeout=RPC_TIMEOUT_SECONDS)

    def segments(self):
        return sorted(glob.glob(os.path.join(self.data_dir, "journal-*.seg")))

    @staticmethod
    def record_offset(segment, needle):
        """The offset of the first record whose payload holds `needle` (see record_format.h)."""
        with open(segment, "rb") as f:
            data = f.read()
        offset = 16
        while offset + 24 <= len(data):
            length = int.from_bytes(data[offset:offset + 4], "little")
            if needle in data[offset + 24:offset + 24 + length]:
                return offset
            offset += 24 + length
        raise AssertionError("no record holds %r" % needle)

    def acdctl(self, *args):
        acdctl = os.path.join(os.path.dirname(base.ACDD_PATH), "acdctl")
        return subprocess.run([acdctl] + list(args), capture_output=True, text=True, timeout=30)

    def waiting_line(self, acdd, call_ids):
        """(call id, position, arrival ns) of each call, as acdd answers GetCall."""
        return [(c, self.call(acdd, c).position, self.call(acdd, c).arrived.ToNanoseconds())
                for c in call_ids]

    # ------------------------------------------------------------------------------------------

    def test_kill_9_keeps_every_waiting_caller_in_place_and_every_agent_change(self):
        acdd = self.start()
        self.assertIn("a new journal", acdd.stderr())
        self.login(acdd, "ann", "sales", ready=False)
        self.login(acdd, "bob", "support", ready=False)
        self.not_ready(acdd, "ann", "training")
        calls = ["c%d" % i for i in range(1, 6)]
        for call_id in calls:
            self.enqueue(acdd, call_id, account="A-" + call_id)
        before = self.waiting_line(acdd, calls)
        self.assertEqual([p for _, p, _ in before], [1, 2, 3, 4, 5])
        acdd.kill9()

        again = self.start()
        self.assertRegex(again.stderr(), r"recovered from --data_dir .*: \d+ records in")
        self.assertEqual(self.waiting_line(again, calls), before,
                         "positions and original arrival times")
        self.assertEqual(self.agents(again), {"ann": "AGENT_STATE_NOT_READY",
                                              "bob": "AGENT_STATE_NOT_READY"})
        ann = [a for a in again.rpc.ListAgents(self.api.ListAgentsRequest(),
                                               timeout=RPC_TIMEOUT_SECONDS).agents
               if a.agent_id == "ann"][0]
        self.assertEqual(ann.not_ready_reason, "training")
        # A retried enqueue from before the crash is answered as the first time, not doubled.
        self.assertEqual(self.enqueue(again, "c3", account="A-c3").position, 3)
        listed = again.rpc.ListCalls(self.api.ListCallsRequest(switch_id="sw"),
                                     timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(sorted(c.call_id for c in listed.calls), calls)
        # created, two logins, a state change, five calls (and the timer's ticks)
        self.assertGreaterEqual(again.metric("acd_recovery_records"), 9)

        # The callers go on from where they were: an agent getting ready is offered the first.
        commands = base.CommandReader(again.rpc, self.api, "sw")
        self.addCleanup(commands.cancel)
        request = self.api.SetAgentStateRequest(agent_id="ann")
        request.ready.SetInParent()
        again.rpc.SetAgentState(request, timeout=RPC_TIMEOUT_SECONDS)
        offer = commands.next()
        while offer.WhichOneof("command") != "offer_call":
            offer = commands.next()
        self.assertEqual((offer.offer_call.call_id, offer.offer_call.agent_id), ("c1", "ann"))
        self.assertEqual(again.stop(), 0)

    def test_a_policy_applied_through_the_api_survives_a_restart_until_the_file_changes(self):
        acdd = self.start()
        with open(self.policy_path) as f:
            text = f.read()
        changed = text.replace("name: integration-center", "name: applied-through-the-api")
        applied = acdd.rpc.SetPolicy(self.api.SetPolicyRequest(yaml=changed),
                                     timeout=RPC_TIMEOUT_SECONDS)
        self.assertTrue(applied.applied, str(applied))
        acdd.kill9()

        again = self.start()
        policy = again.rpc.GetPolicy(self.api.GetPolicyRequest(), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(policy.policy.name, "applied-through-the-api")
        self.assertEqual(policy.source, "admin api")
        self.assertEqual(again.stop(), 0)

        # The operator edits the file while acdd is down: the file wins at the next start.
        with open(self.policy_path, "w") as f:
            f.write(text.replace("name: integration-center", "name: edited-file"))
        third = self.start()
        policy = third.rpc.GetPolicy(self.api.GetPolicyRequest(), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(policy.policy.name, "edited-file")
        self.assertEqual(policy.source, self.policy_path)
        self.assertEqual(third.stop(), 0)

    def test_a_write_cut_short_by_a_crash_is_cut_with_a_log_line(self):
        acdd = self.start()
        for call_id in ("t1", "t2"):
            self.enqueue(acdd, call_id)
        acdd.kill9()
        # Half a record at the end, as a crash in the middle of a write leaves it.
        with open(self.segments()[-1], "ab") as f:
            f.write(b"\x40\x00\x00\x00\x12\x34")
        again = self.start()
        self.assertRegex(again.stderr(), r"cut a torn last write \(6 bytes, record cut short\)")
        self.assertEqual(self.call(again, "t2").position, 2)
        self.assertEqual(again.stop(), 0)
        verified = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verified.returncode, 0, verified.stderr)
        self.assertNotIn("torn", verified.stdout, "acdd cut it when it started")

    def test_damage_in_the_middle_stops_acdd_naming_file_and_offset_unless_asked_to_truncate(self):
        acdd = self.start()
        for call_id in ("d1", "d2", "d3"):
            self.enqueue(acdd, call_id)
        self.assertEqual(acdd.stop(), 0)
        segment = self.segments()[-1]
        offset = self.record_offset(segment, b"d2")
        with open(segment, "r+b") as f:
            f.seek(offset + 30)  # a byte of the payload of the record enqueueing d2
            byte = f.read(1)
            f.seek(offset + 30)
            f.write(bytes([byte[0] ^ 0xFF]))

        error = self.start_expecting_failure()
        self.assertIn("journal corrupt: CRC mismatch in %s at offset %d" % (segment, offset), error)
        self.assertIn("--journal_recover=truncate", error)
        verify = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verify.returncode, 1)
        self.assertIn("journal corrupt", verify.stderr)

        # Asked to, acdd cuts the journal there: what came before stays, the rest is gone.
        again = self.start("--journal_recover=truncate")
        self.assertIn("as --journal_recover=truncate asked", again.stderr())
        self.assertEqual(self.call(again, "d1").position, 1)
        for lost in ("d2", "d3"):
            with self.assertRaises(grpc.RpcError) as gone:
                self.call(again, lost)
            self.assertEqual(gone.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(again.stop(), 0)

    def test_the_operator_can_start_before_a_record_that_would_crash_every_replay(self):
        acdd = self.start()
        for call_id in ("s1", "s2", "s3"):
            self.enqueue(acdd, call_id)
        self.assertEqual(acdd.stop(), 0)
        printed = self.acdctl("journal", "print", self.data_dir)
        s2 = [int(re.search(r'"sequence":(\d+)', line).group(1))
              for line in printed.stdout.splitlines() if '"call_id":"s2"' in line]
        self.assertEqual(len(s2), 1, printed.stdout)

        again = self.start("--journal_stop_before=%d" % s2[0])
        self.assertIn("cut at record %d" % s2[0], again.stderr())
        self.assertEqual(self.call(again, "s1").position, 1)
        for lost in ("s2", "s3"):
            with self.assertRaises(grpc.RpcError) as gone:
                self.call(again, lost)
            self.assertEqual(gone.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(again.stop(), 0)

    def test_a_full_disk_turns_state_changes_away_keeps_reads_and_recovers_when_space_returns(self):
        # Files may grow to 24 KiB: the journal's segment (1 MiB segments) soon fills it.
        acdd = self.start("--journal_segment_mb=1", limit_file_bytes=24 * 1024)
        self.login(acdd, "ann", "sales", ready=False)
        accepted, refused = [], None
        for i in range(2000):
            try:
                self.enqueue(acdd, "f%d" % i, note="x" * 200)
                accepted.append("f%d" % i)
            except grpc.RpcError as e:
                refused = (i, e)
                break
        self.assertIsNotNone(refused, "the file size limit was never reached")
        i, error = refused
        self.assertEqual(error.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("the journal cannot write", error.details())
        self.assertIn("File too large", error.details())
        # Reads are still answered; state changes are refused up front, saying why.
        self.assertEqual(self.call(acdd, accepted[-1]).position, len(accepted))
        self.assertEqual(self.agents(acdd), {"ann": "AGENT_STATE_NOT_READY"})
        with self.assertRaises(grpc.RpcError) as later:
            self.enqueue(acdd, "after-full")
        self.assertEqual(later.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(acdd.metric("acd_journal_writable"), 0)
        self.assertGreater(acdd.metric("acd_journal_errors_total"), 0)

        # Space comes back: the journal writes what it held and acdd takes changes again.
        resource.prlimit(acdd.process.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        deadline = time.monotonic() + 10
        while True:
            try:
                self.enqueue(acdd, "after-space")
                break
            except grpc.RpcError as e:
                if time.monotonic() > deadline:
                    self.fail("state changes still refused 10 s after space came back: %s" % e)
                time.sleep(0.2)
        self.assertEqual(acdd.metric("acd_journal_writable"), 1)
        # The enqueue that was turned away is answered on its retry, once, in its place.
        self.assertEqual(self.enqueue(acdd, "f%d" % i, note="x" * 200).position, i + 1)
        acdd.kill9()

        again = self.start()
        for position, call_id in enumerate(accepted + ["f%d" % i, "after-space"], start=1):
            self.assertEqual(self.call(again, call_id).position, position, call_id)
        self.assertEqual(again.stop(), 0)

    def test_a_data_dir_that_cannot_be_created_stops_acdd_with_a_clear_error(self):
        with open(os.path.join(self.work, "a-file"), "w") as f:
            f.write("not a directory")
        self.data_dir = os.path.join(self.work, "a-file", "data")
        error = self.start_expecting_failure()
        self.assertIn("--data_dir %s cannot be written" % self.data_dir, error)

    def test_acdctl_verifies_prints_and_counts_a_data_dirs_journal(self):
        acdd = self.start()
        self.login(acdd, "ann", "sales", ready=False)
        self.enqueue(acdd, "p1")
        self.assertEqual(acdd.stop(), 0)

        verified = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verified.returncode, 0, verified.stderr)
        self.assertRegex(verified.stdout, r"1 segments, \d+ records \(sequences 1 to \d+, epoch 1\)")
        self.assertIn("policy 'integration-center' from " + self.policy_path, verified.stdout)
        printed = self.acdctl("journal", "print", self.data_dir)
        self.assertEqual(printed.returncode, 0, printed.stderr)
        kinds = [re.search(r'"kind":"(\w+)"', line).group(1)
                 for line in printed.stdout.splitlines()]
        self.assertEqual(kinds[0], "created")
        self.assertIn("login", kinds)
        self.assertIn("enqueue_call", kinds)
        self.assertEqual(kinds[-1], "drain_begun")
        self.assertIn('"call_id":"p1"', printed.stdout)
        stats = self.acdctl("journal", "stats", self.data_dir)
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertRegex(stats.stdout, r"enqueue_call\s+1\s+\d+")


if __name__ == "__main__":
    base.main()
