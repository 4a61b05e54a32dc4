"""The official google-genai SDK against the stampede mock, with the SDK's default settings.

Run by .ci/run when python3 is present:
    python3 tests/python/test_google_genai.py path/to/stampede-mock

Starts the mock on 127.0.0.1 (port 0), points the SDK at it by changing only the base URL, and
checks generate, stream, count tokens, Gemini's 429 as the SDK raises it, that the SDK's retry
options visibly retry on the mock's 429s, implicit and explicit context caching, the Flex and
Priority service tiers (with Priority's downgrade header), the spend-based limit, and the
Batch API (inline requests polled to success).
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request

from google import genai
from google.genai import errors, types


def start_mock(binary, profile_text, seed=0):
    profile = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    profile.write(profile_text)
    profile.close()
    proc = subprocess.Popen(
        [binary, "--port", "0", "--profile", profile.name, "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline().strip()
    assert first.startswith("stampede mock listening on http://127.0.0.1:"), first
    return proc, first.rsplit(" ", 1)[1]


def stats(base):
    with urllib.request.urlopen(base + "/__stampede/stats") as r:
        return json.load(r)


def client(base, **http):
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=base, **http))


def check_generate_stream_count(binary):
    proc, base = start_mock(binary, 'preset = "tier1"\nlatency = { dist = "constant", value = "50ms" }\noutput_tokens = 40\n')
    try:
        c = client(base)
        r = c.models.generate_content(model="gemini-2.5-flash", contents="Explain how AI works in a few words")
        assert r.text and len(r.text) == 160, r.text
        assert r.usage_metadata.prompt_token_count == 9, r.usage_metadata
        assert r.usage_metadata.candidates_token_count == 40
        assert r.candidates[0].finish_reason == types.FinishReason.STOP
        assert r.model_version == "gemini-2.5-flash"

        chunks = list(c.models.generate_content_stream(model="gemini-2.5-flash", contents="Hello"))
        assert len(chunks) == 3, len(chunks)
        assert "".join(ch.text for ch in chunks) and chunks[-1].usage_metadata.candidates_token_count == 40
        assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
        assert len({ch.response_id for ch in chunks}) == 1

        ct = c.models.count_tokens(model="gemini-2.5-flash", contents="Explain how AI works in a few words")
        assert ct.total_tokens == 9, ct

        cfg = types.GenerateContentConfig(max_output_tokens=8, thinking_config=types.ThinkingConfig(thinking_budget=0))
        r = c.models.generate_content(model="gemini-2.5-flash", contents="Hello", config=cfg)
        assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
        assert r.usage_metadata.candidates_token_count == 8

        models = [m.name for m in c.models.list()]
        assert "models/gemini-2.5-flash" in models, models

        # A Gemini 3 model from the catalog, end to end.
        assert "models/gemini-3-flash-preview" in models, models
        info = c.models.get(model="gemini-3-flash-preview")
        assert info.display_name == "Gemini 3 Flash Preview", info
        r = c.models.generate_content(model="gemini-3-flash-preview", contents="Explain how AI works in a few words")
        assert r.model_version == "gemini-3-flash-preview" and r.usage_metadata.candidates_token_count == 40
        chunks = list(c.models.generate_content_stream(model="gemini-3-flash-preview", contents="Hello"))
        assert chunks[-1].usage_metadata.candidates_token_count == 40
        assert c.models.count_tokens(model="gemini-3-flash-preview", contents="Hello").total_tokens > 0
        print("generate, stream, count tokens, max tokens, list models, a Gemini 3 model: ok")
    finally:
        proc.terminate()


def check_quota_error_and_retries(binary):
    # A quota of 1 request per minute: the second call gets Gemini's 429, which the SDK raises
    # (it does not retry by default).
    proc, base = start_mock(binary, 'preset = "tier1"\nrpm = 1\nlatency = { dist = "constant", value = "10ms" }\n')
    try:
        c = client(base)
        c.models.generate_content(model="gemini-2.5-flash", contents="Hello")
        try:
            c.models.generate_content(model="gemini-2.5-flash", contents="Hello")
            raise AssertionError("expected a 429")
        except errors.ClientError as e:
            assert e.code == 429 and e.status == "RESOURCE_EXHAUSTED", (e.code, e.status)
            details = e.details["error"]["details"]
            assert any(d["@type"].endswith("RetryInfo") for d in details), details
        print("429 RESOURCE_EXHAUSTED raised with RetryInfo: ok")
    finally:
        proc.terminate()

    # Injected 429s on about half the attempts: with its retry options the SDK retries until
    # every call succeeds, and the mock saw the retries.
    proc, base = start_mock(
        binary,
        'preset = "tier1"\nlatency = { dist = "constant", value = "5ms" }\nerrors = { rate_429 = 0.5, retry_delay_429 = "1s" }\n',
        seed=4,
    )
    try:
        retry = types.HttpRetryOptions(attempts=10, initial_delay=0.05, max_delay=0.2)
        c = client(base, retry_options=retry)
        for _ in range(10):
            c.models.generate_content(model="gemini-2.5-flash", contents="Hello")
        counts = stats(base)["requests"]["gemini-2.5-flash"]
        ok, limited = counts.get("200", 0), counts.get("429", 0)
        assert ok == 10 and limited > 0, counts
        print(f"SDK retry options: 10 calls succeeded after {limited} 429s were retried: ok")
    finally:
        proc.terminate()


def check_caching_and_service_tiers(binary):
    # Tier 2 with an illustrative Priority limit of 1 request a minute, so the second Priority
    # call is served at Standard; a $0.003 spend limit over 10 minutes.
    proc, base = start_mock(
        binary,
        'preset = "tier2"\nlatency = { dist = "constant", value = "20ms" }\noutput_tokens = 40\n'
        'priority_rpm = 1\nflex_latency = { dist = "constant", value = "300ms" }\n'
        'spend_limit = { usd = 0.003, window = "10m" }\n',
    )
    try:
        c = client(base)
        model = "gemini-3-flash-preview"
        # Implicit caching: a 2,000-token shared system prompt (above the model's 1,024 minimum).
        system = "word " * 1600
        cfg = types.GenerateContentConfig(system_instruction=system)
        first = c.models.generate_content(model=model, contents="First question?", config=cfg)
        assert not first.usage_metadata.cached_content_token_count, first.usage_metadata
        second = c.models.generate_content(model=model, contents="Another question entirely?", config=cfg)
        u = second.usage_metadata
        assert u.cached_content_token_count == 2000, u
        assert u.prompt_token_count > 2000, u
        print(f"implicit cache: second call {u.cached_content_token_count} of {u.prompt_token_count} prompt tokens cached: ok")

        # Explicit caching: create, get, list, use, update, delete.
        cache = c.caches.create(
            model=model,
            config=types.CreateCachedContentConfig(contents=["doc " * 2000], display_name="docs", ttl="300s"),
        )
        assert cache.name.startswith("cachedContents/") and cache.usage_metadata.total_token_count == 2000, cache
        assert c.caches.get(name=cache.name).display_name == "docs"
        assert cache.name in [x.name for x in c.caches.list()]
        r = c.models.generate_content(
            model=model, contents="Summarise it.", config=types.GenerateContentConfig(cached_content=cache.name)
        )
        assert r.usage_metadata.cached_content_token_count == 2000, r.usage_metadata
        updated = c.caches.update(name=cache.name, config=types.UpdateCachedContentConfig(ttl="600s"))
        assert updated.expire_time > cache.expire_time, (updated.expire_time, cache.expire_time)
        c.caches.delete(name=cache.name)
        try:
            c.caches.get(name=cache.name)
            raise AssertionError("expected the deleted cache to be gone")
        except errors.ClientError as e:
            assert e.code == 403, e.code
        print("explicit cache: create, get, list, generate with cached_content, update, delete: ok")

        # Service tiers: flex is served (later); priority is served, then downgraded with the header.
        flex = c.models.generate_content(model=model, contents="Hi", config={"service_tier": "flex"})
        assert flex.sdk_http_response.headers.get("x-gemini-service-tier") == "flex", flex.sdk_http_response.headers
        p1 = c.models.generate_content(model=model, contents="Hi", config={"service_tier": "priority"})
        assert p1.sdk_http_response.headers.get("x-gemini-service-tier") == "priority"
        p2 = c.models.generate_content(model=model, contents="Hi", config={"service_tier": "priority"})
        assert p2.sdk_http_response.headers.get("x-gemini-service-tier") == "standard", p2.sdk_http_response.headers
        print("flex served; priority served, then over its limit served at standard with the header: ok")

        # The spend limit: about $0.002 is spent so far; 2,000-token prompts at $0.50 per 1M
        # spend the rest of the $0.003 within a few calls, then the project is refused.
        try:
            for _ in range(10):
                c.models.generate_content(model=model, contents="fresh " * 1600)
            raise AssertionError("expected the spend limit's 429")
        except errors.ClientError as e:
            assert e.code == 429 and e.status == "RESOURCE_EXHAUSTED", (e.code, e.status)
            details = e.details["error"]["details"]
            failure = next(d for d in details if d["@type"].endswith("QuotaFailure"))
            assert failure["violations"][0]["description"].startswith("Spend-based rate limit"), failure
        print("spend-based limit: 429 RESOURCE_EXHAUSTED once the window's dollars are spent: ok")
    finally:
        proc.terminate()


def check_batches(binary):
    # The Batch API with a 2 s turnaround: create with inline requests, poll to success, read
    # every response; cancel and delete another job.
    import time

    proc, base = start_mock(
        binary,
        'preset = "tier1"\noutput_tokens = 30\nbatch_turnaround = { dist = "constant", value = "2s" }\n',
    )
    try:
        c = client(base)
        requests = [
            {"contents": [{"parts": [{"text": f"Summarise report number {i}"}], "role": "user"}], "metadata": {"key": f"r{i}"}}
            for i in range(3)
        ]
        job = c.batches.create(model="gemini-2.5-flash", src=requests, config={"display_name": "nightly"})
        assert job.name.startswith("batches/"), job
        assert job.state.name in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING"), job.state
        done = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
        deadline = time.time() + 20
        while job.state.name not in done:
            assert time.time() < deadline, "the job did not finish"
            time.sleep(0.5)
            job = c.batches.get(name=job.name)
        assert job.state.name == "JOB_STATE_SUCCEEDED", job.state
        assert job.display_name == "nightly" and job.end_time is not None
        responses = job.dest.inlined_responses
        assert len(responses) == 3, responses
        for r in responses:
            assert r.response.text and r.response.usage_metadata.candidates_token_count == 30, r
        assert sorted(r.metadata["key"] for r in responses) == ["r0", "r1", "r2"], [r.metadata for r in responses]
        assert job.name in [j.name for j in c.batches.list()]

        other = c.batches.create(model="gemini-2.5-flash", src=requests[:1])
        c.batches.cancel(name=other.name)
        assert c.batches.get(name=other.name).state.name == "JOB_STATE_CANCELLED"
        c.batches.delete(name=other.name)
        try:
            c.batches.get(name=other.name)
            raise AssertionError("expected the deleted job to be gone")
        except errors.ClientError as e:
            assert e.code == 404, e.code
        print("batches: create inline, poll to success, read 3 responses; cancel; delete: ok")
    finally:
        proc.terminate()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ["STAMPEDE_MOCK_BIN"]
    check_generate_stream_count(binary)
    check_quota_error_and_retries(binary)
    check_caching_and_service_tiers(binary)
    check_batches(binary)


if __name__ == "__main__":
    main()
