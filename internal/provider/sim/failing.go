package sim

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/provider"
)

// FailingOption configures a Failing provider.
type FailingOption func(*Failing)

// FailUntil makes calls 1..n fail and later calls succeed with
// {"provider","action_id","recovered_after":n}. n <= 0 means fail forever.
func FailUntil(n int) FailingOption { return func(f *Failing) { f.until = int64(max(n, 0)) } }

// WithSleep makes each failing call take d first (cut short when ctx
// ends), like a provider that hangs before timing out.
func WithSleep(d time.Duration) FailingOption { return func(f *Failing) { f.sleep = d } }

// WithRetryAfter sets the RetryAfter hint of the returned errors.
func WithRetryAfter(d time.Duration) FailingOption { return func(f *Failing) { f.retryAfter = d } }

// Failing is a provider that fails with a configured error kind.
type Failing struct {
	name       string
	kind       provider.Kind
	msg        string
	until      int64 // 0: forever
	sleep      time.Duration
	retryAfter time.Duration
	count      atomic.Int64
}

// NewFailing returns a provider whose calls fail with an error of kind and
// message msg.
func NewFailing(name string, kind provider.Kind, msg string, opts ...FailingOption) *Failing {
	f := &Failing{name: name, kind: kind, msg: msg}
	for _, o := range opts {
		o(f)
	}
	return f
}

// NewTimeout returns a Failing provider that sleeps d and then fails with
// TIMEOUT "timeout after d".
func NewTimeout(name string, d time.Duration, opts ...FailingOption) *Failing {
	return NewFailing(name, provider.KindTimeout, "", append([]FailingOption{WithSleep(d)}, opts...)...)
}

// Name returns the provider name.
func (f *Failing) Name() string { return f.name }

func (f *Failing) err() *provider.Error {
	return &provider.Error{Kind: f.kind, Message: f.msg, Timeout: f.sleep, RetryAfter: f.retryAfter}
}

// Execute fails (or, past FailUntil, succeeds).
func (f *Failing) Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error) {
	k := f.count.Add(1)
	if f.until > 0 && k > f.until {
		id := ""
		if a != nil {
			id = a.ID
		}
		return &action.ProviderResponse{
			Status: action.StatusSuccess,
			Body:   map[string]any{"provider": f.name, "action_id": id, "recovered_after": f.until},
		}, nil
	}
	if f.sleep > 0 {
		if err := sleep(ctx, f.sleep); err != nil {
			return nil, &provider.Error{Kind: provider.KindTimeout, Message: "simulated hang interrupted: " + err.Error()}
		}
	}
	return nil, f.err()
}

// HealthCheck fails the same way while calls still fail.
func (f *Failing) HealthCheck(context.Context) error {
	if f.until > 0 && f.count.Load() >= f.until {
		return nil
	}
	return f.err()
}

// CallCount returns how many times Execute was called.
func (f *Failing) CallCount() int { return int(f.count.Load()) }

// Reset sets the call counter back to zero (failing again under FailUntil).
func (f *Failing) Reset() { f.count.Store(0) }

var _ provider.Provider = (*Failing)(nil)
