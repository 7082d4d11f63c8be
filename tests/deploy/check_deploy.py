#!/usr/bin/python3
"""Checks of deploy/ that need no running acdd, one per CTest test (tests/deploy/CMakeLists.txt).

  check_deploy.py SOURCE_DIR dashboard            Grafana JSON: parses, variables, datasource, contract
  check_deploy.py SOURCE_DIR kubernetes           manifest: parses, one replica, probes, security, policy, volume
  check_deploy.py SOURCE_DIR rules-contract       alert/recording rules use only contract metrics
  check_deploy.py SOURCE_DIR container            Containerfile builds with acd.sh's build packages
  check_deploy.py SOURCE_DIR systemd ACDD_BINARY  unit: drain vs stop timeout; systemd-analyze verify/security
  check_deploy.py SOURCE_DIR promtool ARGS...     promtool ARGS, promtool looked up when the test runs
  check_deploy.py SOURCE_DIR dashboard-promql     every dashboard query parses (through promtool)

Uses Debian-packaged modules only (python3-yaml); run with /usr/bin/python3. Exit 0 pass, 1 fail,
77 skipped (CTest SKIP_RETURN_CODE).
"""
import json
import os
import re
import shutil
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


def cmd_kubernetes(src):
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
    check(annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == "8080",
          "pod template lacks prometheus.io/scrape and prometheus.io/port: \"8080\"")
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
    for probe in ["livenessProbe", "readinessProbe"]:
        check(c.get(probe, {}).get("grpc", {}).get("port") == 50051, f"{probe} is not a gRPC probe on 50051")
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities do not drop ALL")
    res = c.get("resources", {})
    check("requests" in res and "limits" in res, "container has no resource requests and limits")
    ports = {p["containerPort"]: p.get("name") for p in c.get("ports", [])}
    check(ports.get(50051) and ports.get(8080), f"container ports are {ports}")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    check(vols.get(mounts.get("/etc/acd"), {}).get("configMap", {}).get("name") == cm.get("metadata", {}).get("name"),
          "/etc/acd is not the policy ConfigMap")
    check(any(a == "--data_dir=/var/lib/acd" for a in args), "acdd is not given --data_dir=/var/lib/acd")
    claims = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates", [])}
    check(mounts.get("/var/lib/acd") in claims, "/var/lib/acd is not on a volume claim of the StatefulSet")

    sports = {p["port"]: p for p in svc.get("spec", {}).get("ports", [])}
    check(50051 in sports and 8080 in sports, f"Service ports are {sorted(sports)}")
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


def cmd_container(src):
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
    finish("container")


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
    for var in ["ACD_POLICY", "ACD_GRPC_LISTEN", "ACD_HTTP_LISTEN", "ACD_DRAIN_TIMEOUT_SECONDS"]:
        check(var in env, f"{env_path} does not set {var}")

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
        # Exposure 0 (locked down) .. 10 (unprotected); the unit scores ~1.1. Fail if hardening slips
        # past 2.0 (--threshold counts tenths: 20).
        r = subprocess.run([analyze, "security", "--offline=true", "--threshold=20", test_unit],
                           capture_output=True, text=True)
        score = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
        print(f"systemd-analyze security: exposure {score.group(1) if score else '?'}")
        check(r.returncode == 0, f"systemd-analyze security exposure above 2:\n{r.stdout[-2000:]}{r.stderr}")
    finish("systemd")


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
        cmd_kubernetes(src)
    elif what == "rules-contract":
        cmd_rules_contract(src)
    elif what == "container":
        cmd_container(src)
    elif what == "systemd":
        cmd_systemd(src, rest[0])
    elif what == "promtool":
        promtool = find_promtool()
        r = subprocess.run([promtool] + rest, cwd=src)
        sys.exit(r.returncode)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
