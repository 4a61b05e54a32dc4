{{ header }}

// Package planclient calls Gemini under the calling plan above, on google.golang.org/genai.
//
//	client, err := planclient.New(ctx, os.Getenv("GEMINI_API_KEY"), "", nil)
//	answer, err := client.GenerateContent(ctx, genai.Text("Hello"), nil, 0)
//
// GenerateContent waits for one of Workers workers (FIFO, as the plan's queue), lets the SDK make
// and retry the attempts under its retry options — each attempt {% if limiter %}paced by the client rate limit
// and {% endif %}bounded by AttemptTimeout in the client's transport — and gives up TotalTimeout after the
// call. A worker is held from the first attempt to the end, through the SDK's waits between
// retries: the plan's workers count requests in flight or waiting to retry.
package planclient

import (
	"context"
	"errors"
	"io"
{% if limiter %}
	"math"
{% endif %}
	"net/http"
	"sync"
	"time"

	"google.golang.org/genai"
)

const (
	// Model is the model called.
	Model = {{ model }}
	// Workers is the most requests in flight or waiting to retry.
	Workers = {{ workers }}
	// QueueCapacity is the most requests waiting for a worker.
	QueueCapacity = {{ queue_capacity }}
	// Overflow says what happens to a request finding the queue full: reject, drop-oldest, block.
	Overflow = "{{ overflow }}"
	// QueueDeadline is the longest wait for a worker (0: only the total timeout).
	QueueDeadline = {{ queue_deadline }}
	// AttemptTimeout bounds each attempt, from when it is sent to the end of its answer.
	AttemptTimeout = {{ attempt_timeout }}
	// TotalTimeout bounds a request from the call to its end, queue and retries included.
	TotalTimeout = {{ total_timeout }}
{% if limiter %}
	// RPM is the attempts a minute (0: no limit).
	RPM = {{ rpm }}
	// TPM is the input tokens a minute (0: no limit).
	TPM = {{ tpm }}
	// BurstRequests is the request bucket's size.
	BurstRequests = {{ burst_requests }}
	// BurstTokens is the token bucket's size.
	BurstTokens = {{ burst_tokens }}
	// LimitPerModel keeps one set of buckets per model (else one for all).
	LimitPerModel = {{ per_model }}
{% endif %}
{% if fallback %}
{% if fallback.model %}
	// FallbackModel is called once when the primary's final error calls for it.
	FallbackModel = {{ fallback.model }}
{% endif %}
{% endif %}
)

{% if retry %}
// RetryOptions are the SDK's retries: before retry k, min(InitialDelay × ExpBase^(k−1) + U(0, Jitter), MaxDelay) seconds.
var RetryOptions = &genai.HTTPRetryOptions{
	Attempts:        genai.Ptr[int32]({{ retry.attempts }}),
	InitialDelay:    genai.Ptr({{ retry.initial_delay }}),
	MaxDelay:        genai.Ptr({{ retry.max_delay }}),
	ExpBase:         genai.Ptr({{ retry.exp_base }}),
	Jitter:          genai.Ptr({{ retry.jitter }}),
	HTTPStatusCodes: []int32{ {{- retry.codes -}} },
}
{% else %}
// RetryOptions is nil: the plan makes one attempt, and without retry options the SDK retries nothing.
var RetryOptions *genai.HTTPRetryOptions
{% endif %}

var (
	// ErrQueueFull: the queue was full, or the request was dropped from it to make room.
	ErrQueueFull = errors.New("planclient: the queue is full")
	// ErrQueueTimeout: the request waited longer than QueueDeadline for a worker.
	ErrQueueTimeout = errors.New("planclient: no worker within the queue deadline")
)

// workers lets Workers requests through at once; the rest wait in FIFO order.
type workers struct {
	mu      sync.Mutex
	free    int
	waiting []chan error // nil hands over a worker
}

func (w *workers) acquire(ctx context.Context) error {
	w.mu.Lock()
	if w.free > 0 && len(w.waiting) == 0 {
		w.free--
		w.mu.Unlock()
		return nil
	}
	if len(w.waiting) >= QueueCapacity && Overflow != "block" {
		if Overflow != "drop-oldest" || len(w.waiting) == 0 {
			w.mu.Unlock()
			return ErrQueueFull
		}
		w.waiting[0] <- ErrQueueFull
		w.waiting = w.waiting[1:]
	}
	turn := make(chan error, 1)
	w.waiting = append(w.waiting, turn)
	w.mu.Unlock()
	var expired <-chan time.Time
	if QueueDeadline > 0 {
		timer := time.NewTimer(QueueDeadline)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case err := <-turn:
		return err
	case <-expired:
		return w.leave(turn, ErrQueueTimeout)
	case <-ctx.Done():
		return w.leave(turn, ctx.Err())
	}
}

// leave takes turn out of the queue; one handed a worker meanwhile passes it on.
func (w *workers) leave(turn chan error, why error) error {
	w.mu.Lock()
	for i, t := range w.waiting {
		if t == turn {
			w.waiting = append(w.waiting[:i], w.waiting[i+1:]...)
			w.mu.Unlock()
			return why
		}
	}
	w.mu.Unlock()
	if err := <-turn; err == nil {
		w.release()
	}
	return why
}

func (w *workers) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.waiting) > 0 {
		w.waiting[0] <- nil
		w.waiting = w.waiting[1:]
		return
	}
	w.free++
}
{% if limiter %}

// bucket is a token bucket as stampede's limiter: refills at perMinute / 60 a second up to
// capacity; a cost above the capacity waits for a full bucket and leaves it negative.
type bucket struct {
	perSec, capacity, tokens float64
	at                       time.Time
}

func newBucket(perMinute, capacity float64) *bucket {
	return &bucket{perSec: perMinute / 60, capacity: capacity, tokens: capacity, at: time.Now()}
}

func (b *bucket) wait(cost float64, now time.Time) time.Duration {
	b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.at).Seconds()*b.perSec)
	b.at = now
	need := math.Min(cost, b.capacity) - b.tokens
	return time.Duration(math.Max(0, need/b.perSec) * float64(time.Second))
}

// limiter is the plan's client rate limit: an attempt goes when both buckets hold its cost.
type limiter struct {
	mu               sync.Mutex
	requests, tokens *bucket
}

func newLimiter() *limiter {
	l := &limiter{}
	if RPM > 0 {
		l.requests = newBucket(RPM, BurstRequests)
	}
	if TPM > 0 {
		l.tokens = newBucket(TPM, BurstTokens)
	}
	return l
}

func (l *limiter) take(ctx context.Context, inputTokens int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		now := time.Now()
		var wait time.Duration
		if l.requests != nil {
			wait = l.requests.wait(1, now)
		}
		if l.tokens != nil {
			if w := l.tokens.wait(float64(inputTokens), now); w > wait {
				wait = w
			}
		}
		if wait <= 0 {
			if l.requests != nil {
				l.requests.tokens--
			}
			if l.tokens != nil {
				l.tokens.tokens -= float64(inputTokens)
			}
			return nil
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// costKey carries the request's model and input tokens to the transport.
type costKey struct{}

type cost struct {
	model       string
	inputTokens int
}
{% endif %}

// attemptTransport sends each attempt {% if limiter %}when the rate limit lets it go (the SDK's retries too, as
// the plan paces every attempt), {% endif %}with AttemptTimeout from the moment it is sent to the end of
// its body.
type attemptTransport struct {
{% if limiter %}
	inner    http.RoundTripper
	mu       sync.Mutex
	limiters map[string]*limiter
{% else %}
	inner http.RoundTripper
{% endif %}
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
{% if limiter %}
	c, _ := req.Context().Value(costKey{}).(cost)
	key := ""
	if LimitPerModel {
		key = c.model
	}
	t.mu.Lock()
	l, ok := t.limiters[key]
	if !ok {
		l = newLimiter()
		t.limiters[key] = l
	}
	t.mu.Unlock()
	if err := l.take(req.Context(), c.inputTokens); err != nil {
		return nil, err
	}
{% endif %}
	ctx, cancel := context.WithTimeout(req.Context(), AttemptTimeout)
	resp, err := t.inner.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// cancelOnClose ends an attempt's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
{% if fallback %}

// fallsBack says whether the primary model's final error calls for the fallback ({{ fallback.on }}).
func fallsBack(err error) bool {
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		return {{ fallback.api_test }}
	}
	return {{ fallback.other_test }}
}
{% if fallback.degraded %}

// DegradedAnswer is the plan's degraded answer (an answer without the model): put your own here.
func DegradedAnswer(contents []*genai.Content) *genai.GenerateContentResponse {
	return nil
}
{% endif %}
{% endif %}

// PlanClient is a genai client that calls under the plan.
type PlanClient struct {
	Client  *genai.Client
	workers *workers
}

// New makes the plan's client; baseURL "" is the SDK's default, inner nil is
// http.DefaultTransport.
func New(ctx context.Context, apiKey, baseURL string, inner http.RoundTripper) (*PlanClient, error) {
	if inner == nil {
		inner = http.DefaultTransport
	}
	transport := &attemptTransport{inner: inner{% if limiter %}, limiters: map[string]*limiter{}{% endif %}}
	client, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey:      apiKey,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{Transport: transport},
		HTTPOptions: genai.HTTPOptions{BaseURL: baseURL, RetryOptions: RetryOptions},
	})
	if err != nil {
		return nil, err
	}
	return &PlanClient{Client: client, workers: &workers{free: Workers}}, nil
}

// GenerateContent is Models.GenerateContent under the plan; it fails with ErrQueueFull,
// ErrQueueTimeout, context.DeadlineExceeded (TotalTimeout) or the SDK's final error. inputTokens
// sizes the prompt for a tokens-per-minute limit (0: its text's characters / 4).
func (p *PlanClient) GenerateContent(ctx context.Context, contents []*genai.Content, config *genai.GenerateContentConfig, inputTokens int) (*genai.GenerateContentResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, TotalTimeout)
	defer cancel()
	if err := p.workers.acquire(ctx); err != nil {
		return nil, err
	}
	defer p.workers.release()
{% if limiter %}
	if inputTokens <= 0 {
		for _, c := range contents {
			for _, part := range c.Parts {
				inputTokens += len(part.Text)
			}
		}
		inputTokens /= 4
	}
{% endif %}
{% if fallback %}
	answer, err := p.call(ctx, Model, contents, config, inputTokens)
	if err == nil || ctx.Err() != nil || !fallsBack(err) {
		return answer, err
	}
{% if fallback.degraded %}
	return DegradedAnswer(contents), nil
{% else %}
	return p.call(ctx, FallbackModel, contents, config, inputTokens)
{% endif %}
{% else %}
	return p.call(ctx, Model, contents, config, inputTokens)
{% endif %}
}

func (p *PlanClient) call(ctx context.Context, model string, contents []*genai.Content, config *genai.GenerateContentConfig, inputTokens int) (*genai.GenerateContentResponse, error) {
{% if limiter %}
	ctx = context.WithValue(ctx, costKey{}, cost{model: model, inputTokens: inputTokens})
{% else %}
	_ = inputTokens
{% endif %}
	return p.Client.Models.GenerateContent(ctx, model, contents, config)
}
