package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// fakeProvider answers each call with the next function in script (the last
// one repeats); nil script means success.
type fakeProvider struct {
	name   string
	mu     sync.Mutex
	calls  int
	script []func(ctx context.Context, call int) (*action.ProviderResponse, error)
}

func (f *fakeProvider) Name() string                      { return f.name }
func (f *fakeProvider) HealthCheck(context.Context) error { return nil }
func (f *fakeProvider) Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if len(f.script) == 0 {
		return okResp, nil
	}
	fn := f.script[min(n-1, len(f.script)-1)]
	return fn(ctx, n)
}

func (f *fakeProvider) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var okResp = &action.ProviderResponse{Status: action.StatusSuccess, Body: map[string]any{"ok": true}}

func fail(err error) func(context.Context, int) (*action.ProviderResponse, error) {
	return func(context.Context, int) (*action.ProviderResponse, error) { return nil, err }
}

func succeed(context.Context, int) (*action.ProviderResponse, error) { return okResp, nil }

// sleeper records the waits instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
	err   error // returned by every Sleep when set
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return s.err
}

func linearBackoff(attempt int) time.Duration { return time.Duration(attempt+1) * time.Second }

func testAction() *action.Action {
	return &action.Action{ID: "a-1", Namespace: "ns", Tenant: "t", Provider: "p", ActionType: "send",
		CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
}

type fixture struct {
	e       *Executor
	sl      *sleeper
	dlq     *DLQ
	health  *provider.Health
	reg     *prometheus.Registry
	breaker *Breakers
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{sl: &sleeper{}, health: provider.NewHealth(), reg: prometheus.NewPedanticRegistry()}
	c := clock.NewFake(time.Unix(1_700_000_000, 0))
	f.dlq = NewDLQ(memory.New(memory.Options{Clock: c}), c)
	f.breaker = NewBreakers(BreakerConfig{FailureThreshold: 1}, []string{"p"}, c)
	opts := Options{
		MaxRetries: 3,
		Backoff:    linearBackoff,
		Sleep:      f.sl.Sleep,
		DLQ:        f.dlq,
		Health:     f.health,
		Breakers:   f.breaker,
		Logger:     slog.New(slog.DiscardHandler),
		Registerer: f.reg,
	}
	if mod != nil {
		mod(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.e = e
	return f
}

func (f *fixture) dlqCount(t *testing.T) int {
	t.Helper()
	n, err := f.dlq.Count(t.Context())
	if err != nil {
		t.Fatalf("dlq count: %v", err)
	}
	return n
}

func TestExecuteRetryClassification(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantErr   *action.ActionError
		wantWaits []time.Duration // backoff sequence handed to Sleep
		wantDLQ   int
		wantState string // breaker state afterwards (threshold 1)
	}{
		{
			name:      "connection error retried until exhausted, then DLQ",
			err:       provider.Connection("refused"),
			wantErr:   &action.ActionError{Code: "CONNECTION", Message: "connection error: refused", Retryable: true, Attempts: 4},
			wantWaits: []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second},
			wantDLQ:   1,
			wantState: StateOpen,
		},
		{
			name:      "provider timeout error is retryable",
			err:       provider.Timeout(5 * time.Second),
			wantErr:   &action.ActionError{Code: "TIMEOUT", Message: "timeout after 5s", Retryable: true, Attempts: 4},
			wantWaits: []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second},
			wantDLQ:   1,
			wantState: StateOpen,
		},
		{
			name:      "rate limit Retry-After is a minimum wait",
			err:       provider.RateLimited(2500 * time.Millisecond),
			wantErr:   &action.ActionError{Code: "RATE_LIMITED", Message: "rate limited", Retryable: true, Attempts: 4},
			wantWaits: []time.Duration{2500 * time.Millisecond, 2500 * time.Millisecond, 3 * time.Second},
			wantDLQ:   1,
			wantState: StateOpen,
		},
		{
			name:      "Retry-After beyond MaxRetryAfter gives up at once",
			err:       provider.RateLimited(time.Hour),
			wantErr:   &action.ActionError{Code: "RATE_LIMITED", Message: "rate limited", Retryable: true, Attempts: 1},
			wantDLQ:   1,
			wantState: StateOpen,
		},
		{
			name:      "execution failure is not retried and skips the DLQ",
			err:       provider.ExecutionFailed("HTTP 400: bad"),
			wantErr:   &action.ActionError{Code: "EXECUTION_FAILED", Message: "execution failed: HTTP 400: bad", Retryable: false, Attempts: 1},
			wantState: StateClosed,
		},
		{
			name:      "not found is not retried",
			err:       &provider.Error{Kind: provider.KindNotFound, Message: "no such channel"},
			wantErr:   &action.ActionError{Code: "NOT_FOUND", Message: "not found: no such channel", Retryable: false, Attempts: 1},
			wantState: StateClosed,
		},
		{
			name:      "configuration error is not retried",
			err:       &provider.Error{Kind: provider.KindConfiguration, Message: "no token"},
			wantErr:   &action.ActionError{Code: "CONFIGURATION", Message: "invalid configuration: no token", Retryable: false, Attempts: 1},
			wantState: StateClosed,
		},
		{
			name:      "serialization error is not retried",
			err:       &provider.Error{Kind: provider.KindSerialization, Message: "bad payload"},
			wantErr:   &action.ActionError{Code: "SERIALIZATION", Message: "serialization error: bad payload", Retryable: false, Attempts: 1},
			wantState: StateClosed,
		},
		{
			name:      "a foreign error is a non-retryable execution failure",
			err:       errors.New("weird"),
			wantErr:   &action.ActionError{Code: "EXECUTION_FAILED", Message: "execution failed: weird", Retryable: false, Attempts: 1},
			wantState: StateClosed,
		},
		{
			name:      "a wrapped provider error keeps its kind",
			err:       errors.Join(errors.New("ctx"), provider.Connection("reset")),
			wantErr:   &action.ActionError{Code: "CONNECTION", Message: "connection error: reset", Retryable: true, Attempts: 4},
			wantWaits: []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second},
			wantDLQ:   1,
			wantState: StateOpen,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.MaxRetryAfter = time.Minute })
			p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){fail(tt.err)}}
			got := f.e.Execute(t.Context(), p, testAction())
			if diff := cmp.Diff(tt.wantErr, got.Err); diff != "" {
				t.Errorf("Err (-want +got):\n%s", diff)
			}
			if got.Response != nil {
				t.Errorf("Response = %v, want nil", got.Response)
			}
			if got.Attempts != tt.wantErr.Attempts || p.Calls() != tt.wantErr.Attempts {
				t.Errorf("Attempts = %d, provider calls = %d, want %d", got.Attempts, p.Calls(), tt.wantErr.Attempts)
			}
			if diff := cmp.Diff(tt.wantWaits, f.sl.waits); diff != "" {
				t.Errorf("backoff waits (-want +got):\n%s", diff)
			}
			if n := f.dlqCount(t); n != tt.wantDLQ {
				t.Errorf("DLQ entries = %d, want %d", n, tt.wantDLQ)
			}
			if s := f.breaker.State("p"); s != tt.wantState {
				t.Errorf("breaker = %s, want %s", s, tt.wantState)
			}
			hs := f.health.Snapshot("p")
			if hs.Failures != 1 || hs.TotalRequests != 1 || hs.LastError != tt.wantErr.Message {
				t.Errorf("health = %+v, want one failure with last_error %q", hs, tt.wantErr.Message)
			}
			if r := testutil.ToFloat64(f.e.retries.WithLabelValues("p")); int(r) != len(tt.wantWaits) {
				t.Errorf("retries_total = %v, want %d", r, len(tt.wantWaits))
			}
		})
	}
}

func TestExecuteNoRetries(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxRetries = 0; o.NoRetries = true })
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){fail(provider.Connection("x"))}}
	got := f.e.Execute(t.Context(), p, testAction())
	if got.Attempts != 1 || got.Err == nil || !got.Err.Retryable || got.Err.Attempts != 1 {
		t.Errorf("got %+v / %+v, want one retryable failed attempt", got, got.Err)
	}
	if n := f.dlqCount(t); n != 1 {
		t.Errorf("DLQ = %d, want 1", n)
	}
}

func TestExecuteSucceedsAfterRetries(t *testing.T) {
	f := newFixture(t, nil)
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		fail(provider.Connection("a")), fail(provider.Connection("a")), succeed,
	}}
	got := f.e.Execute(t.Context(), p, testAction())
	if got.Err != nil || got.Response != okResp || got.Attempts != 3 {
		t.Fatalf("got %+v, want success after 3 attempts", got)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, f.sl.waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if n := f.dlqCount(t); n != 0 {
		t.Errorf("DLQ = %d, want 0", n)
	}
	if hs := f.health.Snapshot("p"); hs.Successes != 1 || hs.Failures != 0 {
		t.Errorf("health = %+v, want one success", hs)
	}
	if s := f.breaker.State("p"); s != StateClosed {
		t.Errorf("breaker = %s", s)
	}
}

func TestExecuteFailureResponseIsSuccess(t *testing.T) {
	f := newFixture(t, nil)
	resp := &action.ProviderResponse{Status: action.StatusFailure}
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		func(context.Context, int) (*action.ProviderResponse, error) { return resp, nil },
	}}
	got := f.e.Execute(t.Context(), p, testAction())
	if got.Err != nil || got.Response != resp || got.Attempts != 1 {
		t.Errorf("got %+v, want the failure response as executed, no retry", got)
	}
}

// blockUntilDone waits for ctx.Done like a well-behaved network provider.
func blockUntilDone(ctx context.Context, _ int) (*action.ProviderResponse, error) {
	<-ctx.Done()
	return nil, provider.Connection("aborted: %v", ctx.Err())
}

// pollErr never looks at Done, only polls Err.
func pollErr(ctx context.Context, _ int) (*action.ProviderResponse, error) {
	for ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	return nil, ctx.Err()
}

func TestExecuteAttemptTimeout(t *testing.T) {
	tests := []struct {
		name string
		fn   func(context.Context, int) (*action.ProviderResponse, error)
	}{
		{"provider selecting on Done", blockUntilDone},
		{"provider polling Err", pollErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.MaxRetries = 1; o.Timeout = 20 * time.Millisecond })
			p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){tt.fn}}
			got := f.e.Execute(t.Context(), p, testAction())
			want := &action.ActionError{Code: "TIMEOUT", Message: "timeout after 20ms", Retryable: true, Attempts: 2}
			if diff := cmp.Diff(want, got.Err); diff != "" {
				t.Errorf("Err (-want +got):\n%s", diff)
			}
			if n := f.dlqCount(t); n != 1 {
				t.Errorf("DLQ = %d, want 1", n)
			}
			if diff := cmp.Diff(map[string]uint64{"success": 0, "failure": 0, "timeout": 2}, histCounts(t, f.reg)); diff != "" {
				t.Errorf("attempt histogram counts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExecuteTimeoutMessageWholeSeconds(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.NoRetries = true })
	// A provider returning after the deadline passed is judged by the
	// deadline: its own error is replaced by TIMEOUT.
	e := f.e
	e.opts.Timeout = 30 * time.Second
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		func(ctx context.Context, _ int) (*action.ProviderResponse, error) {
			ac := ctx.(*attemptCtx)
			ac.deadline = time.Now().Add(-time.Millisecond) // pretend 30 s went by
			return nil, errors.New("read: i/o timeout")
		},
	}}
	got := e.Execute(t.Context(), p, testAction())
	if got.Err == nil || got.Err.Message != "timeout after 30s" || got.Err.Code != "TIMEOUT" || !got.Err.Retryable {
		t.Errorf("Err = %+v, want retryable TIMEOUT \"timeout after 30s\"", got.Err)
	}
}

func TestExecuteCancelled(t *testing.T) {
	t.Run("before the first attempt: no call, no DLQ", func(t *testing.T) {
		f := newFixture(t, nil)
		p := &fakeProvider{name: "p"}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got := f.e.Execute(ctx, p, testAction())
		if got.Err == nil || got.Err.Code != "TIMEOUT" || got.Attempts != 0 || p.Calls() != 0 {
			t.Errorf("got %+v err %+v, want TIMEOUT with 0 attempts", got, got.Err)
		}
		if n := f.dlqCount(t); n != 0 {
			t.Errorf("DLQ = %d, want 0", n)
		}
	})
	t.Run("during backoff: stop retrying, last error, DLQ", func(t *testing.T) {
		f := newFixture(t, nil)
		f.sl.err = context.Canceled
		p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){fail(provider.Connection("down"))}}
		got := f.e.Execute(t.Context(), p, testAction())
		want := &action.ActionError{Code: "CONNECTION", Message: "connection error: down", Retryable: true, Attempts: 1}
		if diff := cmp.Diff(want, got.Err); diff != "" {
			t.Errorf("Err (-want +got):\n%s", diff)
		}
		if n := f.dlqCount(t); n != 1 {
			t.Errorf("DLQ = %d, want 1", n)
		}
		if s := f.breaker.State("p"); s != StateClosed {
			t.Errorf("breaker = %s, want closed (a cancelled caller is not the provider's fault)", s)
		}
	})
	t.Run("ctx checked before every attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := newFixture(t, func(o *Options) {
			o.Sleep = func(context.Context, time.Duration) error { cancel(); return nil }
		})
		p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){fail(provider.Connection("down"))}}
		got := f.e.Execute(ctx, p, testAction())
		if p.Calls() != 1 || got.Attempts != 1 {
			t.Errorf("provider called %d times, attempts %d; want 1", p.Calls(), got.Attempts)
		}
	})
}

func TestExecuteSemaphoreBound(t *testing.T) {
	const limit, callers = 3, 20
	f := newFixture(t, func(o *Options) { o.MaxConcurrent = limit })
	var cur, peak atomic.Int64
	gate := make(chan struct{})
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		func(context.Context, int) (*action.ProviderResponse, error) {
			n := cur.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			<-gate
			cur.Add(-1)
			return okResp, nil
		},
	}}
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { f.e.Execute(t.Context(), p, testAction()) })
	}
	// Wait (without a time bound) until every caller is either in flight
	// or queued.
	for {
		s := f.e.Stats()
		if s.InFlight == limit && s.Waiting == callers-limit {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if g := testutil.ToFloat64(gaugeNamed(t, f.reg, "acteon_executor_queue_waiting")); g != callers-limit {
		t.Errorf("queue_waiting gauge = %v, want %d", g, callers-limit)
	}
	close(gate)
	wg.Wait()
	if peak.Load() != limit {
		t.Errorf("peak concurrency = %d, want %d", peak.Load(), limit)
	}
	if s := f.e.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("stats after = %+v", s)
	}
}

func gaugeNamed(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "x", nil, nil), prometheus.GaugeValue, mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestExecuteWaitingForSlotRespectsCtx(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxConcurrent = 1 })
	gate := make(chan struct{})
	started := make(chan struct{})
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		func(context.Context, int) (*action.ProviderResponse, error) {
			close(started)
			<-gate
			return okResp, nil
		},
		succeed,
	}}
	done := make(chan Result)
	go func() { done <- f.e.Execute(t.Context(), p, testAction()) }()
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan Result)
	go func() { second <- f.e.Execute(ctx, p, testAction()) }()
	for f.e.Stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	got := <-second
	if got.Err == nil || got.Attempts != 0 || !got.Err.Retryable {
		t.Errorf("queued caller got %+v / %+v, want a retryable failure with 0 attempts", got, got.Err)
	}
	close(gate)
	if r := <-done; r.Err != nil {
		t.Errorf("first caller failed: %+v", r.Err)
	}
	if p.Calls() != 1 {
		t.Errorf("provider calls = %d, want 1", p.Calls())
	}
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func TestExecuteLogsOnlyWhenErrorChanges(t *testing.T) {
	h := &countingHandler{msgs: map[string]int{}}
	f := newFixture(t, func(o *Options) { o.Logger = slog.New(h); o.MaxRetries = 5 })
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		fail(provider.Connection("a")), fail(provider.Connection("a")), fail(provider.Connection("a")),
		fail(provider.Connection("b")), fail(provider.Connection("b")), succeed,
	}}
	if got := f.e.Execute(t.Context(), p, testAction()); got.Err != nil {
		t.Fatalf("Execute: %+v", got.Err)
	}
	if n := h.msgs["provider failed, retrying"]; n != 2 {
		t.Errorf("retry log lines = %d, want 2 (one per distinct error)", n)
	}
}

func TestExecuteMetrics(t *testing.T) {
	f := newFixture(t, nil)
	f.e.InitializeFor("p")
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		fail(provider.Connection("a")), succeed,
	}}
	f.e.Execute(t.Context(), p, testAction())
	if diff := cmp.Diff(map[string]uint64{"success": 1, "failure": 1, "timeout": 0}, histCounts(t, f.reg)); diff != "" {
		t.Errorf("attempt histogram counts (-want +got):\n%s", diff)
	}
	if r := testutil.ToFloat64(f.e.retries.WithLabelValues("p")); r != 1 {
		t.Errorf("retries_total = %v, want 1", r)
	}
}

// histCounts returns the attempt histogram's sample count per outcome.
func histCounts(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "acteon_provider_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var outcome string
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					outcome = l.GetValue()
				}
			}
			counts[outcome] = m.GetHistogram().GetSampleCount()
		}
	}
	return counts
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{MaxConcurrent: -1, MaxRetries: -2, Timeout: -time.Second})
	want := "executor: max_concurrent: must be >= 0, got -1\nmax_retries: must be >= 0, got -2\ntimeout: must be >= 0, got -1s"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.opts.MaxConcurrent != 10 || e.opts.MaxRetries != 3 || e.opts.Timeout != 30*time.Second {
		t.Errorf("defaults = %d/%d/%s", e.opts.MaxConcurrent, e.opts.MaxRetries, e.opts.Timeout)
	}
}

func TestDrainWaitsForInFlight(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxConcurrent = 2 })
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	p := &fakeProvider{name: "p", script: []func(context.Context, int) (*action.ProviderResponse, error){
		func(context.Context, int) (*action.ProviderResponse, error) {
			started <- struct{}{}
			<-gate
			return okResp, nil
		},
	}}
	go f.e.Execute(t.Context(), p, testAction())
	<-started
	drained := make(chan error)
	go func() { drained <- f.e.Drain(t.Context()) }()
	select {
	case <-drained:
		t.Fatal("Drain returned while an action was in flight")
	default:
	}
	close(gate)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if s := f.e.Stats(); s.InFlight != 0 {
		t.Errorf("in flight after drain = %d", s.InFlight)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Slots are free again: a drain with a dead ctx may still succeed or
	// fail, but an Execute must go through.
	_ = f.e.Drain(ctx)
	if r := f.e.Execute(t.Context(), &fakeProvider{name: "p"}, testAction()); r.Err != nil {
		t.Errorf("Execute after drain: %+v", r.Err)
	}
}
