"""The `google-genai-default`, `google-genai-retry` and `google-genai-js-retry` presets against the
clients they mirror: the official google-genai Python SDK without retry options and with
`HttpRetryOptions()` (its defaults: 5 attempts, 1 s doubling, up to 1 s of jitter), and the
official JavaScript SDK (@google/genai, installed in tests/js) without and with
`httpOptions.retryOptions` (p-retry: 5 attempts, 1 s doubling, each wait x [1, 2]).

Run by .ci/run when python3 is present:
    python3 tests/python/test_preset_vs_sdk.py path/to/stampede-mock path/to/stampede
(after `npm ci --prefix tests/js`, which installs the JavaScript SDK)

Each case sends the same arrivals twice: with the SDK against the mock over HTTP (attempts
counted by an httpx request hook, answers by the calls that returned), and with the preset in
stampede's simulator against the same mock profile. Attempts must agree within 10% and answers
within 5% of the requests. The four cases: a per-minute quota, a per-day quota (the SDK retries its 429s like any
other), connections cut when the answer is due (httpx RemoteProtocolError: the SDK does not retry
it) and attempts that hang until the SDK's own timeout ends them (ReadTimeout: retried). About
two and a half minutes of wall time: the SDKs' real waits of 1 + 2 + 4 + 8 s per retried case.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from google import genai
from google.genai import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_google_genai import start_mock  # noqa: E402

MODEL = "gemini-2.5-flash"
REQUESTS = 8
GAP_S = 0.1


def with_sdk(mock, profile, retry, timeout_ms):
    """(attempts sent, calls answered) of REQUESTS calls GAP_S apart, each on its own thread;
    with `HttpRetryOptions()` when `retry`, and `HttpOptions(timeout=timeout_ms)` when given."""
    proc, base = start_mock(mock, 'preset = "tier1"\n' + profile)
    lock = threading.Lock()
    sent, answered = [0], [0]

    def hook(_request):
        with lock:
            sent[0] += 1

    options = types.HttpOptions(
        base_url=base,
        retry_options=types.HttpRetryOptions() if retry else None,
        timeout=timeout_ms,
        client_args={"event_hooks": {"request": [hook]}},
    )
    client = genai.Client(api_key="test-key", http_options=options)

    def call(i):
        time.sleep(i * GAP_S)
        try:
            client.models.generate_content(model=MODEL, contents="Hello")
            with lock:
                answered[0] += 1
        except Exception:  # noqa: BLE001 - every failure the SDK gives up on counts the same
            pass

    try:
        threads = [threading.Thread(target=call, args=(i,)) for i in range(REQUESTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return sent[0], answered[0]
    finally:
        proc.terminate()


JS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "js", "sdk_calls.mjs")


def with_js_sdk(mock, profile, retry, timeout_ms):
    """The same with the official JavaScript SDK (@google/genai, tests/js): (attempts, answered)."""
    proc, base = start_mock(mock, 'preset = "tier1"\n' + profile)
    try:
        out = subprocess.run(
            ["node", JS, base, "1" if retry else "0", str(timeout_ms or 0), str(REQUESTS), str(int(GAP_S * 1000))],
            capture_output=True,
            text=True,
            check=True,
            timeout=180,
        )
        figures = json.loads(out.stdout)
        return figures["attempts"], figures["answered"]
    finally:
        proc.terminate()


def with_preset(stampede, profile, preset, timeout):
    """(attempts, answered) of the same arrivals with the preset, in the simulator."""
    scenario = f"""
name = "preset-vs-sdk"
seed = 1
duration = "{REQUESTS * GAP_S:.1f}s"

[target]
kind = "sim"
model = "{MODEL}"
profile = "tier1"

[target.mock]
{profile}

[traffic]
arrival = "constant"
rate = {1 / GAP_S}
input_tokens = 2
output_tokens = 10

[strategy]
preset = "{preset}"
workers = 64
timeout = {{ attempt = "{timeout}", total = "10m" }}
"""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.toml")
        with open(path, "w") as f:
            f.write(scenario)
        out = subprocess.run(
            [stampede, "run", path, "--out", os.path.join(d, "out"), "--json", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode in (0, 1), out.stderr
        s = json.loads(out.stdout)
        assert s["requests"]["scheduled"] == REQUESTS, s["requests"]
        return s["attempts"]["total"], s["requests"]["succeeded"]


def check(mock, stampede, sdk_name, preset, name, profile, expected, timeout_ms=None):
    retry = preset != "google-genai-default"
    run = with_js_sdk if sdk_name == "js" else with_sdk
    sdk = run(mock, profile, retry, timeout_ms)
    timeout = f"{timeout_ms}ms" if timeout_ms else "10m"
    ours = with_preset(stampede, profile, preset, timeout)
    print(f"{sdk_name} SDK vs {preset}, {name}: SDK {sdk[0]} attempts, {sdk[1]} answered; "
          f"preset {ours[0]} attempts, {ours[1]} answered")
    assert abs(sdk[0] - ours[0]) <= 0.10 * sdk[0], (sdk_name, preset, name, sdk, ours)
    assert abs(sdk[1] - ours[1]) <= 0.05 * REQUESTS, (sdk_name, preset, name, sdk, ours)
    # The figures the SDK's source predicts, so a case that stops testing anything fails.
    assert sdk == expected, (sdk_name, preset, name, sdk, expected)


def main():
    mock, stampede = sys.argv[1], sys.argv[2]
    latency = 'latency = { dist = "constant", value = "50ms" }'
    per_minute = f"rpm = 3\ntpm = 0\nrpd = 0\n{latency}"
    per_day = f"rpm = 0\ntpm = 0\nrpd = 4\n{latency}"
    cut = f"rpm = 0\ntpm = 0\nrpd = 0\n{latency}\nerrors = {{ rate_reset = 1.0 }}"
    hung = f"rpm = 0\ntpm = 0\nrpd = 0\n{latency}\nerrors = {{ rate_hang = 1.0 }}"
    pairs = [
        ("python", "google-genai-default"),
        ("python", "google-genai-retry"),
        ("js", "google-genai-default"),
        ("js", "google-genai-js-retry"),
    ]
    for sdk_name, preset in pairs:
        tries = 1 if preset == "google-genai-default" else 5
        # A per-minute quota of 3: three answered; each of the other five refused on every try
        # (the SDKs' waits, 1 + 2 + 4 + 8 s and jitter, end inside the same minute).
        check(mock, stampede, sdk_name, preset, "per-minute quota", per_minute, (3 + 5 * tries, 3))
        # A per-day quota of 4: four answered, four refused on every try (both SDKs retry a
        # per-day 429 like any other; the Python preset used to give up at once: 12 attempts).
        check(mock, stampede, sdk_name, preset, "per-day quota", per_day, (4 + 4 * tries, 4))
        # Every connection cut when the first token is due: final for both SDKs (httpx's
        # RemoteProtocolError is not among Python's transient errors; Node's "fetch failed"
        # TypeError is not retried by p-retry).
        check(mock, stampede, sdk_name, preset, "cut connections", cut, (8, 0))
        # Every attempt hangs: the SDK's own timeout (1000 ms) ends each one, and it is retried
        # (httpx ReadTimeout; the JS SDK's aborted attempt); the preset with the same timeout.
        check(mock, stampede, sdk_name, preset, "hung attempts", hung, (8 * tries, 0), timeout_ms=1000)
    print("google-genai-default, google-genai-retry and google-genai-js-retry match the SDKs: ok")


if __name__ == "__main__":
    main()
