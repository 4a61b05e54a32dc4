"""`stampede plan --emit python` against the official google-genai SDK it emits for.

Run by .ci/run:
    python tests/python/test_emit_sdk.py target/debug/stampede

One trace of arrivals (a seeded Poisson draw, 6 a second for 60 s, written here as a jsonl trace)
is planned in the simulator and then sent, open loop, through the emitted plan_client.py —
imported unchanged — to `stampede mock` serving the same profile file: 300 ms answers, and half
of the attempts refused with Gemini's 429 RESOURCE_EXHAUSTED (the mock's `rate_429`, a quota-shaped
refusal drawn per attempt, so that retries succeed; a per-minute quota does not free a slot within
a one-minute trace, which would make every retry of a refused request fail alike). The plan's
candidate is the google-genai-retry preset with small waits (0.2 s doubling to 2 s plus up to
0.2 s of jitter: the SDK's waits are real time) and a client rate limit.

Checked: every request is accounted for; attempts per request within 10% of the simulated
recommendation's (plan.json); requests between their first attempt and their last answer, and
attempts in flight, never above the plan's workers (measured in an httpx transport under the SDK,
not by the emitted code's own counter), with the pool full at some point so the bound was tested;
the success share within 4 points (a client that made 3 attempts instead of 5 would answer 87.5%
of the requests against 96.9%, one that did not retry 50%). Then the emission of a few other plan shapes compiles
(py_compile), TypeScript and Go are written with the plan's values, and a plan that passes
nothing emits nothing. About 70 s of wall time.
"""

import asyncio
import contextvars
import importlib.util
import json
import os
import py_compile
import random
import subprocess
import sys
import tempfile
import time

MODEL = "gemini-2.5-flash"
RATE = 6.0
WINDOW_S = 60.0

PROFILE = """preset = "unlimited"
latency = { dist = "constant", value = "300ms" }
output_tokens = { dist = "constant", value = 16 }
errors = { rate_429 = 0.5 }
"""

SCENARIO = """name = "emit-sdk"
seed = 1
duration = "{duration}"

[target]
kind = "sim"
model = "{model}"
profile = "mock.toml"

[traffic]
arrival = "trace"

[traffic.trace]
file = "trace.jsonl"
format = "jsonl"
length = "{duration}"

[strategy]
{strategy}

[slo]
{slo}
"""

SDK_SHAPED = """preset = "google-genai-retry"
retry = { base = "100ms", cap = "2s", jitter_max = "200ms" }
rate_limit = { rpm = 900 }
timeout = { attempt = "10s", total = "30s" }"""

# Other shapes the emission must compile for: (strategy, objectives).
SHAPES = [
    (
        """preset = "google-genai-retry"
retry = { base = "100ms", cap = "1s" }
queue = { capacity = 20, overflow = "drop-oldest", deadline = "5s" }
rate_limit = { rpm = 600, tpm = 100000, scope = "model" }
fallback = { model = "gemini-2.5-flash-lite", on = ["429", "5xx", "timeout"] }""",
        'success_rate = 0.9',
    ),
    ('preset = "google-genai-default"\nqueue = { overflow = "block", deadline = "2s" }', "success_rate = 0.3"),
    (
        """retry = { max_attempts = 3, jitter = "full", base = "100ms", honor_retry_delay = true }
breaker = { failure_rate = 0.9, size = 50 }
fallback = { degraded = true, on = ["429", "timeout"] }""",
        "success_rate = 0.9",
    ),
]

REQUEST = contextvars.ContextVar("request", default=None)


def write_case(d, strategy, slo, duration):
    """The scenario, its mock profile and the trace in folder `d`; returns the scenario's path."""
    with open(os.path.join(d, "mock.toml"), "w") as f:
        f.write(PROFILE)
    r = random.Random(7)
    t, rows = 0.0, []
    while True:
        t += r.expovariate(RATE)
        if t >= WINDOW_S:
            break
        rows.append({"t": round(t, 3), "input_tokens": 8, "output_tokens": 16})
    with open(os.path.join(d, "trace.jsonl"), "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    path = os.path.join(d, "s.toml")
    with open(path, "w") as f:
        f.write(SCENARIO.format(duration=duration, model=MODEL, strategy=strategy, slo=slo))
    return path


def plan(stampede, scenario, out, language="python", expect=0):
    """Runs `stampede plan --emit`; returns its stdout."""
    run = subprocess.run(
        [stampede, "plan", scenario, "--emit", language, "--out", out, "-q", "--no-probe", "--no-growth"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == expect, (run.returncode, run.stderr)
    return run


def simulated(out):
    """(workers, attempts per request, success share) of the recommendation in plan.json."""
    with open(os.path.join(out, "plan.json")) as f:
        p = json.load(f)
    rec = p["recommendation"]
    cand = next(c for c in p["candidates"] if c["name"] == rec["candidate"])
    point = next(x for x in cand["points"] if x["workers"] == rec["workers"])
    return rec["workers"], point["attempts_per_request"]["mean"], point["success_rate"]["mean"]


def start_mock(stampede, profile_path):
    proc = subprocess.Popen(
        [stampede, "mock", "--port", "0", "--profile", profile_path, "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline().strip()
    assert first.startswith("stampede mock listening on http://127.0.0.1:"), first
    return proc, first.rsplit(" ", 1)[1]


def counting_transport(httpx):
    """An httpx transport under the SDK that counts attempts, the most in flight at once, and
    each request's span from its first attempt sent to its last answer (by REQUEST)."""

    class Counting(httpx.AsyncBaseTransport):
        def __init__(self):
            self.inner = httpx.AsyncHTTPTransport()
            self.attempts = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.spans = {}

        async def handle_async_request(self, request):
            key = REQUEST.get()
            now = time.monotonic()
            self.attempts += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.spans.setdefault(key, [now, now])
            try:
                return await self.inner.handle_async_request(request)
            finally:
                self.in_flight -= 1
                self.spans[key][1] = time.monotonic()

        async def aclose(self):
            await self.inner.aclose()

    return Counting()


def most_at_once(spans):
    """The most spans open at one instant (an end before a start at the same instant)."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


async def send_all(module, base, rows):
    """Sends each row at its time through the emitted client; (outcomes, transport)."""
    transport = counting_transport(module.httpx)
    client = module.make_client(api_key="test-key", base_url=base, transport=transport)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def one(i, row):
        await asyncio.sleep(max(0.0, start + row["t"] - loop.time()))
        REQUEST.set(i)
        try:
            await client.generate_content("x" * 4 * row["input_tokens"])
            return "ok"
        except Exception as e:  # noqa: BLE001 - every way a request ends counts
            return type(e).__name__

    outcomes = await asyncio.gather(*(one(i, row) for i, row in enumerate(rows)))
    return outcomes, transport


def check_against_sdk(stampede):
    with tempfile.TemporaryDirectory() as d:
        scenario = write_case(d, SDK_SHAPED, 'success_rate = 0.9\np95 = "3s"', "60s")
        out = os.path.join(d, "out")
        run = plan(stampede, scenario, out)
        path = os.path.join(out, "plan_client.py")
        with open(path) as f:
            assert run.stdout == f.read(), "stdout is the emitted code"
        workers, sim_attempts, sim_success = simulated(out)
        spec = importlib.util.spec_from_file_location("plan_client", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.WORKERS == workers and module.RPM == 900, (module.WORKERS, workers)
        with open(os.path.join(d, "trace.jsonl")) as f:
            rows = [json.loads(line) for line in f]
        proc, base = start_mock(stampede, os.path.join(d, "mock.toml"))
        try:
            began = time.monotonic()
            outcomes, transport = asyncio.run(send_all(module, base, rows))
            wall = time.monotonic() - began
        finally:
            proc.terminate()
    n = len(rows)
    answered = outcomes.count("ok")
    spans = list(transport.spans.values())
    sdk_attempts = transport.attempts / n
    active = most_at_once(spans)
    print(
        f"emitted python vs simulation: {n} requests in {wall:.1f} s; attempts/request SDK {sdk_attempts:.3f}, "
        f"sim {sim_attempts:.3f}; success SDK {answered / n:.3f}, sim {sim_success:.3f}; most requests at once "
        f"{active}, attempts in flight {transport.max_in_flight}, workers {workers}; "
        f"failures {sorted(set(outcomes) - {'ok'})}"
    )
    assert len(outcomes) == n and len(spans) == n, "every request accounted for, each sent"
    assert sdk_attempts > 1.2, f"the 429s must make the SDK retry: {sdk_attempts}"
    assert abs(sdk_attempts - sim_attempts) <= 0.10 * sim_attempts, (sdk_attempts, sim_attempts)
    assert abs(answered / n - sim_success) <= 0.04, (answered / n, sim_success)
    assert transport.max_in_flight <= workers, (transport.max_in_flight, workers)
    assert active <= workers, (active, workers)
    assert active == workers, f"the pool never filled ({active} of {workers}): the bound went untested"


def check_shapes(stampede):
    """Other plans' emissions compile; TypeScript and Go carry the values; no pass, no code."""
    for i, (strategy, slo) in enumerate(SHAPES):
        with tempfile.TemporaryDirectory() as d:
            scenario = write_case(d, strategy, slo, "10s")
            out = os.path.join(d, "out")
            plan(stampede, scenario, out)
            py_compile.compile(os.path.join(out, "plan_client.py"), doraise=True)
            if i == 0:
                workers, _, _ = simulated(out)
                for language, name, needles in [
                    ("typescript", "plan_client.ts", [f"export const WORKERS = {workers};", "export const TPM = 100000;"]),
                    ("go", "plan_client.go", [f"Workers = {workers}\n", "FallbackModel = \"gemini-2.5-flash-lite\""]),
                ]:
                    plan(stampede, scenario, out, language)
                    with open(os.path.join(out, name)) as f:
                        code = f.read()
                    assert all(s in code for s in needles), (language, needles)
    with tempfile.TemporaryDirectory() as d:
        scenario = write_case(d, 'preset = "google-genai-default"', "success_rate = 0.999", "10s")
        out = os.path.join(d, "out")
        run = plan(stampede, scenario, out, expect=1)
        assert "nothing to emit" in run.stderr, run.stderr
        assert not os.path.exists(os.path.join(out, "plan_client.py"))
        # Bad input is refused before anything runs: exit 2.
        for bad in (["--emit", "rust"], ["--emit", "python", "--json"]):
            run = subprocess.run([stampede, "plan", scenario, "--out", out, *bad], capture_output=True, text=True)
            assert run.returncode == 2 and ("rust" in run.stderr or "--json" in run.stderr), (bad, run.stderr)
    print(f"{len(SHAPES)} other plan shapes compile; typescript and go written; no pass, nothing emitted; bad input exit 2: ok")


def main():
    stampede = sys.argv[1]
    began = time.monotonic()
    check_shapes(stampede)
    check_against_sdk(stampede)
    print(f"stampede plan --emit python against google-genai: ok ({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
