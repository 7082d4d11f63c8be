#!/usr/bin/python3
"""acdd serves a client that shares none of our C++ code: Python grpcio with message classes built
at run time from the API's descriptor set (build/acd_v1.desc).

  /usr/bin/python3 python_client_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]

Each test starts the real acdd on free ports with tests/integration/testdata/center.yaml, drives it
as a switch, an agent desktop and an operator would, and stops it with SIGTERM.
"""

import os
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

RPC_TIMEOUT_SECONDS = 10
STARTUP_TIMEOUT_SECONDS = 20
COMMAND_TIMEOUT_SECONDS = 5
EXIT_TIMEOUT_SECONDS = 20

# Set from the command line in main().
ACDD_PATH = None
DESCRIPTOR_SET_PATH = None
SOURCE_DIR = None


class Api:
    """The acd.v1 message classes and one callable per RPC, built from the descriptor set."""

    def __init__(self, descriptor_set_path):
        files = descriptor_pb2.FileDescriptorSet()
        with open(descriptor_set_path, "rb") as f:
            files.ParseFromString(f.read())
        self._pool = descriptor_pool.DescriptorPool()
        # --include_imports writes dependencies before the files that import them.
        for file_proto in files.file:
            self._pool.Add(file_proto)
        self._factory = None
        for name in ("EnqueueCallRequest", "EnqueueCallResponse", "CallEvent", "CallEventResponse",
                     "StreamCommandsRequest", "Command", "LoginRequest", "AgentInfo",
                     "ListAgentsRequest", "ListAgentsResponse", "GetCallRequest", "CallInfo",
                     "SetAgentStateRequest", "ListCallsRequest", "ListCallsResponse",
                     "GetPolicyRequest", "PolicyInfo", "SetPolicyRequest", "SetPolicyResponse",
                     "ListQueuesRequest", "ListQueuesResponse"):
            setattr(self, name, self._message_class("acd.v1." + name))
        file_descriptor = self._pool.FindFileByName("acd/v1/acd.proto")
        self.CallState = file_descriptor.enum_types_by_name["CallState"]
        self.AgentState = file_descriptor.enum_types_by_name["AgentState"]
        self.Disposition = self._pool.FindEnumTypeByName("acd.v1.EnqueueCallResponse.Disposition")

    def _message_class(self, full_name):
        descriptor = self._pool.FindMessageTypeByName(full_name)
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
            return message_factory.GetMessageClass(descriptor)
        if self._factory is None:
            self._factory = message_factory.MessageFactory(self._pool)
        return self._factory.GetPrototype(descriptor)

    def bind(self, channel):
        """Returns an object with one attribute per RPC used here, e.g. stubs.EnqueueCall."""

        def unary(service, method, request, response):
            return channel.unary_unary("/acd.v1.%s/%s" % (service, method),
                                       request_serializer=request.SerializeToString,
                                       response_deserializer=response.FromString)

        stubs = type("Stubs", (), {})()
        stubs.EnqueueCall = unary("SwitchService", "EnqueueCall",
                                  self.EnqueueCallRequest, self.EnqueueCallResponse)
        stubs.ReportCallEvent = unary("SwitchService", "ReportCallEvent",
                                      self.CallEvent, self.CallEventResponse)
        stubs.StreamCommands = channel.unary_stream(
            "/acd.v1.SwitchService/StreamCommands",
            request_serializer=self.StreamCommandsRequest.SerializeToString,
            response_deserializer=self.Command.FromString)
        stubs.Login = unary("AgentService", "Login", self.LoginRequest, self.AgentInfo)
        stubs.ListAgents = unary("AdminService", "ListAgents",
                                 self.ListAgentsRequest, self.ListAgentsResponse)
        stubs.GetCall = unary("AdminService", "GetCall", self.GetCallRequest, self.CallInfo)
        stubs.SetAgentState = unary("AgentService", "SetAgentState",
                                    self.SetAgentStateRequest, self.AgentInfo)
        stubs.ListCalls = unary("SwitchService", "ListCalls",
                                self.ListCallsRequest, self.ListCallsResponse)
        stubs.ListQueues = unary("AdminService", "ListQueues",
                                 self.ListQueuesRequest, self.ListQueuesResponse)
        stubs.GetPolicy = unary("AdminService", "GetPolicy", self.GetPolicyRequest, self.PolicyInfo)
        stubs.SetPolicy = unary("AdminService", "SetPolicy",
                                self.SetPolicyRequest, self.SetPolicyResponse)
        return stubs


class CommandReader:
    """Reads one switch's command stream on a thread; next() waits (bounded) for the next one."""

    _END = object()

    def __init__(self, stubs, api, switch_id):
        self._call = stubs.StreamCommands(api.StreamCommandsRequest(switch_id=switch_id))
        self._commands = queue.Queue()
        self.finished = threading.Event()
        self.status_code = None  # how the stream ended, once finished is set
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for command in self._call:
                self._commands.put(command)
            self.status_code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            self.status_code = e.code()
        finally:
            self.finished.set()
            self._commands.put(self._END)

    def next(self, timeout=COMMAND_TIMEOUT_SECONDS):
        """The next command; fails the test if none comes within `timeout` or the stream ended."""
        try:
            command = self._commands.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no command on the stream within %s s" % timeout)
        if command is self._END:
            raise AssertionError("the command stream ended (%s) before a command came" %
                                 self.status_code)
        return command

    def cancel(self):
        self._call.cancel()
        self._thread.join(timeout=COMMAND_TIMEOUT_SECONDS)


def read_line(stream, timeout):
    """One line of a process's output pipe, stripped; what came if none is complete in time."""
    deadline = time.monotonic() + timeout
    line = b""
    fd = stream.fileno()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            break
        line += chunk
    return line.decode("utf-8", "replace").strip()


class AcddTestCase(unittest.TestCase):
    """Starts acdd on free ports before each test; kills it after unless the test stopped it."""

    POLICY = "center.yaml"  # in tests/integration/testdata
    FLAGS = []              # more acdd flags
    STDERR = None           # where acdd's log goes (a file object); None: the test's own stderr

    def setUp(self):
        self.api = Api(DESCRIPTOR_SET_PATH)
        policy = os.path.join(SOURCE_DIR, "tests", "integration", "testdata", self.POLICY)
        self.acdd = subprocess.Popen(
            [ACDD_PATH, "--grpc_listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
             "--policy", policy] + self.FLAGS,
            stdout=subprocess.PIPE, stderr=self.STDERR, stdin=subprocess.DEVNULL)
        self.addCleanup(self._kill_acdd)
        line = self._read_stdout_line(STARTUP_TIMEOUT_SECONDS)
        listening = re.fullmatch(
            r"acdd listening grpc=(127\.0\.0\.1:[1-9]\d*) http=(127\.0\.0\.1:[1-9]\d*)", line)
        if not listening:
            self.fail("acdd did not report where it listens; it printed %r" % line)
        self.grpc_address = listening.group(1)
        self.http_address = listening.group(2)
        self.channel = grpc.insecure_channel(self.grpc_address)
        self.addCleanup(self.channel.close)
        grpc.channel_ready_future(self.channel).result(timeout=RPC_TIMEOUT_SECONDS)
        self.rpc = self.api.bind(self.channel)

    def _read_stdout_line(self, timeout):
        return read_line(self.acdd.stdout, timeout)

    def _kill_acdd(self):
        if self.acdd.poll() is None:
            self.acdd.kill()
            self.acdd.wait(timeout=EXIT_TIMEOUT_SECONDS)
        self.acdd.stdout.close()

    def stop_acdd(self):
        """Sends SIGTERM and returns acdd's exit code."""
        self.acdd.send_signal(signal.SIGTERM)
        try:
            return self.acdd.wait(timeout=EXIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.fail("acdd did not exit within %s s of SIGTERM" % EXIT_TIMEOUT_SECONDS)

    # Thin wrappers that read as the switch / agent / operator actions they are.

    def login(self, agent_id, skill, proficiency, ready=True):
        request = self.api.LoginRequest(agent_id=agent_id, ready=ready)
        request.skills.add(skill=skill, proficiency=proficiency)
        return self.rpc.Login(request, timeout=RPC_TIMEOUT_SECONDS)

    def enqueue_request(self, switch_id, call_id, queue_name, **attributes):
        request = self.api.EnqueueCallRequest(switch_id=switch_id, call_id=call_id,
                                              queue=queue_name)
        request.attributes.update(attributes)
        return request

    def report(self, switch_id, call_id, agent_id, event, offer_sequence=0):
        request = self.api.CallEvent(switch_id=switch_id, call_id=call_id, agent_id=agent_id,
                                     offer_sequence=offer_sequence)
        getattr(request, event).SetInParent()
        return self.rpc.ReportCallEvent(request, timeout=RPC_TIMEOUT_SECONDS)

    def agent(self, agent_id):
        agents = self.rpc.ListAgents(self.api.ListAgentsRequest(), timeout=RPC_TIMEOUT_SECONDS)
        found = [a for a in agents.agents if a.agent_id == agent_id]
        self.assertEqual(len(found), 1, "ListAgents: %s" % agents)
        return found[0]

    def agent_state(self, agent_id):
        return self.api.AgentState.values_by_number[self.agent(agent_id).state].name

    def call_state_name(self, number):
        return self.api.CallState.values_by_number[number].name

    def disposition_name(self, number):
        return self.api.Disposition.values_by_number[number].name


class PythonClientTest(AcddTestCase):

    def test_a_switch_and_an_agent_desktop_serve_a_call_end_to_end(self):
        commands = CommandReader(self.rpc, self.api, "py-switch")
        self.addCleanup(commands.cancel)

        agent = self.login("py-agent", "sales", 3)
        self.assertEqual(agent.agent_id, "py-agent")
        self.assertEqual(self.api.AgentState.values_by_number[agent.state].name,
                         "AGENT_STATE_READY")
        self.assertIn("sales", agent.queues)

        request = self.enqueue_request("py-switch", "py-call-1", "sales", account="ACME-7")
        enqueued = self.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(self.disposition_name(enqueued.disposition), "DISPOSITION_OFFERED")

        command = commands.next()
        self.assertEqual(command.WhichOneof("command"), "offer_call", str(command))
        offer = command.offer_call
        self.assertEqual(offer.call_id, "py-call-1")
        self.assertEqual(offer.agent_id, "py-agent")
        self.assertEqual(offer.queue, "sales")
        self.assertEqual(dict(offer.attributes), {"account": "ACME-7"})
        self.assertEqual(offer.offer_timeout_seconds, 1.0)  # center.yaml's sales queue
        self.assertGreater(command.sequence, 0)
        self.assertFalse(command.resent)
        self.assertEqual(self.agent_state("py-agent"), "AGENT_STATE_RESERVED")

        accepted = self.report("py-switch", "py-call-1", "py-agent", "offer_accepted",
                               offer_sequence=command.sequence)
        self.assertEqual(self.call_state_name(accepted.state), "CALL_STATE_CONNECTED")
        self.assertEqual(self.agent_state("py-agent"), "AGENT_STATE_BUSY")

        ended = self.report("py-switch", "py-call-1", "py-agent", "call_ended")
        self.assertEqual(self.call_state_name(ended.state), "CALL_STATE_ENDED")
        self.assertEqual(self.agent_state("py-agent"), "AGENT_STATE_WRAP_UP")

        call = self.rpc.GetCall(self.api.GetCallRequest(call_id="py-call-1"),
                                timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(call.call_id, "py-call-1")
        self.assertEqual(call.switch_id, "py-switch")
        self.assertEqual(call.queue, "sales")
        self.assertEqual(call.agent_id, "py-agent")
        self.assertEqual(self.call_state_name(call.state), "CALL_STATE_ENDED")
        self.assertEqual([h.what for h in call.history],
                         ["enqueued", "offered", "connected", "ended"])
        times = [h.at.ToNanoseconds() for h in call.history]
        self.assertEqual(times, sorted(times), "history out of time order: %s" % call.history)

        # Draining closes the command stream cleanly, then acdd exits 0.
        self.assertEqual(self.stop_acdd(), 0)
        self.assertTrue(commands.finished.wait(timeout=COMMAND_TIMEOUT_SECONDS),
                        "the command stream stayed open after acdd exited")
        self.assertEqual(commands.status_code, grpc.StatusCode.OK)

    def test_a_call_for_an_unknown_queue_is_not_found_and_names_the_queue(self):
        request = self.enqueue_request("py-switch", "py-call-2", "no-such-queue")
        with self.assertRaises(grpc.RpcError) as raised:
            self.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-queue", raised.exception.details())
        self.assertEqual(self.stop_acdd(), 0)

    def test_a_retried_enqueue_answers_the_original_response(self):
        commands = CommandReader(self.rpc, self.api, "py-switch")
        self.addCleanup(commands.cancel)
        self.login("py-agent", "sales", 3)

        request = self.enqueue_request("py-switch", "py-call-3", "sales", account="ACME-7")
        first = self.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(self.disposition_name(first.disposition), "DISPOSITION_OFFERED")
        offer = commands.next()
        self.assertEqual(offer.offer_call.call_id, "py-call-3")

        again = self.rpc.EnqueueCall(request, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(again, first)
        # Still the one call with the one offer: accepting it by its sequence connects it.
        accepted = self.report("py-switch", "py-call-3", "py-agent", "offer_accepted",
                               offer_sequence=offer.sequence)
        self.assertEqual(self.call_state_name(accepted.state), "CALL_STATE_CONNECTED")
        call = self.rpc.GetCall(self.api.GetCallRequest(call_id="py-call-3"),
                                timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual([h.what for h in call.history], ["enqueued", "offered", "connected"])
        self.assertEqual(self.stop_acdd(), 0)

    def test_a_switch_resyncs_its_calls_page_by_page(self):
        # Nobody staffs "sales" here: the 7 calls wait, and 2 of another switch with them.
        for n in range(7):
            self.rpc.EnqueueCall(self.enqueue_request("py-pbx", "py-%d" % n, "sales"),
                                 timeout=RPC_TIMEOUT_SECONDS)
        for n in range(2):
            self.rpc.EnqueueCall(self.enqueue_request("py-other", "py-other-%d" % n, "sales"),
                                 timeout=RPC_TIMEOUT_SECONDS)
        pages, token = [], ""
        while True:
            page = self.rpc.ListCalls(
                self.api.ListCallsRequest(switch_id="py-pbx", page_size=3, page_token=token),
                timeout=RPC_TIMEOUT_SECONDS)
            pages.append([c.call_id for c in page.calls])
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(pages, [["py-0", "py-1", "py-2"], ["py-3", "py-4", "py-5"], ["py-6"]])
        # Unset, the page is far larger than this: one answer holds them all.
        whole = self.rpc.ListCalls(self.api.ListCallsRequest(switch_id="py-pbx"),
                                   timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(([c.call_id for c in whole.calls], whole.next_page_token),
                         (["py-%d" % n for n in range(7)], ""))
        for bad, why in ((self.api.ListCallsRequest(switch_id="py-pbx", page_size=-1),
                          "page_size is -1; 0 or more"),
                         (self.api.ListCallsRequest(switch_id="py-pbx", page_token="x" * 200),
                          "page_token is 200 bytes: not one that ListCalls gave")):
            with self.assertRaises(grpc.RpcError) as raised:
                self.rpc.ListCalls(bad, timeout=RPC_TIMEOUT_SECONDS)
            self.assertEqual((raised.exception.code(), raised.exception.details()),
                             (grpc.StatusCode.INVALID_ARGUMENT, why))
        self.assertEqual(self.stop_acdd(), 0)

    def test_server_reflection_lists_the_acd_services(self):
        # grpc.reflection.v1alpha ServerReflectionRequest with list_services = "" (field 7),
        # written by hand: this client has no reflection stubs, which is the point.
        list_services = b"\x3a\x00"
        info = self.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
        responses = info(iter([list_services]), timeout=RPC_TIMEOUT_SECONDS)
        listed = next(responses)
        for service in (b"acd.v1.SwitchService", b"acd.v1.AgentService", b"acd.v1.AdminService",
                        b"grpc.health.v1.Health"):
            self.assertIn(service, listed)
        responses.cancel()
        self.assertEqual(self.stop_acdd(), 0)


def main(module="__main__"):
    """Runs the tests of `module` (this file's, or one that imports it) with the paths given."""
    global ACDD_PATH, DESCRIPTOR_SET_PATH, SOURCE_DIR
    if len(sys.argv) < 4:
        sys.exit("usage: %s ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]" % sys.argv[0])
    ACDD_PATH, DESCRIPTOR_SET_PATH, SOURCE_DIR = sys.argv[1:4]
    unittest.main(module=module, argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)


if __name__ == "__main__":
    main()
