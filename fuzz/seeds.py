#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/: core_api's scenarios, spelled in that harness's
input format (fuzz/core_api_fuzzer.cc), and journal's inputs, made from the journal and snapshot
committed in tests/daemon/testdata/ (fuzz/journal_fuzzer.cc's format). policy_text's seeds are
policy files copied as they are. Inputs the fuzzers found stay beside these (found-*).

    /usr/bin/python3 fuzz/seeds.py      # from the repository's root; rewrites seed-* files
"""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

# --- core_api ----------------------------------------------------------------------------------
# Opcodes (op % 24) and their argument bytes, as Driver::Step reads them.
ENQUEUE, EVENT, LOGIN, STATE, LOGOUT, SET_POLICY, POLICY_TEXT = 0, 3, 9, 11, 12, 13, 14
TIME, WAKEUP, WRITTEN, RECONNECT, DRAIN_OR_START, RETRY, READ = 15, 17, 19, 20, 21, 22, 23
QUEUES = {"sales": 0, "support": 1, "billing": 2, "chat": 3, "nosuch": 4}
SKILLS = {"sales": 1, "support": 2, "billing": 4, "chat": 8}
KINDS = ["accept", "reject", "no_answer", "abandon", "end", "answered", "hold", "unhold",
         "transfer", "consult", "cancel_consult", "callback", "not_reached", "none"]
SECONDS = [0, 0.000001, 0.5, 1, 2, 3, 5, 7.3333333, 8, 10, 15, 20, 25, 30, 40, 45, 60, 90, 120,
           150, 180, 240, 300, 600, 0.25, 1.5, 4, 6, 12, 35, 1800, 3600]


def setup(policy=0, limits=0, replay=False, snapshot=False):
    return bytes([policy | limits << 2 | replay << 4 | snapshot << 5])


def enqueue(call, queue="sales", switch=0, language=0, tier=False, preferred=None):
    a = call | switch << 4 | QUEUES[queue] << 5
    b = language << 3 | tier << 2 | ((1 << 5 | preferred << 6) if preferred is not None else 0)
    return bytes([ENQUEUE, a, b])


def event(call, kind, agent=None, sequence=1, target=0):
    """An event about `call` by the agent it rings or is with (agent=None) or agent `agent`."""
    a = call | (0 if agent is None else 3) << 4 | sequence << 6
    b = agent or 0
    out = bytes([EVENT, a, b, KINDS.index(kind)])
    return out + bytes([target]) if kind in ("transfer", "consult") else out


def to_queue(queue):
    return QUEUES[queue]


def to_agent(agent):
    return 0x08 | agent


def login(agent, skills, proficiency=1, ready=True, languages=1, capacity=0):
    a = agent | ready << 3 | capacity << 5
    b = sum(SKILLS[s] for s in skills) | proficiency << 4 | languages << 6
    return bytes([LOGIN, a, b])


def time(seconds, wake=True):
    return bytes([TIME, SECONDS.index(seconds) | (0 if wake else 1 << 5)])


def wakeup():
    return bytes([WAKEUP, 0])


def written(switch=0, mode=0):
    return bytes([WRITTEN, switch | mode << 1])


CORE_SEEDS = {
    "answered-held-ended": setup(replay=True) + login(0, ["sales"]) + enqueue(0)
    + event(0, "accept") + event(0, "hold", target=0) + time(30) + event(0, "unhold")
    + event(0, "end") + written() + written() + wakeup(),
    "rejected-then-timed-out": setup(snapshot=True) + login(0, ["sales"]) + login(1, ["sales"])
    + enqueue(0) + event(0, "reject") + wakeup() + wakeup() + wakeup(),
    "blind-transfer": setup(replay=True, snapshot=True) + login(0, ["sales", "support"], 2)
    + login(1, ["support"], 2) + enqueue(0) + event(0, "accept")
    + event(0, "transfer", target=to_queue("support")) + event(0, "accept") + event(0, "end"),
    "transfer-to-an-agent": setup(replay=True) + login(0, ["sales"]) + login(1, ["sales"])
    + enqueue(0) + event(0, "accept") + event(0, "transfer", target=to_agent(1))
    + event(0, "accept") + time(60) + event(0, "abandon"),
    "consult-completed": setup(replay=True) + login(0, ["sales"]) + login(1, ["billing"])
    + enqueue(0) + event(0, "accept") + event(0, "consult", target=to_queue("billing"))
    + event(0, "hold") + event(0, "accept") + event(0, "end"),
    "consult-cancelled": setup(snapshot=True) + login(0, ["sales"]) + enqueue(0)
    + event(0, "accept") + event(0, "consult", target=to_queue("billing")) + time(10)
    + bytes([EVENT, 0 | 1 << 4, 0, KINDS.index("cancel_consult")]) + event(0, "end"),
    "callback-accepted-and-retried": setup(replay=True) + enqueue(0, "billing") + time(2)
    + event(0, "callback") + login(2, ["billing"]) + event(0, "accept")
    + event(0, "not_reached") + time(40) + event(0, "accept") + event(0, "not_reached")
    + wakeup() + event(0, "accept") + event(0, "end"),
    "overflow-and-max-wait": setup(snapshot=True) + enqueue(0) + enqueue(1, language=2)
    + time(60) + time(90) + time(120) + wakeup() + wakeup() + login(3, ["support"], 2),
    "chats-stack": setup(replay=True) + login(2, ["chat"], 2, capacity=2) + enqueue(0, "chat")
    + enqueue(1, "chat") + event(0, "accept") + event(1, "accept") + enqueue(2, "chat")
    + event(2, "accept") + event(0, "end") + event(1, "end"),
    "queue-full": setup(limits=1) + enqueue(0, "billing") + enqueue(1, "billing")
    + enqueue(2, "billing") + enqueue(3, "billing") + enqueue(4, "billing") + enqueue(5, "billing")
    + enqueue(6, "billing") + time(300) + time(300),
    "preferred-agent": setup(replay=True) + login(0, ["sales"], ready=False)
    + enqueue(0, preferred=0) + login(1, ["sales"]) + bytes([STATE, 0]) + time(10) + wakeup(),
    "policies": setup(replay=True, snapshot=True) + login(0, ["chat"], capacity=2)
    + enqueue(0, "chat") + bytes([SET_POLICY, 2]) + bytes([SET_POLICY, 1 | 4])
    + bytes([SET_POLICY, 3]) + bytes([SET_POLICY, 1 | 1 << 6]) + bytes([POLICY_TEXT, 1])
    + bytes([POLICY_TEXT, 4]) + bytes([POLICY_TEXT, 4 | 8])
    + event(0, "accept") + event(0, "end") + bytes([SET_POLICY, 2]) + enqueue(1, "chat"),
    "streams-and-restarts": setup(limits=1, replay=True) + login(0, ["sales"]) + enqueue(0)
    + enqueue(1, switch=1) + written(0) + written(1, 1) + bytes([RECONNECT, 0])
    + bytes([DRAIN_OR_START, 1]) + enqueue(2) + bytes([DRAIN_OR_START, 2 | 1 << 5])
    + bytes([RECONNECT, 1]) + written(1) + enqueue(2),
    "retries": setup(replay=True) + login(0, ["sales"]) + bytes([RETRY, 0]) + enqueue(0)
    + bytes([RETRY, 1]) + event(0, "accept") + bytes([RETRY, 2]) + event(0, "end")
    + bytes([RETRY, 3]),
    "reads": setup() + login(0, ["sales"]) + enqueue(0) + bytes([READ, 0, READ, 1, READ, 2,
                                                                 READ, 4, READ, 5, READ, 6]),
    "agent-states": setup(policy=1) + login(0, ["sales", "support"], 3) + enqueue(0)
    + event(0, "accept") + event(0, "end") + bytes([STATE, 0 | 2 << 3]) + bytes([STATE, 1 << 3])
    + bytes([STATE, 0]) + bytes([LOGOUT, 0]) + enqueue(1) + time(600),
}

# --- journal -----------------------------------------------------------------------------------
LAYOUT_RAW, LAYOUT_RECORDS, LAYOUT_AFTER_CREATED, LAYOUT_SNAPSHOT = 0, 1, 2, 3
TRUNCATE, CUT_AND_RECOVER_AGAIN, STOP_BEFORE = 0x04, 0x08, 0x10
BAD_CRC, SKIP, EPOCH, NEW_SEGMENT, TORN, LONGER, MISNAMED = 1, 2, 4, 8, 16, 32, 64


def records(path):
    """The payloads of a journal segment's records."""
    data = open(path, "rb").read()
    at, out = 16, []
    while at + 24 <= len(data):
        (length,) = struct.unpack_from("<I", data, at)
        out.append(data[at + 24: at + 24 + length])
        at += 24 + length
    return out


def chunk(payload, control=0):
    return bytes([control]) + struct.pack("<H", len(payload)) + payload


def journal_seeds():
    testdata = os.path.join(ROOT, "tests", "daemon", "testdata")
    segment = os.path.join(testdata, "journal-v1", "journal-00000000000000000001.seg")
    plain = records(segment)
    snap_dir = os.path.join(testdata, "snapshot-v1")
    snap_records = records(os.path.join(snap_dir, "journal-00000000000000000001.seg"))
    snapshot = open(os.path.join(snap_dir, "snapshot-00000000000000000017.snap"), "rb").read()
    body = snapshot[16:-16]
    all_chunks = b"".join(chunk(p) for p in plain)
    seeds = {
        "raw-journal-v1": bytes([LAYOUT_RAW]) + open(segment, "rb").read(),
        "raw-cut-short": bytes([LAYOUT_RAW]) + open(segment, "rb").read()[:700],
        "records-journal-v1": bytes([LAYOUT_RECORDS | CUT_AND_RECOVER_AGAIN]) + all_chunks,
        "records-two-segments": bytes([LAYOUT_RECORDS | CUT_AND_RECOVER_AGAIN])
        + b"".join(chunk(p, NEW_SEGMENT if i == 3 else 0) for i, p in enumerate(plain)),
        "records-torn-tail": bytes([LAYOUT_RECORDS | CUT_AND_RECOVER_AGAIN])
        + b"".join(chunk(p, TORN if i == len(plain) - 1 else 0) for i, p in enumerate(plain)),
        "records-bad-crc-truncate": bytes([LAYOUT_RECORDS | TRUNCATE | CUT_AND_RECOVER_AGAIN])
        + b"".join(chunk(p, BAD_CRC if i == 4 else 0) for i, p in enumerate(plain)),
        "records-gap": bytes([LAYOUT_RECORDS]) + b"".join(
            chunk(p, SKIP if i == 2 else 0) for i, p in enumerate(plain)),
        "records-stop-before": bytes([LAYOUT_RECORDS | STOP_BEFORE | CUT_AND_RECOVER_AGAIN, 5])
        + all_chunks,
        "records-misnamed-segment": bytes([LAYOUT_RECORDS])
        + b"".join(chunk(p, NEW_SEGMENT | MISNAMED if i == 2 else 0) for i, p in enumerate(plain)),
        "records-longer-length": bytes([LAYOUT_RECORDS | TRUNCATE])
        + b"".join(chunk(p, LONGER if i == 1 else 0) for i, p in enumerate(plain)),
        "after-created": bytes([LAYOUT_AFTER_CREATED | CUT_AND_RECOVER_AGAIN])
        + b"".join(chunk(p) for p in plain[1:]),
        "snapshot-v1": bytes([LAYOUT_SNAPSHOT | CUT_AND_RECOVER_AGAIN, 17]) + chunk(body)
        + b"".join(chunk(p) for p in snap_records),
        "snapshot-v1-journal-ends-before": bytes([LAYOUT_SNAPSHOT, 17]) + chunk(body)
        + b"".join(chunk(p) for p in snap_records[:10]),
        "snapshot-v1-stop-before": bytes([LAYOUT_SNAPSHOT | STOP_BEFORE, 12, 17]) + chunk(body)
        + b"".join(chunk(p) for p in snap_records),
    }
    for i, p in enumerate(plain[:12]):  # each record kind alone after the created one
        seeds[f"after-created-record-{i + 1}"] = bytes([LAYOUT_AFTER_CREATED]) + chunk(p)
    return seeds


def write(harness, seeds):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.startswith("seed-"):
            os.remove(os.path.join(folder, name))
    for name, data in seeds.items():
        with open(os.path.join(folder, f"seed-{name}"), "wb") as out:
            out.write(data)


if __name__ == "__main__":
    write("core_api", CORE_SEEDS)
    write("journal", journal_seeds())
