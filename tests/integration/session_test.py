#!/usr/bin/python3
"""A switch's session (SwitchService.Session) seen from the independent client (Python grpcio,
messages from the descriptor set): a call served through it from enqueue to wrap-up, requests
batched or alone answered once each in the order sent with commands after the replies that caused
them, retries answered from the ledger, outstanding offers delivered again to the next session,
takeover between sessions and command streams, the errors that end a session and those that only
answer one request, tokens, a switch cut off for not reading its session and one that half-closes.

  /usr/bin/python3 session_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]

With ACD_SESSION_JOURNAL=write (or fsync) in the environment, each test's acdd journals to a data
dir of its own (--journal_sync=write or fsync): answers and commands then wait for the journal
(output commit), and the contract is the same.

The contract tested is the comment above `message SessionRequest` in proto/acd/v1/acd.proto.
"""

import collections
import hashlib
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time

# As in ha_pair_test.py: acdd starts through fork() while channels are open; gRPC core's fork
# handlers can hang such a fork for good. Off before grpc starts.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import grpc

import python_client_test as base
from python_client_test import RPC_TIMEOUT_SECONDS

# The --journal_sync of a journaled run, or None: acdd in memory.
JOURNAL_SYNC = os.environ.get("ACD_SESSION_JOURNAL")

WAIT_SECONDS = 5          # for an answer, a command or a session's end
QUIET_SECONDS = 0.5       # after a barrier answer: long enough for a wrong extra message to show

# Nobody staffs "line": calls wait there (each hears an entry prompt). An offer from "sales" stays
# outstanding, and wrap-up lasts, for longer than any test runs.
POLICY = """\
name: session-center
skills: [{name: sales}, {name: support}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    offer_timeout_seconds: 600
    wrap_up_seconds: 600
  - name: line
    skills: [{skill: support, min_proficiency: 1}]
"""

OK = grpc.StatusCode.OK.value[0]
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]


class SessionApi(base.Api):
    """base.Api plus the session's messages."""

    def __init__(self, descriptor_set_path):
        super().__init__(descriptor_set_path)
        for name in ("SessionRequest", "SessionResponse", "SwitchMessage", "SessionOpen", "Ping",
                     "PlayPrompt"):
            setattr(self, name, self._message_class("acd.v1." + name))


def is_command(message):
    return message.WhichOneof("message") == "command"


def describe(messages):
    return "\n".join("  %s" % str(m).replace("\n", " ") for m in messages) or "  (nothing)"


class Session:
    """One SwitchService.Session as a switch holds it. send() puts its messages in one
    SessionRequest; a thread reads what acdd sends into `log`, one AcdMessage at a time in the
    order they came (batches flattened); `ended` is (code, details) once the stream ended.
    stop_reading() makes the switch one that does not read: grpcio asks the transport for the
    next message only when the thread asks for it, so HTTP/2 flow control soon stops acdd's
    writes; read_on() reads again."""

    _CLOSE = object()

    def __init__(self, channel, api, metadata=None):
        self._api = api
        self._outgoing = queue.Queue()
        self._changed = threading.Condition()
        self.log = []
        self.ended = None
        self._reading = threading.Event()
        self._reading.set()
        start = channel.stream_stream("/acd.v1.SwitchService/Session",
                                      request_serializer=api.SessionRequest.SerializeToString,
                                      response_deserializer=api.SessionResponse.FromString)
        self._call = start(self._requests(), metadata=metadata)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _requests(self):
        while True:
            request = self._outgoing.get()
            if request is self._CLOSE:
                return
            yield request

    def _read(self):
        try:
            for response in self._call:
                with self._changed:
                    self.log.extend(response.messages)
                    self._changed.notify_all()
                self._reading.wait()  # before asking for the next message
            ended = (grpc.StatusCode.OK, "")
        except grpc.RpcError as e:
            ended = (e.code(), e.details())
        with self._changed:
            self.ended = ended
            self._changed.notify_all()

    def send(self, *messages):
        self._outgoing.put(self._api.SessionRequest(messages=messages))

    def stop_reading(self):
        """Reads at most the message already asked for, then nothing until read_on()."""
        self._reading.clear()

    def read_on(self):
        self._reading.set()

    def close(self):
        """Half-closes: the switch sends nothing more."""
        self._outgoing.put(self._CLOSE)

    def cancel(self):
        self._call.cancel()
        self._outgoing.put(self._CLOSE)
        self._reading.set()
        self._reader.join(timeout=WAIT_SECONDS)

    def wait_for(self, what, found, timeout=WAIT_SECONDS):
        """found(log)'s first value that is not None, asked whenever something comes; an
        AssertionError saying what was awaited and what came if the stream ends or `timeout`
        passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = found(self.log)
                if value is not None:
                    return value
                left = deadline - time.monotonic()
                if self.ended is not None or left <= 0:
                    raise AssertionError("%s did not come (the session %s); it carried:\n%s" % (
                        what, "ended %s %r" % self.ended if self.ended else
                        "was still open after %s s" % timeout, describe(self.log)))
                self._changed.wait(left)

    def answer(self, request_id):
        """The answer to request `request_id` (the first, if wrongly more than one)."""
        return self.wait_for("the answer to request %d" % request_id, lambda log: next(
            (m for m in log if not is_command(m) and m.request_id == request_id), None))

    def answers(self, request_id=None):
        """The answers received so far: all, or those to request `request_id`."""
        with self._changed:
            return [m for m in self.log if not is_command(m)
                    and request_id in (None, m.request_id)]

    def commands(self):
        """The commands received so far, as AcdMessages."""
        with self._changed:
            return [m for m in self.log if is_command(m)]

    def command(self, n):
        """The n-th command (1-based) of the session."""
        return self.wait_for("command #%d" % n,
                             lambda log: ([m for m in log if is_command(m)][n - 1:] or [None])[0])

    def offers(self, call_id):
        return [m.command for m in self.commands()
                if m.command.WhichOneof("command") == "offer_call"
                and m.command.offer_call.call_id == call_id]

    def position(self, message):
        """Where `message` (an object taken from log) came in the session."""
        with self._changed:
            return next(i for i, m in enumerate(self.log) if m is message)

    def end(self, timeout=WAIT_SECONDS):
        """How the stream ended: (grpc.StatusCode, details)."""
        return self.wait_for("the end of the session", lambda log: self.ended, timeout)


class SessionTestCase(base.AcddTestCase):
    """acdd with POLICY, and a switch's session requests built in the switch's words."""

    TOKEN = None  # sent as a Bearer token on every call, when set

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="acd-session-test-")
        # AcddTestCase joins POLICY to testdata/; os.path.join keeps an absolute path as it is.
        cls.POLICY = os.path.join(cls.work, "session-center.yaml")
        with open(cls.POLICY, "w") as f:
            f.write(POLICY)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        if JOURNAL_SYNC:
            data_dir = tempfile.mkdtemp(prefix="data-", dir=self.work)
            self.FLAGS = type(self).FLAGS + ["--data_dir", data_dir, "--journal_sync", JOURNAL_SYNC]
        super().setUp()
        self.api = SessionApi(base.DESCRIPTOR_SET_PATH)
        self.rpc = self.api.bind(self.channel)

    def metadata(self, token=None):
        token = token or self.TOKEN
        return (("authorization", "Bearer " + token),) if token else None

    def session(self, token=None, channel=None):
        """A session not opened yet, on `channel` or the test's."""
        session = Session(channel or self.channel, self.api, self.metadata(token))
        self.addCleanup(session.cancel)
        return session

    def open_session(self, switch_id, token=None, channel=None):
        """A session opened for `switch_id` (request 1), its `opened` checked."""
        session = self.session(token, channel)
        session.send(self.open(1, switch_id))
        opened = session.answer(1)
        self.assertEqual(opened.WhichOneof("message"), "opened", str(opened))
        self.assertEqual(opened.status.code, OK, str(opened))
        self.assertEqual(opened.opened.switch_id, switch_id)
        self.assertIs(session.log[0], opened, "something came before `opened`")
        return session

    def login_agent(self, agent_id, skill="sales", token=None):
        request = self.api.LoginRequest(agent_id=agent_id, ready=True)
        request.skills.add(skill=skill, proficiency=3)
        return self.rpc.Login(request, metadata=self.metadata(token), timeout=RPC_TIMEOUT_SECONDS)

    # SwitchMessages.

    def message(self, request_id, kind, body):
        message = self.api.SwitchMessage(request_id=request_id)
        getattr(message, kind).CopyFrom(body)
        return message

    def open(self, request_id, switch_id):
        return self.message(request_id, "open", self.api.SessionOpen(switch_id=switch_id))

    def enqueue(self, request_id, call_id, queue_name, switch_id=""):
        return self.message(request_id, "enqueue_call", self.api.EnqueueCallRequest(
            switch_id=switch_id, call_id=call_id, queue=queue_name))

    def event(self, request_id, call_id, event, agent_id="", offer_sequence=0, switch_id=""):
        body = self.api.CallEvent(switch_id=switch_id, call_id=call_id, agent_id=agent_id,
                                  offer_sequence=offer_sequence)
        getattr(body, event).SetInParent()
        return self.message(request_id, "call_event", body)

    def list_calls(self, request_id, switch_id=""):
        return self.message(request_id, "list_calls",
                            self.api.ListCallsRequest(switch_id=switch_id))

    def set_state(self, request_id, agent_id, change):
        body = self.api.SetAgentStateRequest(agent_id=agent_id)
        if change == "not_ready":
            body.not_ready.reason = "break"
        else:
            getattr(body, change).SetInParent()
        return self.message(request_id, "set_agent_state", body)

    def ping(self, request_id):
        return self.message(request_id, "ping", self.api.Ping())

    # What answers say.

    def assert_answered(self, answer, kind):
        """`answer` is OK and carries a reply of `kind`; returns the reply."""
        self.assertEqual((answer.status.code, answer.WhichOneof("message")), (OK, kind),
                         str(answer))
        return getattr(answer, kind)

    def assert_refused(self, answer, code):
        """`answer` carries status `code` with a message, and no reply."""
        self.assertEqual(answer.status.code, code, str(answer))
        self.assertTrue(answer.status.message, "a refusal without a message: %s" % answer)
        self.assertIsNone(answer.WhichOneof("message"), "a refusal with a reply: %s" % answer)

    def disposition(self, answer):
        return self.disposition_name(self.assert_answered(answer, "enqueue_call").disposition)

    def call_state(self, answer):
        return self.call_state_name(self.assert_answered(answer, "call_event").state)

    def listed(self, answer):
        """{call_id: state name} of a list_calls answer."""
        return {c.call_id: self.call_state_name(c.state)
                for c in self.assert_answered(answer, "list_calls").calls}

    def assert_each_answered_once(self, session, request_ids):
        counts = collections.Counter(m.request_id for m in session.answers())
        self.assertEqual(counts, collections.Counter(request_ids),
                         "answers by request id; the session carried:\n%s" % describe(session.log))

    def settle(self, session, request_id):
        """Sends a list_calls as request `request_id`, waits for its answer and a little more:
        afterwards a wrong extra answer or command the earlier requests caused would have come."""
        session.send(self.list_calls(request_id))
        session.answer(request_id)
        time.sleep(QUIET_SECONDS)


class SessionServesCallsTest(SessionTestCase):

    def test_a_call_is_served_through_a_session_from_enqueue_to_the_end_of_wrap_up(self):
        session = self.open_session("pbx")
        self.login_agent("anna")

        session.send(self.enqueue(2, "call-1", "sales"))
        enqueued = session.answer(2)
        self.assertEqual(self.disposition(enqueued), "DISPOSITION_OFFERED")
        command = session.command(1)
        self.assertEqual(command.request_id, 0)
        self.assertFalse(command.HasField("status"), "a command with a status: %s" % command)
        offer = command.command
        self.assertEqual(offer.WhichOneof("command"), "offer_call", str(offer))
        self.assertEqual((offer.offer_call.call_id, offer.offer_call.agent_id,
                          offer.offer_call.queue), ("call-1", "anna", "sales"))
        self.assertEqual(offer.offer_call.offer_timeout_seconds, 600)
        self.assertGreater(offer.sequence, 0)
        self.assertFalse(offer.resent)
        self.assertLess(session.position(enqueued), session.position(command),
                        "the offer came before the reply to the enqueue that caused it")

        session.send(self.event(3, "call-1", "offer_accepted", "anna", offer.sequence))
        self.assertEqual(self.call_state(session.answer(3)), "CALL_STATE_CONNECTED")
        session.send(self.list_calls(4))
        self.assertEqual(self.listed(session.answer(4)), {"call-1": "CALL_STATE_CONNECTED"})
        # The session's own switch_id, spelled out, is as good as none.
        session.send(self.event(5, "call-1", "answered", "anna", offer.sequence, switch_id="pbx"))
        self.assertEqual(self.call_state(session.answer(5)), "CALL_STATE_CONNECTED")
        session.send(self.event(6, "call-1", "call_ended", "anna"))
        self.assertEqual(self.call_state(session.answer(6)), "CALL_STATE_ENDED")
        self.assertEqual(self.agent_state("anna"), "AGENT_STATE_WRAP_UP")

        session.send(self.set_state(7, "anna", "end_wrap_up"))
        agent = self.assert_answered(session.answer(7), "agent")
        self.assertEqual(agent.agent_id, "anna")
        self.assertEqual(self.api.AgentState.values_by_number[agent.state].name,
                         "AGENT_STATE_READY")
        session.send(self.list_calls(8, switch_id="pbx"))
        self.assertEqual(self.listed(session.answer(8)), {})

        call = self.rpc.GetCall(self.api.GetCallRequest(call_id="call-1"),
                                timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual((call.switch_id, self.call_state_name(call.state)),
                         ("pbx", "CALL_STATE_ENDED"))
        self.assertEqual([h.what for h in call.history],
                         ["enqueued", "offered", "connected", "answered", "ended"])
        self.assert_each_answered_once(session, range(1, 9))
        self.assertEqual(len(session.commands()), 1, describe(session.log))

        # Shutting down ends the session OK.
        self.assertEqual(self.stop_acdd(), 0)
        self.assertEqual(session.end(), (grpc.StatusCode.OK, ""))

    def test_requests_batched_or_alone_are_answered_once_each_in_the_order_sent(self):
        self.login_agent("anna")
        session = self.session()
        # One SessionRequest: the open, an enqueue and an event on the call it offers (handled
        # after the enqueue, or there is no offer to accept), a ping, two calls for the line.
        session.send(self.open(1, "pbx"),
                     self.enqueue(10, "call-1", "sales"),
                     self.event(11, "call-1", "offer_accepted", "anna"),
                     self.ping(12),
                     self.enqueue(13, "call-2", "line"),
                     self.enqueue(14, "call-3", "line"),
                     self.list_calls(15))
        # Then one request per SessionRequest, sent without waiting for answers.
        session.send(self.enqueue(16, "call-4", "line"))
        session.send(self.event(17, "call-2", "caller_abandoned"))
        session.send(self.ping(18))
        session.send(self.list_calls(19))

        self.assertEqual(session.answer(1).WhichOneof("message"), "opened")
        self.assertEqual(self.disposition(session.answer(10)), "DISPOSITION_OFFERED")
        self.assertEqual(self.call_state(session.answer(11)), "CALL_STATE_CONNECTED")
        self.assert_answered(session.answer(12), "pong")
        queued = [self.assert_answered(session.answer(i), "enqueue_call") for i in (13, 14, 16)]
        self.assertEqual([(self.disposition_name(q.disposition), q.position) for q in queued],
                         [("DISPOSITION_QUEUED", 1), ("DISPOSITION_QUEUED", 2),
                          ("DISPOSITION_QUEUED", 3)])  # call-2 hangs up after call-4 came
        self.assertEqual(self.listed(session.answer(15)),
                         {"call-1": "CALL_STATE_CONNECTED", "call-2": "CALL_STATE_WAITING",
                          "call-3": "CALL_STATE_WAITING"})
        self.assertEqual(self.call_state(session.answer(17)), "CALL_STATE_ABANDONED")
        self.assert_answered(session.answer(18), "pong")
        self.assertEqual(self.listed(session.answer(19)),
                         {"call-1": "CALL_STATE_CONNECTED", "call-3": "CALL_STATE_WAITING",
                          "call-4": "CALL_STATE_WAITING"})

        # A second agent: the next sales call is offered to her, on the same session.
        self.login_agent("bea")
        session.send(self.enqueue(20, "call-5", "sales"))
        self.assertEqual(self.disposition(session.answer(20)), "DISPOSITION_OFFERED")
        session.wait_for("the offer of call-5", lambda log: session.offers("call-5") or None)
        self.settle(session, 21)

        requests = [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]
        self.assert_each_answered_once(session, requests)
        # Answers come in the order the requests were sent; a ping may overtake.
        in_order = [m.request_id for m in session.answers() if m.WhichOneof("message") != "pong"]
        self.assertEqual(in_order, [i for i in requests if i not in (12, 18)])
        commands = [m.command for m in session.commands()]
        sequences = [c.sequence for c in commands]
        self.assertEqual(sequences, sorted(set(sequences)), describe(session.log))
        offered = [(c.offer_call.call_id, c.offer_call.agent_id) for c in commands
                   if c.WhichOneof("command") == "offer_call"]
        self.assertEqual(offered, [("call-1", "anna"), ("call-5", "bea")])
        # Every command after the reply to the request that caused it.
        for request_id, call_id in ((10, "call-1"), (13, "call-2"), (14, "call-3"),
                                    (16, "call-4"), (20, "call-5")):
            answer = session.answer(request_id)
            for message in session.commands():
                command = message.command
                if getattr(command, command.WhichOneof("command")).call_id == call_id:
                    self.assertLess(session.position(answer), session.position(message),
                                    "%s came before the reply to request %d:\n%s" % (
                                        command, request_id, describe(session.log)))

    def test_a_retried_enqueue_is_answered_as_the_first_time_without_a_second_offer(self):
        session = self.open_session("pbx")
        self.login_agent("anna")

        session.send(self.enqueue(2, "call-1", "sales"))
        first = session.answer(2)
        self.assertEqual(self.disposition(first), "DISPOSITION_OFFERED")
        offer = session.command(1).command
        self.assertEqual(offer.offer_call.call_id, "call-1")
        session.send(self.enqueue(3, "call-2", "line"))
        queued = session.answer(3)
        self.assertEqual(self.disposition(queued), "DISPOSITION_QUEUED")
        self.assertEqual(queued.enqueue_call.position, 1)
        session.send(self.enqueue(4, "call-3", "line"))
        self.assertEqual(session.answer(4).enqueue_call.position, 2)

        # The same requests again with new request ids, both in one SessionRequest.
        session.send(self.enqueue(5, "call-1", "sales"), self.enqueue(6, "call-2", "line"))
        self.assertEqual(self.assert_answered(session.answer(5), "enqueue_call"),
                         first.enqueue_call)
        self.assertEqual(self.assert_answered(session.answer(6), "enqueue_call"),
                         queued.enqueue_call)
        # The same request id too, once its first answer is in.
        session.send(self.enqueue(2, "call-1", "sales"))
        session.wait_for("a second answer to request 2",
                         lambda log: session.answers(2)[1:] or None)
        self.assertEqual([self.assert_answered(m, "enqueue_call") for m in session.answers(2)],
                         [first.enqueue_call] * 2)
        # Over the unary RPC too: one ledger for the switch.
        unary = self.rpc.EnqueueCall(self.api.EnqueueCallRequest(
            switch_id="pbx", call_id="call-1", queue="sales"), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(unary, first.enqueue_call)
        # A retried event likewise.
        session.send(self.event(7, "call-1", "offer_accepted", "anna", offer.sequence))
        self.assertEqual(self.call_state(session.answer(7)), "CALL_STATE_CONNECTED")
        session.send(self.event(8, "call-1", "offer_accepted", "anna", offer.sequence))
        self.assertEqual(self.assert_answered(session.answer(8), "call_event"),
                         session.answer(7).call_event)

        self.settle(session, 9)
        self.assertEqual(session.offers("call-1"), [offer], describe(session.log))
        self.assertEqual(self.listed(session.answer(9)),
                         {"call-1": "CALL_STATE_CONNECTED", "call-2": "CALL_STATE_WAITING",
                          "call-3": "CALL_STATE_WAITING"})
        call = self.rpc.GetCall(self.api.GetCallRequest(call_id="call-1"),
                                timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual([h.what for h in call.history], ["enqueued", "offered", "connected"])


class SessionReconnectTest(SessionTestCase):

    def offered(self, command):
        """What an offer says, but for how long the caller has waited."""
        offer = type(command.offer_call)()
        offer.CopyFrom(command.offer_call)
        offer.ClearField("waited_seconds")
        return offer

    def test_an_outstanding_offer_comes_again_resent_with_its_sequence_on_the_next_session(self):
        first = self.open_session("pbx")
        self.login_agent("anna")
        first.send(self.enqueue(2, "call-1", "sales"))
        self.assertEqual(self.disposition(first.answer(2)), "DISPOSITION_OFFERED")
        offer = first.command(1).command
        self.assertEqual(offer.offer_call.call_id, "call-1")
        first.cancel()  # the switch lost its connection

        second = self.open_session("pbx")
        again = second.command(1)
        self.assertEqual(second.position(again), 1, "not right after `opened`")
        self.assertEqual((again.command.sequence, again.command.resent), (offer.sequence, True))
        self.assertEqual(self.offered(again.command), self.offered(offer))

        # The switch closes its side; the next session gets the offer once more.
        second.close()
        third = self.open_session("pbx")
        self.assertEqual((third.command(1).command.sequence, third.command(1).command.resent),
                         (offer.sequence, True))
        self.assertIn(second.end()[0], (grpc.StatusCode.OK, grpc.StatusCode.ABORTED))

        # Answered there by its sequence; a new offer is numbered after it.
        third.send(self.event(2, "call-1", "offer_accepted", "anna", offer.sequence))
        self.assertEqual(self.call_state(third.answer(2)), "CALL_STATE_CONNECTED")
        self.login_agent("bea")
        third.send(self.enqueue(3, "call-2", "sales"))
        self.assertEqual(self.disposition(third.answer(3)), "DISPOSITION_OFFERED")
        new = third.command(2).command
        self.assertEqual((new.offer_call.call_id, new.resent), ("call-2", False))
        self.assertGreater(new.sequence, offer.sequence)
        self.settle(third, 4)
        self.assertEqual(len(third.commands()), 2, describe(third.log))

    def test_a_second_session_takes_over_and_the_first_ends_aborted(self):
        first = self.open_session("pbx")
        second = self.open_session("pbx")
        self.assertEqual(first.end()[0], grpc.StatusCode.ABORTED)

        self.login_agent("anna")
        second.send(self.enqueue(2, "call-1", "sales"), self.ping(3))
        self.assertEqual(self.disposition(second.answer(2)), "DISPOSITION_OFFERED")
        self.assertEqual(second.command(1).command.offer_call.call_id, "call-1")
        self.assert_answered(second.answer(3), "pong")
        self.assertEqual([m.WhichOneof("message") for m in first.log], ["opened"])
        # Another switch's session takes nothing over.
        other = self.open_session("pbx-2")
        self.settle(second, 4)
        self.assertIsNone(second.ended)
        other.send(self.ping(2))
        self.assert_answered(other.answer(2), "pong")

    def test_a_command_stream_and_a_session_of_one_switch_take_over_from_each_other(self):
        self.login_agent("anna")
        stream = base.CommandReader(self.rpc, self.api, "pbx")
        self.addCleanup(stream.cancel)
        enqueued = self.rpc.EnqueueCall(self.api.EnqueueCallRequest(
            switch_id="pbx", call_id="call-1", queue="sales"), timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(self.disposition_name(enqueued.disposition), "DISPOSITION_OFFERED")
        offer = stream.next()  # the stream is in place
        self.assertEqual(offer.offer_call.call_id, "call-1")

        session = self.open_session("pbx")
        self.assertTrue(stream.finished.wait(timeout=WAIT_SECONDS),
                        "the command stream stayed open after the session took over")
        self.assertEqual(stream.status_code, grpc.StatusCode.ABORTED)
        again = session.command(1).command
        self.assertEqual((again.offer_call.call_id, again.sequence, again.resent),
                         ("call-1", offer.sequence, True))

        back = base.CommandReader(self.rpc, self.api, "pbx")
        self.addCleanup(back.cancel)
        resent = back.next()
        self.assertEqual((resent.offer_call.call_id, resent.sequence, resent.resent),
                         ("call-1", offer.sequence, True))
        self.assertEqual(session.end()[0], grpc.StatusCode.ABORTED)


class SessionErrorsTest(SessionTestCase):

    def test_a_session_that_does_not_begin_with_open_ends_invalid_argument(self):
        for first in (self.ping(1), self.enqueue(1, "call-1", "sales"), self.list_calls(1)):
            session = self.session()
            session.send(first, self.open(2, "pbx"))
            self.assertEqual(session.end()[0], grpc.StatusCode.INVALID_ARGUMENT,
                             "first %s" % first.WhichOneof("message"))
            self.assertNotIn("opened", [m.WhichOneof("message") for m in session.log])
        self.assertEqual(list(self.rpc.ListCalls(self.api.ListCallsRequest(switch_id="pbx"),
                                                 timeout=RPC_TIMEOUT_SECONDS).calls), [])

    def test_an_open_after_the_first_ends_the_session_invalid_argument(self):
        session = self.open_session("pbx")
        session.send(self.open(2, "pbx"))
        self.assertEqual(session.end()[0], grpc.StatusCode.INVALID_ARGUMENT)

    def test_an_open_without_a_switch_id_ends_the_session_invalid_argument(self):
        session = self.session()
        session.send(self.open(1, ""))
        self.assertEqual(session.end()[0], grpc.StatusCode.INVALID_ARGUMENT)
        self.assertNotIn("opened", [m.WhichOneof("message") for m in session.log])

    def test_a_request_naming_another_switch_is_refused_and_the_session_goes_on(self):
        session = self.open_session("pbx")
        self.login_agent("anna")
        session.send(self.enqueue(2, "call-1", "sales", switch_id="pbx-2"),
                     self.event(3, "call-1", "caller_abandoned", switch_id="pbx-2"),
                     self.list_calls(4, switch_id="pbx-2"))
        for request_id in (2, 3, 4):
            self.assert_refused(session.answer(request_id), INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as raised:
            self.rpc.GetCall(self.api.GetCallRequest(call_id="call-1"),
                             timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

        session.send(self.ping(5), self.enqueue(6, "call-1", "sales"))
        self.assert_answered(session.answer(5), "pong")
        self.assertEqual(self.disposition(session.answer(6)), "DISPOSITION_OFFERED")
        self.assertEqual(session.command(1).command.offer_call.call_id, "call-1")
        self.assertIsNone(session.ended)

    def test_a_bad_request_is_answered_with_the_status_the_unary_rpc_gives(self):
        session = self.open_session("pbx")
        unary = self.rpc
        bad = [  # (session request, the same through the unary RPC, the code both must give)
            (self.enqueue(2, "", "sales"),
             lambda: unary.EnqueueCall(self.api.EnqueueCallRequest(
                 switch_id="pbx", call_id="", queue="sales"), timeout=RPC_TIMEOUT_SECONDS),
             INVALID_ARGUMENT),
            (self.enqueue(3, "call-1", "no-such-queue"),
             lambda: unary.EnqueueCall(self.api.EnqueueCallRequest(
                 switch_id="pbx", call_id="call-1", queue="no-such-queue"),
                 timeout=RPC_TIMEOUT_SECONDS),
             NOT_FOUND),
            (self.event(4, "no-such-call", "offer_accepted", "anna"),
             lambda: self.report("pbx", "no-such-call", "anna", "offer_accepted"), None),
            (self.set_state(5, "nobody", "ready"),
             lambda: unary.SetAgentState(self.set_state(0, "nobody", "ready").set_agent_state,
                                         timeout=RPC_TIMEOUT_SECONDS), None),
        ]
        session.send(*[request for request, _, _ in bad])
        for request, call_unary, code in bad:
            with self.assertRaises(grpc.RpcError) as raised:
                call_unary()
            unary_code = raised.exception.code().value[0]
            if code is not None:
                self.assertEqual(unary_code, code, raised.exception.details())
            answer = session.answer(request.request_id)
            self.assert_refused(answer, unary_code)
            self.assertEqual(answer.status.message, raised.exception.details())

        session.send(self.enqueue(6, "call-2", "line"))
        self.assertEqual(self.disposition(session.answer(6)), "DISPOSITION_QUEUED")
        self.assertIsNone(session.ended)

    def test_a_ping_is_answered_with_a_pong_carrying_its_request_id(self):
        session = self.open_session("pbx")
        ids = (0, 7, 2**64 - 1)
        session.send(*[self.ping(i) for i in ids])
        for i in ids:
            self.assert_answered(session.answer(i), "pong")
        self.settle(session, 8)
        self.assert_each_answered_once(session, (1,) + ids + (8,))


class SessionFlowControlTest(SessionTestCase):
    """acdd cutting off a switch that leaves 20 messages unwritten (--max_stream_backlog 20), its
    log kept to be read."""

    FLAGS = ["--max_stream_backlog", "20"]
    CUT_OFF = "command stream backlog too large; reconnect"
    CUT_OFF_LOGGED = "switch pbx reads its commands too slowly"
    # A switch that does not read (64 KiB windows) is cut off after about 870 calls (measured: 800
    # to 870, or 30 to 120 when what acdd made at once passed the backlog): far below this bound.
    MAX_CALLS = 5000
    BATCH = 10  # requests per SessionRequest: what acdd makes of one stays under the backlog
    AWAY_CALLS = 30  # enqueued while the switch is away: their prompts alone exceed the backlog

    def setUp(self):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(self.log.close)
        self.STDERR = self.log
        super().setUp()

    def logged(self, text):
        """acdd's log lines so far that contain `text`."""
        self.log.seek(0)
        return [line for line in self.log.read().splitlines() if text in line]

    def prompt(self, message):
        """(sequence, call id) of an entry prompt for "line", which is all a "line" call makes."""
        command = message.command
        self.assertEqual(command.WhichOneof("command"), "play_prompt", str(command))
        prompt = command.play_prompt
        self.assertEqual((prompt.kind, prompt.queue, command.resent),
                         (self.api.PlayPrompt.Kind.Value("KIND_ENTRY"), "line", False),
                         str(command))
        return command.sequence, prompt.call_id

    def test_a_switch_that_stops_reading_is_cut_off_and_its_commands_wait_for_the_next_session(
            self):
        # Without BDP probing grpcio's windows stay at 64 KiB; with it they grow with the traffic
        # and a switch that does not read could hold thousands of calls' messages in flight.
        channel = grpc.insecure_channel(self.grpc_address, options=[("grpc.http2.bdp_probe", 0)])
        self.addCleanup(channel.close)
        self.login_agent("anna")
        first = self.open_session("pbx", channel=channel)
        first.send(self.enqueue(2, "call-offered", "sales"))
        self.assertEqual(self.disposition(first.answer(2)), "DISPOSITION_OFFERED")
        offer = first.command(1).command
        self.assertEqual((offer.offer_call.call_id, offer.sequence, offer.resent),
                         ("call-offered", 1, False))

        # The switch stops reading and sends calls for "line" (request 10 + i enqueues call-i,
        # whose entry prompt is numbered 2 + i) until acdd says it cut the switch off.
        first.stop_reading()
        sent = 0
        while not self.logged(self.CUT_OFF_LOGGED):
            self.assertLess(sent, self.MAX_CALLS, "no cut-off after %d calls" % sent)
            first.send(*[self.enqueue(10 + i, "call-%d" % i, "line")
                         for i in range(sent, sent + self.BATCH)])
            sent += self.BATCH
            time.sleep(0.005)  # paced, so that few are sent after the cut-off
        first.read_on()
        self.assertEqual(first.end(), (grpc.StatusCode.RESOURCE_EXHAUSTED, self.CUT_OFF))
        self.assertEqual(len(self.logged(self.CUT_OFF_LOGGED)), 1,
                         "\n".join(self.logged("too slowly")))

        # acdd took a first part of the calls sent, in order.
        waiting = self.rpc.ListCalls(self.api.ListCallsRequest(switch_id="pbx", page_size=10000),
                                     timeout=RPC_TIMEOUT_SECONDS).calls
        taken = len(waiting) - 1
        self.assertEqual(sorted(c.call_id for c in waiting),
                         sorted(["call-offered"] + ["call-%d" % i for i in range(taken)]))

        # What was in flight came before the end: answers to a first part of the requests, and
        # the prompts numbered from 2 on without a gap, each after the answer to its enqueue.
        answered = [m.request_id for m in first.answers()][2:]
        self.assertEqual([m.request_id for m in first.answers()],
                         [1, 2] + list(range(10, 10 + len(answered))), describe(first.log))
        at = {}  # request id: where its answer came
        for i, request_id in enumerate(answered):
            answer = first.answer(request_id)
            enqueued = self.assert_answered(answer, "enqueue_call")
            self.assertEqual((self.disposition_name(enqueued.disposition), enqueued.position),
                             ("DISPOSITION_QUEUED", i + 1))
            at[request_id] = first.position(answer)
        delivered = [self.prompt(m) for m in first.commands()[1:]]
        self.assertEqual(delivered, [(2 + i, "call-%d" % i) for i in range(len(delivered))])
        self.assertLessEqual(len(delivered), len(answered))
        for i, message in enumerate(first.commands()[1:]):
            self.assertLess(at[10 + i], first.position(message), "prompt %d" % (2 + i))

        # While the switch is away more calls come for it (through the unary RPC): with them, more
        # than --max_stream_backlog commands wait for its next session, as they would after a
        # while away however many the cut-off session left.
        for i in range(self.AWAY_CALLS):
            enqueued = self.rpc.EnqueueCall(self.api.EnqueueCallRequest(
                switch_id="pbx", call_id="away-%d" % i, queue="line"), timeout=RPC_TIMEOUT_SECONDS)
            self.assertEqual(self.disposition_name(enqueued.disposition), "DISPOSITION_QUEUED")

        # The next session gets, after `opened`, the prompts not delivered (in order, not
        # resent), then the outstanding offer again (resent, its number kept), and stays open.
        second = self.open_session("pbx")
        expected = [(2 + i, "call-%d" % i) for i in range(len(delivered), taken)] + [
            (2 + taken + i, "away-%d" % i) for i in range(self.AWAY_CALLS)]
        second.wait_for("%d commands" % (len(expected) + 1), lambda log: log if sum(
            map(is_command, log)) >= len(expected) + 1 else None)
        self.settle(second, 2)
        commands = second.commands()
        self.assertEqual(len(commands), len(expected) + 1, describe(second.log))
        self.assertEqual([self.prompt(m) for m in commands[:-1]], expected)
        again = commands[-1].command
        self.assertEqual((again.offer_call.call_id, again.sequence, again.resent),
                         ("call-offered", 1, True))
        self.assertIsNone(second.ended)
        self.assertEqual(len(self.logged(self.CUT_OFF_LOGGED)), 1)

    def test_a_switch_that_half_closes_gets_every_answer_then_the_session_ends_ok(self):
        self.login_agent("anna")
        session = self.open_session("pbx")
        # Sent without waiting for an answer, the half-close right behind; few enough that what
        # acdd makes of them stays under the backlog.
        session.send(self.enqueue(2, "call-1", "sales"), self.enqueue(3, "call-2", "line"),
                     self.event(4, "call-1", "offer_accepted", "anna"))
        session.send(self.ping(5), self.list_calls(6), self.event(7, "call-2", "caller_abandoned"))
        session.close()
        self.assertEqual(session.end(), (grpc.StatusCode.OK, ""))

        self.assert_each_answered_once(session, range(1, 8))
        self.assertEqual(self.disposition(session.answer(2)), "DISPOSITION_OFFERED")
        queued = self.assert_answered(session.answer(3), "enqueue_call")
        self.assertEqual((self.disposition_name(queued.disposition), queued.position),
                         ("DISPOSITION_QUEUED", 1))
        self.assertEqual(self.call_state(session.answer(4)), "CALL_STATE_CONNECTED")
        self.assert_answered(session.answer(5), "pong")
        self.assertEqual(self.listed(session.answer(6)),
                         {"call-1": "CALL_STATE_CONNECTED", "call-2": "CALL_STATE_WAITING"})
        self.assertEqual(self.call_state(session.answer(7)), "CALL_STATE_ABANDONED")
        in_order = [m.request_id for m in session.answers() if m.WhichOneof("message") != "pong"]
        self.assertEqual(in_order, [1, 2, 3, 4, 6, 7])
        # The commands the requests made came too, each after the answer that caused it.
        commands = session.commands()
        self.assertEqual([(c.command.sequence, c.command.WhichOneof("command"))
                          for c in commands], [(1, "offer_call"), (2, "play_prompt")],
                         describe(session.log))
        self.assertEqual((commands[0].command.offer_call.call_id,
                          commands[1].command.play_prompt.call_id), ("call-1", "call-2"))
        self.assertLess(session.position(session.answer(2)), session.position(commands[0]))
        self.assertLess(session.position(session.answer(3)), session.position(commands[1]))
        call = self.rpc.GetCall(self.api.GetCallRequest(call_id="call-1"),
                                timeout=RPC_TIMEOUT_SECONDS)
        self.assertEqual(self.call_state_name(call.state), "CALL_STATE_CONNECTED")
        self.assertEqual(self.logged("too slowly"), [])


def token_line(name, role, token, binding=""):
    """The tokens-file line of `token`, as acdctl token writes it."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return " ".join(filter(None, (name, role, "sha256:" + digest, binding)))


class SessionTokensTest(SessionTestCase):
    """acdd asking for tokens (on loopback, plaintext gRPC): an admin, and a switch bound to "a"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = "acd_" + secrets.token_urlsafe(32)
        cls.switch_a = "acd_" + secrets.token_urlsafe(32)
        path = os.path.join(cls.work, "tokens")
        with open(path, "w") as f:
            f.write(token_line("ops-admin", "admin", cls.admin) + "\n" +
                    token_line("pbx-a", "switch", cls.switch_a, "switch_id=a") + "\n")
        cls.FLAGS = ["--auth_tokens", path]
        cls.TOKEN = cls.admin

    def test_a_switch_token_opens_only_its_own_switchs_session(self):
        for token, code in ((self.switch_a, grpc.StatusCode.PERMISSION_DENIED),
                            ("acd_no-such-token", grpc.StatusCode.UNAUTHENTICATED)):
            session = self.session(token)
            session.send(self.open(1, "b"))
            self.assertEqual(session.end()[0], code)
            self.assertEqual([m.WhichOneof("message") for m in session.log], [])

        session = self.open_session("a", token=self.switch_a)
        self.login_agent("anna")
        session.send(self.enqueue(2, "call-1", "sales"))
        self.assertEqual(self.disposition(session.answer(2)), "DISPOSITION_OFFERED")
        self.assertEqual(session.command(1).command.offer_call.call_id, "call-1")

    def test_set_agent_state_on_a_switch_tokens_session_is_denied_and_the_session_goes_on(self):
        self.login_agent("anna")
        session = self.open_session("a", token=self.switch_a)
        session.send(self.set_state(2, "anna", "not_ready"))
        self.assert_refused(session.answer(2), PERMISSION_DENIED)
        self.assertEqual(self.agent_state_as_admin("anna"), "AGENT_STATE_READY")

        session.send(self.ping(3), self.enqueue(4, "call-1", "sales"))
        self.assert_answered(session.answer(3), "pong")
        self.assertEqual(self.disposition(session.answer(4)), "DISPOSITION_OFFERED")
        self.assertIsNone(session.ended)

        # An admin's session may.
        self.login_agent("bea")
        admin = self.open_session("b", token=self.admin)
        admin.send(self.set_state(2, "bea", "not_ready"))
        agent = self.assert_answered(admin.answer(2), "agent")
        self.assertEqual((agent.agent_id, self.api.AgentState.values_by_number[agent.state].name,
                          agent.not_ready_reason), ("bea", "AGENT_STATE_NOT_READY", "break"))

    def agent_state_as_admin(self, agent_id):
        agents = self.rpc.ListAgents(self.api.ListAgentsRequest(), metadata=self.metadata(),
                                     timeout=RPC_TIMEOUT_SECONDS)
        return next(self.api.AgentState.values_by_number[a.state].name
                    for a in agents.agents if a.agent_id == agent_id)


if __name__ == "__main__":
    base.main(module=__name__)
