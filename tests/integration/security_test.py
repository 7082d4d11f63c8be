#!/usr/bin/python3
"""acdd guarded by TLS, mutual TLS and tokens, seen from the independent client (Python grpcio,
messages from the descriptor set) and Python's own HTTPS client:

- the whole role x method matrix: each role's calls go through, every other is PERMISSION_DENIED
  naming the role and the method; tokens bound to switch_ids or an agent_id act for those only;
  a supervisor forces agents not ready or out, nothing else; an agent's GetCall hides the caller's
  callback number and attributes;
- refused: no token, a wrong token, a token removed by SIGHUP, a plaintext client, a client
  certificate of another CA, no client certificate; a broken tokens file on SIGHUP changes nothing;
- secure by default: off loopback acdd will not start without TLS and tokens (unless
  --allow_insecure), and says which flags to add;
- HTTPS /metrics with a token (Bearer or Basic), 401 with a challenge without one, 403 for roles
  that have no business there;
- audit lines name the token (never show it), and callback numbers and attributes stay out of
  the log and the metrics.

The CAs come from deploy/tls/make-test-ca.sh and the tokens from `acdctl token`, as an operator
would make them.

  /usr/bin/python3 security_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR ACDCTL_PATH [unittest args]
"""

import base64
import functools
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import grpc
from google.protobuf import descriptor_pb2

import python_client_test as base
from python_client_test import RPC_TIMEOUT_SECONDS, EXIT_TIMEOUT_SECONDS

ACDCTL_PATH = None  # set in main()

HEALTH = "/grpc.health.v1.Health/Check"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
SESSION = "/acd.v1.SwitchService/Session"
# Written by hand, as in python_client_test.py: this client has no health or reflection stubs.
HEALTH_CHECK_REQUEST = b""                 # grpc.health.v1.HealthCheckRequest{service: ""}
SERVING = b"\x08\x01"                      # HealthCheckResponse{status: SERVING}
LIST_SERVICES = b"\x3a\x00"                # ServerReflectionRequest{list_services: ""}
STREAM_WAIT_SECONDS = 1.0   # a command stream with nothing to say yet is open if still open then
LOG_WAIT_SECONDS = 5        # for a line acdd logs after the reply

# The tokens of the shared acdd: key -> (NAME, ROLE, BINDING).
TOKENS = {
    "switch_bound": ("pbx-east", "switch", "switch_id=pbx1,pbx2"),
    "switch_unbound": ("pbx-any", "switch", None),
    "agent": ("desk-1001", "agent", "agent_id=1001"),
    "supervisor": ("sup-anna", "supervisor", None),
    "admin": ("ops-admin", "admin", None),
    "monitor": ("prom", "monitor", None),
}
SWITCHES = {"switch_bound", "switch_unbound"}
EVERYONE = set(TOKENS)

# The role x method matrix (deploy/README.md, "TLS and tokens"): who may call each method.
ALLOWED = {
    "/acd.v1.SwitchService/EnqueueCall": SWITCHES | {"admin"},
    "/acd.v1.SwitchService/ReportCallEvent": SWITCHES | {"admin"},
    "/acd.v1.SwitchService/StreamCommands": SWITCHES | {"admin"},
    "/acd.v1.SwitchService/ListCalls": SWITCHES | {"admin"},
    "/acd.v1.SwitchService/Session": SWITCHES | {"admin"},
    "/acd.v1.AgentService/Login": {"agent", "admin"},
    "/acd.v1.AgentService/SetAgentState": {"agent", "supervisor", "admin"},
    "/acd.v1.AgentService/Logout": {"agent", "supervisor", "admin"},
    "/acd.v1.AdminService/ListQueues": {"supervisor", "admin"},
    "/acd.v1.AdminService/ListAgents": {"supervisor", "admin"},
    "/acd.v1.AdminService/GetCall": SWITCHES | {"agent", "supervisor", "admin"},
    "/acd.v1.AdminService/GetPolicy": {"supervisor", "admin"},
    "/acd.v1.AdminService/SetPolicy": {"admin"},
    "/acd.v1.AdminService/WatchQueues": {"supervisor", "admin"},
    "/acd.v1.AdminService/WhatIf": {"supervisor", "admin"},
    REFLECTION: {"admin"},
    HEALTH: EVERYONE,
}

# A queue nobody in these tests qualifies for, which offers callbacks: calls put there wait
# quietly (no offers, no timers firing) and can take a callback number. Appended to center.yaml,
# whose last key is its queue list.
HELD_QUEUE = """  - name: held
    skills: [{skill: support, min_proficiency: 5}]
    callbacks: {offer_when_ewt_over_seconds: 600, max_attempts: 2, retry_interval_seconds: 60}
"""


def make_ca(directory):
    script = os.path.join(base.SOURCE_DIR, "deploy", "tls", "make-test-ca.sh")
    made = subprocess.run([script, directory], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        raise AssertionError("make-test-ca.sh %s failed:\n%s%s" % (directory, made.stdout, made.stderr))
    return {name: os.path.join(directory, name + ".pem") for name in ("ca", "server", "client")} | {
        name + "_key": os.path.join(directory, name + ".key") for name in ("server", "client")}


def acdctl(*args, timeout=30):
    return subprocess.run([ACDCTL_PATH] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def make_token(name, role, binding=None):
    """(token, tokens-file line) from `acdctl token`."""
    made = acdctl("token", name, role, *([binding] if binding else []))
    if made.returncode != 0:
        raise AssertionError("acdctl token %s %s %s: exit %d\n%s" %
                             (name, role, binding or "", made.returncode, made.stderr))
    lines = made.stdout.splitlines()
    if len(lines) != 2:
        raise AssertionError("acdctl token printed %d lines, not 2:\n%s" % (len(lines), made.stdout))
    return lines[0].strip(), lines[1].strip()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def bearer(token):
    return (("authorization", "Bearer " + token),) if token is not None else None


class Acdd:
    """One acdd process with the flags given; its log in a file; where it listens."""

    def __init__(self, work, policy, flags, listen="127.0.0.1"):
        self.stderr_path = tempfile.mktemp(prefix="acdd-", suffix=".stderr", dir=work)
        args = [base.ACDD_PATH, "--grpc_listen", listen + ":0", "--http_listen", listen + ":0",
                "--policy", policy] + list(flags)
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr,
                                            stdin=subprocess.DEVNULL)
        self.line = base.read_line(self.process.stdout, base.STARTUP_TIMEOUT_SECONDS)
        listening = re.fullmatch(r"acdd listening grpc=\S+:([1-9]\d*) http=\S+:([1-9]\d*)",
                                 self.line)
        self.started = listening is not None
        if self.started:
            # Every address acdd listens on in these tests includes loopback.
            self.grpc_address = "127.0.0.1:" + listening.group(1)
            self.http_address = "127.0.0.1:" + listening.group(2)

    def stderr(self):
        return read(self.stderr_path).decode("utf-8", "replace")

    def wait_for_log(self, pattern, after=0, timeout=LOG_WAIT_SECONDS):
        """The first line of the log past offset `after` matching `pattern` (a regex), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr()[after:].splitlines():
                if re.search(pattern, line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def exit_code(self):
        """acdd's exit code, once it exits by itself (it must, within EXIT_TIMEOUT_SECONDS)."""
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_TIMEOUT_SECONDS)
        self.process.stdout.close()


@functools.lru_cache(maxsize=None)
def service_methods(api):
    """{full method name: (request class, response class, server streaming)} of the API; a
    bidirectional method counts as server streaming (its requests are sent as a stream of one)."""
    methods = {}
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(read(base.DESCRIPTOR_SET_PATH))
    for file_proto in files.file:
        for service in file_proto.service:
            for method in service.method:
                methods["/%s.%s/%s" % (file_proto.package, service.name, method.name)] = (
                    api._message_class(method.input_type.lstrip(".")),
                    api._message_class(method.output_type.lstrip(".")),
                    method.server_streaming)
    return methods


class Client:
    """Calls any method of acdd by its full name, with or without a token."""

    def __init__(self, api, channel):
        self.api = api
        self.channel = channel
        self.methods = service_methods(api)

    def message(self, name, **fields):
        return self.api._message_class("acd.v1." + name)(**fields)

    def call(self, method, request, token):
        """The reply of a unary method; the first message of a server stream (None if it was
        still open and silent after STREAM_WAIT_SECONDS). Raises grpc.RpcError when refused."""
        if method == HEALTH:
            return self.channel.unary_unary(HEALTH)(HEALTH_CHECK_REQUEST, metadata=bearer(token),
                                                    timeout=RPC_TIMEOUT_SECONDS)
        if method == REFLECTION:
            responses = self.channel.stream_stream(REFLECTION)(
                iter([LIST_SERVICES]), metadata=bearer(token), timeout=RPC_TIMEOUT_SECONDS)
            try:
                return next(responses)
            finally:
                responses.cancel()
        request_class, response_class, streaming = self.methods[method]
        if not streaming:
            return self.channel.unary_unary(
                method, request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString)(
                    request, metadata=bearer(token), timeout=RPC_TIMEOUT_SECONDS)
        open_stream = self.channel.unary_stream
        if method == SESSION:  # bidirectional: the request is the session's first message
            open_stream, request = self.channel.stream_stream, iter([request])
        responses = open_stream(
            method, request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString)(
                request, metadata=bearer(token), timeout=STREAM_WAIT_SECONDS)
        try:
            return next(responses)
        except StopIteration:
            raise AssertionError("%s ended at once with OK and no message" % method)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return None  # open and quiet until our deadline: admitted
            raise
        finally:
            responses.cancel()


class SecureAcddTestCase(unittest.TestCase):
    """Helpers for tests that start their own acdd: CAs, tokens, TLS channels, HTTPS requests."""

    @classmethod
    def setUpClass(cls):
        cls.api = base.Api(base.DESCRIPTOR_SET_PATH)
        cls.work = tempfile.mkdtemp(prefix="acd-security-test-")
        cls.ca = make_ca(os.path.join(cls.work, "ca"))
        cls.other_ca = make_ca(os.path.join(cls.work, "other-ca"))
        cls.policy_path = os.path.join(cls.work, "center.yaml")
        with open(cls.policy_path, "w") as policy:
            policy.write(read(os.path.join(base.SOURCE_DIR, "tests", "integration", "testdata",
                                           "center.yaml")).decode() + HELD_QUEUE)
        cls.policy_text = read(cls.policy_path).decode()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def start(self, *flags, listen="127.0.0.1"):
        acdd = Acdd(self.work, self.policy_path, flags, listen)
        self.addCleanup(acdd.close)
        if not acdd.started:
            self.fail("acdd %s did not start: it printed %r; its log:\n%s" %
                      (" ".join(flags), acdd.line, acdd.stderr()))
        return acdd

    def tls_flags(self, tokens_path):
        return ["--tls_cert", self.ca["server"], "--tls_key", self.ca["server_key"],
                "--tls_client_ca", self.ca["ca"], "--auth_tokens", tokens_path]

    def write_tokens(self, name, lines):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write("# tokens for security_test.py\n\n" + "\n".join(lines) + "\n")
        return path

    def channel(self, acdd, trust=None, cert=None, key=None, plaintext=False):
        """A channel to acdd's gRPC port: TLS trusting `trust` (the test CA) and presenting the
        test CA's client certificate, unless told otherwise."""
        if plaintext:
            channel = grpc.insecure_channel(acdd.grpc_address)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=read(trust or self.ca["ca"]),
                private_key=read(key or self.ca["client_key"]) if key is not False else None,
                certificate_chain=read(cert or self.ca["client"]) if cert is not False else None)
            channel = grpc.secure_channel(acdd.grpc_address, credentials)
        self.addCleanup(channel.close)
        return channel

    def client(self, acdd, **channel_args):
        return Client(self.api, self.channel(acdd, **channel_args))

    def assert_refused(self, code, call, *args):
        with self.assertRaises(grpc.RpcError) as raised:
            call(*args)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        return raised.exception.details()

    def assert_denied(self, role, method, call, *args):
        """`call` is PERMISSION_DENIED, and says which role may not call which method."""
        details = self.assert_refused(grpc.StatusCode.PERMISSION_DENIED, call, *args)
        self.assertRegex(details, r"\b%s\b" % role, "the refusal does not name the role")
        self.assertIn(method, details, "the refusal does not name the method")

    def https(self, acdd, path, headers=(), client_cert=True):
        """(status, headers, body) of an HTTPS GET trusting the test CA."""
        context = ssl.create_default_context(cafile=self.ca["ca"])
        if client_cert:
            context.load_cert_chain(self.ca["client"], self.ca["client_key"])
        request = urllib.request.Request("https://%s%s" % (acdd.http_address, path),
                                         headers=dict(headers))
        try:
            with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_SECONDS,
                                        context=context) as reply:
                return reply.status, reply.headers, reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")


class GuardedAcddTest(SecureAcddTestCase):
    """One acdd with TLS, mutual TLS and the six tokens of TOKENS, shared by these tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens = {}
        lines = []
        for key, (name, role, binding) in TOKENS.items():
            cls.tokens[key], line = make_token(name, role, binding)
            lines.append(line)
        cls.tokens_path = os.path.join(cls.work, "tokens")
        with open(cls.tokens_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        cls.acdd = Acdd(cls.work, cls.policy_path,
                        ["--tls_cert", cls.ca["server"], "--tls_key", cls.ca["server_key"],
                         "--tls_client_ca", cls.ca["ca"], "--auth_tokens", cls.tokens_path,
                         # a history for AdminService.WhatIf to replay
                         "--data_dir", os.path.join(cls.work, "data")])
        if not cls.acdd.started:
            log = cls.acdd.stderr()
            cls.acdd.close()
            raise AssertionError("acdd with TLS and tokens did not start: it printed %r; its "
                                 "log:\n%s" % (cls.acdd.line, log))

    @classmethod
    def tearDownClass(cls):
        cls.acdd.close()
        super().tearDownClass()

    def setUp(self):
        self.rpc = self.client(self.acdd)

    # Acting as one of TOKENS.

    def as_(self, who, method, request):
        return self.rpc.call(method, request, self.tokens[who])

    def enqueue(self, call_id, switch_id="pbx1", who="admin", **attributes):
        request = self.rpc.message("EnqueueCallRequest", switch_id=switch_id, call_id=call_id,
                                   queue="held")
        request.attributes.update(attributes)
        return self.as_(who, "/acd.v1.SwitchService/EnqueueCall", request)

    def login(self, agent_id, who="admin"):
        request = self.rpc.message("LoginRequest", agent_id=agent_id, ready=True)
        request.skills.add(skill="billing", proficiency=1)
        return self.as_(who, "/acd.v1.AgentService/Login", request)

    def set_state(self, agent_id, change, who, reason="break"):
        request = self.rpc.message("SetAgentStateRequest", agent_id=agent_id)
        if change == "not_ready":
            request.not_ready.reason = reason
        else:
            getattr(request, change).SetInParent()
        return self.as_(who, "/acd.v1.AgentService/SetAgentState", request)

    def logout(self, agent_id, who):
        return self.as_(who, "/acd.v1.AgentService/Logout",
                        self.rpc.message("LogoutRequest", agent_id=agent_id))

    def get_call(self, call_id, who):
        return self.as_(who, "/acd.v1.AdminService/GetCall",
                        self.rpc.message("GetCallRequest", call_id=call_id))

    def accept_callback(self, call_id, number, switch_id="pbx1", who="admin"):
        event = self.rpc.message("CallEvent", switch_id=switch_id, call_id=call_id)
        event.callback_accepted.number = number
        return self.as_(who, "/acd.v1.SwitchService/ReportCallEvent", event)

    def agent_state(self, agent_id):
        """The agent's state as ListAgents shows it; None once logged out (no longer listed)."""
        agents = self.as_("admin", "/acd.v1.AdminService/ListAgents",
                          self.rpc.message("ListAgentsRequest"))
        found = [a for a in agents.agents if a.agent_id == agent_id]
        return self.api.AgentState.values_by_number[found[0].state].name if found else None

    # The matrix. For each method: the request `who` makes, after whatever the admin must set up
    # for it to succeed when allowed, and what an allowed reply must hold.

    def agent_for(self, who, purpose):
        return "1001" if who == "agent" else "matrix-%s-%s" % (who, purpose)

    def matrix_request(self, method, who):
        name = method.rsplit("/", 1)[1]
        call_id = "matrix-%s-%s" % (who, name)
        if name == "EnqueueCall":
            return (self.rpc.message("EnqueueCallRequest", switch_id="pbx1", call_id=call_id,
                                     queue="held"),
                    lambda r: self.assertEqual(self.api.Disposition.values_by_number[
                        r.disposition].name, "DISPOSITION_QUEUED"))
        if name == "ReportCallEvent":
            self.enqueue(call_id)
            event = self.rpc.message("CallEvent", switch_id="pbx1", call_id=call_id)
            event.caller_abandoned.SetInParent()
            return event, lambda r: self.assertEqual(
                self.api.CallState.values_by_number[r.state].name, "CALL_STATE_ABANDONED")
        if name == "StreamCommands":
            return self.rpc.message("StreamCommandsRequest", switch_id="pbx1"), lambda r: None
        if name == "Session":
            request = self.rpc.message("SessionRequest")
            request.messages.add(request_id=7).open.switch_id = "pbx1"
            return request, lambda r: self.assertEqual(
                (r.messages[0].request_id, r.messages[0].opened.switch_id), (7, "pbx1"))
        if name == "ListCalls":
            self.enqueue(call_id)
            return (self.rpc.message("ListCallsRequest", switch_id="pbx1"),
                    lambda r: self.assertIn(call_id, [c.call_id for c in r.calls]))
        if name == "Login":
            agent_id = self.agent_for(who, "login")
            request = self.rpc.message("LoginRequest", agent_id=agent_id, ready=True)
            request.skills.add(skill="billing", proficiency=1)
            return request, lambda r: self.assertEqual(r.agent_id, agent_id)
        if name == "SetAgentState":
            # The agent changes itself (logged in by its own Login, just before); a supervisor or
            # the admin forces someone else's desk.
            agent_id = self.agent_for(who, "forced")
            if who != "agent":
                self.login(agent_id)
            request = self.rpc.message("SetAgentStateRequest", agent_id=agent_id)
            request.not_ready.reason = "break"
            return request, lambda r: self.assertEqual(
                self.api.AgentState.values_by_number[r.state].name, "AGENT_STATE_NOT_READY")
        if name == "Logout":
            agent_id = self.agent_for(who, "leaving")
            if who != "agent":
                self.login(agent_id)
            return (self.rpc.message("LogoutRequest", agent_id=agent_id),
                    lambda r: self.assertIsNone(self.agent_state(agent_id)))
        if name == "ListQueues":
            return (self.rpc.message("ListQueuesRequest"),
                    lambda r: self.assertIn("held", [q.queue for q in r.queues]))
        if name == "ListAgents":
            return self.rpc.message("ListAgentsRequest"), lambda r: None
        if name == "GetCall":
            self.enqueue(call_id)
            return (self.rpc.message("GetCallRequest", call_id=call_id),
                    lambda r: self.assertEqual(r.call_id, call_id))
        if name == "GetPolicy":
            return (self.rpc.message("GetPolicyRequest"),
                    lambda r: self.assertEqual(r.policy.name, "integration-center"))
        if name == "SetPolicy":
            # The running policy again: applied, and nothing changes for the other cells.
            return (self.rpc.message("SetPolicyRequest", yaml=self.policy_text),
                    lambda r: self.assertEqual(list(r.problems), []))
        if name == "WatchQueues":
            return (self.rpc.message("WatchQueuesRequest"),
                    lambda r: self.assertIsNotNone(r, "WatchQueues sent no snapshot at once"))
        if name == "WhatIf":
            return (self.rpc.message("WhatIfRequest"),
                    lambda r: self.assertIn("recorded policy", r.table))
        if method == REFLECTION:
            return None, lambda r: self.assertIn(b"acd.v1.AdminService", r)
        if method == HEALTH:
            return None, lambda r: self.assertEqual(r, SERVING)
        self.fail("no request for %s in the matrix: add one" % method)

    def test_every_role_calls_exactly_the_methods_of_its_row(self):
        # Every method acdd serves has a row (a new RPC must be placed in the matrix).
        self.assertEqual(sorted(m for m in self.rpc.methods if m.startswith("/acd.v1.")),
                         sorted(m for m in ALLOWED if m.startswith("/acd.v1.")))
        order = list(ALLOWED)  # Login before SetAgentState and Logout (the agent acts on itself)
        for who, (name, role, _) in TOKENS.items():
            for method in order:
                with self.subTest(token=name, role=role, method=method):
                    request, check_reply = self.matrix_request(method, who)
                    if who in ALLOWED[method]:
                        try:
                            reply = self.as_(who, method, request)
                        except grpc.RpcError as e:
                            self.fail("%s (%s) was refused %s: %s: %s" %
                                      (name, role, method, e.code(), e.details()))
                        check_reply(reply)
                    else:
                        self.assert_denied(role, method, self.as_, who, method, request)

    def test_health_needs_no_token(self):
        self.assertEqual(self.rpc.call(HEALTH, None, None), SERVING)

    def test_a_switch_token_bound_to_switch_ids_acts_only_for_those(self):
        enqueue = "/acd.v1.SwitchService/EnqueueCall"
        self.assert_denied("switch", enqueue, self.enqueue, "bound-pbx3-1", "pbx3", "switch_bound")
        self.assertEqual(self.enqueue("bound-pbx2-1", "pbx2", "switch_bound").disposition,
                         self.api.Disposition.values_by_name["DISPOSITION_QUEUED"].number)
        # A call of another switch: the bound token may neither report on it nor read it.
        self.enqueue("bound-pbx3-2", "pbx3")
        event = self.rpc.message("CallEvent", switch_id="pbx3", call_id="bound-pbx3-2")
        event.caller_abandoned.SetInParent()
        self.assert_denied("switch", "/acd.v1.SwitchService/ReportCallEvent", self.as_,
                           "switch_bound", "/acd.v1.SwitchService/ReportCallEvent", event)
        self.assert_denied("switch", "/acd.v1.AdminService/GetCall", self.get_call,
                           "bound-pbx3-2", "switch_bound")
        for method, request in [
                ("/acd.v1.SwitchService/ListCalls", self.rpc.message("ListCallsRequest",
                                                                     switch_id="pbx3")),
                ("/acd.v1.SwitchService/StreamCommands", self.rpc.message(
                    "StreamCommandsRequest", switch_id="pbx3"))]:
            self.assert_denied("switch", method, self.as_, "switch_bound", method, request)
        self.assertEqual(self.get_call("bound-pbx2-1", "switch_bound").call_id, "bound-pbx2-1")
        # An unbound switch token acts for any switch_id.
        self.enqueue("unbound-pbx3-1", "pbx3", "switch_unbound")
        self.assertEqual(self.get_call("bound-pbx3-2", "switch_unbound").switch_id, "pbx3")

    def test_an_agent_token_acts_only_for_its_own_agent(self):
        self.assert_denied("agent", "/acd.v1.AgentService/Login", self.login, "1002", "agent")
        self.login("1002")
        self.assert_denied("agent", "/acd.v1.AgentService/SetAgentState", self.set_state,
                           "1002", "not_ready", "agent")
        self.assert_denied("agent", "/acd.v1.AgentService/Logout", self.logout, "1002", "agent")
        self.assertEqual(self.agent_state("1002"), "AGENT_STATE_READY")
        # Its own: in, not ready, ready, out.
        self.assertEqual(self.login("1001", "agent").agent_id, "1001")
        self.set_state("1001", "not_ready", "agent")
        self.set_state("1001", "ready", "agent")
        self.logout("1001", "agent")
        self.assertIsNone(self.agent_state("1001"))

    def test_a_supervisor_forces_an_agent_not_ready_or_out_and_nothing_else(self):
        self.login("floor-7")
        self.set_state("floor-7", "not_ready", "admin", reason="lunch")
        method = "/acd.v1.AgentService/SetAgentState"
        self.assert_denied("supervisor", method, self.set_state, "floor-7", "ready", "supervisor")
        self.assert_denied("supervisor", method, self.set_state, "floor-7", "end_wrap_up",
                           "supervisor")
        self.assertEqual(self.agent_state("floor-7"), "AGENT_STATE_NOT_READY")
        self.set_state("floor-7", "ready", "admin")
        reply = self.set_state("floor-7", "not_ready", "supervisor", reason="coaching")
        self.assertEqual(reply.not_ready_reason, "coaching")
        self.logout("floor-7", "supervisor")
        self.assertIsNone(self.agent_state("floor-7"))

    def test_get_call_shows_callback_number_and_attributes_to_all_but_an_agent(self):
        number, account = "+15550001234", "ACCT-SECRET-4711"
        self.enqueue("private-1", "pbx1", "switch_bound", account=account)
        self.accept_callback("private-1", number, who="switch_bound")
        for who in ("switch_bound", "supervisor", "admin"):
            with self.subTest(full_view=who):
                call = self.get_call("private-1", who)
                self.assertEqual(call.callback_number, number)
                self.assertEqual(dict(call.attributes), {"account": account})
        redacted = self.get_call("private-1", "agent")
        self.assertEqual(redacted.call_id, "private-1")
        self.assertEqual(redacted.queue, "held")
        self.assertTrue(redacted.callback)
        # Nowhere in the reply (the history's details included), not only not in its own fields.
        seen = redacted.SerializeToString()
        for value in (number, number.lstrip("+"), account):
            self.assertNotIn(value.encode(), seen, "an agent's GetCall shows %r" % value)

    # Refusals.

    def test_no_token_a_wrong_token_or_the_files_hash_is_unauthenticated(self):
        name, role, binding = TOKENS["admin"]
        file_line = [l for l in read(self.tokens_path).decode().splitlines() if l.startswith(name)]
        stored_hash = re.search(r"sha256:[0-9a-f]{64}", file_line[0]).group(0)
        for token in [None, "", "acd_not-a-token-this-file-knows", stored_hash,
                      stored_hash.split(":")[1], self.tokens["admin"] + "x"]:
            for method, request in [
                    ("/acd.v1.AdminService/ListQueues", self.rpc.message("ListQueuesRequest")),
                    ("/acd.v1.AdminService/SetPolicy",
                     self.rpc.message("SetPolicyRequest", yaml=self.policy_text)),
                    ("/acd.v1.SwitchService/EnqueueCall", self.rpc.message(
                        "EnqueueCallRequest", switch_id="pbx1", call_id="anon", queue="held")),
                    (REFLECTION, None)]:
                with self.subTest(token=token, method=method):
                    self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, self.rpc.call, method,
                                        request, token)
        # Not a bearer token at all: the same.
        list_queues = self.channel(self.acdd).unary_unary("/acd.v1.AdminService/ListQueues")
        for header in ["Basic " + base64.b64encode(b"ops-admin:" + self.tokens["admin"].encode()
                                                   ).decode(),
                       self.tokens["admin"], "Bearer"]:
            with self.subTest(authorization=header):
                self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, lambda: list_queues(
                    b"", metadata=(("authorization", header),), timeout=RPC_TIMEOUT_SECONDS))

    def test_a_plaintext_client_on_the_tls_port_is_refused(self):
        plain = Client(self.api, self.channel(self.acdd, plaintext=True))
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, plain.call, HEALTH, None, None)
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, plain.call,
                            "/acd.v1.AdminService/ListQueues",
                            plain.message("ListQueuesRequest"), self.tokens["admin"])

    def test_a_client_certificate_of_another_ca_is_refused(self):
        stranger = self.client(self.acdd, cert=self.other_ca["client"],
                               key=self.other_ca["client_key"])
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, stranger.call, HEALTH, None, None)
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, stranger.call,
                            "/acd.v1.AdminService/ListQueues",
                            stranger.message("ListQueuesRequest"), self.tokens["admin"])

    def test_a_client_without_a_certificate_is_refused(self):
        anonymous = self.client(self.acdd, cert=False, key=False)
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, anonymous.call, HEALTH, None, None)
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, anonymous.call,
                            "/acd.v1.AdminService/ListQueues",
                            anonymous.message("ListQueuesRequest"), self.tokens["admin"])

    def test_a_client_that_trusts_another_ca_does_not_talk_to_acdd(self):
        wary = self.client(self.acdd, trust=self.other_ca["ca"])
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, wary.call, HEALTH, None, None)

    def test_failed_handshakes_cannot_flood_the_log(self):
        # Anyone who reaches the port controls how many handshakes fail: a line each would let
        # them fill the disk. Repeated conditions are rate-limited and summarised.
        start = len(self.acdd.stderr())
        host, port = self.acdd.grpc_address.split(":")
        for _ in range(200):
            with socket.create_connection((host, int(port)), timeout=RPC_TIMEOUT_SECONDS) as s:
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                try:
                    s.recv(64)
                except OSError:
                    pass
        self.assertEqual(self.rpc.call(HEALTH, None, None), SERVING)
        logged = self.acdd.stderr()[start:].splitlines()
        self.assertLessEqual(len(logged), 20, "200 failed handshakes logged %d lines, e.g.:\n%s" %
                             (len(logged), "\n".join(logged[:3])))

    # HTTPS.

    def test_https_serves_metrics_to_a_monitor_token_as_bearer_or_basic_auth(self):
        name, token = TOKENS["monitor"][0], self.tokens["monitor"]
        basic = base64.b64encode(("%s:%s" % (name, token)).encode()).decode()
        for authorization in ["Bearer " + token, "Basic " + basic]:
            with self.subTest(authorization=authorization.split()[0]):
                status, _, body = self.https(self.acdd, "/metrics",
                                             [("Authorization", authorization)])
                self.assertEqual(status, 200)
                self.assertIn("acd_queue_calls_waiting", body)
        for who in ("supervisor", "admin"):
            with self.subTest(who=who):
                status, _, _ = self.https(self.acdd, "/metrics",
                                          [("Authorization", "Bearer " + self.tokens[who])])
                self.assertEqual(status, 200)
        for path, content in [("/wallboard", "acd wallboard"), ("/api/queues", '"held"')]:
            with self.subTest(path=path):
                status, _, body = self.https(self.acdd, path, [("Authorization", "Bearer " + token)])
                self.assertEqual(status, 200)
                self.assertIn(content, body)

    def test_https_without_valid_credentials_is_401_with_a_basic_challenge(self):
        name, token = TOKENS["monitor"][0], self.tokens["monitor"]
        wrong = [
            [],
            [("Authorization", "Bearer acd_not-a-token-this-file-knows")],
            [("Authorization", "Basic " + base64.b64encode(
                ("%s:%s" % (name, token + "x")).encode()).decode())],
            # The right token under another token's name.
            [("Authorization", "Basic " + base64.b64encode(
                ("sup-anna:%s" % token).encode()).decode())],
            [("Authorization", "Basic !!not-base64")],
        ]
        for path in ("/metrics", "/wallboard", "/api/queues"):
            for headers in wrong:
                with self.subTest(path=path, headers=headers):
                    status, reply_headers, body = self.https(self.acdd, path, headers)
                    self.assertEqual(status, 401)
                    # RFC 7617 allows parameters after the realm (charset="UTF-8").
                    self.assertRegex(reply_headers.get("WWW-Authenticate", ""),
                                     r'^Basic realm="acd"(,|$)')
                    self.assertNotIn("acd_queue", body)

    def test_https_for_a_switch_or_an_agent_token_is_403(self):
        for who in ("agent", "switch_bound", "switch_unbound"):
            for path in ("/metrics", "/api/queues"):
                with self.subTest(who=who, path=path):
                    status, _, body = self.https(
                        self.acdd, path, [("Authorization", "Bearer " + self.tokens[who])])
                    self.assertEqual(status, 403)
                    self.assertNotIn("acd_queue", body)

    def test_plain_http_on_the_https_port_gets_no_metrics(self):
        request = urllib.request.Request(
            "http://%s/metrics" % self.acdd.http_address,
            headers={"Authorization": "Bearer " + self.tokens["monitor"]})
        try:
            with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_SECONDS) as reply:
                status, body = reply.status, reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, body = e.code, ""
        except (urllib.error.URLError, http.client.HTTPException, OSError):
            return  # the connection failed: what a plaintext client should see
        self.assertGreaterEqual(status, 400, "plain HTTP on the HTTPS port got %d" % status)
        self.assertNotIn("acd_queue", body)

    # The log.

    def test_policy_changes_and_forced_agent_states_are_audited_by_token_name(self):
        start = len(self.acdd.stderr())
        applied = self.as_("admin", "/acd.v1.AdminService/SetPolicy",
                           self.rpc.message("SetPolicyRequest", yaml=self.policy_text))
        self.assertEqual(list(applied.problems), [])
        self.assertIsNotNone(self.acdd.wait_for_log(r"audit:.*\bops-admin\b", start),
                             "no audit line names ops-admin after its SetPolicy")

        self.login("audited-1")
        start = len(self.acdd.stderr())
        self.set_state("audited-1", "not_ready", "supervisor", reason="coaching")
        self.assertIsNotNone(self.acdd.wait_for_log(r"audit:.*\bsup-anna\b", start),
                             "no audit line names sup-anna after forcing an agent not ready")
        start = len(self.acdd.stderr())
        self.logout("audited-1", "supervisor")
        self.assertIsNotNone(self.acdd.wait_for_log(r"audit:.*\bsup-anna\b", start),
                             "no audit line names sup-anna after logging an agent out")

        # An agent changing its own state forces nobody: no audit line.
        self.login("1001", "agent")
        self.set_state("1001", "not_ready", "agent")
        self.logout("1001", "agent")
        self.login("audited-2")  # a later change, so the log has caught up with the agent's
        self.set_state("audited-2", "not_ready", "admin")
        self.assertIsNotNone(self.acdd.wait_for_log(r"audit:.*\bops-admin\b", start))
        self.assertIsNone(self.acdd.wait_for_log(r"audit:.*\bdesk-1001\b", 0, timeout=0),
                          "an agent's change of its own state was audited as forced")

        # Every token of this acdd has been used by now (these and the other tests): none of them
        # shows in the log.
        for who in TOKENS:
            self.as_(who, HEALTH, None)
        log = self.acdd.stderr()
        for who, token in self.tokens.items():
            self.assertNotIn(token, log, "the %s token is in acdd's log" % who)

    def test_callback_numbers_and_attributes_stay_out_of_the_log_and_the_metrics(self):
        number, secret = "+15557654321", "DOB-1970-01-02"
        self.enqueue("private-2", "pbx2", "switch_bound", date_of_birth=secret)
        self.accept_callback("private-2", number, "pbx2", who="switch_bound")
        # The same values refused: an error path must not log them either.
        self.assert_refused(grpc.StatusCode.ALREADY_EXISTS, lambda: self.enqueue(
            "private-2", "pbx2", "switch_bound", date_of_birth=secret, other="x"))
        self.get_call("private-2", "supervisor")
        self.login("1003")
        self.logout("1003", "admin")  # a later change: the log has caught up with the ones above
        exposed = []
        for path in ("/metrics", "/api/queues", "/wallboard"):
            status, _, body = self.https(
                self.acdd, path, [("Authorization", "Bearer " + self.tokens["monitor"])])
            self.assertEqual(status, 200)
            exposed.append((path, body))
        exposed.append(("acdd's log", self.acdd.stderr()))
        for where, text in exposed:
            for value in (number, number.lstrip("+"), secret):
                with self.subTest(where=where, value=value):
                    self.assertNotIn(value, text)


class TokenReloadTest(SecureAcddTestCase):
    """The tokens file re-read on SIGHUP, on an acdd of its own."""

    def test_sighup_stops_a_removed_token_and_starts_an_added_one_on_an_open_connection(self):
        admin, admin_line = make_token("ops", "admin")
        leaving, leaving_line = make_token("temp-sup", "supervisor")
        joining, joining_line = make_token("late-sup", "supervisor")
        path = self.write_tokens("reload-tokens", [admin_line, leaving_line])
        acdd = self.start(*self.tls_flags(path))
        rpc = self.client(acdd)  # one connection for the whole test
        list_queues = "/acd.v1.AdminService/ListQueues"
        request = rpc.message("ListQueuesRequest")
        rpc.call(list_queues, request, leaving)
        self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, rpc.call, list_queues, request,
                            joining)

        start = len(acdd.stderr())
        self.write_tokens("reload-tokens", [admin_line, joining_line])
        acdd.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            try:
                rpc.call(list_queues, request, joining)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAUTHENTICATED or time.monotonic() > deadline:
                    self.fail("the added token was not taken within %d s of SIGHUP: %s: %s" %
                              (LOG_WAIT_SECONDS, e.code(), e.details()))
                time.sleep(0.05)
        self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, rpc.call, list_queues, request,
                            leaving)
        self.assertIsNotNone(acdd.wait_for_log(r"audit:", start),
                             "the SIGHUP reload wrote no audit line")

        # A broken file on SIGHUP: logged, and the tokens in force stay.
        start = len(acdd.stderr())
        self.write_tokens("reload-tokens", [admin_line, "late-sup supervisor sha256:nothex"])
        acdd.process.send_signal(signal.SIGHUP)
        self.assertIsNotNone(acdd.wait_for_log(re.escape(path), start),
                             "no log line names the broken tokens file: %s" %
                             acdd.stderr()[start:])
        rpc.call(list_queues, request, joining)
        rpc.call(list_queues, request, admin)
        self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, rpc.call, list_queues, request,
                            leaving)
        self.assertIsNone(acdd.process.poll(), "acdd exited on a broken tokens file")


    def test_sighup_ends_the_open_streams_of_a_removed_token_and_keeps_the_others(self):
        admin, admin_line = make_token("ops", "admin")
        leaving, leaving_line = make_token("old-pbx", "switch")
        staying, staying_line = make_token("pbx", "switch")
        watcher, watcher_line = make_token("wallboard", "supervisor")
        path = self.write_tokens("stream-tokens",
                                 [admin_line, leaving_line, staying_line, watcher_line])
        acdd = self.start(*self.tls_flags(path))
        rpc = self.client(acdd)

        def open_stream(method, request, token):
            request_class, response_class, _ = rpc.methods[method]
            return rpc.channel.unary_stream(
                method, request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString)(
                    request, metadata=bearer(token), timeout=30)

        commands = "/acd.v1.SwitchService/StreamCommands"
        watch = "/acd.v1.AdminService/WatchQueues"
        gone = open_stream(commands, rpc.message("StreamCommandsRequest", switch_id="old"), leaving)
        kept = open_stream(commands, rpc.message("StreamCommandsRequest", switch_id="new"), staying)
        board = open_stream(watch, rpc.message("WatchQueuesRequest", interval_seconds=0.2), watcher)
        self.addCleanup(gone.cancel)
        self.addCleanup(kept.cancel)
        self.addCleanup(board.cancel)
        next(board)  # the watch is open and streaming

        self.write_tokens("stream-tokens", [admin_line, staying_line])
        acdd.process.send_signal(signal.SIGHUP)
        for stream, what in ((gone, "the removed switch token's command stream"),
                             (board, "the removed supervisor token's queue watch")):
            with self.assertRaises(grpc.RpcError, msg=what) as ended:
                for _ in stream:
                    pass
            self.assertEqual(ended.exception.code(), grpc.StatusCode.UNAUTHENTICATED,
                             "%s: %s" % (what, ended.exception.details()))
            self.assertIn("--auth_tokens", ended.exception.details())
        # The kept token's stream is still open: it gets the offer an enqueue makes.
        login = rpc.message("LoginRequest", agent_id="after-reload-agent", ready=True)
        skill = login.skills.add()
        skill.skill, skill.proficiency = "sales", 5
        rpc.call("/acd.v1.AgentService/Login", login, admin)
        switch = rpc.message("EnqueueCallRequest", switch_id="new", call_id="after-reload",
                             queue="sales")
        rpc.call("/acd.v1.SwitchService/EnqueueCall", switch, staying)
        offer = next(kept)
        self.assertEqual(offer.offer_call.call_id, "after-reload",
                         "the kept token's command stream did not get the offer: %s" % offer)


class SecureByDefaultTest(SecureAcddTestCase):
    """Off loopback acdd needs TLS and tokens, or an operator's explicit --allow_insecure."""

    def setUp(self):
        self.admin, admin_line = make_token("ops", "admin")
        self.monitor, monitor_line = make_token("prom", "monitor")
        self.tokens_path = self.write_tokens("default-tokens", [admin_line, monitor_line])

    def refuses_to_start(self, flags, listen="127.0.0.1", naming=()):
        acdd = Acdd(self.work, self.policy_path, flags, listen)
        self.addCleanup(acdd.close)
        self.assertFalse(acdd.started, "acdd %s on %s started; it should have refused" %
                         (" ".join(flags), listen))
        self.assertEqual(acdd.exit_code(), 1)
        log = acdd.stderr()
        for flag in naming:
            self.assertIn(flag, log, "acdd's refusal does not name %s" % flag)
        return log

    def test_on_every_interface_without_tls_and_tokens_acdd_exits_1_naming_them(self):
        self.refuses_to_start([], "0.0.0.0", naming=("--tls_cert", "--auth_tokens"))
        # Only gRPC, or only HTTP, off loopback.
        for flags in (["--grpc_listen", "0.0.0.0:0"], ["--http_listen", "0.0.0.0:0"]):
            with self.subTest(flags=flags):
                self.refuses_to_start(flags, naming=("--tls_cert", "--auth_tokens"))
        tls = ["--tls_cert", self.ca["server"], "--tls_key", self.ca["server_key"]]
        self.refuses_to_start(tls, "0.0.0.0", naming=("--auth_tokens",))
        self.refuses_to_start(["--auth_tokens", self.tokens_path], "0.0.0.0",
                              naming=("--tls_cert",))
        self.refuses_to_start(tls + ["--auth_tokens", self.tokens_path, "--http_tls=false"],
                              "0.0.0.0", naming=("--http_tls",))

    def test_half_a_tls_configuration_is_refused(self):
        self.refuses_to_start(["--tls_cert", self.ca["server"]], naming=("--tls_key",))
        self.refuses_to_start(["--tls_key", self.ca["server_key"]], naming=("--tls_cert",))
        self.refuses_to_start(["--tls_client_ca", self.ca["ca"]], naming=("--tls_cert",))

    def test_on_every_interface_with_allow_insecure_acdd_starts_in_plaintext(self):
        acdd = self.start("--allow_insecure", listen="0.0.0.0")
        plain = Client(self.api, self.channel(acdd, plaintext=True))
        self.assertEqual(plain.call(HEALTH, None, None), SERVING)
        plain.call("/acd.v1.AdminService/ListQueues", plain.message("ListQueuesRequest"), None)

    def test_on_every_interface_with_tls_and_tokens_acdd_starts(self):
        acdd = self.start(*self.tls_flags(self.tokens_path), listen="0.0.0.0")
        self.assertEqual(self.client(acdd).call(HEALTH, None, None), SERVING)
        status, _, _ = self.https(acdd, "/metrics")
        self.assertEqual(status, 401)

    def test_a_health_only_listener_answers_plain_health_checks_and_nothing_else(self):
        acdd = self.start(*self.tls_flags(self.tokens_path), "--health_listen", "0.0.0.0:0",
                          listen="0.0.0.0")
        found = re.search(r"health checks \(only\) in plain gRPC on [^:]+:(\d+)", acdd.stderr())
        self.assertIsNotNone(found, "acdd did not say where its health listener is")
        plain = Client(self.api, grpc.insecure_channel("127.0.0.1:" + found.group(1)))
        self.addCleanup(plain.channel.close)
        self.assertEqual(plain.call(HEALTH, None, None), SERVING)
        for method, request in ((REFLECTION, None),
                                ("/acd.v1.AdminService/ListQueues",
                                 plain.message("ListQueuesRequest"))):
            self.assert_refused(grpc.StatusCode.UNIMPLEMENTED, plain.call, method, request, None)

    def test_on_loopback_tokens_are_asked_for_without_tls_too(self):
        acdd = self.start("--auth_tokens", self.tokens_path)
        plain = Client(self.api, self.channel(acdd, plaintext=True))
        list_queues = "/acd.v1.AdminService/ListQueues"
        self.assertEqual(plain.call(HEALTH, None, None), SERVING)
        self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, plain.call, list_queues,
                            plain.message("ListQueuesRequest"), None)
        self.assert_denied("monitor", list_queues, plain.call, list_queues,
                           plain.message("ListQueuesRequest"), self.monitor)
        plain.call(list_queues, plain.message("ListQueuesRequest"), self.admin)

    def test_http_tls_false_keeps_metrics_plain_on_loopback_behind_tokens(self):
        acdd = self.start(*self.tls_flags(self.tokens_path), "--http_tls=false")
        self.assertEqual(self.client(acdd).call(HEALTH, None, None), SERVING)
        url = "http://%s/metrics" % acdd.http_address
        request = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.monitor})
        with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_SECONDS) as reply:
            self.assertEqual(reply.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(refused.exception.code, 401)

    def test_on_loopback_acdd_starts_without_tls_or_tokens_and_everyone_is_admin(self):
        acdd = self.start()
        plain = Client(self.api, self.channel(acdd, plaintext=True))
        self.assertEqual(plain.call(HEALTH, None, None), SERVING)
        applied = plain.call("/acd.v1.AdminService/SetPolicy",
                             plain.message("SetPolicyRequest", yaml=self.policy_text), None)
        self.assertEqual(list(applied.problems), [])
        with urllib.request.urlopen("http://%s/metrics" % acdd.http_address,
                                    timeout=RPC_TIMEOUT_SECONDS) as reply:
            self.assertEqual(reply.status, 200)


class ToolsTest(SecureAcddTestCase):
    """`acdctl token` makes tokens; acdctl talks to a guarded acdd with them."""

    def test_acdctl_token_prints_a_fresh_token_and_a_line_with_only_its_hash(self):
        first, line = make_token("pbx-west", "switch", "switch_id=pbx7,pbx8")
        second, _ = make_token("pbx-west", "switch", "switch_id=pbx7,pbx8")
        self.assertNotEqual(first, second)
        self.assertGreaterEqual(len(first), 32)
        self.assertEqual(line.split(), ["pbx-west", "switch",
                                        "sha256:" + hashlib.sha256(first.encode()).hexdigest(),
                                        "switch_id=pbx7,pbx8"])
        token, line = make_token("desk-9", "agent", "agent_id=9")
        self.assertEqual(line.split()[3], "agent_id=9")
        self.assertNotIn(token, line)
        for bad in (["x", "janitor"], ["desk-9", "agent"], ["desk-9", "agent", "agent_id=1,2"],
                    ["sup", "supervisor", "agent_id=9"]):
            with self.subTest(args=bad):
                made = acdctl("token", *bad)
                self.assertNotEqual(made.returncode, 0, made.stdout)
                self.assertEqual(made.stdout, "", "a refused token still printed something")

    def test_acdctl_reads_queues_over_mutual_tls_with_a_token_file(self):
        token, line = make_token("sup", "supervisor")
        acdd = self.start(*self.tls_flags(self.write_tokens("acdctl-tokens", [line])))
        token_file = os.path.join(self.work, "sup.token")
        with open(token_file, "w") as f:
            f.write(token + "\n")  # the trailing newline is trimmed
        tls = ["--server", acdd.grpc_address, "--tls_ca", self.ca["ca"],
               "--tls_cert", self.ca["client"], "--tls_key", self.ca["client_key"]]
        shown = acdctl(*tls, "--token_file", token_file, "queues")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("held", shown.stdout)
        refused = acdctl(*tls, "queues")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("UNAUTHENTICATED", refused.stderr)
        refused = acdctl(*tls, "--token_file", token_file, "policy", "apply", self.policy_path)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("PERMISSION_DENIED", refused.stderr)


def main():
    global ACDCTL_PATH
    if len(sys.argv) < 5:
        sys.exit("usage: %s ACDD_PATH DESCRIPTOR_SET SOURCE_DIR ACDCTL_PATH [unittest args]" %
                 sys.argv[0])
    ACDCTL_PATH = sys.argv.pop(4)
    base.main(module=__name__)


if __name__ == "__main__":
    main()
