"""The official openai SDK against the stampede mock's OpenAI-compatible endpoint, with the
SDK's default settings (only the base URL changed, as Google's docs show for Gemini).

Run by .ci/run when python3 is present:
    python3 tests/python/test_openai_sdk.py path/to/stampede-mock

Checks a chat completion, a stream with include_usage, and Gemini's 429 as the SDK sees it:
the SDK retries it twice by default, then raises RateLimitError.
"""

import sys

import openai

from test_google_genai import start_mock, stats


def main(binary):
    proc, base = start_mock(binary, 'preset = "tier1"\nlatency = { dist = "constant", value = "50ms" }\noutput_tokens = 40\n')
    try:
        c = openai.OpenAI(api_key="test-key", base_url=base + "/v1beta/openai/")
        r = c.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "Explain how AI works in a few words"}]
        )
        assert r.choices[0].finish_reason == "stop", r
        assert r.usage.prompt_tokens == 9 and r.usage.completion_tokens == 40, r.usage
        assert len(r.choices[0].message.content) == 160

        chunks = list(
            c.chat.completions.create(
                model="gemini-2.5-flash",
                messages=[{"role": "user", "content": "Hello"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert len(chunks) == 3, len(chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].usage.completion_tokens == 40, chunks[-1].usage
        assert "".join(ch.choices[0].delta.content or "" for ch in chunks)
    finally:
        proc.kill()

    proc, base = start_mock(binary, 'preset = "tier1"\n[errors]\nrate_429 = 1.0\nretry_delay_429 = "10ms"\n')
    try:
        c = openai.OpenAI(api_key="test-key", base_url=base + "/v1beta/openai/")
        try:
            c.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "Hi"}])
            raise AssertionError("expected a 429")
        except openai.RateLimitError as e:
            assert e.status_code == 429
        # The default client tries three times (max_retries = 2).
        sent = stats(base)["requests"]["gemini-2.5-flash"]["429"]
        assert sent == 3, sent
    finally:
        proc.kill()
    print("openai SDK", openai.__version__, "against the mock: chat, stream with usage, 429 retried twice then raised")


if __name__ == "__main__":
    main(sys.argv[1])
