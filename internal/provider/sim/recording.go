package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/provider"
)

// FailureKind selects when a Recording fails.
type FailureKind int

// Failure kinds.
const (
	// None never fails.
	None FailureKind = iota
	// Always fails every call.
	Always
	// FirstN fails calls 1..N.
	FirstN
	// EveryN fails calls whose number is a multiple of N.
	EveryN
	// Probabilistic fails each call with probability P.
	Probabilistic
)

// String names the kind.
func (k FailureKind) String() string {
	switch k {
	case None:
		return "none"
	case Always:
		return "always"
	case FirstN:
		return "first_n"
	case EveryN:
		return "every_n"
	case Probabilistic:
		return "probabilistic"
	}
	return fmt.Sprintf("FailureKind(%d)", int(k))
}

// FailureMode describes injected failures.
type FailureMode struct {
	Kind FailureKind
	N    int     // FirstN, EveryN
	P    float64 // Probabilistic, in [0, 1]
}

// Call is one recorded Execute.
type Call struct {
	// Time is when the call started, by the Recording's clock.
	Time     time.Time
	Action   *action.Action
	Response *action.ProviderResponse
	Err      error
	// Duration is the call's real elapsed time.
	Duration time.Duration
}

// ResponseFunc computes a Recording's answer to a successful call.
type ResponseFunc func(a *action.Action) (*action.ProviderResponse, error)

// RecordingOption configures a Recording.
type RecordingOption func(*Recording)

// WithDelay makes every call take d (cut short when ctx ends).
func WithDelay(d time.Duration) RecordingOption { return func(r *Recording) { r.delay = d } }

// WithFailureMode injects failures.
func WithFailureMode(m FailureMode) RecordingOption { return func(r *Recording) { r.mode = m } }

// WithResponseFunc replaces the default answer of calls that do not fail.
func WithResponseFunc(f ResponseFunc) RecordingOption { return func(r *Recording) { r.respond = f } }

// WithoutCapture keeps only the call counter: Calls and LastAction stay
// empty. For benchmarks.
func WithoutCapture() RecordingOption { return func(r *Recording) { r.capture = false } }

// WithClock sets the clock for Call.Time (default: the wall clock).
func WithClock(c clock.Clock) RecordingOption {
	return func(r *Recording) {
		if c != nil {
			r.clock = c
		}
	}
}

// WithSeed makes Probabilistic failures reproducible.
func WithSeed(seed uint64) RecordingOption {
	return func(r *Recording) { r.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// Recording is a provider that records its calls.
type Recording struct {
	name    string
	delay   time.Duration
	mode    FailureMode
	respond ResponseFunc
	capture bool
	clock   clock.Clock

	rngMu sync.Mutex
	rng   *rand.Rand // nil: the global source

	count atomic.Int64
	mu    sync.Mutex
	calls []Call
}

// NewRecording returns a Recording registered under name.
func NewRecording(name string, opts ...RecordingOption) *Recording {
	r := &Recording{name: name, capture: true, clock: clock.Real{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Name returns the provider name.
func (r *Recording) Name() string { return r.name }

// HealthCheck always succeeds.
func (r *Recording) HealthCheck(context.Context) error { return nil }

// Execute answers per the options and records the call.
func (r *Recording) Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error) {
	k := r.count.Add(1)
	var start time.Time
	var started time.Time
	if r.capture {
		start = r.clock.Now()
		started = time.Now()
	}
	resp, err := r.answer(ctx, a, k)
	if r.capture {
		c := Call{Time: start, Action: a, Response: resp, Err: err, Duration: time.Since(started)}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
	}
	return resp, err
}

func (r *Recording) answer(ctx context.Context, a *action.Action, k int64) (*action.ProviderResponse, error) {
	if r.delay > 0 {
		if err := sleep(ctx, r.delay); err != nil {
			return nil, &provider.Error{Kind: provider.KindTimeout, Message: "simulated delay interrupted: " + err.Error()}
		}
	}
	if r.fails(k) {
		return nil, provider.Connection("simulated failure on call #%d", k)
	}
	if r.respond != nil {
		return r.respond(a)
	}
	id := ""
	if a != nil {
		id = a.ID
	}
	// Response and body share one allocation: this provider sits on the
	// benchmark path.
	sr := &simResponse{body: SimulatedBody{Provider: r.name, ActionID: id, Simulated: true}}
	sr.resp.Status = action.StatusSuccess
	sr.resp.Body = &sr.body
	return &sr.resp, nil
}

// SimulatedBody is the default response body of a Recording provider:
// {"provider":…,"action_id":…,"simulated":true}.
type SimulatedBody struct {
	Provider  string `json:"provider"`
	ActionID  string `json:"action_id"`
	Simulated bool   `json:"simulated"`
}

type simResponse struct {
	resp action.ProviderResponse
	body SimulatedBody
}

func (r *Recording) fails(k int64) bool {
	switch r.mode.Kind {
	case Always:
		return true
	case FirstN:
		return k <= int64(r.mode.N)
	case EveryN:
		return r.mode.N > 0 && k%int64(r.mode.N) == 0
	case Probabilistic:
		if r.rng != nil {
			r.rngMu.Lock()
			f := r.rng.Float64()
			r.rngMu.Unlock()
			return f < r.mode.P
		}
		return rand.Float64() < r.mode.P
	}
	return false
}

// Calls returns a copy of the recorded calls, oldest first.
func (r *Recording) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// CallCount returns how many times Execute was called (also without
// capture).
func (r *Recording) CallCount() int { return int(r.count.Load()) }

// LastAction returns the action of the latest recorded call, or nil.
func (r *Recording) LastAction() *action.Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return nil
	}
	return r.calls[len(r.calls)-1].Action
}

// Clear forgets the recorded calls and resets the counter (which also
// restarts FirstN and EveryN).
func (r *Recording) Clear() {
	r.mu.Lock()
	r.calls = nil
	r.count.Store(0)
	r.mu.Unlock()
}

// TB is the part of testing.TB the assertion helpers use.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// AssertCalled fails t unless Execute was called exactly n times.
func (r *Recording) AssertCalled(t TB, n int) {
	t.Helper()
	if got := r.CallCount(); got != n {
		t.Errorf("provider %s called %d times, want %d", r.name, got, n)
	}
}

// AssertCalledAtLeast fails t unless Execute was called at least n times.
func (r *Recording) AssertCalledAtLeast(t TB, n int) {
	t.Helper()
	if got := r.CallCount(); got < n {
		t.Errorf("provider %s called %d times, want at least %d", r.name, got, n)
	}
}

// AssertNotCalled fails t if Execute was called.
func (r *Recording) AssertNotCalled(t TB) {
	t.Helper()
	if got := r.CallCount(); got != 0 {
		t.Errorf("provider %s called %d times, want none", r.name, got)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d) }

var _ provider.Provider = (*Recording)(nil)
