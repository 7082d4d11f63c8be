#!/usr/bin/python3
"""An HA pair of acdd (a leader and its hot standby) on three real etcd members, seen from the
independent client (Python grpcio, messages from the descriptor set): a standby sends clients to
the leader (message, acd-leader trailer, health, status, metrics); a killed leader is replaced by
its standby with every acknowledged call in place and in order, and outstanding offers numbered as
before; a leader paused past its lease acknowledges nothing once it wakes and steps down; a lost
standby leaves the leader alone until it is back in sync; and a leader whose etcd lost its quorum
refuses changes (answering reads) until it returns.

  /usr/bin/python3 ha_pair_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]

Timing bounds here are generous on purpose (a loaded CI machine); the figures themselves are
printed, and belong to a benchmark.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from collections import namedtuple

# gRPC core's fork handlers (on by default in Debian's grpcio) can hang a fork() for good while a
# channel's threads are busy, and this test forks with channels open: etcd members and acdd start
# through preexec_fn (to die with the test). Off before grpc starts; nothing here forks into gRPC.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import grpc

import python_client_test as base
from etcd_cluster import EtcdCluster, _die_with_parent, _free_ports

RPC_TIMEOUT_SECONDS = 5
START_TIMEOUT_SECONDS = 20
IN_SYNC_TIMEOUT_SECONDS = 20
LEASE_SECONDS = 1            # acdd's --ha_lease (its default)
SYNC_TIMEOUT_SECONDS = 0.5   # acdd's --ha_sync_timeout (its default)
FAILOVER_BOUND_SECONDS = 6   # the target is 2 s; bench/ measures it
SLACK_SECONDS = 3            # on top of acdd's own timers, for a loaded machine
CLUSTER = "ha-test"
# A killed replica comes back on the same port: reconnect soon, not after gRPC's default backoff.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 300)]

# Nobody staffs "line": every call waits there, in arrival order. An offer from "desk" stays
# outstanding for as long as a test runs.
POLICY = """\
name: ha-pair-center
skills: [{name: sales}, {name: desk}]
queues:
  - name: line
    skills: [{skill: sales, min_proficiency: 1}]
  - name: desk
    skills: [{skill: desk, min_proficiency: 1}]
    offer_timeout_seconds: 600
"""

# grpc.health.v1, written by hand as in python_client_test.py: this client has no health stubs.
HEALTH_STATUS = {b"": "UNKNOWN", b"\x08\x01": "SERVING", b"\x08\x02": "NOT_SERVING",
                 b"\x08\x03": "SERVICE_UNKNOWN"}
ACD_SERVICES = ("acd.v1.SwitchService", "acd.v1.AgentService", "acd.v1.AdminService")


def wait_for(what, predicate, timeout, interval=0.05):
    """predicate()'s first true value, asked until `timeout` seconds have passed, or an
    AssertionError that says `what` (a string, or a function that says it then) was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError("waited %g s for %s" % (timeout, said))
        time.sleep(interval)


class Replica:
    """One acdd of the pair: always the same command line (a restart is the same process again),
    its stdout and stderr appended to files in the test's folder, one channel to its fixed port."""

    def __init__(self, test, name, port, etcd):
        self.test, self.name = test, name
        self.address = "127.0.0.1:%d" % port
        self.data_dir = os.path.join(test.work, name)
        self.stdout_path = os.path.join(test.work, name + ".stdout")
        self.stderr_path = os.path.join(test.work, name + ".stderr")
        self.argv = [base.ACDD_PATH, "--grpc_listen", self.address, "--http_listen", "127.0.0.1:0",
                     "--policy", test.policy_path, "--data_dir", self.data_dir,
                     "--etcd_endpoints", etcd.endpoints, "--ha_cluster", CLUSTER,
                     "--replica_id", name, "--advertise_address", self.address]
        self.process = None
        self.channel = grpc.insecure_channel(self.address, options=CHANNEL_OPTIONS)
        self.rpc = test.api.bind(self.channel)
        self._get_status = self.channel.unary_unary(
            "/acd.ha.v1.Replicas/GetStatus",
            request_serializer=test.GetStatusRequest.SerializeToString,
            response_deserializer=test.ReplicaStatus.FromString)
        self._list_queues = self.channel.unary_unary(
            "/acd.v1.AdminService/ListQueues",
            request_serializer=test.ListQueuesRequest.SerializeToString,
            response_deserializer=test.ListQueuesResponse.FromString)
        self._health = self.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)

    def start(self):
        """Starts acdd and waits until it says where it listens."""
        started = self.listening_lines()
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while len(self.listening_lines()) == len(started):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.test.fail("%s did not start (exit status %s); its stderr:\n%s" % (
                    self.name, self.process.poll(), self.log_tail()))
            time.sleep(0.02)

    def kill9(self):
        self.process.send_signal(signal.SIGCONT)  # a stopped process dies of SIGKILL, but at once
        self.process.kill()
        self.process.wait(timeout=base.EXIT_TIMEOUT_SECONDS)

    def pause(self):
        """SIGSTOP; returns once every thread has stopped."""
        self.process.send_signal(signal.SIGSTOP)
        os.waitpid(self.process.pid, os.WUNTRACED)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.kill9()
        self.channel.close()

    def listening_lines(self):
        """Every "acdd listening" line so far: one per start, a re-execution included."""
        try:
            with open(self.stdout_path) as f:
                return re.findall(r"^acdd listening grpc=(\S+) http=(\S+)$", f.read(), re.MULTILINE)
        except FileNotFoundError:
            return []

    def log(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log().splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def status(self):
        """acd.ha.v1.Replicas/GetStatus, or None while it does not answer (killed, restarting)."""
        try:
            return self._get_status(self.test.GetStatusRequest(), timeout=RPC_TIMEOUT_SECONDS)
        except grpc.RpcError:
            return None

    def role(self):
        status = self.status()
        return status.role if status is not None else None

    def health(self, service):
        request = b"\x0a" + bytes([len(service)]) + service.encode()  # HealthCheckRequest{service}
        raw = self._health(request, timeout=RPC_TIMEOUT_SECONDS)
        return HEALTH_STATUS.get(raw, raw)

    def metrics(self):
        """{"name" or "name{labels}": value} of its /metrics, from the listener it printed last."""
        http_address = self.listening_lines()[-1][1]
        with urllib.request.urlopen("http://%s/metrics" % http_address, timeout=5) as r:
            text = r.read().decode()
        return {m.group(1): float(m.group(2))
                for m in re.finditer(r"^(\w+(?:\{[^}]*\})?) (\S+)$", text, re.MULTILINE)}

    def enqueue(self, call_id, queue="line", switch_id="pbx-load"):
        request = self.test.api.EnqueueCallRequest(switch_id=switch_id, call_id=call_id,
                                                   queue=queue)
        return self.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS)

    def queues(self):
        return self._list_queues(self.test.ListQueuesRequest(), timeout=RPC_TIMEOUT_SECONDS)

    def clock_offset(self):
        """This acdd's clock less time.monotonic(), in seconds: ListQueues' `at`, taken as halfway
        between request and reply. acdd's clock is the wall clock read when it started plus steady
        time since, so it is fixed for the life of the process, and differs from time.time() once
        the wall clock steps (NTP, or a virtual machine resumed)."""
        asked = time.monotonic()
        at = self.queues().at.ToNanoseconds() / 1e9
        return at - (asked + time.monotonic()) / 2

    def calls(self, switch_id="pbx-load"):
        """{call id: CallInfo} of the switch's live calls, as ListCalls answers (in one page: the
        tests hold a few hundred)."""
        listed = self.rpc.ListCalls(
            self.test.api.ListCallsRequest(switch_id=switch_id, page_size=10000),
            timeout=RPC_TIMEOUT_SECONDS)
        self.test.assertEqual(listed.next_page_token, "", "more than one page of calls")
        return {c.call_id: c for c in listed.calls}


# A call acd acknowledged: when it was first sent and when acknowledged (time.monotonic()), and
# the replica that acknowledged it.
Ack = namedtuple("Ack", "call_id sent acked replica")


class Switch(threading.Thread):
    """A switch sending calls to queue "line" one after another (each `pause` after the one before
    was acknowledged) to whichever replica leads: on a refusal it sends the same call again to the
    address the refusal names (acd-leader) or else to the other replica, as a switch would. It
    keeps every acknowledgement in order, and every refusal."""

    def __init__(self, replicas, leader, prefix, pause=0.01):
        super().__init__(daemon=True)
        self.replicas, self.prefix, self.pause = replicas, prefix, pause
        self._target = replicas.index(leader)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._acked = []
        self._refusals = []  # (monotonic time, replica name, status code name, details)

    def acked(self):
        with self._lock:
            return list(self._acked)

    def refusals(self):
        with self._lock:
            return list(self._refusals)

    def acked_since(self, moment):
        return [a for a in self.acked() if a.acked > moment]

    def halt(self):
        self._halt.set()
        self.join(timeout=2 * RPC_TIMEOUT_SECONDS)

    def run(self):
        number = 0
        while not self._halt.is_set():
            number += 1
            call_id = "%s-%05d" % (self.prefix, number)
            sent = time.monotonic()
            while not self._halt.is_set():
                replica = self.replicas[self._target]
                try:
                    replica.enqueue(call_id)
                except grpc.RpcError as e:
                    with self._lock:
                        self._refusals.append((time.monotonic(), replica.name, e.code().name,
                                               e.details()))
                    named = dict(e.trailing_metadata() or ()).get("acd-leader")
                    addresses = [r.address for r in self.replicas]
                    if named in addresses and named != replica.address:
                        self._target = addresses.index(named)
                    else:
                        self._target = (self._target + 1) % len(self.replicas)
                    time.sleep(0.02)
                    continue
                with self._lock:
                    self._acked.append(Ack(call_id, sent, time.monotonic(), replica.name))
                break
            time.sleep(self.pause)


class HaPairTest(unittest.TestCase):

    def setUp(self):
        self.api = base.Api(base.DESCRIPTOR_SET_PATH)
        self.GetStatusRequest = self.api._message_class("acd.ha.v1.GetStatusRequest")
        self.ReplicaStatus = self.api._message_class("acd.ha.v1.ReplicaStatus")
        self.ListQueuesRequest = self.api._message_class("acd.v1.ListQueuesRequest")
        self.ListQueuesResponse = self.api._message_class("acd.v1.ListQueuesResponse")
        self.work = tempfile.mkdtemp(prefix="acd-ha-test-", dir="/dev/shm")
        self.replicas = []
        self.addCleanup(self._clean_up_work)
        self.policy_path = os.path.join(self.work, "policy.yaml")
        with open(self.policy_path, "w") as f:
            f.write(POLICY)
        self.etcd = EtcdCluster()
        self.addCleanup(lambda: self.etcd.close(keep_logs=not self._outcome.success))
        ports = _free_ports(2)
        self.r1 = Replica(self, "r1", ports[0], self.etcd)
        self.r2 = Replica(self, "r2", ports[1], self.etcd)
        for replica in (self.r1, self.r2):
            self.replicas.append(replica)
            self.addCleanup(replica.close)
        # The first replica of a new cluster founds it and leads; the second follows it.
        self.r1.start()
        wait_for("r1 to found the cluster and lead", lambda: self.r1.role() == "leader",
                 START_TIMEOUT_SECONDS)
        # Each leader's clock, read when it leads: acknowledgements are compared with arrival
        # times in the clocks of the leaders that stamped them.
        self.leader_clock_offsets = [self.r1.clock_offset()]
        self.r2.start()
        self.wait_in_sync(self.r1, self.r2)

    def _clean_up_work(self):
        """Removes the test's folder; when the test failed, prints the end of each acdd's log
        first."""
        if not self._outcome.success:
            for replica in self.replicas:
                print("---- the end of %s's stderr (%s):\n%s" % (
                    replica.name, replica.stderr_path, replica.log_tail()), file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)

    # What the pair says about itself.

    def standby_row(self, leader, standby):
        status = leader.status()
        if status is None or status.role != "leader":
            return None
        rows = [s for s in status.standbys if s.replica_id == standby.name]
        return rows[0] if rows else None

    def wait_in_sync(self, leader, standby, timeout=IN_SYNC_TIMEOUT_SECONDS):
        """Until `standby` follows `leader` and the leader has marked it in sync."""
        def in_sync():
            row = self.standby_row(leader, standby)
            status = standby.status()
            return (row is not None and row.in_sync and row.counted and status is not None and
                    status.role == "standby" and status.leader_address == leader.address)
        wait_for(lambda: "%s to be in sync with the leader %s (leader: %s; standby: %s)" % (
            standby.name, leader.name, leader.status(), standby.status()), in_sync, timeout)

    def etcd_sync_value(self, replica):
        """The value of the replica's sync key in etcd, read with etcdctl."""
        got = subprocess.run(
            ["etcdctl", "--endpoints", self.etcd.endpoints, "get",
             "/acd/%s/sync/%s" % (CLUSTER, replica.name), "--print-value-only"],
            env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, text=True, timeout=30)
        self.assertEqual(got.returncode, 0, got.stderr)
        return got.stdout.strip()

    # What a new leader must hold.

    def assert_holds_every_acknowledged_call(self, leader, acked, arrivals):
        """Every call in `acked` waits on `leader` in queue line, first in line in the order they
        were acknowledged (nothing else between them), each with its arrival time as first seen
        (`arrivals`, which it extends) and within the moments it was sent and acknowledged, read
        in the clocks of the leaders so far."""
        self.leader_clock_offsets.append(leader.clock_offset())
        earliest, latest = min(self.leader_clock_offsets), max(self.leader_clock_offsets)
        calls = leader.calls()
        missing = [a.call_id for a in acked if a.call_id not in calls]
        self.assertEqual(missing, [], "%d of %d acknowledged calls are not on %s" % (
            len(missing), len(acked), leader.name))
        line = sorted((c for c in calls.values() if c.queue == "line"), key=lambda c: c.position)
        self.assertEqual([c.position for c in line], list(range(1, len(line) + 1)))
        self.assertEqual([c.call_id for c in line[:len(acked)]], [a.call_id for a in acked],
                         "the line on %s is not in the order acd acknowledged the calls" %
                         leader.name)
        for a in acked:
            arrived = calls[a.call_id].arrived.ToNanoseconds() / 1e9
            first_seen = arrivals.setdefault(a.call_id, arrived)
            self.assertEqual(arrived, first_seen, "%s's arrival time changed" % a.call_id)
            sent, acknowledged = a.sent + earliest, a.acked + latest
            self.assertTrue(sent - 0.01 <= arrived <= acknowledged + 0.01,
                            "%s arrived at %.3f, not between sent %.3f and acknowledged %.3f" %
                            (a.call_id, arrived, sent, acknowledged))

    # The desk: offers outstanding (never answered) on switch pbx-desk's command stream.

    def offer_another_desk_call(self, leader, offers):
        """The switch (re)connects pbx-desk's command stream to `leader`: every offer in `offers`
        {sequence: Command} comes again as first sent, in order. Then a new agent logs in and a
        new call is offered to them at once, numbered after them all; it joins `offers`."""
        reader = base.CommandReader(leader.rpc, self.api, "pbx-desk")
        try:
            for sequence in sorted(offers):
                again = reader.next()
                self.assertEqual((again.sequence, again.resent), (sequence, True), again)
                again.resent = False
                self.assertEqual(again, offers[sequence])
            n = len(offers) + 1
            request = self.api.LoginRequest(agent_id="desk-agent-%d" % n, ready=True)
            request.skills.add(skill="desk", proficiency=3)
            leader.rpc.Login(request, timeout=RPC_TIMEOUT_SECONDS)
            offered = leader.enqueue("desk-%d" % n, queue="desk", switch_id="pbx-desk")
            self.assertEqual(self.api.Disposition.values_by_number[offered.disposition].name,
                             "DISPOSITION_OFFERED")
            new = reader.next()
            self.assertEqual((new.WhichOneof("command"), new.offer_call.call_id,
                              new.offer_call.agent_id, new.resent),
                             ("offer_call", "desk-%d" % n, "desk-agent-%d" % n, False), new)
            self.assertGreater(new.sequence, max(offers, default=0))
            offers[new.sequence] = new
        finally:
            reader.cancel()

    # The tests.

    def test_a_standby_sends_clients_to_the_leader_by_status_trailer_health_and_metrics(self):
        leader, standby = self.r1, self.r2
        journaled = leader.status().durable_sequence
        leader.enqueue("roles-1")

        for refused in (lambda: standby.enqueue("roles-2"),
                        lambda: standby.calls(),
                        lambda: standby.rpc.GetCall(self.api.GetCallRequest(call_id="roles-1"),
                                                    timeout=RPC_TIMEOUT_SECONDS),
                        lambda: standby.rpc.Login(self.api.LoginRequest(agent_id="a"),
                                                  timeout=RPC_TIMEOUT_SECONDS)):
            with self.assertRaises(grpc.RpcError) as raised:
                refused()
            self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(raised.exception.details(),
                             "this acdd is a standby; the leader is at %s" % leader.address)
            self.assertIn(("acd-leader", leader.address),
                          [tuple(m) for m in raised.exception.trailing_metadata()])
        self.assertNotIn("roles-2", leader.calls())

        for service in ACD_SERVICES:
            self.assertEqual(leader.health(service), "SERVING", service)
            self.assertEqual(standby.health(service), "NOT_SERVING", service)

        led, followed = leader.status(), standby.status()
        self.assertEqual((led.role, led.replica_id, led.cluster, led.leader_id),
                         ("leader", "r1", CLUSTER, "r1"))
        self.assertGreater(led.epoch, 0)
        self.assertGreater(led.fence_remaining_seconds, 0)
        self.assertEqual(led.etcd_error, "")
        self.assertEqual([(s.replica_id, s.connected, s.in_sync, s.counted)
                          for s in led.standbys], [("r2", True, True, True)])
        self.assertEqual((followed.role, followed.leader_id, followed.leader_address,
                          followed.following), ("standby", "r1", leader.address, ""))
        # The acknowledgement of roles-1 waited for the standby's journal too.
        self.assertGreater(followed.durable_sequence, journaled)

        on_leader, on_standby = leader.metrics(), standby.metrics()
        self.assertEqual(on_leader['acd_ha_role{role="leader"}'], 1)
        self.assertEqual(on_leader['acd_ha_role{role="standby"}'], 0)
        self.assertEqual(on_standby['acd_ha_role{role="leader"}'], 0)
        self.assertEqual(on_standby['acd_ha_role{role="standby"}'], 1)
        self.assertEqual(on_leader["acd_ha_epoch"], led.epoch)
        self.assertEqual(on_leader["acd_ha_standby_in_sync"], 1)
        self.assertGreater(on_standby["acd_ha_replicated_records_total"], 0)
        self.assertEqual(self.etcd_sync_value(standby), "in_sync")

    def test_a_killed_leader_is_replaced_three_times_with_every_acknowledged_call_in_order(self):
        replicas = [self.r1, self.r2]
        leader, standby = self.r1, self.r2

        offers = {}
        self.offer_another_desk_call(leader, offers)

        switch = Switch(replicas, leader, "fo")
        switch.start()
        self.addCleanup(switch.halt)
        arrivals, failovers = {}, []
        for round_ in range(1, 4):
            since = time.monotonic()
            wait_for("the switch to have 50 more calls acknowledged",
                     lambda: len(switch.acked_since(since)) >= 50, 20)
            killed = time.monotonic()
            leader.kill9()
            first = wait_for(
                "%s to accept a call after %s was killed" % (standby.name, leader.name),
                lambda: next((a for a in switch.acked_since(killed)
                              if a.replica == standby.name), None), 20, interval=0.01)
            failovers.append(first.acked - killed)
            print("failover %d: %s accepted a call %.2f s after %s was killed (-9)" % (
                round_, standby.name, failovers[-1], leader.name))
            self.assertLess(failovers[-1], FAILOVER_BOUND_SECONDS)
            leader, standby = standby, leader
            self.assertEqual(leader.role(), "leader")

            self.assert_holds_every_acknowledged_call(leader, switch.acked(), arrivals)
            # The switch reconnects its command stream: the outstanding offers come again,
            # numbered as before, and the new leader's own offer after them.
            self.offer_another_desk_call(leader, offers)

            standby.start()  # the killed one, as it was started: now a standby
            self.wait_in_sync(leader, standby)
        switch.halt()
        self.assertEqual({r[2] for r in switch.refusals()} - {"UNAVAILABLE"}, set())
        self.assert_holds_every_acknowledged_call(leader, switch.acked(), arrivals)
        print("%d calls acknowledged; failovers %s s" % (
            len(switch.acked()), ", ".join("%.2f" % f for f in failovers)))

        # Each offer, numbered by whichever leader made it, is answered by that number.
        for sequence, command in offers.items():
            event = self.api.CallEvent(switch_id="pbx-desk", call_id=command.offer_call.call_id,
                                       agent_id=command.offer_call.agent_id,
                                       offer_sequence=sequence)
            event.offer_accepted.SetInParent()
            answered = leader.rpc.ReportCallEvent(event, timeout=RPC_TIMEOUT_SECONDS)
            self.assertEqual(self.api.CallState.values_by_number[answered.state].name,
                             "CALL_STATE_CONNECTED", command)

    def test_a_leader_paused_past_its_lease_acknowledges_nothing_and_steps_down(self):
        old, new = self.r1, self.r2
        before = ["before-%d" % i for i in range(10)]
        for call_id in before:
            old.enqueue(call_id)
        pid = old.process.pid

        old.pause()
        paused = time.monotonic()
        # Sent while it is stopped: they wait in its socket and are answered after SIGCONT.
        waiting = [old.rpc.EnqueueCall.future(
            self.api.EnqueueCallRequest(switch_id="pbx-load", call_id="paused-%d" % i,
                                        queue="line"), timeout=30) for i in range(10)]
        wait_for("r2 to take over from the paused r1", lambda: new.role() == "leader",
                 LEASE_SECONDS + 10)
        print("r2 leads %.2f s after r1 was paused" % (time.monotonic() - paused))
        new.enqueue("new-leader-1")
        time.sleep(max(0.0, 3 - (time.monotonic() - paused)))  # paused 3 s at least

        # Woken, it is asked again at once and as fast as it answers, while it steps down (and
        # while it starts again, when a refused connection answers).
        old.resume()
        answers = []  # (call id, status code name, details)
        woke = time.monotonic()
        number = 0
        while time.monotonic() - woke < 1.5:
            number += 1
            call_id = "woken-%d" % number
            try:
                old.enqueue(call_id)
                answers.append((call_id, "OK", ""))
            except grpc.RpcError as e:
                answers.append((call_id, e.code().name, e.details()))
        for i, future in enumerate(waiting):
            try:
                future.result()
                answers.append(("paused-%d" % i, "OK", ""))
            except grpc.RpcError as e:
                answers.append(("paused-%d" % i, e.code().name, e.details()))
        fenced = len([a for a in answers if "cannot confirm it with etcd" in a[2]])
        as_standby = len([a for a in answers if a[2].startswith("this acdd is a standby")])
        print("the woken r1 refused %d calls: %d fenced, %d as a standby, %d by its connection" % (
            len(answers), fenced, as_standby, len(answers) - fenced - as_standby))
        self.assertEqual([a for a in answers if a[1] == "OK"], [])
        self.assertEqual({code for _, code, _ in answers}, {"UNAVAILABLE"})

        # It steps down: the same process starts again as a standby and follows the new leader.
        wait_for("r1 to say it is a standby", lambda: old.role() == "standby", 10)
        self.assertEqual(old.process.pid, pid)
        self.assertIsNone(old.process.poll())
        self.assertRegex(old.log(), r"acdd: ha: stepped down: .*; starting again as a standby")
        self.wait_in_sync(new, old)
        self.assertEqual(old.metrics()['acd_ha_role{role="standby"}'], 1)
        with self.assertRaises(grpc.RpcError) as raised:
            old.enqueue("woken-as-standby")
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(raised.exception.details(),
                         "this acdd is a standby; the leader is at %s" % new.address)

        calls = new.calls()
        self.assertEqual([c for c in before + ["new-leader-1"] if c not in calls], [])
        self.assertEqual([c for c, _, _ in answers + [("woken-as-standby", 0, 0)] if c in calls],
                         [])

    def test_the_leader_goes_on_alone_without_its_standby_and_takes_it_back_in_sync(self):
        leader, standby = self.r1, self.r2
        out_of_sync_before = leader.metrics()["acd_ha_standby_out_of_sync_total"]
        switch = Switch([leader, standby], leader, "alone")
        switch.start()
        self.addCleanup(switch.halt)
        since = time.monotonic()
        wait_for("20 calls acknowledged", lambda: len(switch.acked_since(since)) >= 20, 20)

        killed = time.monotonic()
        standby.kill9()
        marked = wait_for(
            "the leader to count r2 out of sync",
            lambda: leader.metrics()["acd_ha_standby_out_of_sync_total"] > out_of_sync_before and
            time.monotonic(), SYNC_TIMEOUT_SECONDS + 10)
        print("r2 killed; marked out of sync %.2f s later" % (marked - killed))
        wait_for("20 calls acknowledged by the leader alone",
                 lambda: len(switch.acked_since(marked)) >= 20, 20)
        self.assertEqual(leader.metrics()["acd_ha_standby_out_of_sync_total"],
                         out_of_sync_before + 1)
        self.assertEqual(leader.metrics()["acd_ha_standby_in_sync"], 0)
        self.assertEqual(self.etcd_sync_value(standby), "out_of_sync")
        row = self.standby_row(leader, standby)
        self.assertEqual((row.connected, row.in_sync, row.counted), (False, False, False))
        self.assertIn("acdd: standby r2 has not made record", leader.log())
        # Never refused, and held up no longer than the sync timeout (and slack).
        self.assertEqual(switch.refusals(), [])
        acked = switch.acked()
        gaps = [b.acked - a.acked for a, b in zip(acked, acked[1:]) if b.acked > killed]
        print("longest wait between two acknowledgements after r2 was killed: %.2f s" % max(gaps))
        self.assertLess(max(gaps), SYNC_TIMEOUT_SECONDS + SLACK_SECONDS)

        standby.start()
        self.wait_in_sync(leader, standby)
        self.assertEqual(self.etcd_sync_value(standby), "in_sync")
        self.assertEqual(leader.metrics()["acd_ha_standby_in_sync"], 1)
        switch.halt()
        self.assertEqual(switch.refusals(), [])

        # It holds every call: the leader resigns (SIGTERM), and r2 has them all.
        leader.process.send_signal(signal.SIGTERM)
        self.assertEqual(leader.process.wait(timeout=base.EXIT_TIMEOUT_SECONDS), 0)
        wait_for("r2 to take over from the resigned r1", lambda: standby.role() == "leader", 10)
        self.assert_holds_every_acknowledged_call(standby, switch.acked(), {})

    def test_a_leader_without_an_etcd_quorum_refuses_changes_answers_reads_and_resumes(self):
        leader, standby = self.r1, self.r2
        acked = []
        for i in range(10):
            leader.enqueue("quorum-%d" % i)
            acked.append("quorum-%d" % i)

        # Two of three members gone: one killed, one paused.
        lost = time.monotonic()
        self.etcd.kill(0)
        self.etcd.pause(1)
        refused, number = None, 0
        patience = LEASE_SECONDS + SLACK_SECONDS + 5
        while refused is None and time.monotonic() - lost < patience:
            number += 1
            try:
                leader.enqueue("during-%d" % number)
                acked.append("during-%d" % number)
            except grpc.RpcError as e:
                refused = (time.monotonic(), e.code(), e.details())
            time.sleep(0.02)
        self.assertIsNotNone(refused, "the leader acknowledged calls for %g s without etcd" %
                             patience)
        print("etcd lost its quorum; the leader refused a call %.2f s later" % (refused[0] - lost))
        self.assertEqual(refused[1], grpc.StatusCode.UNAVAILABLE)
        self.assertRegex(refused[2], r"^this acdd leads but cannot confirm it with etcd in time")
        self.assertLess(refused[0] - lost, LEASE_SECONDS + SLACK_SECONDS)

        # Still fenced: changes refused, reads answered.
        for i in range(3):
            with self.assertRaises(grpc.RpcError) as raised:
                leader.enqueue("fenced-%d" % i)
            self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)
        calls = leader.calls()
        self.assertEqual([c for c in acked if c not in calls], [])
        call = leader.rpc.GetCall(self.api.GetCallRequest(call_id="quorum-0"),
                                  timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(call.call_id, "quorum-0")
        waiting = {q.queue: q.calls_waiting for q in leader.queues().queues}
        self.assertGreaterEqual(waiting["line"], len(acked))
        status = leader.status()
        self.assertEqual(status.fence_remaining_seconds, 0)
        self.assertNotEqual(status.etcd_error, "")
        self.assertEqual(standby.role(), "standby")

        # The quorum returns: a replica takes calls again, with everything acknowledged before.
        self.etcd.restart(0)
        self.etcd.resume(1)
        back = time.monotonic()
        switch = Switch([leader, standby], leader, "resumed")
        switch.start()
        self.addCleanup(switch.halt)
        first = wait_for("a call accepted after etcd's quorum came back",
                         lambda: next(iter(switch.acked()), None), 20, interval=0.01)
        switch.halt()
        print("etcd's quorum back; %s accepted a call %.2f s later" % (
            first.replica, first.acked - back))
        self.assertLess(first.acked - back, 10)  # etcd elects a leader, acdd renews its lease
        now_leading = leader if first.replica == leader.name else standby
        calls = now_leading.calls()
        self.assertEqual([c for c in acked if c not in calls], [])


if __name__ == "__main__":
    base.main()
