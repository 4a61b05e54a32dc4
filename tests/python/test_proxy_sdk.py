"""`stampede proxy` in front of the mock, used by an application written with the official
google-genai SDK (default settings, only the base URL changed): generate, stream, a chat, an
explicit cache, count tokens, list models all work through the proxy; its recording holds one
line per generate call, replays in sim with the same request count and token totals, and holds
no prompt text and no key unless --record-prompts asks for prompts.

Run by .ci/run:
    python3 tests/python/test_proxy_sdk.py path/to/stampede
"""

import json
import os
import subprocess
import sys
import tempfile

from google import genai
from google.genai import types

KEY = "sdk-secret-key-5f2c9"
SECRET_WORD = "zanzibarquokka"
MODEL = "gemini-3.8-flash"


def start(args, prefix):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline().strip()
    assert first.startswith(prefix), first
    return proc, first.rsplit(" ", 1)[1]


def app(base, lane):
    """What a user's application does, written with the SDK: only the base URL points at the proxy."""
    c = genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(base_url=base, headers={"x-stampede-lane": lane}),
    )
    calls = 0
    r = c.models.generate_content(model=MODEL, contents=f"Tell me about {SECRET_WORD} in a few words")
    assert r.text and r.usage_metadata.candidates_token_count > 0
    calls += 1
    chunks = list(c.models.generate_content_stream(model=MODEL, contents=f"Stream about {SECRET_WORD}"))
    assert len(chunks) >= 1 and chunks[-1].usage_metadata.candidates_token_count > 0
    calls += 1
    chat = c.chats.create(model=MODEL, config=types.GenerateContentConfig(system_instruction=f"You are {SECRET_WORD}."))
    chat.send_message("Hello there")
    chat.send_message("And then?")
    calls += 2
    cache = c.caches.create(
        model=MODEL,
        config=types.CreateCachedContentConfig(contents=[f"{SECRET_WORD} doc " * 1200], ttl="300s"),
    )
    r = c.models.generate_content(
        model=MODEL, contents="Summarise it.", config=types.GenerateContentConfig(cached_content=cache.name)
    )
    assert r.usage_metadata.cached_content_token_count > 4000, r.usage_metadata
    calls += 1
    c.caches.delete(name=cache.name)
    assert c.models.count_tokens(model=MODEL, contents="Hello").total_tokens > 0
    assert any(m.name == f"models/{MODEL}" for m in c.models.list())
    return calls


def main():
    stampede = sys.argv[1]
    work = tempfile.mkdtemp()
    mock_recording = os.path.join(work, "mock.jsonl")
    mock, mock_url = start(
        [stampede, "mock", "--port", "0", "--seed", "2", "--record", mock_recording],
        "stampede mock listening on ",
    )
    try:
        recording = os.path.join(work, "app.jsonl")
        proxy, proxy_url = start(
            [stampede, "proxy", "--port", "0", "--upstream", mock_url, "--record", recording],
            "stampede proxy listening on ",
        )
        try:
            calls = app(proxy_url, "support")
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
        text = open(recording).read()
        lines = [json.loads(l) for l in text.splitlines()]
        assert len(lines) == calls, (len(lines), calls)
        assert KEY not in text and SECRET_WORD not in text, "a key or prompt text in the recording"
        assert all(l["status"] == 200 and l["lane"] == "support" for l in lines), lines
        assert [l["stream"] for l in lines] == [False, True, False, False, False], lines
        # The chat's second turn resends the first: its first blocks are the first turn's.
        first, second = lines[2]["prefix"], lines[3]["prefix"]
        assert second[: len(first)] == first and len(second) > len(first), (first, second)
        assert lines[4]["cached_tokens"] > 4000, lines[4]
        times = [l["t"] for l in lines]
        assert times == sorted(times), times
        # The mock's own recording of the same calls: the same calls, tokens and flags.
        seen = [json.loads(l) for l in open(mock_recording).read().splitlines()]
        assert len(seen) == calls, (len(seen), calls)
        pick = lambda ls: [(l["model"], l["stream"], l["input_tokens"], l["output_tokens"], l["lane"]) for l in ls]
        assert pick(seen) == pick(lines), (pick(seen), pick(lines))
        assert KEY not in open(mock_recording).read() and SECRET_WORD not in open(mock_recording).read()

        # Replayed in sim: the same calls and token totals.
        scenario = os.path.join(work, "replay.toml")
        with open(scenario, "w") as f:
            f.write(
                f'name = "replay"\nseed = 1\nduration = "60s"\n\n[target]\nkind = "sim"\nmodel = "{MODEL}"\n\n'
                '[traffic]\narrival = "trace"\ntrace = { file = "app.jsonl", format = "jsonl" }\n\n'
                '[strategy]\nworkers = 4\n'
            )
        out = os.path.join(work, "replay")
        run = subprocess.run([stampede, "run", scenario, "--quiet", "--json", "--out", out], capture_output=True, text=True)
        assert run.returncode in (0, 1), run.stderr
        s = json.loads(run.stdout)
        assert s["requests"]["scheduled"] == calls, s["requests"]
        assert s["requests"]["succeeded"] == calls, s["requests"]
        t = s["tokens"]
        assert t["planned_input"] == sum(l["input_tokens"] for l in lines), (t, [l["input_tokens"] for l in lines])
        assert t["planned_output"] == sum(l["output_tokens"] for l in lines), t
        assert t["output"] == t["planned_output"], t

        # Prompts only when asked.
        asked = os.path.join(work, "prompts.jsonl")
        proxy, proxy_url = start(
            [stampede, "proxy", "--port", "0", "--upstream", mock_url, "--record", asked, "--record-prompts"],
            "stampede proxy listening on ",
        )
        try:
            c = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=proxy_url))
            c.models.generate_content(model=MODEL, contents=f"Tell me about {SECRET_WORD}")
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
        text = open(asked).read()
        assert SECRET_WORD in text and KEY not in text, text
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    print(f"proxy + google-genai {genai.__version__}: {calls} calls recorded and replayed, no key or prompt in the recording")


if __name__ == "__main__":
    main()
