#!/usr/bin/python3
"""Checks of deploy/, one per CTest test (tests/deploy/CMakeLists.txt).

  check_deploy.py SOURCE_DIR dashboard            Grafana JSON: parses, variables, datasource, contract
  check_deploy.py SOURCE_DIR kubernetes ACDD      manifest: parses, one replica, probes, security, policy,
                                                  volume, TLS and tokens from Secrets; acdd starts with its args
  check_deploy.py SOURCE_DIR rules-contract       alert/recording rules use only contract metrics
  check_deploy.py SOURCE_DIR container ACDD       Containerfile builds with acd.sh's build packages, runs with
                                                  the libraries acdd links; acdd starts with its CMD
  check_deploy.py SOURCE_DIR systemd ACDD         unit: drain vs stop timeout, credentials vs flags; acdd starts
                                                  with its ExecStart; systemd-analyze verify/security
  check_deploy.py SOURCE_DIR promtool ARGS...     promtool ARGS, promtool looked up when the test runs
  check_deploy.py SOURCE_DIR prometheus-config    promtool check config with the TLS and token files in place
  check_deploy.py SOURCE_DIR dashboard-promql     every dashboard query parses (through promtool)

ACDD is the built acdd (acdctl and acdpolicy next to it). "acdd starts" means: the deployed flags,
with their files made in a temp dir (a CA by deploy/tls/make-test-ca.sh, a tokens file) and port 0,
start the real acdd on 0.0.0.0, which it allows only with TLS and tokens.

Uses Debian-packaged modules only (python3-yaml); run with /usr/bin/python3. Exit 0 pass, 1 fail,
77 skipped (CTest SKIP_RETURN_CODE).
"""
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

import yaml

SKIP = 77
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def finish(what):
    if failures:
        for f in failures:
            print(f"FAIL {what}: {f}", file=sys.stderr)
        sys.exit(1)
    print(f"ok {what}")
    sys.exit(0)


def contract_metrics(src):
    """Metric names from the table in metrics/README.md (the contract deploy/ is written against)."""
    text = open(os.path.join(src, "metrics/README.md")).read()
    allowed = {}  # name -> its labels
    for m in re.finditer(r"^\|\s*`(acd_\w+)`\s*\|\s*(\w+)\s*\|([^|]*)\|", text, re.M):
        name, kind, labels = m.group(1), m.group(2), {l.strip() for l in m.group(3).split(",") if l.strip()}
        allowed[name] = labels
        if kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                allowed[name + suffix] = labels
    return allowed


PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "rate", "irate", "increase", "histogram_quantile", "absent", "vector", "bool",
    "offset", "topk", "bottomk", "le", "queue", "state", "outcome", "kind", "window", "method", "code",
    "job", "instance", "reason", "channel", "up", "inf", "nan",
}


def metrics_in(expr):
    """Names in a PromQL expression that look like metrics (label matchers and strings removed)."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)
            if w.lower() not in PROMQL_WORDS and not w.startswith("$")}


def known_metric(name, allowed, recorded):
    return name in allowed or name in recorded or name.startswith("process_")


def dashboard_targets(dash):
    for p in dash["panels"]:
        for q in p.get("panels", []) + [p]:
            for t in q.get("targets", []):
                yield q, t


def cmd_dashboard(src):
    path = os.path.join(src, "deploy/grafana/acd-dashboard.json")
    try:
        dash = json.load(open(path))
    except ValueError as e:
        check(False, f"{path}: not valid JSON: {e}")
        finish("dashboard")
    check(36 <= dash.get("schemaVersion", 0) <= 39, f"schemaVersion {dash.get('schemaVersion')} is not ~38")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    check(variables.get("DS_PROMETHEUS", {}).get("type") == "datasource", "no datasource variable DS_PROMETHEUS")
    q = variables.get("queue", {})
    qdef = q.get("query", {}).get("query") if isinstance(q.get("query"), dict) else q.get("query")
    check(qdef == "label_values(acd_queue_calls_waiting, queue)", f"queue variable query is {qdef!r}")
    ids = [p["id"] for p in dash["panels"]]
    check(len(ids) == len(set(ids)), "panel ids are not unique")
    allowed = contract_metrics(src)
    used = set()
    for p, t in dashboard_targets(dash):
        title = p.get("title")
        check(p.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}", f"panel {title!r}: datasource is not ${{DS_PROMETHEUS}}")
        check(t.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}", f"panel {title!r}: target datasource is not ${{DS_PROMETHEUS}}")
        expr = t.get("expr", "")
        check(expr.strip() != "", f"panel {title!r}: empty query")
        for m in metrics_in(expr):
            used.add(m)
            check(known_metric(m, allowed, set()), f"panel {title!r}: {m} is not in metrics/README.md")
            if "queue" in allowed.get(m, ()):
                check('queue=~"$queue"' in expr, f"panel {title!r}: query ignores the $queue variable: {expr}")
    # The figures the dashboard must show: the wallboard's, plus the flows behind them.
    for must in ["acd_queue_calls_waiting", "acd_queue_oldest_wait_seconds", "acd_oldest_wait_alert_seconds",
                 "acd_queue_ewt_seconds", "acd_agents", "acd_service_level_ratio", "acd_service_level_target_ratio",
                 "acd_asa_seconds", "acd_aht_seconds", "acd_abandon_ratio", "acd_calls_total",
                 "acd_wait_seconds_bucket", "acd_prompts_total", "acd_transfers_total", "acd_callbacks_total",
                 "acd_routing_decision_seconds_bucket", "acd_grpc_requests_total"]:
        check(must in used, f"no panel shows {must}")
    finish("dashboard")


def cmd_dashboard_promql(src, promtool):
    """Every dashboard query, with Grafana's variables filled in, must parse as PromQL."""
    dash = json.load(open(os.path.join(src, "deploy/grafana/acd-dashboard.json")))
    rules = []
    for i, (p, t) in enumerate(dashboard_targets(dash)):
        expr = t["expr"].replace("$__rate_interval", "1m").replace("$queue", "sales|support")
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    check(r.returncode == 0, f"a dashboard query does not parse:\n{r.stdout}{r.stderr}")
    finish(f"dashboard-promql ({len(rules)} queries)")


def drain_timeout(args):
    for a in args:
        m = re.match(r"--drain_timeout_seconds[= ](\S+)", a)
        if m:
            return float(m.group(1))
    return 10.0  # acdd's default (daemon/acdd.cc)


# --- acdd as deployed: its flags, and whether it starts with them --------------------------------

def acdd_flags(acdd):
    """The flags the built acdd defines (from --helpfull)."""
    r = subprocess.run([acdd, "--helpfull"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+--(\w+) \(", r.stdout + r.stderr, re.M))


def flag_values(args):
    """{name: value} of an argument list's --name=value and --name value flags."""
    values, i = {}, 0
    while i < len(args):
        m = re.fullmatch(r"--(\w+)(?:=(.*))?", args[i], re.S)
        if m and m.group(2) is not None:
            values[m.group(1)] = m.group(2)
        elif m and i + 1 < len(args) and not args[i + 1].startswith("--"):
            values[m.group(1)] = args[i + 1]
            i += 1
        elif m:
            values[m.group(1)] = "true"
        i += 1
    return values


def check_flags(args, acdd, where):
    """Every flag in `args` is one acdd knows; off loopback they include TLS and tokens."""
    known = acdd_flags(acdd)
    if not check(known, f"{acdd} --helpfull lists no flags"):
        return
    values = flag_values(args)
    for name in values:
        check(name in known, f"{where}: acdd has no flag --{name}")
    for name in ("tls_cert", "tls_key", "tls_client_ca", "auth_tokens"):
        check(name in values, f"{where}: no --{name} (deploy/ ships mutual TLS and tokens)")
    check("allow_insecure" not in values, f"{where}: --allow_insecure")
    check(values.get("http_tls", "true") == "true", f"{where}: --http_tls is not on")


def make_tls_and_tokens(src, work):
    """A CA, server and client certificates (deploy/tls/make-test-ca.sh) and a tokens file."""
    tls = os.path.join(work, "tls")
    r = subprocess.run([os.path.join(src, "deploy/tls/make-test-ca.sh"), tls],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"make-test-ca.sh failed:\n{r.stdout}{r.stderr}")
    for name in ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key"):
        path = os.path.join(tls, name)
        if check(os.path.exists(path), f"make-test-ca.sh made no {name}") and name.endswith(".key"):
            check(os.stat(path).st_mode & 0o077 == 0, f"make-test-ca.sh left {name} readable by others")
    tokens = os.path.join(work, "tokens")
    with open(tokens, "w") as f:
        f.write("# check_deploy.py\nops admin sha256:%s\n" % hashlib.sha256(b"check-deploy").hexdigest())
    return tls, tokens


def in_work_dir(args, etc, work):
    """`args` with /etc/acd/ read from `etc` and the data dir /var/lib/acd in `work`."""
    return [a.replace("/etc/acd/", etc + "/").replace("/var/lib/acd", os.path.join(work, "data")) for a in args]


def check_acdd_starts(acdd, args, where):
    """acdd with `args` (their files in place) listens, on port 0 instead of the deployed ports."""
    args = [re.sub(r"(^|=)(0\.0\.0\.0|\[::\]):\d+$", r"\g<1>\g<2>:0", a) for a in args]
    process = subprocess.Popen([acdd] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    line = b""
    try:
        while not line.endswith(b"\n") and select.select([process.stdout], [], [], 20)[0]:
            chunk = os.read(process.stdout.fileno(), 1)
            if not chunk:
                break
            line += chunk
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    check(line.startswith(b"acdd listening"),
          f"{where}: acdd did not start with the deployed flags:\n  {shlex.join([acdd] + args)}\n"
          f"{err.decode('utf-8', 'replace')[-2000:]}")


def cmd_kubernetes(src, acdd):
    path = os.path.join(src, "deploy/kubernetes/acd.yaml")
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
    except yaml.YAMLError as e:
        check(False, f"{path}: not valid YAML: {e}")
        finish("kubernetes")
    by_kind = {d["kind"]: d for d in docs}
    check(sorted(by_kind) == ["ConfigMap", "Service", "StatefulSet"], f"kinds are {sorted(by_kind)}")
    cm, dep, svc = by_kind.get("ConfigMap", {}), by_kind.get("StatefulSet", {}), by_kind.get("Service", {})

    policy = open(os.path.join(src, "deploy/policy.example.yaml")).read()
    check(cm.get("data", {}).get("policy.yaml") == policy,
          "ConfigMap policy.yaml differs from deploy/policy.example.yaml (regenerate it, see the file's header)")

    spec = dep.get("spec", {})
    check(spec.get("replicas") == 1, "StatefulSet must run exactly 1 replica (the engine owns the live queue state)")
    check(spec.get("podManagementPolicy") == "OrderedReady",
          "StatefulSet must replace its Pod in order (never two acdd at once)")
    pod = spec.get("template", {}).get("spec", {})
    annotations = spec.get("template", {}).get("metadata", {}).get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == "8080"
          and annotations.get("prometheus.io/scheme") == "https",
          "pod template lacks prometheus.io/scrape, prometheus.io/port: \"8080\" and prometheus.io/scheme: https")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot is not true")
    containers = pod.get("containers", [])
    check(len(containers) == 1, "expected one container")
    c = containers[0] if containers else {}
    args = c.get("args", [])
    check(any(a.startswith("--policy=/etc/acd/policy.yaml") for a in args), "acdd is not given --policy=/etc/acd/policy.yaml")
    check(any(a.endswith(":50051") and "grpc_listen" in a for a in args), "acdd does not listen for gRPC on :50051")
    check(any(a.endswith(":8080") and "http_listen" in a for a in args), "acdd does not listen for HTTP on :8080")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace > drain_timeout(args), f"terminationGracePeriodSeconds {grace} is not above the drain timeout {drain_timeout(args)}")
    # The kubelet's gRPC probe speaks plaintext without a client certificate: it probes the
    # health-only listener, which sees a drain (NOT_SERVING) as the API's health service does.
    check(any(a.endswith(":50052") and "health_listen" in a for a in args),
          "acdd does not serve health checks on :50052 (--health_listen)")
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"]:
        check(c.get(probe, {}).get("grpc", {}).get("port") == 50052, f"{probe} is not a gRPC probe on 50052")
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities do not drop ALL")
    res = c.get("resources", {})
    check("requests" in res and "limits" in res, "container has no resource requests and limits")
    ports = {p["containerPort"]: p.get("name") for p in c.get("ports", [])}
    check(ports.get(50051) and ports.get(8080), f"container ports are {ports}")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    # /etc/acd: one read-only projected volume of the policy ConfigMap and the two Secrets, so that
    # their updates reach the Pod (subPath mounts never update).
    config = mounts.get("/etc/acd", {})
    check(config.get("readOnly") is True and not config.get("subPath"), "/etc/acd is not mounted read-only, whole")
    sources = vols.get(config.get("name"), {}).get("projected", {}).get("sources", [])
    check(sources, "/etc/acd is not a projected volume")
    files = {}  # path under /etc/acd -> (kind, name, key)
    for source in sources:
        for kind in ("configMap", "secret"):
            if kind in source:
                for item in source[kind].get("items", []):
                    files[item["path"]] = (kind, source[kind]["name"], item["key"])
    check(files.get("policy.yaml") == ("configMap", cm.get("metadata", {}).get("name"), "policy.yaml"),
          "/etc/acd/policy.yaml is not the policy ConfigMap's")
    check(any(a == "--data_dir=/var/lib/acd" for a in args), "acdd is not given --data_dir=/var/lib/acd")
    claims = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates", [])}
    check(mounts.get("/var/lib/acd", {}).get("name") in claims, "/var/lib/acd is not on a volume claim of the StatefulSet")

    # TLS and tokens: every file a flag names is in a Secret, and the header says how to make it.
    values = flag_values(args)
    check_flags(args, acdd, "StatefulSet args")
    header = open(path).read().split("\n---", 1)[0]
    for flag in ("tls_cert", "tls_key", "tls_client_ca", "auth_tokens"):
        where = values.get(flag, "")
        kind, name, key = files.get(where[len("/etc/acd/"):] if where.startswith("/etc/acd/") else "", (None,) * 3)
        check(kind == "secret", f"--{flag}={where} is not a file of a Secret in /etc/acd")
        check(kind != "secret" or re.search(rf"kubectl create secret .*{re.escape(name)}.*--from-file={re.escape(key)}=", header, re.S),
              f"the header does not say how to make Secret {name} key {key}")
    with tempfile.TemporaryDirectory() as work:
        tls, tokens = make_tls_and_tokens(src, work)
        made = {"tls.crt": os.path.join(tls, "server.pem"), "tls.key": os.path.join(tls, "server.key"),
                "ca.crt": os.path.join(tls, "ca.pem"), "tokens": tokens,
                "policy.yaml": os.path.join(src, "deploy/policy.example.yaml")}
        etc = os.path.join(work, "etc-acd")
        for path_in_volume, (kind, name, key) in files.items():
            os.makedirs(os.path.dirname(os.path.join(etc, path_in_volume)), exist_ok=True)
            if check(key in made, f"no test file for {kind} {name} key {key}"):
                shutil.copy(made[key], os.path.join(etc, path_in_volume))
        check_acdd_starts(acdd, in_work_dir(args, etc, work), "StatefulSet args")

    sports = {p["port"]: p for p in svc.get("spec", {}).get("ports", [])}
    check(50051 in sports and 8080 in sports, f"Service ports are {sorted(sports)}")
    svc_annotations = svc.get("metadata", {}).get("annotations", {})
    check(svc_annotations.get("prometheus.io/scheme") == "https", "Service lacks prometheus.io/scheme: https")
    check(all(p.get("name") for p in sports.values()), "Service ports must be named (Prometheus selects by name)")
    labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    sel = svc.get("spec", {}).get("selector", {})
    check(sel and all(labels.get(k) == v for k, v in sel.items()), "Service selector does not match the pod labels")
    finish("kubernetes")


def cmd_rules_contract(src):
    rules_doc = yaml.safe_load(open(os.path.join(src, "deploy/prometheus/acd_rules.yml")))
    allowed = contract_metrics(src)
    recorded = {r["record"] for g in rules_doc["groups"] for r in g["rules"] if "record" in r}
    alerts = set()
    for g in rules_doc["groups"]:
        for r in g["rules"]:
            name = r.get("alert") or r.get("record")
            for m in metrics_in(r["expr"]):
                check(known_metric(m, allowed, recorded), f"rule {name}: {m} is not in metrics/README.md")
            if "alert" in r:
                alerts.add(r["alert"])
                ann = r.get("annotations", {})
                check("summary" in ann and "description" in ann, f"alert {name}: needs summary and description")
                check(r.get("labels", {}).get("severity") in ("warning", "critical"), f"alert {name}: severity label")
    tests = yaml.safe_load(open(os.path.join(src, "tests/deploy/acd_rules_test.yml")))
    tested = {t["alertname"] for g in tests["tests"] for t in g.get("alert_rule_test", [])}
    check(alerts <= tested, f"alerts without a unit test in tests/deploy/acd_rules_test.yml: {sorted(alerts - tested)}")
    finish("rules-contract")


def acd_sh_packages(src):
    text = open(os.path.join(src, "acd.sh")).read()
    m = re.search(r"PACKAGES=\(([^)]*)\)", text)
    return re.sub(r"#[^\n]*", "", m.group(1)).split() if m else []


def cmd_container(src, acdd):
    text = open(os.path.join(src, "deploy/container/Containerfile")).read()
    stages = re.split(r"^FROM\s+", text, flags=re.M)[1:]
    check(len(stages) == 2, f"expected a build and a runtime stage, found {len(stages)}")
    if len(stages) == 2:
        build, runtime = stages
        check(build.startswith("docker.io/library/debian:12") and runtime.startswith("docker.io/library/debian:12"),
              "both stages must be Debian 12")
        # Build tools and -dev packages acd.sh installs must be in the build stage; test-only ones
        # (python3-*, prometheus, a browser, ...) need not.
        pkgs = acd_sh_packages(src)
        check(pkgs, "could not read PACKAGES from acd.sh")
        for p in pkgs:
            if p.endswith("-dev") or p in ("build-essential", "cmake", "ninja-build", "pkg-config") or p.startswith("protobuf-compiler"):
                check(re.search(rf"(?<![\w.+-]){re.escape(p)}(?![\w.+-])", build), f"build stage lacks {p} (in acd.sh's PACKAGES)")
        runtime_code = re.sub(r"#[^\n]*", "", runtime)
        check(not re.search(r"-dev\b", runtime_code), "runtime stage installs -dev packages")
        check(re.search(r"^USER\s+(?!0\b|root\b)\S+", runtime, re.M), "runtime stage does not switch to a non-root USER")
        check("/etc/acd/policy.yaml" in runtime, "runtime stage has no /etc/acd/policy.yaml")
        check(re.search(r"^EXPOSE\s+.*\b50051\b.*\b8080\b", runtime, re.M), "runtime stage does not EXPOSE 50051 and 8080")
        check_runtime_libraries(runtime_code, acdd)
        joined = re.sub(r"\\\n", " ", runtime_code)
        cmd = re.search(r"^CMD\s+(\[.*\])\s*$", joined, re.M)
        if check(cmd, "runtime stage has no CMD [...] (exec form)"):
            args = json.loads(cmd.group(1))
            check_flags(args, acdd, "CMD")
            with tempfile.TemporaryDirectory() as work:
                tls, tokens = make_tls_and_tokens(src, work)
                # The image's /etc/acd: its policy, and the TLS directory and tokens file mounted.
                etc = os.path.join(work, "etc-acd")
                os.mkdir(etc)
                shutil.copy(os.path.join(src, "deploy/policy.example.yaml"), os.path.join(etc, "policy.yaml"))
                shutil.copytree(tls, os.path.join(etc, "tls"))
                shutil.copy(tokens, os.path.join(etc, "tokens"))
                check_acdd_starts(acdd, in_work_dir(args, etc, work), "CMD")
    finish("container")


# Libraries every debian:12-slim has (libc6 is essential; apt needs the C++ runtime): the runtime
# stage need not install them.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


def packages_of(libraries):
    """{library: Debian package holding it}, in one dpkg query (dpkg knows /lib and /usr/lib apart)."""
    candidates = {}
    for library in libraries:
        real = os.path.realpath(library)
        for path in (library, real):
            candidates.setdefault(path, library)
            if path.startswith("/usr/lib/"):
                candidates.setdefault(path[len("/usr"):], library)
            elif path.startswith("/lib/"):
                candidates.setdefault("/usr" + path, library)
    r = subprocess.run(["dpkg", "-S"] + sorted(candidates), capture_output=True, text=True)
    found = {}
    for line in r.stdout.splitlines():
        package, _, path = line.partition(": ")
        if path in candidates:
            found[candidates[path]] = package.split(":")[0].split(",")[0]
    return found


def check_runtime_libraries(runtime, acdd):
    """The runtime stage installs the package of every library the built binaries link, and no others."""
    installed = set()
    for m in re.finditer(r"apt-get install((?:\\\n|[^\n])*)", runtime):
        words = re.sub(r"\\\n", " ", m.group(1)).split("&&")[0].split()
        installed |= {w for w in words if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w)}
    libraries = set()
    for binary in [os.path.join(os.path.dirname(acdd), b) for b in ("acdd", "acdctl", "acdpolicy")]:
        r = subprocess.run(["ldd", binary], capture_output=True, text=True)
        check(r.returncode == 0, f"ldd {binary}: {r.stderr}")
        libraries |= set(re.findall(r"=>\s+(/\S+)", r.stdout))
    packages = packages_of(libraries)
    for library in sorted(libraries - set(packages)):
        check(False, f"no Debian package holds {library}, which a built binary links")
    needed = set(packages.values())
    missing = needed - installed - BASE_IMAGE_PACKAGES
    check(not missing, f"runtime stage lacks {sorted(missing)} (the built binaries link them)")
    libraries_installed = {p for p in installed if p.startswith("lib") or p == "zlib1g"}
    check(not libraries_installed - needed,
          f"runtime stage installs {sorted(libraries_installed - needed)}, which no built binary links")


def unit_settings(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def cmd_systemd(src, acdd):
    unit_path = os.path.join(src, "deploy/systemd/acdd.service")
    env_path = os.path.join(src, "deploy/systemd/acdd.env")
    unit = open(unit_path).read()
    s = unit_settings(unit)
    env = unit_settings(open(env_path).read())
    drain = float(env.get("ACD_DRAIN_TIMEOUT_SECONDS", ["10"])[0])
    stop = float(re.sub(r"s$", "", s.get("TimeoutStopSec", ["90"])[0]))
    check(stop > drain, f"TimeoutStopSec={stop} is not above ACD_DRAIN_TIMEOUT_SECONDS={drain}")
    for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                      ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""), ("MemoryDenyWriteExecute", "yes"),
                      ("SystemCallFilter", "@system-service"), ("Restart", "on-failure"), ("KillSignal", "SIGTERM"),
                      ("ReadOnlyPaths", "/etc/acd"), ("StateDirectory", "acd")]:
        check(want in s.get(key, []), f"{key}={want} missing")
    check(any("-HUP" in v for v in s.get("ExecReload", [])), "ExecReload does not send SIGHUP")
    check(any("--data_dir ${STATE_DIRECTORY}" in v for v in s.get("ExecStart", [])),
          "ExecStart does not keep the journal in the StateDirectory (--data_dir ${STATE_DIRECTORY})")
    for var in ["ACD_POLICY", "ACD_GRPC_LISTEN", "ACD_HTTP_LISTEN", "ACD_DRAIN_TIMEOUT_SECONDS", "ACD_AUTH_TOKENS"]:
        check(var in env, f"{env_path} does not set {var}")

    # Credentials: each LoadCredential= is what one TLS flag reads, from the files make-test-ca.sh
    # makes in /etc/acd/tls; the tokens file stays in /etc/acd (credentials are copied at start, and
    # a SIGHUP must see a changed tokens file).
    credentials = dict(v.split(":", 1) for v in s.get("LoadCredential", []))
    exec_start = s.get("ExecStart", [""])[0]
    used = set(re.findall(r"\$\{CREDENTIALS_DIRECTORY\}/([\w.-]+)", exec_start))
    check(used == set(credentials), f"credentials loaded {sorted(credentials)} but ExecStart reads {sorted(used)}")
    from_ca_script = {"tls_cert": "server.pem", "tls_key": "server.key", "tls_client_ca": "ca.pem"}
    for flag, made in from_ca_script.items():
        m = re.search(rf"--{flag}[ =]\$\{{CREDENTIALS_DIRECTORY\}}/([\w.-]+)", exec_start)
        if check(m, f"ExecStart does not read --{flag} from a credential"):
            check(credentials.get(m.group(1)) == "/etc/acd/tls/" + made,
                  f"--{flag}'s credential {m.group(1)} is not loaded from /etc/acd/tls/{made}")
    check("--auth_tokens ${ACD_AUTH_TOKENS}" in exec_start, "ExecStart does not pass --auth_tokens ${ACD_AUTH_TOKENS}")
    tokens_file = env.get("ACD_AUTH_TOKENS", [""])[0]
    check(tokens_file.startswith("/etc/acd/") and not tokens_file.startswith("/etc/acd/tls/"),
          f"ACD_AUTH_TOKENS={tokens_file} is not a file of /etc/acd (ReadOnlyPaths) outside the root-only tls/")
    # ExecStart as systemd expands it, with the files in a temp dir: known flags, and acdd starts.
    with tempfile.TemporaryDirectory() as work:
        tls, tokens = make_tls_and_tokens(src, work)
        creds = os.path.join(work, "credentials")
        os.mkdir(creds)
        for cred_id, source in credentials.items():
            made = os.path.join(tls, os.path.basename(source))
            if check(source.startswith("/etc/acd/tls/") and os.path.exists(made),
                     f"LoadCredential {cred_id}:{source} is not a file make-test-ca.sh makes in /etc/acd/tls"):
                shutil.copy(made, os.path.join(creds, cred_id))
        variables = {k: v[0] for k, v in env.items()}
        variables.update({"STATE_DIRECTORY": os.path.join(work, "state"), "CREDENTIALS_DIRECTORY": creds,
                          "ACD_AUTH_TOKENS": tokens, "ACD_POLICY": os.path.join(src, "deploy/policy.example.yaml")})
        words = []
        for word in exec_start.split()[1:]:
            if re.fullmatch(r"\$\w+", word):
                words += variables.get(word[1:], "").split()
                continue
            for name in re.findall(r"\$\{(\w+)\}", word):
                check(name in variables, f"ExecStart uses ${{{name}}}, which neither {env_path} nor systemd sets")
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), ""), word))
        check_flags(words, acdd, "ExecStart")
        check_acdd_starts(acdd, words, "ExecStart")

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        if failures:
            finish("systemd")
        print("SKIP systemd-analyze verify/security: systemd-analyze not found (Debian package systemd)")
        sys.exit(SKIP)
    # Verify the unit as it would run: ExecStart pointing at the built acdd, the example env file.
    with tempfile.TemporaryDirectory() as d:
        test_unit = os.path.join(d, "acdd.service")
        text = unit.replace("/usr/local/bin/acdd", os.path.abspath(acdd)).replace(
            "EnvironmentFile=/etc/acd/acdd.env", f"EnvironmentFile={os.path.abspath(env_path)}")
        open(test_unit, "w").write(text)
        r = subprocess.run([analyze, "verify", test_unit], capture_output=True, text=True)
        check(r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify:\n{r.stdout}{r.stderr}")
        # Exposure 0 (locked down) .. 10 (unprotected); the unit scores ~1.2. Fail if hardening slips
        # past 2.0 (--threshold counts tenths: 20).
        r = subprocess.run([analyze, "security", "--offline=true", "--threshold=20", test_unit],
                           capture_output=True, text=True)
        score = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
        print(f"systemd-analyze security: exposure {score.group(1) if score else '?'}")
        check(r.returncode == 0, f"systemd-analyze security exposure above 2:\n{r.stdout[-2000:]}{r.stderr}")
    finish("systemd")


def cmd_prometheus_config(src, promtool):
    """promtool check config on prometheus.yml as installed: its TLS and token files in place."""
    path = os.path.join(src, "deploy/prometheus/prometheus.yml")
    text = open(path).read()
    config = yaml.safe_load(text)
    jobs = {j["job_name"]: j for j in config.get("scrape_configs", [])}
    acd = jobs.get("acd", {})
    check(acd.get("scheme") == "https", "job acd does not scrape over https")
    files = {"ca_file": acd.get("tls_config", {}).get("ca_file", ""),
             "credentials_file": acd.get("authorization", {}).get("credentials_file", "")}
    for key, where in files.items():
        check(where.startswith("/etc/prometheus/acd/"), f"job acd: {key} {where!r} is not under /etc/prometheus/acd/")
    check(acd.get("authorization", {}).get("type", "Bearer") == "Bearer", "job acd: authorization is not Bearer")
    check(re.search(r"#\s*basic_auth:\s*\n\s*#\s*username:.*\n\s*#\s*password_file: /etc/prometheus/acd/", text),
          "prometheus.yml does not show basic_auth (username, password_file) as the alternative")
    with tempfile.TemporaryDirectory() as work:
        tls, _ = make_tls_and_tokens(src, work)
        shutil.copy(os.path.join(tls, "ca.pem"), os.path.join(work, os.path.basename(files["ca_file"])))
        with open(os.path.join(work, os.path.basename(files["credentials_file"])), "w") as f:
            f.write("acd_a-monitor-token\n")
        installed = os.path.join(work, "prometheus.yml")
        with open(installed, "w") as f:
            f.write(text.replace("/etc/prometheus/acd/", work + "/"))
        for rules in config.get("rule_files", []):
            shutil.copy(os.path.join(src, "deploy/prometheus", rules), os.path.join(work, rules))
        r = subprocess.run([promtool, "check", "config", installed], capture_output=True, text=True)
        check(r.returncode == 0, f"promtool check config:\n{r.stdout}{r.stderr}")
    finish("prometheus-config")


def find_promtool():
    p = shutil.which("promtool")
    if not p:
        print("FAIL: promtool not found. It comes with Debian's prometheus package: "
              "apt-get install --no-install-recommends prometheus (acd.sh installs it).", file=sys.stderr)
        sys.exit(1)
    return p


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    src, what, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if what == "dashboard":
        cmd_dashboard(src)
    elif what == "dashboard-promql":
        cmd_dashboard_promql(src, find_promtool())
    elif what == "kubernetes":
        cmd_kubernetes(src, rest[0])
    elif what == "rules-contract":
        cmd_rules_contract(src)
    elif what == "container":
        cmd_container(src, rest[0])
    elif what == "systemd":
        cmd_systemd(src, rest[0])
    elif what == "prometheus-config":
        cmd_prometheus_config(src, find_promtool())
    elif what == "promtool":
        promtool = find_promtool()
        r = subprocess.run([promtool] + rest, cwd=src)
        sys.exit(r.returncode)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
