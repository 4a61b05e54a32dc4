"""The Kubernetes manifests (deploy/k8s) and the Grafana dashboard (deploy/grafana), checked
without a cluster.

Run by .ci/run, in a venv with `kubernetes-validate` and `pyyaml`:
    python3 tests/python/test_k8s.py path/to/stampede      # (a), (b) and (c)
    python3 tests/python/test_k8s.py --static              # (a) and (b) only: no binary

(a) Every manifest in deploy/k8s validates offline with kubernetes-validate, strict (unknown
    fields are errors), against the oldest Kubernetes the Job is written for and the newest the
    package bundles; then what a schema cannot see: the Job is Indexed and never reruns a shard,
    --shard's N is the Job's completions, the merge reads exactly the folders the shards write,
    the volume is the shared claim, the default base URL is the mock's Service, keys come only
    from Secrets, and the kustomization lists the files.
(b) The dashboard is valid JSON, and every PromQL expression in it (panels and variables)
    names only the metric families `stampede run --metrics-addr` serves, and only their labels.
(c) The Job's exact command lines, run as local processes with the environment each pod would
    have: a local mock started from mock.yaml's command line, the four shards at once, then the
    merge Job's command line; every shard must exit 0 (a shard whose own share misses an [slo]
    objective still exits 0: the run's verdict is the merge's), and the merged summary must add the shards up exactly. STAMPEDE_DURATION is the
    knob that keeps it short: the manifest's 10m becomes 5s here.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = os.path.join(ROOT, "deploy", "k8s")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "stampede-dashboard.json")
SCENARIOS = os.path.join(ROOT, "scenarios")

# The oldest Kubernetes the shard Job is written for (backoffLimitPerIndex is on by default from
# 1.29), and the newest schema kubernetes-validate bundles.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]

# What `stampede run --metrics-addr` serves: family -> type, and the labels it uses.
FAMILIES = {
    "stampede_requests_arrived_total": "counter",
    "stampede_requests_total": "counter",
    "stampede_attempts_total": "counter",
    "stampede_inflight": "gauge",
    "stampede_queue_depth": "gauge",
    "stampede_latency_seconds": "histogram",
    "stampede_tokens_total": "counter",
    "stampede_cost_usd_total": "counter",
}
LABELS = {"scenario", "shard", "strategy", "outcome", "status", "kind", "le"}
SERIES = set(FAMILIES) | {
    f + suffix for f, t in FAMILIES.items() if t == "histogram" for suffix in ("_bucket", "_sum", "_count")
}

# (c)'s time bounds, in seconds.
MOCK_READY_S = 30
SHARDS_S = 180
MERGE_S = 60
SIM_S = 60


# ---------------------------------------------------------------------------------------------
# Manifests


def manifest_files():
    return sorted(f for f in os.listdir(K8S) if f.endswith((".yaml", ".yml")))


def load_docs(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def resources():
    """(file, document) for every Kubernetes object under deploy/k8s (not the kustomization)."""
    out = []
    for name in manifest_files():
        for doc in load_docs(name):
            if doc.get("kind") != "Kustomization":
                out.append((name, doc))
    return out


def one(kind, name=None):
    found = [d for _, d in resources() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def job_from(filename):
    docs = [d for d in load_docs(filename) if d.get("kind") == "Job"]
    assert len(docs) == 1, f"{filename}: expected one Job, found {len(docs)}"
    return docs[0]


def container_of(job):
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{job['metadata']['name']}: expected one container"
    return containers[0]


def env_entry(container, name):
    for e in container.get("env", []):
        if e["name"] == name:
            return e
    return None


def flag(argv, name):
    """The value after `name` in argv (exactly once)."""
    idx = [i for i, a in enumerate(argv) if a == name]
    assert len(idx) == 1 and idx[0] + 1 < len(argv), f"{name} must appear once with a value in {argv}"
    return argv[idx[0] + 1]


def check_schemas():
    errors = []
    checked = 0
    for name, doc in resources():
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
                checked += 1
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                errors.append(f"{name}: {doc['kind']}/{doc['metadata']['name']} against {e.version}: {path}: {e.message}")
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
                errors.append(f"{name}: {e.message}")
            except kubernetes_validate.VersionNotSupportedError as e:
                errors.append(f"{name}: kubernetes-validate does not support {e.version}")
    assert not errors, "kubernetes-validate (strict):\n  " + "\n  ".join(errors)
    print(f"(a) {checked} validations passed: {len(resources())} objects x Kubernetes {', '.join(K8S_VERSIONS)} (strict)")


def check_semantics():
    shards = job_from("job.yaml")
    merge = job_from("merge-job.yaml")
    spec = shards["spec"]
    pod = spec["template"]["spec"]
    n = spec["completions"]

    # The shard Job: Indexed, all shards at once, never a shard twice.
    assert spec.get("completionMode") == "Indexed", "the shard Job must be Indexed"
    assert spec.get("parallelism") == n, "parallelism must equal completions: the shards start together"
    assert pod.get("restartPolicy") == "Never", "restartPolicy Never: a restarted container reruns its shard"
    assert spec.get("backoffLimitPerIndex") == 0 or spec.get("backoffLimit") == 0, (
        "a failed shard must never be retried: backoffLimitPerIndex 0 (or backoffLimit 0)"
    )
    for rule in spec.get("podFailurePolicy", {}).get("rules", []):
        assert rule["action"] != "Ignore", "an Ignore rule would rerun a shard without counting it"
    assert merge["spec"].get("backoffLimit") == 0, "the merge Job: backoffLimit 0"
    assert merge["spec"]["template"]["spec"].get("restartPolicy") == "Never"

    c = container_of(shards)
    argv = c.get("command", []) + c.get("args", [])
    assert argv[:2] == ["stampede", "run"], argv
    assert flag(argv, "--shard") == f"$(JOB_COMPLETION_INDEX)/{n}", f"--shard must be $(JOB_COMPLETION_INDEX)/{n}"
    assert flag(argv, "--target") == "gemini"
    assert "--quiet" in argv
    scenario = argv[2]
    assert scenario.startswith("/scenarios/"), scenario
    assert os.path.isfile(os.path.join(SCENARIOS, scenario[len("/scenarios/"):])), f"{scenario} is not in scenarios/"
    for f in ("--base-url", "--start-at", "--duration", "--out", "--max-cost-usd", "--metrics-addr"):
        flag(argv, f)
    index_ref = env_entry(c, "JOB_COMPLETION_INDEX")
    if index_ref is not None:
        assert index_ref["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        ), index_ref

    # The start instant as the documented recipe sets it (sed over the file, or over `kubectl
    # kustomize`, which prints the placeholder unquoted) stays a string, not a YAML timestamp.
    with open(os.path.join(K8S, "job.yaml")) as f:
        text = f.read()
    placeholder = (env_entry(c, "STAMPEDE_START_AT") or {}).get("value")
    assert placeholder == "STAMPEDE_START_AT_UNSET", f"STAMPEDE_START_AT: {placeholder!r}"
    for form in (text, text.replace('"STAMPEDE_START_AT_UNSET"', "STAMPEDE_START_AT_UNSET")):
        set_ = re.sub(r'"?STAMPEDE_START_AT_UNSET"?', '"2030-01-02T03:04:05Z"', form)
        job = next(d for d in yaml.safe_load_all(set_) if d and d.get("kind") == "Job")
        value = env_entry(container_of(job), "STAMPEDE_START_AT")["value"]
        assert value == "2030-01-02T03:04:05Z", f"the start instant after the documented sed: {value!r}"

    # Metrics: the port serves what --metrics-addr binds, and the scrape annotation agrees.
    metrics_port = int(flag(argv, "--metrics-addr").rsplit(":", 1)[1])
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    assert ports.get("metrics") == metrics_port, f"containerPort {metrics_port} named metrics: {ports}"
    ann = spec["template"].get("metadata", {}).get("annotations", {})
    if "prometheus.io/port" in ann:
        assert ann["prometheus.io/port"] == str(metrics_port), ann

    # The merge reads exactly the folders the shards write.
    out = flag(argv, "--out")
    assert "$(JOB_COMPLETION_INDEX)" in out, f"--out must differ per shard: {out}"
    m = container_of(merge)
    margv = m.get("command", []) + m.get("args", [])
    assert margv[:2] == ["stampede", "merge"], margv
    inputs = []
    for a in margv[2:]:
        if a.startswith("--"):
            break
        inputs.append(a)
    flag(margv, "--out")
    want = [out.replace("$(JOB_COMPLETION_INDEX)", str(i)) for i in range(n)]
    assert inputs == want, f"merge inputs {inputs} != the shards' folders {want}"
    for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", " ".join(want)):
        a, b = env_entry(c, var), env_entry(m, var)
        assert a and b and a.get("value") == b.get("value"), f"{var} must be the same in both Jobs"

    # The shared volume.
    pvc = one("PersistentVolumeClaim")
    assert "ReadWriteMany" in pvc["spec"]["accessModes"], "the results volume is mounted by several pods at once"
    for job in (shards, merge):
        p = job["spec"]["template"]["spec"]
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in p["volumes"] if "persistentVolumeClaim" in v}
        mounts = {vm["mountPath"]: vm["name"] for vm in container_of(job).get("volumeMounts", [])}
        results = (env_entry(container_of(job), "STAMPEDE_RESULTS") or {}).get("value")
        assert results in mounts and claims.get(mounts[results]) == pvc["metadata"]["name"], (
            f"{job['metadata']['name']}: STAMPEDE_RESULTS ({results}) must be the mount of claim {pvc['metadata']['name']}"
        )

    # The mock: its Service selects it, and the Job's default base URL is that Service.
    dep = one("Deployment", "stampede-mock")
    svc = one("Service", "stampede-mock")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "the Service must select the mock"
    mc = dep["spec"]["template"]["spec"]["containers"][0]
    mports = {p.get("name"): p["containerPort"] for p in mc["ports"]}
    margs = mc.get("command", []) + mc.get("args", [])
    assert margs[:2] == ["stampede", "mock"] and flag(margs, "--bind") == "0.0.0.0", margs
    assert int(flag(margs, "--port")) in mports.values(), "the mock's --port must be its containerPort"
    sport = svc["spec"]["ports"][0]
    target = sport.get("targetPort", sport["port"])
    assert (mports.get(target) if isinstance(target, str) else target) == int(flag(margs, "--port"))
    probe = mc["readinessProbe"]["httpGet"]
    assert probe["path"] == "/metrics", probe
    base = (env_entry(c, "STAMPEDE_BASE_URL") or {}).get("value")
    want_base = f"http://{svc['metadata']['name']}:{sport['port']}"
    assert base == want_base, f"the Job's default STAMPEDE_BASE_URL {base!r} is not the mock's Service {want_base!r}"

    # Keys only from Secrets.
    for name, doc in resources():
        p = doc.get("spec", {}).get("template", {}).get("spec", {})
        for ct in p.get("containers", []) + p.get("initContainers", []):
            for e in ct.get("env", []):
                if re.search(r"KEY|TOKEN|SECRET|PASSWORD", e["name"]) and e["name"] != "JOB_COMPLETION_INDEX":
                    assert "secretKeyRef" in e.get("valueFrom", {}), f"{name}: {e['name']} must come from a Secret"

    # The kustomization lists every file but the merge Job (applied after the shards).
    kust = load_docs("kustomization.yaml")[0]
    listed = kust["resources"]
    for r in listed:
        assert os.path.isfile(os.path.join(K8S, r)), f"kustomization.yaml lists {r}, which does not exist"
    rest = set(manifest_files()) - set(listed) - {"kustomization.yaml"}
    assert rest == {"merge-job.yaml"}, f"files not in kustomization.yaml: {sorted(rest)}"
    print(f"(a) the shard Job, the merge Job, the volume, the mock and the kustomization agree ({n} shards)")


# ---------------------------------------------------------------------------------------------
# Dashboard

PROMQL_WORDS = {
    # aggregations and their modifiers
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset",
    # functions
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "ceil",
    "floor", "round", "clamp", "clamp_min", "clamp_max", "max_over_time", "min_over_time",
    "avg_over_time", "sum_over_time", "last_over_time", "count_over_time", "resets", "changes",
    "time", "timestamp", "vector", "scalar", "absent", "sort", "sort_desc", "label_replace",
    # Grafana's variable query
    "label_values",
}


def expressions(dash):
    """Every PromQL text in the dashboard: panel targets (rows' nested panels too) and variables."""
    out = []

    def panels(ps):
        for p in ps:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            panels(p.get("panels", []))

    panels(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            out.append((f"variable {v['name']}", q))
    return out


def promql_names(expr):
    """(metric names, label names) an expression uses; raises on anything it cannot place."""
    labels = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values, regexes)

    def matchers(m):
        labels.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(1)))
        return " "

    text = re.sub(r"\{([^{}]*)\}", matchers, text)

    def grouping(m):
        labels.update(x.strip() for x in m.group(2).split(",") if x.strip())
        return " "

    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", grouping, text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors: [1m], [$__rate_interval]

    def label_values(m):
        labels.add(m.group(2))
        return f"label_values({m.group(1) or ''})"

    text = re.sub(r"\blabel_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)?\s*,?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)", label_values, text)
    metrics = set()
    for name in re.findall(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if name in PROMQL_WORDS:
            continue
        metrics.add(name)
    return metrics, labels


def check_dashboard():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    assert isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 36, dash.get("schemaVersion")
    names = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    assert {"scenario", "shard", "DS_PROMETHEUS"} <= names, f"variables: {sorted(names)}"
    exprs = expressions(dash)
    assert exprs, "no PromQL in the dashboard"
    used = set()
    errors = []
    for where, expr in exprs:
        metrics, labels = promql_names(expr)
        if not metrics:
            errors.append(f"{where}: no metric in {expr!r}")
        for m in metrics - SERIES:
            errors.append(f"{where}: {m!r} is not a stampede metric ({expr!r})")
        for lb in labels - LABELS:
            errors.append(f"{where}: label {lb!r} is not one stampede serves ({expr!r})")
        used |= {re.sub(r"_(bucket|sum|count)$", "", m) if m not in FAMILIES else m for m in metrics & SERIES}
    missing = set(FAMILIES) - used
    if missing:
        errors.append(f"families no panel shows: {sorted(missing)}")

    def datasources(node):
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("type") == "prometheus":
                yield ds.get("uid")
            for v in node.values():
                yield from datasources(v)
        elif isinstance(node, list):
            for v in node:
                yield from datasources(v)

    uids = set(datasources(dash))
    if uids != {"${DS_PROMETHEUS}"}:
        errors.append(f"Prometheus data sources other than ${{DS_PROMETHEUS}}: {sorted(map(str, uids))}")
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        errors.append("panel ids repeat")
    assert not errors, "dashboard:\n  " + "\n  ".join(errors)
    print(f"(b) dashboard: {len(exprs)} PromQL expressions, only the {len(FAMILIES)} stampede families and their labels")


# ---------------------------------------------------------------------------------------------
# The Job's command lines as local processes


def k8s_expand(text, env):
    """Kubernetes' $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
    $(NAME) of a defined variable is replaced, of an undefined one left as it is; $$ is one $;
    anything else after $ is kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "(":
                close = text.find(")", i + 2)
                if close == -1:
                    out.append("$(")
                    i += 2
                else:
                    name = text[i + 2 : close]
                    out.append(env[name] if name in env else "$(" + name + ")")
                    i = close + 1
            else:
                out.append("$" + nxt)
                i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def check_expansion():
    env = {"VAR_A": "A", "VAR_B": "B", "EMPTY": ""}
    cases = {
        "$(VAR_A)": "A",
        "___$(VAR_B)___": "___B___",
        "$(VAR_A)-$(VAR_A)": "A-A",
        "$$(VAR_B)_$(VAR_A)": "$(VAR_B)_A",
        "$(VAR_DNE)": "$(VAR_DNE)",
        "$$$(VAR_A)": "$A",
        "$(VAR_A": "$(VAR_A",
        "$VAR_A": "$VAR_A",
        "$$": "$",
        "f000-$$VAR_A": "f000-$VAR_A",
        "$()": "$()",
        "$": "$",
        "$(VAR_A)$": "A$",
        "x$(EMPTY)y": "xy",
    }
    for given, want in cases.items():
        got = k8s_expand(given, env)
        assert got == want, f"expansion of {given!r}: {got!r}, expected {want!r}"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_env(container, overrides, job_index=None):
    """The environment Kubernetes would give the container: its env in order, each value expanded
    against the ones before it (as the kubelet does), with `overrides` in place of the cluster's
    values. Every override must name a variable the manifest declares; a valueFrom the cluster
    would fill (Secret, downward API) must be overridden."""
    entries = list(container.get("env", []))
    if job_index is not None and not any(e["name"] == "JOB_COMPLETION_INDEX" for e in entries):
        # The control plane adds it to Indexed Job pods when the manifest does not.
        entries.append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {}}})
    declared = {e["name"] for e in entries}
    unknown = set(overrides) - declared
    assert not unknown, f"{container['name']}: overrides for variables the manifest does not declare: {sorted(unknown)}"
    env = {}
    for e in entries:
        name = e["name"]
        if name in overrides:
            env[name] = overrides[name]
        elif "value" in e:
            env[name] = k8s_expand(str(e["value"]), env)
        elif "valueFrom" in e:
            raise AssertionError(f"{container['name']}: {name} comes from the cluster ({e['valueFrom']}); give it a local value")
        else:
            env[name] = ""
    return env


def command_line(container, env, binary, substitutions):
    """The container's command and args, expanded as Kubernetes does, then with the binary in
    place of `stampede` and `substitutions` applied: {(flag or None, exact value): new value}."""
    argv = [k8s_expand(a, env) for a in container.get("command", []) + container.get("args", [])]
    assert argv and argv[0] == "stampede", f"{container['name']}: the command must be stampede, not {argv[:1]}"
    argv[0] = binary
    done = {key: 0 for key in substitutions}
    for i in range(1, len(argv)):
        for (after, value), new in substitutions.items():
            if argv[i] == value and (after is None or argv[i - 1] == after):
                argv[i] = new
                done[(after, value)] += 1
    for key, count in done.items():
        where = f" after {key[0]}" if key[0] else ""
        assert count == 1, f"{container['name']}: expected {key[1]!r}{where} once in its command line, found {count}"
    return argv


def clean_env(pod, home):
    """The process sees only the pod's variables (plus PATH, HOME, TMPDIR), as in the container."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home}
    env.update(pod)
    return env


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 5
    for p in procs:
        if p.poll() is None:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def requests_of(path):
    with open(path) as f:
        r = json.load(f)["requests"]
    return {k: r[k] for k in ("scheduled", "succeeded", "failed", "dropped")}


class Scraper(threading.Thread):
    """Reads every shard's /metrics while the shards run: the union of the families seen, and
    which shards' pages carried their own shard label."""

    def __init__(self, ports, procs):
        super().__init__(daemon=True)
        self.ports, self.procs = ports, procs
        self.families, self.labelled, self.pages = set(), set(), 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set() and any(p.poll() is None for p in self.procs):
            for i, port in enumerate(self.ports):
                try:
                    status, page = http_get(f"http://127.0.0.1:{port}/metrics", timeout=1)
                except (OSError, urllib.error.URLError):
                    continue
                if status != 200:
                    continue
                self.pages += 1
                for line in page.splitlines():
                    if line.startswith("# TYPE "):
                        parts = line.split()
                        if len(parts) >= 3:
                            self.families.add(parts[2])
                    elif line and not line.startswith("#"):
                        self.families.add(re.split(r"[{\s]", line, maxsplit=1)[0])
                if f'shard="{i}"' in page:
                    self.labelled.add(i)
            self.halt.wait(0.5)

    def seen(self, family):
        names = {family, family + "_bucket", family + "_count"}
        if family.endswith("_total"):
            names.add(family[: -len("_total")])  # OpenMetrics: # TYPE without the suffix
        return bool(names & self.families)


def check_job_locally(binary):
    binary = os.path.abspath(binary)
    assert os.access(binary, os.X_OK), f"{binary} is not an executable"
    check_expansion()
    shards_job = job_from("job.yaml")
    merge_job = job_from("merge-job.yaml")
    n = shards_job["spec"]["completions"]
    shard_c = container_of(shards_job)
    merge_c = container_of(merge_job)
    mock_c = one("Deployment", "stampede-mock")["spec"]["template"]["spec"]["containers"][0]
    scenario = next(a for a in shard_c["args"] if a.startswith("/scenarios/"))
    local_scenario = os.path.join(SCENARIOS, scenario[len("/scenarios/"):])

    procs = []
    mock_log = None
    tmp = tempfile.TemporaryDirectory(prefix="stampede-k8s-")
    try:
        work = tmp.name
        results = os.path.join(work, "results")
        os.makedirs(results)

        # The mock from mock.yaml's command line; substitutions: the binary, and 127.0.0.1 and a
        # free port for its --bind 0.0.0.0 and --port 8089.
        mock_port = free_port()
        mock_argv = command_line(
            mock_c, {}, binary, {("--bind", "0.0.0.0"): "127.0.0.1", ("--port", "8089"): str(mock_port)}
        )
        mock_home = os.path.join(work, "mock")
        os.makedirs(mock_home)
        mock_log = open(os.path.join(work, "mock.log"), "w")
        mock = subprocess.Popen(mock_argv, cwd=mock_home, env=clean_env({}, mock_home), stdout=mock_log, stderr=subprocess.STDOUT)
        procs.append(mock)
        probe = mock_c["readinessProbe"]["httpGet"]["path"]
        deadline = time.monotonic() + MOCK_READY_S
        while True:
            assert mock.poll() is None, f"the mock exited with {mock.returncode}:\n{tail(mock_log.name)}"
            try:
                if http_get(f"http://127.0.0.1:{mock_port}{probe}")[0] == 200:
                    break
            except (OSError, urllib.error.URLError):
                pass
            assert time.monotonic() < deadline, f"the mock did not answer GET {probe} within {MOCK_READY_S}s"
            time.sleep(0.2)
        print(f"(c) mock ready: {' '.join(mock_argv[1:])}")

        # One common start instant, whole seconds, 3 to 4 s ahead.
        start = (datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
        shards, logs, ports = [], [], []
        for i in range(n):
            pod = pod_env(
                shard_c,
                {
                    "STAMPEDE_BASE_URL": f"http://127.0.0.1:{mock_port}",
                    "STAMPEDE_RESULTS": results,
                    "STAMPEDE_START_AT": start,
                    "STAMPEDE_DURATION": "5s",
                    "STAMPEDE_METRICS_LINGER": "0s",
                    "GEMINI_API_KEY": "test-key",
                    "JOB_COMPLETION_INDEX": str(i),
                },
                job_index=i,
            )
            port = free_port()
            # The only substitutions: the binary for `stampede`, the repository's scenarios/ for
            # the image's /scenarios, and 127.0.0.1 and a free port for --metrics-addr 0.0.0.0:9464
            # (four pods each have their own 9464; four local processes cannot). Everything else
            # is the manifest's, expanded from the environment above exactly as Kubernetes does.
            argv = command_line(
                shard_c, pod, binary,
                {(None, scenario): local_scenario, ("--metrics-addr", "0.0.0.0:9464"): f"127.0.0.1:{port}"},
            )
            assert flag(argv, "--shard") == f"{i}/{n}", argv
            home = os.path.join(work, f"pod-{i}")
            os.makedirs(home)
            log = os.path.join(work, f"shard-{i}.log")
            with open(log, "w") as out:
                shards.append(subprocess.Popen(argv, cwd=home, env=clean_env(pod, home), stdout=out, stderr=subprocess.STDOUT))
            procs.append(shards[-1])
            logs.append(log)
            ports.append(port)
            if i == 0:
                print(f"(c) shard command line: {' '.join(argv[1:])}")
        scraper = Scraper(ports, shards)
        scraper.start()
        deadline = time.monotonic() + SHARDS_S
        for i, p in enumerate(shards):
            try:
                p.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"shard {i} still running after {SHARDS_S}s:\n{tail(logs[i])}")
        scraper.halt.set()
        scraper.join(timeout=5)
        codes = [p.returncode for p in shards]
        for i, code in enumerate(codes):
            assert code == 0, f"shard {i} exited {code}:\n{tail(logs[i])}"
        print(f"(c) {n} shards exited {codes}")

        per_shard = []
        for i in range(n):
            path = os.path.join(results, f"shard-{i}", "summary.json")
            assert os.path.isfile(path), f"shard {i} wrote no {path}:\n{tail(logs[i])}"
            r = requests_of(path)
            assert r["scheduled"] == r["succeeded"] + r["failed"] + r["dropped"], f"shard {i}: {r}"
            per_shard.append(r)

        # Live metrics, as Prometheus would have read them.
        assert scraper.pages > 0, "no shard's --metrics-addr ever answered GET /metrics"
        unseen = [f for f in FAMILIES if not scraper.seen(f)]
        assert not unseen, f"families the shards never served: {unseen}"
        assert scraper.labelled == set(range(n)), f"pages carrying their own shard label: {sorted(scraper.labelled)}"
        print(f"(c) /metrics read {scraper.pages} times during the run: all {len(FAMILIES)} families, each shard labelled")

        # The merge Job's command line: only the binary is substituted.
        mpod = pod_env(merge_c, {"STAMPEDE_RESULTS": results})
        margv = command_line(merge_c, mpod, binary, {})
        mhome = os.path.join(work, "merge")
        os.makedirs(mhome)
        mlog = os.path.join(work, "merge.log")
        with open(mlog, "w") as out:
            merge = subprocess.Popen(margv, cwd=mhome, env=clean_env(mpod, mhome), stdout=out, stderr=subprocess.STDOUT)
        procs.append(merge)
        try:
            merge.wait(timeout=MERGE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"merge still running after {MERGE_S}s:\n{tail(mlog)}")
        assert merge.returncode in (0, 1), f"merge exited {merge.returncode}:\n{tail(mlog)}"
        merged_path = os.path.join(results, "merged", "summary.json")
        assert os.path.isfile(merged_path), f"merge wrote no {merged_path}:\n{tail(mlog)}"
        merged = requests_of(merged_path)
        for k in ("scheduled", "succeeded", "failed", "dropped"):
            total = sum(r[k] for r in per_shard)
            assert merged[k] == total, f"merged requests.{k} = {merged[k]}, the shards' sum is {total}"
        assert merged["scheduled"] == merged["succeeded"] + merged["failed"] + merged["dropped"], merged
        assert merged["scheduled"] > 0, "nothing was scheduled"

        # Shards of one seeded schedule: together they are the unsharded run's schedule.
        shome = os.path.join(work, "sim")
        os.makedirs(shome)
        sim_argv = [binary, "run", local_scenario, "--target", "sim", "--duration", "5s", "--quiet"]
        sim_argv += ["--out", os.path.join(shome, "out")]
        sim = subprocess.run(sim_argv, cwd=shome, env=clean_env({}, shome), capture_output=True, text=True, timeout=SIM_S)
        assert sim.returncode in (0, 1), f"unsharded sim run exited {sim.returncode}:\n{sim.stderr[-2000:]}"
        whole = requests_of(os.path.join(shome, "out", "summary.json"))["scheduled"]
        assert merged["scheduled"] == whole, (
            f"the shards scheduled {merged['scheduled']} requests, the unsharded schedule has {whole}"
        )
        print(
            f"(c) merge exited {merge.returncode}: requests.scheduled {merged['scheduled']} = "
            f"{' + '.join(str(r['scheduled']) for r in per_shard)} (the unsharded schedule: {whole}) = "
            f"{merged['succeeded']} succeeded + {merged['failed']} failed + {merged['dropped']} dropped"
        )
    finally:
        stop(procs)
        if mock_log is not None:
            mock_log.close()
        tmp.cleanup()


def main(args):
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    check_schemas()
    check_semantics()
    check_dashboard()
    if args[0] == "--static":
        print("(c) skipped (--static)")
    else:
        check_job_locally(args[0])
    print("test_k8s: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
