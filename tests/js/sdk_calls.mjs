// The official @google/genai JavaScript SDK sending N calls, GAP ms apart, to a base URL (the
// stampede mock); prints {"attempts": A, "answered": B} as JSON. Attempts are counted by
// wrapping the global fetch the SDK sends with.
//
//   node sdk_calls.mjs BASE_URL RETRY(0|1) TIMEOUT_MS(0 = none) N GAP_MS
//
// Used by tests/python/test_preset_vs_sdk.py (run by .ci/run).
import {GoogleGenAI} from '@google/genai';

const [baseUrl, retry, timeoutMs, n, gapMs] = process.argv.slice(2);
let attempts = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (...args) => {
  attempts += 1;
  return realFetch(...args);
};
const httpOptions = {baseUrl};
if (retry === '1') httpOptions.retryOptions = {};
if (Number(timeoutMs) > 0) httpOptions.timeout = Number(timeoutMs);
const ai = new GoogleGenAI({apiKey: 'test-key', httpOptions});
let answered = 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const calls = [];
for (let i = 0; i < Number(n); i++) {
  calls.push(
    sleep(i * Number(gapMs)).then(() =>
      ai.models
        .generateContent({model: 'gemini-2.5-flash', contents: 'Hello'})
        .then(() => {
          answered += 1;
        })
        .catch(() => {}),
    ),
  );
}
await Promise.all(calls);
console.log(JSON.stringify({attempts, answered}));
