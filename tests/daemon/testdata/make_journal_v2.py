#!/usr/bin/python3
"""Writes tests/daemon/testdata/journal-v2: the center of journal-v1 (two agents, four calls to
sales, the first answered by fx-ann, fx-bob made not ready for training) journaled by a real acdd
in the second journal format, then killed with SIGKILL, so that its segment ends in the zeros of
the window acdd had prepared for more records (the first 8 KiB of them: see below). journal_fixture_test.cc recovers it; every later
release must. Run once, from the source dir, with a built tree:

  /usr/bin/python3 tests/daemon/testdata/make_journal_v2.py build/bin/acdd build/acd_v1.desc
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integration"))

import grpc  # noqa: E402

import python_client_test as base  # noqa: E402

TIMEOUT = 10


def main(acdd_path, descriptor_set):
    source = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    out = os.path.join(source, "tests", "daemon", "testdata", "journal-v2")
    api = base.Api(descriptor_set)
    work = tempfile.mkdtemp(prefix="journal-v2-")
    data = os.path.join(work, "data")
    policy = os.path.join(work, "center.yaml")
    shutil.copy(os.path.join(source, "tests", "integration", "testdata", "center.yaml"), policy)
    acdd = subprocess.Popen([acdd_path, "--grpc_listen", "127.0.0.1:0", "--http_listen",
                             "127.0.0.1:0", "--policy", policy, "--data_dir", data,
                             "--snapshot_every_records=0", "--snapshot_every=0"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = base.read_line(acdd.stdout, TIMEOUT)
    address = re.fullmatch(r"acdd listening grpc=(\S+) http=\S+", line).group(1)
    channel = grpc.insecure_channel(address)
    rpc = api.bind(channel)

    def login(agent_id, ready):
        request = api.LoginRequest(agent_id=agent_id, ready=ready)
        request.skills.add(skill="sales", proficiency=3)
        rpc.Login(request, timeout=TIMEOUT)

    login("fx-ann", True)
    login("fx-bob", False)
    for i in range(1, 5):
        rpc.EnqueueCall(api.EnqueueCallRequest(switch_id="sw-fixture", call_id="fx-%d" % i,
                                               queue="sales"), timeout=TIMEOUT)
    rpc.ReportCallEvent(api.CallEvent(switch_id="sw-fixture", call_id="fx-1", agent_id="fx-ann",
                                      offer_accepted={}), timeout=TIMEOUT)
    not_ready = api.SetAgentStateRequest(agent_id="fx-bob")
    not_ready.not_ready.reason = "training"
    rpc.SetAgentState(not_ready, timeout=TIMEOUT)
    channel.close()
    acdd.kill()  # SIGKILL: no clean stop cuts the window's zeros off
    acdd.wait(timeout=TIMEOUT)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(data, out)
    # The window is 2 MiB of zeros; 8 KiB of them say the same to a reader and keep the
    # repository small.
    for name in os.listdir(out):
        path = os.path.join(out, name)
        with open(path, "rb") as f:
            written = len(f.read().rstrip(b"\0"))
        os.truncate(path, min(os.path.getsize(path), written + 8192))
    shutil.rmtree(work)
    print("wrote", out, sorted(os.listdir(out)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
