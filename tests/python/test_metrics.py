"""The mock's /metrics page read by the real Prometheus parser (prometheus_client), after
requests for hostile and made-up model names: every sample must parse, no name may add a
sample of its own, and a flood of unknown names must stay one series.

Run by .ci/run:
    python3 tests/python/test_metrics.py path/to/stampede-mock
"""

import sys
import urllib.error
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from test_google_genai import start_mock

BODY = b'{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}'


def post(base, model):
    url = base + "/v1beta/models/" + urllib.parse.quote(model, safe="") + ":generateContent"
    req = urllib.request.Request(url, data=BODY, headers={"content-type": "application/json", "x-goog-api-key": "k"})
    try:
        urllib.request.urlopen(req).read()
    except urllib.error.HTTPError as e:
        e.read()


def main(binary):
    proc, base = start_mock(binary, 'preset = "tier1"\nlatency = { dist = "constant", value = "1ms" }\n')
    try:
        post(base, "gemini-2.5-flash")
        for hostile in ['x"} 1\nfake_metric{model="y', "back\\slash", 'quote"', "new\nline"]:
            post(base, hostile)
        for i in range(500):
            post(base, "made-up-%d" % i)
        page = urllib.request.urlopen(base + "/metrics").read().decode()
        families = list(text_string_to_metric_families(page))
        names = {f.name for f in families}
        assert "fake_metric" not in names, names
        assert all(n.startswith("stampede_mock_") for n in names), names
        requests = [s for f in families if f.name == "stampede_mock_requests" for s in f.samples]
        models = {s.labels["model"] for s in requests}
        assert models <= {"gemini-2.5-flash", "(unknown)"}, models
        unknown = sum(s.value for s in requests if s.labels["model"] == "(unknown)")
        assert unknown == 504, unknown
    finally:
        proc.kill()
    print("prometheus_client parses /metrics after hostile and 500 made-up model names: one (unknown) series")


if __name__ == "__main__":
    main(sys.argv[1])
