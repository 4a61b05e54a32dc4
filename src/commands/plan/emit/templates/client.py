{{ header }}
"""The calling plan above as an asyncio client on google-genai.

    client = make_client(api_key=...)             # once, inside your event loop
    answer = await client.generate_content("Hello")

`generate_content` waits for one of WORKERS workers (FIFO, as the plan's queue), {% if limiter %}takes
each attempt's share of the client rate limit, {% endif %}lets the SDK make and retry the attempts under
its retry options and the per-attempt timeout, and gives up after TOTAL_TIMEOUT_S from the call.
A worker is held from the first attempt to the end, through the SDK's waits between retries: the
plan's workers count requests in flight or waiting to retry.
"""

from __future__ import annotations

import asyncio
import collections
{% if limiter %}
import contextvars
import time
{% endif %}
from typing import Any, Optional

from google import genai
from google.genai import {% if fallback %}errors, {% endif %}types

try:  # google-genai 3.x sends with httpx2 when it is installed, else with httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

MODEL = {{ model }}
WORKERS = {{ workers }}  # requests in flight or waiting to retry, at most
QUEUE_CAPACITY = {{ queue_capacity }}  # requests waiting for a worker, at most
OVERFLOW = "{{ overflow }}"  # a request finding the queue full: reject | drop-oldest | block
QUEUE_DEADLINE_S = {{ queue_deadline_s }}  # longest wait for a worker (None: only the total timeout)
ATTEMPT_TIMEOUT_MS = {{ attempt_timeout_ms }}  # HttpOptions.timeout: per attempt, in milliseconds
TOTAL_TIMEOUT_S = {{ total_timeout_s }}  # from the call to the end, queue and retries included
{% if limiter %}
RPM = {{ rpm }}  # attempts a minute (0: no limit)
TPM = {{ tpm }}  # input tokens a minute (0: no limit)
BURST_REQUESTS = {{ burst_requests }}  # the request bucket's size
BURST_TOKENS = {{ burst_tokens }}  # the token bucket's size
LIMIT_PER_MODEL = {{ per_model }}  # one set of buckets per model (else one for all)
{% endif %}
{% if fallback %}
{% if fallback.model %}
FALLBACK_MODEL = {{ fallback.model }}  # called once when the primary's final error calls for it
{% endif %}
{% endif %}

{% if retry %}
RETRY_OPTIONS = types.HttpRetryOptions(
    attempts={{ retry.attempts }},  # the first included
    initial_delay={{ retry.initial_delay }},  # s, before the first retry
    max_delay={{ retry.max_delay }},  # s
    exp_base={{ retry.exp_base }},
    jitter={{ retry.jitter }},  # s: each wait plus U(0, jitter)
    http_status_codes=[{{ retry.codes }}],
)
{% else %}
RETRY_OPTIONS = None  # the plan makes one attempt: without retry options the SDK retries nothing
{% endif %}


class QueueFull(Exception):
    """The plan's queue was full (or this request was dropped from it to make room)."""


class QueueTimeout(Exception):
    """The request waited longer than QUEUE_DEADLINE_S for a worker."""


class _Workers:
    """WORKERS requests at once; the rest wait in FIFO order, QUEUE_CAPACITY of them at most
    (OVERFLOW says what happens to one more; `block` lets it wait), each QUEUE_DEADLINE_S at most."""

    def __init__(self) -> None:
        self._free = WORKERS
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        if len(self._waiting) >= QUEUE_CAPACITY and OVERFLOW != "block":
            if OVERFLOW != "drop-oldest" or not self._waiting:
                raise QueueFull(f"{QUEUE_CAPACITY} requests already wait for a worker")
            self._waiting.popleft().set_exception(QueueFull("dropped from the full queue to make room"))
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await asyncio.wait_for(turn, QUEUE_DEADLINE_S)
        except asyncio.TimeoutError:
            self._leave(turn)
            raise QueueTimeout(f"no worker within {QUEUE_DEADLINE_S} s") from None
        except BaseException:
            self._leave(turn)
            raise

    def _leave(self, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled() and turn.exception() is None:
            self.release()  # handed a worker just as it gave up: pass it on
        elif turn in self._waiting:
            self._waiting.remove(turn)

    def release(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1
{% if limiter %}


# The request being sent, for the rate limit: its model and input tokens.
_MODEL: contextvars.ContextVar[str] = contextvars.ContextVar("plan_model", default=MODEL)
_INPUT_TOKENS: contextvars.ContextVar[int] = contextvars.ContextVar("plan_input_tokens", default=0)


class _Bucket:
    """A token bucket as stampede's limiter: refills at per_minute / 60 a second up to capacity; a
    cost above the capacity waits for a full bucket and leaves it negative."""

    def __init__(self, per_minute: float, capacity: float) -> None:
        self._per_s = per_minute / 60.0
        self._capacity = capacity
        self._tokens = capacity
        self._at = time.monotonic()

    def wait(self, cost: float, now: float) -> float:
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._per_s)
        self._at = now
        return max(0.0, (min(cost, self._capacity) - self._tokens) / self._per_s)

    def take(self, cost: float) -> None:
        self._tokens -= cost


class _Limiter:
    """The plan's client rate limit: an attempt goes when both buckets hold its cost, first come
    first served."""

    def __init__(self) -> None:
        self._requests = _Bucket(RPM, BURST_REQUESTS) if RPM else None
        self._tokens = _Bucket(TPM, BURST_TOKENS) if TPM else None
        self._lock = asyncio.Lock()

    async def take(self, input_tokens: int) -> None:
        costs = [(b, c) for b, c in ((self._requests, 1), (self._tokens, input_tokens)) if b is not None]
        async with self._lock:
            while True:
                now = time.monotonic()
                wait = max(b.wait(c, now) for b, c in costs)
                if wait <= 0.0:
                    for b, c in costs:
                        b.take(c)
                    return
                await asyncio.sleep(wait)


class _PacedTransport(httpx.AsyncBaseTransport):
    """Sends each attempt when the rate limit lets it go — the SDK's retries too, as the plan
    paces every attempt — through `inner`. The per-attempt timeout starts after the wait."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._limiters: dict[str, _Limiter] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = _MODEL.get() if LIMIT_PER_MODEL else ""
        limiter = self._limiters.setdefault(key, _Limiter())
        await limiter.take(_INPUT_TOKENS.get())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
{% endif %}
{% if fallback %}


def _falls_back(error: BaseException) -> bool:
    """Whether the primary model's final error calls for the fallback ({{ fallback.on }})."""
    if isinstance(error, errors.APIError):
        return {{ fallback.api_test }}
    return {{ fallback.other_test }}
{% if fallback.degraded %}


def degraded_answer(contents: Any) -> Any:
    """The plan's degraded answer (an answer without the model): put your own here."""
    return None
{% endif %}
{% endif %}


class PlanClient:
    """A google-genai client that calls under the plan: workers, queue, {% if limiter %}rate limit, {% endif %}timeouts,
    retries{% if fallback %}, fallback{% endif %}. Make it inside the event loop that uses it."""

    def __init__(self, client: genai.Client) -> None:
        self.client = client
        self._workers = _Workers()

    async def generate_content(
        self, contents: Any, config: Optional[types.GenerateContentConfigOrDict] = None, *, input_tokens: Optional[int] = None
    ) -> Any:
        """`client.aio.models.generate_content` under the plan; raises QueueFull, QueueTimeout,
        asyncio.TimeoutError (TOTAL_TIMEOUT_S) or the SDK's final error. `input_tokens` is the
        prompt's size for a tokens-per-minute limit (default: its characters / 4)."""
        return await asyncio.wait_for(self._generate(contents, config, input_tokens), TOTAL_TIMEOUT_S)

    async def _generate(self, contents: Any, config: Any, input_tokens: Optional[int]) -> Any:
        await self._workers.acquire()
        try:
{% if limiter %}
            _INPUT_TOKENS.set(input_tokens if input_tokens is not None else len(str(contents)) // 4)
{% endif %}
{% if fallback %}
            try:
                return await self._call(MODEL, contents, config)
            except Exception as error:  # noqa: BLE001 - the plan's triggers decide
                if not _falls_back(error):
                    raise
{% if fallback.degraded %}
            return degraded_answer(contents)
{% else %}
            return await self._call(FALLBACK_MODEL, contents, config)
{% endif %}
{% else %}
            return await self._call(MODEL, contents, config)
{% endif %}
        finally:
            self._workers.release()

    async def _call(self, model: str, contents: Any, config: Any) -> Any:
{% if limiter %}
        _MODEL.set(model)
{% endif %}
        return await self.client.aio.models.generate_content(model=model, contents=contents, config=config)


def http_options(base_url: Optional[str] = None, transport: Optional[httpx.AsyncBaseTransport] = None) -> types.HttpOptions:
    """The SDK's options for the plan: per-attempt timeout and retries{% if limiter %}, and the paced
    transport (which makes the SDK send with httpx, never aiohttp){% endif %}. `transport`, if given, is the
    httpx transport to send with."""
{% if limiter %}
    transport = _PacedTransport(transport or httpx.AsyncHTTPTransport())
{% endif %}
    return types.HttpOptions(
        base_url=base_url,
        timeout=ATTEMPT_TIMEOUT_MS,
        retry_options=RETRY_OPTIONS,
        async_client_args={"transport": transport} if transport is not None else None,
    )


def make_client(
    api_key: Optional[str] = None, base_url: Optional[str] = None, transport: Optional[httpx.AsyncBaseTransport] = None
) -> PlanClient:
    """The plan's client (`api_key` None: the SDK reads GEMINI_API_KEY / GOOGLE_API_KEY)."""
    return PlanClient(genai.Client(api_key=api_key, http_options=http_options(base_url, transport)))
