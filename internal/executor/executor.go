package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/provider"
)

// Defaults for Options (spec 03 §5.1).
const (
	DefaultMaxConcurrent = 10
	DefaultMaxRetries    = 3
	DefaultTimeout       = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
	// dlqPushTimeout bounds the DLQ write, which outlives the caller's ctx.
	dlqPushTimeout = 5 * time.Second
)

// Outcome label values of acteon_provider_request_duration_seconds.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeTimeout = "timeout"
)

// Options configures an Executor. The zero value is usable: every field has
// a default.
type Options struct {
	// MaxConcurrent bounds the actions being delivered at once across all
	// providers (default 10). Callers over the bound wait for a slot; they
	// are not rejected.
	MaxConcurrent int
	// MaxRetries is how many times a retryable failure is retried (default
	// 3, so up to 4 attempts). Set NoRetries for none, since 0 means
	// "default".
	MaxRetries int
	// NoRetries forces MaxRetries to 0.
	NoRetries bool
	// Timeout bounds each attempt (default 30 s).
	Timeout time.Duration
	// Backoff returns the wait before retrying after the 0-based attempt
	// that failed (default DefaultBackoff).
	Backoff func(attempt int) time.Duration
	// MaxRetryAfter is the longest provider Retry-After hint the executor
	// will wait out while holding a concurrency slot (default 5 min). A
	// longer hint ends the retries at once: the action fails retryable and
	// goes to the DLQ.
	MaxRetryAfter time.Duration
	// Sleep waits between attempts (default SleepContext). Tests inject an
	// instant one that records the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// DLQ receives actions whose retryable failures exhausted the retries;
	// nil disables it.
	DLQ *DLQ
	// Health, when set, records each delivery's latency and outcome.
	Health *provider.Health
	// Breakers, when set, is told each delivery's outcome. The caller (the
	// gateway) asks Breakers.Allow before calling Execute.
	Breakers *Breakers
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Registerer receives the executor's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

func (o *Options) validate() error {
	var errs []error
	if o.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("max_concurrent: must be >= 0, got %d", o.MaxConcurrent))
	}
	if o.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("max_retries: must be >= 0, got %d", o.MaxRetries))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must be >= 0, got %s", o.Timeout))
	}
	if o.MaxRetryAfter < 0 {
		errs = append(errs, fmt.Errorf("max_retry_after: must be >= 0, got %s", o.MaxRetryAfter))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.NoRetries {
		o.MaxRetries = 0
	} else if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRetryAfter == 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Sleep == nil {
		o.Sleep = SleepContext
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Executor delivers actions to providers with a per-attempt timeout,
// retries with backoff, a global concurrency bound and an optional
// dead-letter queue. It is safe for concurrent use.
type Executor struct {
	opts Options
	log  *slog.Logger
	sem  chan struct{}

	inFlight atomic.Int64
	waiting  atomic.Int64

	duration *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	perProv  sync.Map // provider name -> *provMetrics
}

type provMetrics struct {
	success, failure, timeout prometheus.Observer
	retries                   prometheus.Counter
}

// Result is the outcome of one Execute: exactly one of Response and Err is
// meaningful. Response may be nil when the provider returned (nil, nil).
// Attempts counts provider calls made.
type Result struct {
	Response *action.ProviderResponse
	Err      *action.ActionError
	Attempts int
}

// Stats is a point-in-time view of the executor's load.
type Stats struct {
	// InFlight is the number of actions holding a concurrency slot
	// (attempting or waiting between attempts).
	InFlight int
	// Waiting is the number of callers waiting for a slot.
	Waiting int
	// MaxConcurrent is the slot count.
	MaxConcurrent int
}

// New builds an Executor.
func New(opts Options) (*Executor, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	e := &Executor{
		opts: opts,
		log:  opts.Logger.With("component", "executor"),
		sem:  make(chan struct{}, opts.MaxConcurrent),
	}
	f := promauto.With(opts.Registerer)
	e.duration = f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "acteon_provider_request_duration_seconds",
		Help:    "Duration of provider attempts, by provider and outcome (success, failure, timeout).",
		Buckets: prometheus.DefBuckets,
	}, []string{"provider", "outcome"})
	e.retries = f.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_executor_retries_total",
		Help: "Retries of provider calls after a retryable failure.",
	}, []string{"provider"})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "acteon_executor_in_flight",
		Help: "Actions holding an executor concurrency slot.",
	}, func() float64 { return float64(e.inFlight.Load()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "acteon_executor_queue_waiting",
		Help: "Callers waiting for an executor concurrency slot.",
	}, func() float64 { return float64(e.waiting.Load()) })
	return e, nil
}

// InitializeFor pre-creates the per-provider metric series so they start at
// zero.
func (e *Executor) InitializeFor(providers ...string) {
	for _, p := range providers {
		e.metricsFor(p)
	}
}

func (e *Executor) metricsFor(name string) *provMetrics {
	if v, ok := e.perProv.Load(name); ok {
		return v.(*provMetrics)
	}
	m := &provMetrics{
		success: e.duration.WithLabelValues(name, outcomeSuccess),
		failure: e.duration.WithLabelValues(name, outcomeFailure),
		timeout: e.duration.WithLabelValues(name, outcomeTimeout),
		retries: e.retries.WithLabelValues(name),
	}
	v, _ := e.perProv.LoadOrStore(name, m)
	return v.(*provMetrics)
}

// Stats reports current load.
func (e *Executor) Stats() Stats {
	return Stats{
		InFlight:      int(e.inFlight.Load()),
		Waiting:       int(e.waiting.Load()),
		MaxConcurrent: e.opts.MaxConcurrent,
	}
}

// MaxRetries is the effective retry count.
func (e *Executor) MaxRetries() int { return e.opts.MaxRetries }

// DLQ returns the configured dead-letter queue, or nil.
func (e *Executor) DLQ() *DLQ { return e.opts.DLQ }

func (e *Executor) acquire(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
	default:
		e.waiting.Add(1)
		select {
		case e.sem <- struct{}{}:
			e.waiting.Add(-1)
		case <-ctx.Done():
			e.waiting.Add(-1)
			return ctx.Err()
		}
	}
	e.inFlight.Add(1)
	return nil
}

func (e *Executor) release() {
	e.inFlight.Add(-1)
	<-e.sem
}

// Drain waits until every action in flight has finished, or ctx ends. While
// it waits it holds the slots it has collected, so new Execute calls queue
// behind it; it releases them all before returning. Use it on shutdown after
// intake has stopped.
func (e *Executor) Drain(ctx context.Context) error {
	held := 0
	defer func() {
		for range held {
			<-e.sem
		}
	}()
	for held < cap(e.sem) {
		select {
		case e.sem <- struct{}{}:
			held++
		case <-ctx.Done():
			return fmt.Errorf("executor: drain: %w", ctx.Err())
		}
	}
	return nil
}

// Execute delivers a through p and returns the outcome. It never panics on
// a provider error and never returns with a slot still held.
//
//   - It first takes one slot of the global MaxConcurrent semaphore, waiting
//     if needed (an ended ctx returns a retryable TIMEOUT failure with zero
//     attempts). The slot is held across all attempts and backoff waits.
//   - Each attempt runs with a deadline of Timeout; a deadline hit is the
//     retryable error TIMEOUT "timeout after 30s".
//   - A nil error is success, even if the response's status is "failure".
//   - Retryable errors (TIMEOUT, CONNECTION, RATE_LIMITED) are retried up to
//     MaxRetries times after Backoff(attempt), or the provider's RetryAfter
//     hint when that is longer. ctx is checked before every attempt.
//   - A non-retryable error fails at once: retryable=false,
//     attempts=attempt+1, nothing goes to the DLQ.
//   - Exhausted retryable errors fail with retryable=true,
//     attempts=MaxRetries+1, and the action is pushed to the DLQ.
//   - If ctx ends while retrying, the last provider error is returned as a
//     retryable failure and the action is pushed to the DLQ too: it failed
//     and nobody will retry it.
//
// Health (once per Execute: total latency from the first attempt, outcome,
// last error) and Breakers (success; retryable failure) are updated.
func (e *Executor) Execute(ctx context.Context, p provider.Provider, a *action.Action) Result {
	if err := e.acquire(ctx); err != nil {
		return Result{Err: &action.ActionError{
			Code:      string(provider.KindTimeout),
			Message:   "gave up waiting for an executor slot: " + err.Error(),
			Retryable: true,
		}}
	}
	defer e.release()

	name := p.Name()
	m := e.metricsFor(name)
	var (
		first   time.Time
		lastMsg string
		pe      *provider.Error
	)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := ctx.Err(); err != nil {
				return e.abandoned(ctx, name, a, pe, attempt, first)
			}
		} else if err := ctx.Err(); err != nil {
			return Result{Err: &action.ActionError{
				Code:      string(provider.KindTimeout),
				Message:   "cancelled before delivery: " + err.Error(),
				Retryable: true,
			}}
		}

		start := time.Now()
		if attempt == 0 {
			first = start
		}
		actx := newAttemptCtx(ctx, start.Add(e.opts.Timeout))
		resp, err := p.Execute(actx, a)
		end := time.Now()
		if err == nil {
			actx.release()
			m.success.Observe(end.Sub(start).Seconds())
			e.opts.Health.RecordAt(name, end, end.Sub(first), nil)
			e.opts.Breakers.Record(name, true)
			return Result{Response: resp, Attempts: attempt + 1}
		}
		timedOut := actx.expired(end)
		actx.release()
		if timedOut {
			pe = provider.Timeout(e.opts.Timeout)
			m.timeout.Observe(end.Sub(start).Seconds())
		} else {
			pe = provider.AsError(err)
			m.failure.Observe(end.Sub(start).Seconds())
		}
		msg := pe.Error()

		if !pe.Retryable() {
			e.opts.Health.RecordAt(name, end, end.Sub(first), pe)
			e.opts.Breakers.Release(name)
			e.log.Debug("provider failed, not retryable",
				"action_id", a.ID, "provider", name, "attempt", attempt, "err", msg)
			return Result{
				Err:      &action.ActionError{Code: string(pe.Kind), Message: msg, Retryable: false, Attempts: attempt + 1},
				Attempts: attempt + 1,
			}
		}
		if attempt >= e.opts.MaxRetries || pe.RetryAfter > e.opts.MaxRetryAfter {
			return e.exhausted(ctx, name, a, pe, attempt+1, first, end)
		}

		wait := e.opts.Backoff(attempt)
		if pe.RetryAfter > wait {
			wait = pe.RetryAfter
		}
		if msg != lastMsg {
			e.log.Warn("provider failed, retrying",
				"action_id", a.ID, "provider", name, "attempt", attempt, "err", msg, "wait", wait)
			lastMsg = msg
		}
		m.retries.Inc()
		if err := e.opts.Sleep(ctx, wait); err != nil {
			return e.abandoned(ctx, name, a, pe, attempt+1, first)
		}
	}
}

// exhausted finishes an action whose retryable failures used up the
// retries.
func (e *Executor) exhausted(ctx context.Context, name string, a *action.Action, pe *provider.Error, attempts int, first, end time.Time) Result {
	msg := pe.Error()
	e.opts.Health.RecordAt(name, end, end.Sub(first), pe)
	e.opts.Breakers.Record(name, false)
	e.pushDLQ(ctx, name, a, msg, attempts)
	return Result{
		Err:      &action.ActionError{Code: string(pe.Kind), Message: msg, Retryable: true, Attempts: attempts},
		Attempts: attempts,
	}
}

// abandoned finishes an action whose retries were cut short by ctx. The
// provider is not blamed: health counts the failure but the breaker does
// not.
func (e *Executor) abandoned(ctx context.Context, name string, a *action.Action, pe *provider.Error, attempts int, first time.Time) Result {
	msg := pe.Error()
	end := time.Now()
	e.opts.Health.RecordAt(name, end, end.Sub(first), pe)
	e.opts.Breakers.Release(name)
	e.pushDLQ(ctx, name, a, msg, attempts)
	return Result{
		Err:      &action.ActionError{Code: string(pe.Kind), Message: msg, Retryable: true, Attempts: attempts},
		Attempts: attempts,
	}
}

func (e *Executor) pushDLQ(ctx context.Context, name string, a *action.Action, msg string, attempts int) {
	if e.opts.DLQ == nil {
		e.log.Warn("action delivery failed after retries",
			"action_id", a.ID, "provider", name, "attempt", attempts-1, "err", msg)
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dlqPushTimeout)
	defer cancel()
	err := e.opts.DLQ.Push(dctx, Entry{
		ActionID:   a.ID,
		Namespace:  a.Namespace,
		Tenant:     a.Tenant,
		Provider:   name,
		ActionType: a.ActionType,
		Error:      msg,
		Attempts:   attempts,
		Action:     a,
	})
	if err != nil {
		e.log.Error("action lost: delivery failed and the dead-letter push failed",
			"action_id", a.ID, "provider", name, "err", err)
		return
	}
	e.log.Warn("action delivery failed after retries, moved to the dead-letter queue",
		"action_id", a.ID, "provider", name, "attempt", attempts-1, "err", msg)
}
