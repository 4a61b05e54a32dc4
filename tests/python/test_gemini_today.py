"""The official google-genai SDK against the stampede mock on the models of December 2026.

Run by .ci/run:
    python3 tests/python/test_gemini_today.py path/to/stampede-mock

With the SDK's default settings and only the base URL changed: the Models API lists
gemini-3.5-flash and gemini-3.8-flash; generate, stream, count tokens, explicit caching and the
Batch API work on gemini-3.5-flash; `thinking_level` goes on the wire as the SDK sends it and the
mock thinks the documented share at each level; a level the model does not accept, or a level
with a budget, gets Gemini's 400.
"""

import sys
import time

from google.genai import errors, types

from test_google_genai import client, start_mock

MODEL = "gemini-3.5-flash"


def check_flows_on_today_s_flash(binary):
    proc, base = start_mock(binary, 'preset = "tier1"\noutput_tokens = 40\nlatency = { dist = "constant", value = "10ms" }\nbatch_turnaround = { dist = "constant", value = "1s" }\n')
    try:
        c = client(base)
        names = [m.name for m in c.models.list()]
        for m in ("gemini-3.5-flash", "gemini-3.6-flash", "gemini-3.8-flash", "gemini-3.5-flash-lite"):
            assert f"models/{m}" in names, names
        assert c.models.get(model=MODEL).display_name == "Gemini 3.5 Flash"
        r = c.models.generate_content(model=MODEL, contents="Explain how AI works in a few words")
        assert r.model_version == MODEL and r.usage_metadata.candidates_token_count == 40, r.usage_metadata
        chunks = list(c.models.generate_content_stream(model=MODEL, contents="Hello"))
        assert chunks[-1].usage_metadata.candidates_token_count == 40
        assert c.models.count_tokens(model=MODEL, contents="Hello").total_tokens > 0

        cache = c.caches.create(
            model=MODEL,
            config=types.CreateCachedContentConfig(contents=["doc " * 5000], display_name="policy", ttl="300s"),
        )
        r = c.models.generate_content(
            model=MODEL, contents="Summarise it.", config=types.GenerateContentConfig(cached_content=cache.name)
        )
        assert r.usage_metadata.cached_content_token_count == 5000, r.usage_metadata
        c.caches.delete(name=cache.name)

        job = c.batches.create(
            model=MODEL,
            src=[{"contents": [{"parts": [{"text": "Summarise"}], "role": "user"}]}],
        )
        deadline = time.time() + 20
        while job.state.name not in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"):
            assert time.time() < deadline, "the job did not finish"
            time.sleep(0.3)
            job = c.batches.get(name=job.name)
        assert job.state.name == "JOB_STATE_SUCCEEDED", job.state
        assert len(job.dest.inlined_responses) == 1
        print(f"{MODEL}: list, get, generate, stream, count tokens, explicit cache, batch: ok")
    finally:
        proc.terminate()


def check_thinking_levels(binary):
    proc, base = start_mock(binary, 'preset = "tier1"\noutput_tokens = 40\nlatency = { dist = "constant", value = "10ms" }\n')
    try:
        c = client(base)
        thoughts = {}
        for level in ("MINIMAL", "LOW", "MEDIUM", "HIGH"):
            cfg = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level=level))
            r = c.models.generate_content(model="gemini-3.6-flash", contents="Think about it", config=cfg)
            assert r.usage_metadata.candidates_token_count == 40, r.usage_metadata
            thoughts[level] = r.usage_metadata.thoughts_token_count or 0
        # The mock's documented assumption: 0.1, 0.75, 2.5 and 6 thinking tokens per answer token.
        assert thoughts == {"MINIMAL": 4, "LOW": 30, "MEDIUM": 100, "HIGH": 240}, thoughts
        try:
            cfg = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="MINIMAL"))
            c.models.generate_content(model="gemini-3.8-flash", contents="Hi", config=cfg)
            raise AssertionError("expected a 400 for MINIMAL on gemini-3.8-flash")
        except errors.ClientError as e:
            assert e.code == 400 and e.status == "INVALID_ARGUMENT", (e.code, e.status)
        try:
            both = types.ThinkingConfig(thinking_level="LOW", thinking_budget=100)
            c.models.generate_content(model="gemini-3.6-flash", contents="Hi", config=types.GenerateContentConfig(thinking_config=both))
            raise AssertionError("expected a 400 for a level with a budget")
        except errors.ClientError as e:
            assert e.code == 400, e.code
        print(f"thinking levels through the SDK: {thoughts}; MINIMAL on 3.8 Flash and level+budget refused: ok")
    finally:
        proc.terminate()


def check_document_prefix_cache(binary):
    """One text part each: the same ~12,000-token document, then a different question. Gemini's
    implicit cache serves the common leading tokens; the mock whole 128-token chunks of them
    (at least 4,096 tokens on gemini-3.5-flash)."""
    proc, base = start_mock(binary, 'preset = "tier1"\noutput_tokens = 20\nlatency = { dist = "constant", value = "10ms" }\n')
    try:
        c = client(base)
        document = "".join(f"Clause {i}: the supplier keeps records of every delivery for seven years. " for i in range(660))
        doc_tokens = c.models.count_tokens(model=MODEL, contents=document).total_tokens
        assert 11_500 <= doc_tokens <= 12_500, doc_tokens
        cached = []
        for question in ("Who keeps the records?", "For how long?", "Of what?", "Does clause 12 differ from clause 13?"):
            r = c.models.generate_content(model=MODEL, contents=document + "\n\nQuestion: " + question)
            u = r.usage_metadata
            cached.append(u.cached_content_token_count or 0)
            assert u.prompt_token_count > doc_tokens, u
        assert cached[0] == 0, cached
        # From the second on: the document up to its last whole chunk, never the question.
        whole = doc_tokens // 128 * 128
        assert all(x == whole for x in cached[1:]), (cached, whole)
        print(f"document of {doc_tokens} tokens before four questions: cached {cached}: ok")
    finally:
        proc.terminate()


def main():
    binary = sys.argv[1]
    check_flows_on_today_s_flash(binary)
    check_thinking_levels(binary)
    check_document_prefix_cache(binary)


if __name__ == "__main__":
    main()
