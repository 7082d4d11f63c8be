"""EtcdCluster runs real etcd members (/usr/bin/etcd) on free loopback ports for Python tests of
what depends on etcd, and breaks them on demand; the twin of etcd_cluster.h. Members are numbered
0..size-1 (etcd calls them m1..mN).

    with EtcdCluster() as etcd:            # three members, healthy, or RuntimeError
        leader = etcd.leader()
        etcd.kill(leader)                  # the other two elect a new leader

Data dirs live in /dev/shm and go with the cluster; each member's log (DATA_DIR.log) is kept only
when the with-block raised (or close(keep_logs=True)), and its path printed. Run as a script, it
checks itself against real etcd and exits 0 or 1.
"""

import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ETCD = "/usr/bin/etcd"
# etcd's own /health waits up to 1 s for a quorum read before it says false; wait a little more so
# a member without quorum answers "false" rather than looking stopped.
HEALTH_PATIENCE = 2.0
START_PATIENCE = 10.0


def _free_ports(count):
    """Ports the kernel hands out for 127.0.0.1:0, all bound at once so that none repeats, then
    released for etcd to take. Never 2379/2380, where a system etcd may listen."""
    held, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in (2379, 2380):
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _die_with_parent():
    """In the member between fork and exec: killed if this process dies (a crashed or timed-out
    test leaves no etcd running). Linux ties this to the thread that started the member, so start
    clusters on a thread that outlives them."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class EtcdCluster:
    def __init__(self, members=3):
        self._dirs, self._logs, self._argv, self._procs, self._paused = [], [], [], [], []
        try:
            for _ in range(members):
                d = tempfile.mkdtemp(prefix="acd-etcd-", dir="/dev/shm")
                self._dirs.append(d)
                self._logs.append(d + ".log")
            ports = _free_ports(2 * members)
            self._client_ports = ports[0::2]
            self._peer_ports = ports[1::2]
            initial = ",".join("%s=%s" % (self._name(i), self._peer_url(i)) for i in range(members))
            # The first data dir's name is unique on this machine, so it makes a unique token.
            token = os.path.basename(self._dirs[0])
            for i in range(members):
                client_url = "http://" + self.endpoint(i)
                self._argv.append([
                    ETCD, "--name", self._name(i), "--data-dir", self._dirs[i],
                    "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                    "--listen-peer-urls", self._peer_url(i),
                    "--initial-advertise-peer-urls", self._peer_url(i),
                    "--initial-cluster", initial, "--initial-cluster-state", "new",
                    "--initial-cluster-token", token,
                    "--heartbeat-interval", "50", "--election-timeout", "250",
                    "--logger", "zap", "--log-level", "warn"])
                self._procs.append(None)
                self._paused.append(False)
            # One at a time: a new member asks its peers whether it was bootstrapped already, and
            # a peer that has bound its port but does not serve yet holds that question for etcd's
            # bootstrap timeout (1 s), which a simultaneous start hits about one time in four.
            deadline = time.monotonic() + START_PATIENCE
            for i in range(members):
                self._start(i)
                self._wait_serving_peers(i, deadline)
            for i in range(members):
                if not self.wait_healthy(i, max(0.0, deadline - time.monotonic())):
                    if self._procs[i].poll() is not None:
                        what = "exited before it was healthy"
                    else:
                        what = "not healthy within %g s" % START_PATIENCE
                    raise RuntimeError("etcd member %s (%s) %s; the end of %s:\n%s" % (
                        self._name(i), self.endpoint(i), what, self._logs[i], self.log_tail(i)))
        except BaseException:
            self.close(keep_logs=True)
            raise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(keep_logs=exc_type is not None)
        return False

    @property
    def size(self):
        return len(self._argv)

    @property
    def endpoints(self):
        """"127.0.0.1:C1,127.0.0.1:C2,...", the form etcd clients take."""
        return ",".join(self.endpoint(i) for i in range(self.size))

    def endpoint(self, i):
        return "127.0.0.1:%d" % self._client_ports[i]

    def pid(self, i):
        """The member's process id, or None once killed."""
        p = self._procs[i]
        return p.pid if p is not None else None

    def data_dir(self, i):
        return self._dirs[i]

    def log_path(self, i):
        return self._logs[i]

    def kill(self, i):
        """SIGKILL, and waits for the member to be gone. Nothing happens to one already killed."""
        p = self._procs[i]
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)  # a stopped process dies of SIGKILL too, but then at once
            p.kill()
        p.wait()
        self._procs[i] = None
        self._paused[i] = False

    def pause(self, i):
        """SIGSTOP: the member's sockets stay open and accept, but it answers nothing. Returns once
        every thread has stopped (kill() returns before; a thread still running may answer one
        more request)."""
        p = self._procs[i]
        if p is None or self._paused[i] or p.poll() is not None:
            return
        p.send_signal(signal.SIGSTOP)
        os.waitpid(p.pid, os.WUNTRACED)
        self._paused[i] = True

    def resume(self, i):
        if self._procs[i] is not None:
            self._procs[i].send_signal(signal.SIGCONT)
            self._paused[i] = False

    def restart(self, i):
        """Starts the member again with the same command on its data dir (etcd then ignores the
        --initial-* flags and rejoins as itself); kills it first if it still runs. Does not wait:
        ask wait_healthy."""
        self.kill(i)
        self._start(i)

    def healthy(self, i, patience=HEALTH_PATIENCE):
        """One GET /health: true when the member answers {"health":"true"} within `patience`."""
        try:
            url = "http://%s/health" % self.endpoint(i)
            with urllib.request.urlopen(url, timeout=patience) as r:
                body = r.read()
        except urllib.error.HTTPError as e:  # 503 with {"health":"false"}
            e.close()
            return False
        except (OSError, ValueError, http.client.HTTPException):  # refused, timed out, reset
            return False
        try:
            return json.loads(body).get("health") == "true"
        except ValueError:
            return False

    def wait_healthy(self, i, timeout):
        """Asks healthy() until it says true, at least once; false after `timeout` seconds, or as
        soon as the member's process has ended."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self.healthy(i, min(max(left, 0.1), HEALTH_PATIENCE)):
                return True
            p = self._procs[i]
            if p is None or p.poll() is not None or left <= 0.05:
                return False
            time.sleep(0.05)

    def leader(self):
        """The member that is etcd's raft leader, asked of every member neither killed nor paused
        (POST /v3/maintenance/status: a member leads when its member_id is the leader it
        reports). If two claim it, the one of the later term; None when none does."""
        best, best_term = None, -1
        for i in range(self.size):
            if self._procs[i] is None or self._paused[i]:
                continue
            request = urllib.request.Request(
                "http://%s/v3/maintenance/status" % self.endpoint(i), data=b"{}",
                headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=1.0) as r:
                    status = json.loads(r.read())
            except (OSError, ValueError, http.client.HTTPException):
                continue
            member = status.get("header", {}).get("member_id")
            term = int(status.get("raftTerm", 0))
            if member and member == status.get("leader") and term > best_term:
                best, best_term = i, term
        return best

    def log_tail(self, i, size=3000):
        """The last `size` characters of member i's log, to say why it failed."""
        try:
            with open(self._logs[i], errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        return "..." + text[-size:] if len(text) > size else text

    def close(self, keep_logs=False):
        """Stops every member still running (a paused one is continued first), removes the data
        dirs, and removes the logs unless `keep_logs`. Safe to call twice."""
        for i in range(len(self._procs)):
            self.kill(i)
        for i, (d, log) in enumerate(zip(self._dirs, self._logs)):
            shutil.rmtree(d, ignore_errors=True)
            if not os.path.exists(log):
                continue
            if keep_logs:
                print("etcd member %s's log kept: %s" % (self._name(i), log), file=sys.stderr)
            else:
                os.remove(log)
        self._dirs, self._logs = [], []

    def _name(self, i):
        return "m%d" % (i + 1)

    def _peer_url(self, i):
        return "http://127.0.0.1:%d" % self._peer_ports[i]

    def _wait_serving_peers(self, i, deadline):
        """Until member i answers on its peer port (GET /version there needs no quorum), it has
        ended, or `deadline`."""
        url = "http://127.0.0.1:%d/version" % self._peer_ports[i]
        while self._procs[i].poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=0.05):
                    return
            except urllib.error.HTTPError:
                return
            except (OSError, ValueError, http.client.HTTPException):
                time.sleep(0.01)

    def _start(self, i):
        """The member in its own session, its stdout and stderr appended to its log."""
        with open(self._logs[i], "ab") as log:
            self._procs[i] = subprocess.Popen(
                self._argv[i], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        self._paused[i] = False


def _wait_for_leader(etcd, not_this, timeout):
    deadline = time.monotonic() + timeout
    while True:
        leader = etcd.leader()
        if leader is not None and leader != not_this:
            return leader
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _self_check():
    """Three members come up with a leader; killing it, the other two elect another and stay
    healthy; afterwards nothing is left behind."""
    started = time.monotonic()
    with EtcdCluster() as etcd:
        dirs = [etcd.data_dir(i) for i in range(etcd.size)]
        pids = [etcd.pid(i) for i in range(etcd.size)]
        print("healthy: %s after %.2f s" % (etcd.endpoints, time.monotonic() - started))
        old = _wait_for_leader(etcd, None, 2.0)
        if old is None:
            raise AssertionError("no member leads")
        etcd.kill(old)
        killed = time.monotonic()
        new = _wait_for_leader(etcd, old, 3.0)
        if new is None:
            raise AssertionError("no new leader 3 s after the leader (m%d) was killed" % (old + 1))
        print("leader m%d killed; m%d leads %.2f s later" % (old + 1, new + 1,
                                                           time.monotonic() - killed))
        for i in range(etcd.size):
            if i != old and not etcd.wait_healthy(i, 2.0):
                raise AssertionError("m%d unhealthy after the leader was killed" % (i + 1))
    for d, pid in zip(dirs, pids):
        if os.path.exists(d) or os.path.exists(d + ".log"):
            raise AssertionError("left behind: %s" % d)
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if d.encode() in f.read():
                    raise AssertionError("etcd on %s still runs as pid %d" % (d, pid))
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    try:
        _self_check()
    except Exception as e:  # pylint: disable=broad-except
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("PASS")
    sys.exit(0)
