#!/usr/bin/python3
"""The wallboard in a real browser, and acdd's metrics in real Prometheus tools.
  /usr/bin/python3 wallboard_test.py ACDD_PATH DESCRIPTOR_SET SOURCE_DIR [unittest args]
Environment: ACD_SCREENSHOT (where to save the wallboard's screenshot; default: none).
- Debian's headless Chromium (--headless --no-sandbox --disable-gpu) loads /wallboard from the real
  acdd, shows the queues of the running policy, and its numbers change when calls arrive.
- promtool checks a live /metrics scrape; Debian's Prometheus server scrapes acdd on loopback and
  a queue figure is read back through Prometheus' HTTP API.
"""
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as harness  # noqa: E402  (the acdd process and the gRPC client)

CHROMIUM = shutil.which("chromium")
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def chromium(url, *flags):
    """Runs headless Chromium on `url`; returns its stdout (the DOM with --dump-dom)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--user-data-dir=" + profile, "--virtual-time-budget=4000", *flags, url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90, check=False)
    if result.returncode != 0:
        raise AssertionError("chromium exited %d: %s" % (result.returncode,
                                                         result.stderr.decode()[-2000:]))
    return result.stdout.decode("utf-8", "replace")


def tile_figures(dom):
    """{queue: {figure class: text}} from the wallboard's DOM."""
    tiles = {}
    for match in re.finditer(r'<section class="queue[^"]*" data-queue="([^"]+)">(.*?)</section>',
                             dom, re.S):
        figures = {}
        for cls, text in re.findall(r'<div class="value ([a-z]+)[^"]*">([^<]*)</div>',
                                    match.group(2)):
            figures[cls] = html.unescape(text)
        for state, count in re.findall(r'<b class="agents-([a-z_]+)">(\d+)</b>', match.group(2)):
            figures["agents_" + state] = count
        tiles[html.unescape(match.group(1))] = figures
    return tiles


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WallboardTest(harness.AcddTestCase):
    POLICY = "metrics.yaml"

    def enqueue(self, call_id, queue_name):
        self.rpc.EnqueueCall(self.enqueue_request("wall", call_id, queue_name),
                             timeout=harness.RPC_TIMEOUT_SECONDS)

    def require(self, tool, package):
        if not tool:
            self.fail("%s is not installed: apt-get install --no-install-recommends %s "
                      "(./acd.sh test does)" % (package, package))

    def test_the_wallboard_shows_the_policys_queues_and_follows_arriving_calls(self):
        self.require(CHROMIUM, "chromium")
        url = "http://%s/wallboard" % self.http_address
        before = tile_figures(chromium(url, "--dump-dom"))
        self.assertEqual(sorted(before), ["sales", "support"], "the queues of the running policy")
        self.assertEqual(before["sales"]["waiting"], "0")

        for n in range(3):
            self.enqueue("wall-%d" % n, "sales")
        self.login("wall-agent", "sales", 3)  # rings with wall-0 at once
        self.enqueue("wall-9", "sales")  # the agent is offered the longest waiter: 3 stay waiting
        time.sleep(1.5)  # acdd refreshes the board's figures once a second

        screenshot = os.environ.get("ACD_SCREENSHOT")
        after = tile_figures(chromium(url, "--dump-dom"))
        self.assertEqual(after["sales"]["waiting"], "3", after)
        self.assertNotEqual(after["sales"]["oldest"], "–", "a longest wait is shown")
        self.assertEqual(after["sales"]["agents_reserved"], "1", after)
        self.assertEqual(after["support"]["waiting"], "0")
        if screenshot:
            chromium(url, "--screenshot=" + screenshot, "--window-size=1920,1080")
            self.assertGreater(os.path.getsize(screenshot), 10000, "a real screenshot")
        self.assertEqual(self.stop_acdd(), 0)

    def test_a_live_scrape_passes_promtool_check_metrics(self):
        self.require(PROMTOOL, "prometheus")
        self.enqueue("lint-1", "sales")
        time.sleep(1.2)
        status, body = http_get("http://%s/metrics" % self.http_address)
        self.assertEqual(status, 200)
        self.assertIn('acd_queue_calls_waiting{queue="sales"} 1', body)
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=body.encode(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(lint.returncode, 0, lint.stdout.decode())
        self.assertEqual(self.stop_acdd(), 0)

    def test_prometheus_scrapes_acdd_and_answers_a_queue_figure(self):
        self.require(PROMETHEUS, "prometheus")
        self.enqueue("prom-1", "sales")
        self.enqueue("prom-2", "sales")
        port = free_port()
        with tempfile.TemporaryDirectory() as data:
            config = os.path.join(data, "prometheus.yml")
            with open(config, "w") as f:
                f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                        "scrape_configs:\n"
                        "  - job_name: acd\n"
                        "    static_configs: [{targets: ['%s']}]\n" % self.http_address)
            log = open(os.path.join(data, "prometheus.log"), "w+")
            server = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + config, "--storage.tsdb.path=" + data + "/tsdb",
                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
            try:
                query = urllib.parse.urlencode({"query": 'acd_queue_calls_waiting{queue="sales"}'})
                url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, query)
                deadline = time.monotonic() + 60
                values = []
                while time.monotonic() < deadline:
                    try:
                        _, body = http_get(url)
                        values = [r["value"][1] for r in json.loads(body)["data"]["result"]]
                        if values:
                            break
                    except OSError:
                        pass  # Prometheus is still starting
                    time.sleep(0.5)
                log.seek(0)
                self.assertEqual(values, ["2"], "what Prometheus scraped from acdd; its log:\n" +
                                 log.read()[-2000:])
                _, targets = http_get("http://127.0.0.1:%d/api/v1/targets" % port)
                health = [t["health"] for t in json.loads(targets)["data"]["activeTargets"]]
                self.assertEqual(health, ["up"])
            finally:
                server.terminate()
                server.wait(timeout=30)
                log.close()
        self.assertEqual(self.stop_acdd(), 0)


if __name__ == "__main__":
    harness.main(module=__name__)
