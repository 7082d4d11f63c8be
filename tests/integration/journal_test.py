#!/usr/bin/python3
"""acdd with a data dir, restarted, damaged and starved of disk, seen from an independent client
(Python grpcio, messages from the descriptor set): what it acknowledged survives kill -9, a torn
last write is cut, damage in the middle stops it (or is cut when the operator says so), a full
disk turns state changes away while reads go on, and `acdctl journal` reads the data dir. With
snapshots: a restart starts from the newest and replays only what came after, passes over a damaged
one, removes a half-written one, and retention removes the journal segments a kept one covers.

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

# gRPC core's fork handlers (on by default in Debian's grpcio) can hang a fork() for good while a
# channel's threads are busy, and this forks with channels open (preexec_fn). Off before grpc
# starts; nothing here forks into gRPC.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import grpc  # noqa: E402

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

    def enqueue_request(self, call_id, queue="sales", **attributes):
        request = self.api.EnqueueCallRequest(switch_id="sw", call_id=call_id, queue=queue)
        request.attributes.update(attributes)
        return request

    def enqueue(self, acdd, call_id, queue="sales", **attributes):
        return acdd.rpc.EnqueueCall(self.enqueue_request(call_id, queue, **attributes),
                                    timeout=RPC_TIMEOUT_SECONDS)

    def enqueue_remembered(self, acdd, answered, call_id, queue="sales"):
        """Enqueues `call_id` and keeps request and answer in answered[call_id], for a retry."""
        request = self.enqueue_request(call_id, queue, account="A-" + call_id)
        answered[call_id] = (request, acdd.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS))
        return answered[call_id][1]

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
    def records_end(segment):
        """Where the records of `segment` end: at its end, or where its window's zeros begin."""
        with open(segment, "rb") as f:
            data = f.read()
        offset = 16
        while offset + 24 <= len(data) and data[offset:offset + 24] != bytes(24):
            offset += 24 + int.from_bytes(data[offset:offset + 4], "little")
        return offset

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

    def ready(self, acdd, agent_id):
        request = self.api.SetAgentStateRequest(agent_id=agent_id)
        request.ready.SetInParent()
        return acdd.rpc.SetAgentState(request, timeout=RPC_TIMEOUT_SECONDS)

    def center(self, acdd):
        """Every call of switch sw and every agent as acdd lists them, but for the expected waits
        (which move with the clock): what a restart must give back whole."""
        calls = acdd.rpc.ListCalls(self.api.ListCallsRequest(switch_id="sw"),
                                   timeout=RPC_TIMEOUT_SECONDS).calls
        for call in calls:
            call.ClearField("expected_wait_seconds")
        agents = acdd.rpc.ListAgents(self.api.ListAgentsRequest(),
                                     timeout=RPC_TIMEOUT_SECONDS).agents
        return (sorted((c.call_id, c.SerializeToString(deterministic=True)) for c in calls),
                sorted((a.agent_id, a.SerializeToString(deterministic=True)) for a in agents))

    def snapshots(self):
        """{record: path} of the snapshots published in the data dir."""
        return {int(re.search(r"snapshot-(\d{20})\.snap$", path).group(1)): path
                for path in glob.glob(os.path.join(self.data_dir, "snapshot-*.snap"))}

    def journaled(self):
        """({call id: the record that enqueued it}, the last record), as `acdctl journal print`
        reads the data dir."""
        printed = self.acdctl("journal", "print", self.data_dir)
        self.assertEqual(printed.returncode, 0, printed.stderr)
        enqueued, last = {}, 0
        for line in printed.stdout.splitlines():
            last = int(re.search(r'"sequence":(\d+)', line).group(1))
            if '"kind":"enqueue_call"' in line:
                enqueued[re.search(r'"call_id":"([^"]+)"', line).group(1)] = last
        return enqueued, last

    @staticmethod
    def logged_snapshots(acdd):
        """{record: bytes} of the snapshots acdd logged as published, in order."""
        logged = re.findall(r"^acdd: snapshot at record (\d+): (\d+) bytes", acdd.stderr(),
                            re.MULTILINE)
        return {int(record): int(size) for record, size in logged}

    @staticmethod
    def logged_removals(acdd):
        """(journal segments, bytes) that acdd logged as removed by retention, all told."""
        removals = re.findall(r"retention removed (\d+) journal segments and \d+ older snapshots "
                              r"\((\d+) bytes\)", acdd.stderr())
        return sum(int(s) for s, _ in removals), sum(int(b) for _, b in removals)

    def wait_for_snapshots(self, acdd, published):
        """Waits until acdd has published `published` snapshots and writes none: no child process
        of its own is writing one, and /metrics, the log and the data dir agree, twice in a row."""
        deadline = time.monotonic() + 20
        settled_once = False
        while True:
            writers = [pid for pid in os.listdir("/proc") if pid.isdigit()
                       and self.parent_of(int(pid)) == acdd.process.pid]
            count = acdd.metric('acd_snapshots_total{result="published"}') or 0
            logged = self.logged_snapshots(acdd)
            settled = (count >= published and not writers and len(logged) == count and
                       not glob.glob(os.path.join(self.data_dir, "*.snap.tmp")) and
                       max(logged) == max(self.snapshots(), default=None) ==
                       acdd.metric("acd_snapshot_sequence"))
            if settled and settled_once:
                return logged
            settled_once = settled
            if time.monotonic() > deadline:
                self.fail("after 20 s acdd has published %s snapshots (%s logged, writers %s); "
                          "waited for %d; its stderr:\n%s" % (count, logged, writers, published,
                                                              acdd.stderr()))
            time.sleep(0.1)

    @staticmethod
    def parent_of(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return None  # gone meanwhile

    @staticmethod
    def flip_a_byte_in_the_middle(path):
        with open(path, "r+b") as f:
            middle = os.path.getsize(path) // 2
            f.seek(middle)
            byte = f.read(1)
            f.seek(middle)
            f.write(bytes([byte[0] ^ 0x01]))

    def staff_and_fill_a_center(self, acdd, snapshots):
        """Three agents in known states, one of them talking to a caller, and callers waiting in
        sales, with agent changes between the calls, until acdd (--snapshot_every_records=40) has
        published `snapshots` snapshots. Returns (EnqueueCall request, answer) by call id."""
        self.login(acdd, "ann", "sales", ready=False)
        self.not_ready(acdd, "ann", "training")  # nobody takes sales: its callers wait
        self.login(acdd, "bob", "support", ready=True)
        self.login(acdd, "cid", "billing", ready=False)
        answered = {}
        talking = self.enqueue_remembered(acdd, answered, "talk", "support")
        self.assertEqual(self.api.Disposition.values_by_number[talking.disposition].name,
                         "DISPOSITION_OFFERED")
        accepted = acdd.rpc.ReportCallEvent(
            self.api.CallEvent(switch_id="sw", call_id="talk", agent_id="bob",
                               offer_accepted={}), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(self.api.CallState.values_by_number[accepted.state].name,
                         "CALL_STATE_CONNECTED")
        while (acdd.metric('acd_snapshots_total{result="published"}') or 0) < snapshots:
            # The copy of the state that takes snapshots follows the journal in the background;
            # on a loaded machine it may trail by a few hundred records.
            self.assertLess(len(answered), 600, "1,800 records and fewer than %d snapshots; "
                            "acdd's stderr:\n%s" % (snapshots, acdd.stderr()))
            for _ in range(10):  # 30 records
                self.enqueue_remembered(acdd, answered, "c%d" % len(answered))
                self.ready(acdd, "cid")
                self.not_ready(acdd, "cid", "lunch")
        self.wait_for_snapshots(acdd, snapshots)
        return answered

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
        # Half a record where the records end (before the zeros of the window acdd had prepared
        # for more), as a crash in the middle of a copy leaves it.
        segment = self.segments()[-1]
        with open(segment, "r+b") as f:
            f.seek(self.records_end(segment))
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

    def test_kill_9_after_snapshots_recovers_from_the_newest_and_replays_only_what_came_after(self):
        acdd = self.start("--snapshot_every_records=40", "--snapshot_every=0")
        answered = self.staff_and_fill_a_center(acdd, snapshots=3)
        published = self.snapshots()
        logged = self.logged_snapshots(acdd)
        newest = max(logged)
        # Retention keeps the two newest; each snapshot after the second removed the one before.
        self.assertEqual(sorted(published), sorted(logged)[-2:])
        self.assertRegex(acdd.stderr(), r"acdd: snapshot at record %d: \d+ bytes in .*; retention "
                         r"removed 0 journal segments and 1 older snapshots" % sorted(logged)[2])
        removed = [n for n in logged if n not in published]
        self.assertEqual(acdd.metric("acd_journal_retention_removed_bytes_total"),
                         sum(logged[n] for n in removed))
        self.assertEqual(acdd.metric('acd_snapshots_total{result="failed"}'), 0)
        self.assertGreater(acdd.metric("acd_snapshot_bytes"), 0)
        self.assertEqual(acdd.metric("acd_snapshot_bytes"), os.path.getsize(published[newest]))
        self.assertEqual(acdd.metric("acd_snapshot_bytes"), logged[newest])
        self.assertLess(abs(acdd.metric("acd_snapshot_timestamp_seconds") - time.time()), 60)
        self.assertEqual(acdd.metric("acd_snapshot_seconds_count"), len(logged))
        # The taker's copy follows in the background (SCHED_IDLE is policy 5, the 41st field of a
        # thread's stat), unless an overdue pass brought it back to normal priority, or acdd may
        # not move it there and back: either is logged.
        self.assertLess(acdd.metric("acd_snapshot_copy_behind_records"), 1800)
        policies = {}
        for task in os.listdir("/proc/%d/task" % acdd.process.pid):
            with open("/proc/%d/task/%s/stat" % (acdd.process.pid, task)) as f:
                stat = f.read()
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            policies[name] = int(stat[stat.rindex(")") + 2:].split()[38])
        self.assertEqual(policies.get("acd-engine"), 0, policies)
        if policies.get("acd-snapshot") != 5:
            self.assertEqual(policies.get("acd-snapshot"), 0, policies)
            self.assertRegex(acdd.stderr(), "it follows at normal priority for 10s|"
                             "the snapshot taker's copy keeps acdd's scheduling")
        # Two callers after the newest snapshot: only the journal holds them.
        for call_id in ("late1", "late2"):
            self.enqueue_remembered(acdd, answered, call_id)
        before = self.center(acdd)
        self.assertEqual(len(before[0]), len(answered))
        acdd.kill9()

        # A snapshot the late callers started may have been published before the kill.
        newest = max(self.snapshots())
        enqueued, last = self.journaled()
        in_snapshot = [c for c in answered if enqueued[c] <= newest]
        replayed = [c for c in answered if enqueued[c] > newest]
        self.assertTrue(in_snapshot and replayed, "calls on both sides of record %d: %s" %
                        (newest, enqueued))

        again = self.start("--snapshot_every_records=40", "--snapshot_every=0")
        self.assertRegex(again.stderr(), r"recovered from --data_dir .*: %d records in .* after "
                         r"the snapshot at record %d \(%d bytes, loaded in " %
                         (last - newest, newest, os.path.getsize(self.snapshots()[newest])))
        self.assertNotIn("passed over", again.stderr())
        self.assertEqual(again.metric("acd_recovery_records"), last - newest)
        self.assertEqual(self.center(again), before, "calls (positions, arrival times, histories) "
                         "and agents (states, reasons) as before the kill")
        # Retried enqueues, two the snapshot holds ("talk", connected, first) and one replayed, are
        # answered as the first time.
        for call_id in (in_snapshot[0], in_snapshot[-1], replayed[-1]):
            request, first = answered[call_id]
            self.assertEqual(again.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS), first,
                             call_id)
        self.assertEqual(self.center(again), before, "the retries changed nothing")
        self.assertEqual(again.stop(), 0)

    def test_a_damaged_newest_snapshot_is_passed_over_for_the_one_before(self):
        acdd = self.start("--snapshot_every_records=40", "--snapshot_every=0")
        answered = self.staff_and_fill_a_center(acdd, snapshots=2)
        before = self.center(acdd)
        self.assertEqual(acdd.stop(), 0)
        older, newest = sorted(self.snapshots())
        damaged = self.snapshots()[newest]
        self.flip_a_byte_in_the_middle(damaged)

        verified = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verified.returncode, 1, verified.stdout)
        self.assertIn("  snapshot %s: DAMAGED: " % damaged, verified.stdout)
        self.assertIn("acdctl: damaged snapshots in " + self.data_dir, verified.stderr)
        enqueued, last = self.journaled()
        self.assertIn("  snapshot record %d: %d bytes, %d calls, 3 agents logged in, 1 switches\n"
                      % (older, os.path.getsize(self.snapshots()[older]),
                         len([c for c in enqueued if enqueued[c] <= older])), verified.stdout)
        self.assertIn("  a start recovers from the snapshot at record %d and replays %d records\n"
                      % (older, last - older), verified.stdout)

        again = self.start("--snapshot_every_records=40", "--snapshot_every=0")
        self.assertRegex(again.stderr(), r"journal: snapshot %s passed over: .*damaged" %
                         re.escape(damaged))
        self.assertRegex(again.stderr(), r"recovered from --data_dir .* after the snapshot at "
                         r"record %d " % older)
        self.assertEqual(self.center(again), before)
        # Retries the older snapshot answers, and one the replay past it answers.
        replayed = [c for c in answered if enqueued[c] > older]
        self.assertTrue(replayed)
        for call_id in ("talk", "c1", replayed[-1]):
            request, first = answered[call_id]
            self.assertEqual(again.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS), first,
                             call_id)
        self.assertEqual(again.stop(), 0)
        # The damaged file is set aside, kept for a look but no longer one of the snapshots that
        # retention keeps: the data dir verifies again.
        self.assertIn("journal: snapshot %s set aside as %s.damaged" % (damaged, damaged),
                      again.stderr())
        self.assertFalse(os.path.exists(damaged))
        self.assertTrue(os.path.exists(damaged + ".damaged"))
        verified = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verified.returncode, 0, verified.stderr)
        self.assertIn("  set aside: %s.damaged " % damaged, verified.stdout)

    def test_acdctl_stats_gives_each_snapshots_size_and_marks_a_damaged_one(self):
        acdd = self.start("--snapshot_every_records=5", "--snapshot_every=0")
        for call_id in ("s1", "s2", "s3", "s4", "s5"):
            self.enqueue(acdd, call_id)
        self.wait_for_snapshots(acdd, 1)
        self.assertEqual(acdd.stop(), 0)
        record, path = max(self.snapshots().items())
        stats = self.acdctl("journal", "stats", self.data_dir)
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertIn("\nsnapshot at record %d: %d bytes\n" % (record, os.path.getsize(path)),
                      stats.stdout)

        self.flip_a_byte_in_the_middle(path)
        stats = self.acdctl("journal", "stats", self.data_dir)
        self.assertEqual(stats.returncode, 0, stats.stderr)
        # The file's size still: "0 bytes" would tell the operator of another damage (emptied).
        self.assertIn("\nsnapshot at record %d: %d bytes (damaged)\n" %
                      (record, os.path.getsize(path)), stats.stdout)

    def test_a_half_written_snapshot_left_by_a_crash_is_removed_at_start_and_never_read(self):
        acdd = self.start("--snapshot_every_records=5", "--snapshot_every=0")
        for call_id in ("h1", "h2", "h3", "h4", "h5"):
            self.enqueue(acdd, call_id)
        self.wait_for_snapshots(acdd, 1)
        before = self.center(acdd)
        acdd.kill9()
        published = max(self.snapshots())
        # Newer than the published one, as a snapshot cut short by a crash would be.
        planted = os.path.join(self.data_dir, "snapshot-00000000000000000099.snap.tmp")
        with open(planted, "wb") as f:
            f.write(b"ACDSNAP\0" + os.urandom(4000))
        verified = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verified.returncode, 0, verified.stderr)
        self.assertEqual(re.findall(r"snapshot record (\d+)", verified.stdout), [str(published)])
        self.assertNotIn("snapshot-00000000000000000099", verified.stdout)

        again = self.start("--snapshot_every_records=5", "--snapshot_every=0")
        self.assertFalse(os.path.exists(planted), "the unfinished snapshot is still there")
        self.assertRegex(again.stderr(), r"after the snapshot at record %d " % published)
        self.assertNotIn("passed over", again.stderr())
        self.assertEqual(self.center(again), before)
        self.assertEqual(again.stop(), 0)

    def test_retention_removes_journal_segments_a_kept_snapshot_covers(self):
        acdd = self.start("--journal_segment_mb=1", "--journal_retention=0s",
                          "--snapshot_every_records=2000", "--snapshot_every=0")
        self.login(acdd, "ann", "sales", ready=False)
        for call_id in ("k1", "k2", "k3"):  # they wait through it all, first in line
            self.enqueue(acdd, call_id, account="A-" + call_id)
        first_segment = os.path.join(self.data_dir, "journal-00000000000000000001.seg")
        # Callers who hang up while waiting, 50 at a time in flight: 12,000 records, ~1.9 MB.
        for batch in range(120):
            call_ids = ["v%d" % (batch * 50 + i) for i in range(50)]
            enqueues = []
            for call_id in call_ids:
                request = self.enqueue_request(call_id, note="x" * 200)
                enqueues.append(acdd.rpc.EnqueueCall.future(request, timeout=RPC_TIMEOUT_SECONDS))
            for enqueue in enqueues:
                enqueue.result()
            hangups = []
            for call_id in call_ids:
                event = self.api.CallEvent(switch_id="sw", call_id=call_id)
                event.caller_abandoned.SetInParent()
                hangups.append(acdd.rpc.ReportCallEvent.future(event,
                                                               timeout=RPC_TIMEOUT_SECONDS))
            for hangup in hangups:
                hangup.result()
        logged = self.wait_for_snapshots(acdd, 5)
        self.assertFalse(os.path.exists(first_segment), "journal-...1.seg outlived its snapshots")
        segments, removed_bytes = self.logged_removals(acdd)
        self.assertGreaterEqual(segments, 1)
        self.assertEqual(acdd.metric("acd_journal_retention_removed_bytes_total"), removed_bytes)
        snapshot_bytes = sum(b for n, b in logged.items() if n not in self.snapshots())
        self.assertGreaterEqual(removed_bytes - snapshot_bytes, segments << 20,
                                "each segment removed was a full one (1 MiB)")
        before = self.center(acdd)

        verified = self.acdctl("journal", "verify", self.data_dir)
        self.assertEqual(verified.returncode, 0, verified.stderr)
        begins = re.search(r"  begins   \S+ at record (\d+) \(retention removed the ones before\)",
                           verified.stdout)
        self.assertIsNotNone(begins, verified.stdout)
        newest = max(self.snapshots())
        self.assertGreater(int(begins.group(1)), 1)
        self.assertLessEqual(int(begins.group(1)), min(self.snapshots()) + 1,
                             "a kept snapshot continues into the journal")
        self.assertIn("a start recovers from the snapshot at record %d" % newest, verified.stdout)
        acdd.kill9()

        again = self.start("--journal_segment_mb=1", "--journal_retention=0s",
                           "--snapshot_every_records=2000", "--snapshot_every=0")
        self.assertRegex(again.stderr(), r"after the snapshot at record %d " % newest)
        self.assertEqual(self.center(again), before)
        self.assertEqual([self.call(again, c).position for c in ("k1", "k2", "k3")], [1, 2, 3])
        self.assertEqual(self.api.CallState.values_by_number[self.call(again, "v0").state].name,
                         "CALL_STATE_ABANDONED")
        self.assertEqual(again.stop(), 0)


if __name__ == "__main__":
    base.main()
