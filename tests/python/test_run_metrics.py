"""`stampede run --metrics-addr`: the run's live Prometheus metrics read while it goes and at
its end by the real parsers of the official Python client (prometheus_client: the Prometheus
text parser and the OpenMetrics one), and the final counters checked against summary.json.

Run by .ci/run:
    python3 tests/python/test_run_metrics.py path/to/stampede
"""

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as prometheus_families

SCENARIO = """
name = "metrics-live"
seed = 4
duration = "5s"

[target]
kind = "mock"
model = "gemini-2.5-flash"

[target.mock]
rpm = 40
latency = { dist = "lognormal", median = "150ms", p99 = "900ms" }

[traffic]
arrival = "poisson"
rate = 14
input_tokens = { dist = "lognormal", median = 400, p99 = 3000 }
output_tokens = 60

[strategy]
workers = 8
retry = { policy = "exponential", jitter = "full", base = "200ms", cap = "1s", max_attempts = 2, honor_retry_delay = false }
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url):
    page = urllib.request.urlopen(url, timeout=5).read().decode()
    # Both parsers of the official client must read the page.
    list(prometheus_families(page))
    samples = {}
    for family in openmetrics_families(page):
        for s in family.samples:
            key = (s.name, tuple(sorted((k, v) for k, v in s.labels.items()
                                        if k not in ("scenario", "shard", "strategy"))))
            samples[key] = s.value
            assert s.labels.get("scenario") == "metrics-live", s
            assert s.labels.get("shard") == "all", s
            # The run's strategy: the scenario's [strategy] has no name.
            assert s.labels.get("strategy") == "custom", s
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def main(binary):
    work = tempfile.mkdtemp()
    path = os.path.join(work, "metrics.toml")
    with open(path, "w") as f:
        f.write(SCENARIO)
    out = os.path.join(work, "out")
    port = free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    proc = subprocess.Popen(
        [binary, "run", path, "--quiet", "--out", out, "--metrics-addr", "127.0.0.1:%d" % port,
         "--metrics-linger", "20s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        during = []
        deadline = time.time() + 60
        summary_path = os.path.join(out, "summary.json")
        while not os.path.exists(summary_path):
            assert time.time() < deadline, "the run did not end"
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                during.append(scrape(url))
            except OSError:
                pass
            time.sleep(0.25)
        final = scrape(url)
        summary = json.load(open(summary_path))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # Read while the run went: the counts grew.
    arrived = [value(s, "stampede_requests_arrived_total") for s in during]
    assert len(arrived) >= 5, "too few scrapes during the run: %d" % len(arrived)
    assert any(0 < a < summary["requests"]["scheduled"] for a in arrived), arrived
    assert arrived == sorted(arrived), "a counter went down: %s" % arrived
    # At the end: the summary's figures.
    r, a, t = summary["requests"], summary["attempts"], summary["tokens"]
    checks = [
        ("arrived", value(final, "stampede_requests_arrived_total"), r["scheduled"]),
        ("succeeded", value(final, "stampede_requests_total", outcome="succeeded"), r["succeeded"]),
        ("failed", value(final, "stampede_requests_total", outcome="failed"), r["failed"]),
        ("dropped", value(final, "stampede_requests_total", outcome="dropped"), r["dropped"]),
        ("latency count", value(final, "stampede_latency_seconds_count"), r["succeeded"]),
        ("input tokens", value(final, "stampede_tokens_total", kind="input"), t["input"]),
        ("output tokens", value(final, "stampede_tokens_total", kind="output"), t["output"]),
        ("in flight", value(final, "stampede_inflight"), 0),
        ("queue", value(final, "stampede_queue_depth"), 0),
    ]
    for status, count in a["by_result"].items():
        checks.append(("attempts " + status, value(final, "stampede_attempts_total", status=status), count))
    checks.append(("attempts", sum(v for (n, _), v in final.items() if n == "stampede_attempts_total"), a["total"]))
    for what, got, want in checks:
        assert got == want, "%s: /metrics says %s, summary.json %s" % (what, got, want)
    cost = value(final, "stampede_cost_usd_total")
    # summary.json rounds costs to the millionth of a dollar.
    assert math.isclose(cost, summary["cost_usd"], abs_tol=1e-6), (cost, summary["cost_usd"])
    assert a["status_429"] > 0, "the scenario should meet its quota"
    print("ok: %d scrapes during the run; at the end %d requests, %d attempts (%d 429s), $%.6f match summary.json"
          % (len(during), r["scheduled"], a["total"], a["status_429"], cost))


if __name__ == "__main__":
    main(sys.argv[1])
