{{ header }}
/**
 * The calling plan above as a client on @google/genai.
 *
 *   const client = makeClient(process.env.GEMINI_API_KEY);
 *   const answer = await client.generateContent('Hello');
 *
 * `generateContent` waits for one of WORKERS workers (FIFO, as the plan's queue), {% if limiter %}takes its
 * share of the client rate limit, {% endif %}lets the SDK make and retry the attempts under its retry options
 * and per-attempt timeout, and gives up TOTAL_TIMEOUT_MS after the call. A worker is held from the
 * first attempt to the end, through the SDK's waits between retries: the plan's workers count
 * requests in flight or waiting to retry.
 */
{% if fallback %}
import {ApiError, GoogleGenAI} from '@google/genai';
{% else %}
import {GoogleGenAI} from '@google/genai';
{% endif %}
import type {ContentListUnion, GenerateContentConfig, GenerateContentResponse, HttpRetryOptions} from '@google/genai';

export const MODEL = {{ model }};
/** Requests in flight or waiting to retry, at most. */
export const WORKERS = {{ workers }};
/** Requests waiting for a worker, at most. */
export const QUEUE_CAPACITY = {{ queue_capacity }};
/** A request finding the queue full: rejected, the oldest dropped, or let wait. */
export const OVERFLOW = '{{ overflow }}' as 'reject' | 'drop-oldest' | 'block';
/** Longest wait for a worker (null: only the total timeout). */
export const QUEUE_DEADLINE_MS: number | null = {{ queue_deadline_ms }};
/** httpOptions.timeout: each attempt, in milliseconds. */
export const ATTEMPT_TIMEOUT_MS = {{ attempt_timeout_ms }};
/** From the call to the end, queue and retries included. */
export const TOTAL_TIMEOUT_MS = {{ total_timeout_ms }};
{% if limiter %}
/** Requests a minute (0: no limit). */
export const RPM = {{ rpm }};
/** Input tokens a minute (0: no limit). */
export const TPM = {{ tpm }};
export const BURST_REQUESTS = {{ burst_requests }};
export const BURST_TOKENS = {{ burst_tokens }};
/** One set of buckets per model (else one for all). */
export const LIMIT_PER_MODEL = {{ per_model }};
{% endif %}
{% if fallback %}
{% if fallback.model %}
/** Called once when the primary's final error calls for it. */
export const FALLBACK_MODEL = {{ fallback.model }};
{% endif %}
{% endif %}

{% if retry %}
/** The SDK's retries (p-retry): each wait initialDelay × expBase^(k−1), capped{% if retry.jitter != "0" %}, times U(1, 2){% endif %}. */
export const RETRY_OPTIONS: HttpRetryOptions | undefined = {
  attempts: {{ retry.attempts }},
  initialDelay: {{ retry.initial_delay }},
  maxDelay: {{ retry.max_delay }},
  expBase: {{ retry.exp_base }},
  jitter: {{ retry.jitter }},
  httpStatusCodes: [{{ retry.codes }}],
};
{% else %}
/** The plan makes one attempt: without retryOptions the SDK retries nothing. */
export const RETRY_OPTIONS: HttpRetryOptions | undefined = undefined;
{% endif %}

/** The plan's queue was full (or this request was dropped from it to make room). */
export class QueueFull extends Error {
  name = 'QueueFull';
}

/** The request waited longer than QUEUE_DEADLINE_MS for a worker. */
export class QueueTimeout extends Error {
  name = 'QueueTimeout';
}

/** TOTAL_TIMEOUT_MS passed. */
export class TotalTimeout extends Error {
  name = 'TotalTimeout';
}

interface Turn {
  done: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** WORKERS requests at once; the rest wait in FIFO order, QUEUE_CAPACITY of them at most. */
class Workers {
  private free = WORKERS;
  private waiting: Turn[] = [];

  async acquire(deadline: number): Promise<void> {
    if (this.free > 0 && this.waiting.length === 0) {
      this.free--;
      return;
    }
    if (this.waiting.length >= QUEUE_CAPACITY && OVERFLOW !== 'block') {
      const oldest = OVERFLOW === 'drop-oldest' ? this.waiting.shift() : undefined;
      if (!oldest) throw new QueueFull(`${QUEUE_CAPACITY} requests already wait for a worker`);
      oldest.done = true;
      oldest.reject(new QueueFull('dropped from the full queue to make room'));
    }
    const queueEnd = QUEUE_DEADLINE_MS === null ? deadline : Date.now() + QUEUE_DEADLINE_MS;
    const until = Math.min(queueEnd, deadline);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (turn.done) return;
        turn.done = true;
        this.waiting.splice(this.waiting.indexOf(turn), 1);
        reject(until < deadline ? new QueueTimeout(`no worker within ${QUEUE_DEADLINE_MS} ms`) : new TotalTimeout('timed out waiting for a worker'));
      }, Math.max(0, until - Date.now()));
      const turn: Turn = {
        done: false,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiting.push(turn);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) {
      next.done = true;
      next.resolve();
    } else {
      this.free++;
    }
  }
}
{% if limiter %}

/** A token bucket as stampede's limiter: refills at perMinute / 60 a second up to capacity; a cost
 * above the capacity waits for a full bucket and leaves it negative. */
class Bucket {
  private tokens: number;
  private at = performance.now();

  constructor(private perMinute: number, private capacity: number) {
    this.tokens = capacity;
  }

  /** Milliseconds until `cost` can be taken. */
  wait(cost: number, now: number): number {
    const perMs = this.perMinute / 60000;
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * perMs);
    this.at = now;
    return Math.max(0, (Math.min(cost, this.capacity) - this.tokens) / perMs);
  }

  take(cost: number): void {
    this.tokens -= cost;
  }
}

/** The plan's client rate limit: a request goes when both buckets hold its cost, first come
 * first served. */
class Limiter {
  private requests = RPM > 0 ? new Bucket(RPM, BURST_REQUESTS) : null;
  private tokens = TPM > 0 ? new Bucket(TPM, BURST_TOKENS) : null;
  private line: Promise<void> = Promise.resolve();

  take(inputTokens: number): Promise<void> {
    const turn = this.line.then(() => this.wait(inputTokens));
    this.line = turn.catch(() => undefined);
    return turn;
  }

  private async wait(inputTokens: number): Promise<void> {
    const costs: Array<[Bucket, number]> = [];
    if (this.requests) costs.push([this.requests, 1]);
    if (this.tokens) costs.push([this.tokens, inputTokens]);
    for (;;) {
      const now = performance.now();
      const wait = Math.max(...costs.map(([b, c]) => b.wait(c, now)));
      if (wait <= 0) {
        for (const [b, c] of costs) b.take(c);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
{% endif %}
{% if fallback %}

/** Whether the primary model's final error calls for the fallback ({{ fallback.on }}). */
function fallsBack(error: unknown): boolean {
  if (error instanceof ApiError) return {{ fallback.api_test }};
  return {{ fallback.other_test }};
}
{% if fallback.degraded %}

/** The plan's degraded answer (an answer without the model): put your own here. */
export function degradedAnswer(contents: ContentListUnion): GenerateContentResponse | undefined {
  void contents;
  return undefined;
}
{% endif %}
{% endif %}

/** A @google/genai client that calls under the plan: workers, queue, {% if limiter %}rate limit, {% endif %}timeouts, retries{% if fallback %}, fallback{% endif %}. */
export class PlanClient {
  private workers = new Workers();
{% if limiter %}
  private limiters = new Map<string, Limiter>();
{% endif %}

  constructor(readonly ai: GoogleGenAI) {}

  /** `ai.models.generateContent` under the plan; rejects with QueueFull, QueueTimeout,
   * TotalTimeout or the SDK's final error. `inputTokens` sizes the prompt for a tokens-per-minute
   * limit (default: its JSON's characters / 4). */
  async generateContent(
    contents: ContentListUnion,
    config: GenerateContentConfig = {},
    inputTokens?: number,
  ): Promise<GenerateContentResponse{% if fallback %}{% if fallback.degraded %} | undefined{% endif %}{% endif %}> {
    const deadline = Date.now() + TOTAL_TIMEOUT_MS;
    await this.workers.acquire(deadline);
    try {
{% if fallback %}
      try {
        return await this.call(MODEL, contents, config, deadline, inputTokens);
      } catch (error) {
        if (!fallsBack(error)) throw error;
      }
{% if fallback.degraded %}
      return degradedAnswer(contents);
{% else %}
      return await this.call(FALLBACK_MODEL, contents, config, deadline, inputTokens);
{% endif %}
{% else %}
      return await this.call(MODEL, contents, config, deadline, inputTokens);
{% endif %}
    } finally {
      this.workers.release();
    }
  }

  private async call(
    model: string,
    contents: ContentListUnion,
    config: GenerateContentConfig,
    deadline: number,
    inputTokens: number | undefined,
  ): Promise<GenerateContentResponse> {
{% if limiter %}
    const key = LIMIT_PER_MODEL ? model : '';
    let limiter = this.limiters.get(key);
    if (!limiter) this.limiters.set(key, (limiter = new Limiter()));
    await limiter.take(inputTokens ?? Math.floor(JSON.stringify(contents).length / 4));
{% else %}
    void inputTokens;
{% endif %}
    const left = deadline - Date.now();
    if (left <= 0) throw new TotalTimeout('timed out before the call');
    // The SDK notices an abort when an attempt ends; the race ends the call (and frees the worker)
    // at the deadline itself, and any further attempt of the SDK's is aborted before it is sent.
    const signal = AbortSignal.timeout(left);
    const answer = this.ai.models.generateContent({model, contents, config: {...config, abortSignal: signal}});
    answer.catch(() => undefined);
    const expired = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new TotalTimeout('timed out')), {once: true}),
    );
    return Promise.race([answer, expired]);
  }
}

/** The plan's client (`apiKey` undefined: the SDK reads GEMINI_API_KEY / GOOGLE_API_KEY). */
export function makeClient(apiKey?: string, baseUrl?: string): PlanClient {
  return new PlanClient(
    new GoogleGenAI({
      apiKey,
      httpOptions: {baseUrl, timeout: ATTEMPT_TIMEOUT_MS, retryOptions: RETRY_OPTIONS},
    }),
  );
}
