package executor

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acteon/acteon-go/internal/clock"
)

var t0 = time.Unix(1_700_000_000, 0)

func intp(v int) *int                     { return &v }
func durp(v time.Duration) *time.Duration { return &v }
func newTestBreakers(cfg BreakerConfig, names ...string) (*Breakers, *clock.Fake, *prometheus.Registry) {
	c := clock.NewFake(t0)
	reg := prometheus.NewPedanticRegistry()
	return NewBreakers(cfg, names, c, WithBreakerRegisterer(reg)), c, reg
}

// step is one thing done to a breaker and what must be observed after it.
type step struct {
	do        string // "allow", "ok", "fail", "release", "advance", "trip", "reset"
	advance   time.Duration
	wantAllow bool   // for "allow"
	wantState string // checked after every step
}

func TestBreakerTransitions(t *testing.T) {
	cfg := BreakerConfig{FailureThreshold: 3, SuccessThreshold: 2, RecoveryTimeout: 10 * time.Second}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "closed counts consecutive failures and opens at the threshold",
			steps: []step{
				{do: "fail", wantState: StateClosed},
				{do: "fail", wantState: StateClosed},
				{do: "allow", wantAllow: true, wantState: StateClosed},
				{do: "fail", wantState: StateOpen},
				{do: "allow", wantAllow: false, wantState: StateOpen},
			},
		},
		{
			name: "a success resets the failure count",
			steps: []step{
				{do: "fail", wantState: StateClosed},
				{do: "fail", wantState: StateClosed},
				{do: "ok", wantState: StateClosed},
				{do: "fail", wantState: StateClosed},
				{do: "fail", wantState: StateClosed},
				{do: "fail", wantState: StateOpen},
			},
		},
		{
			name: "open lets one probe through after the recovery timeout; successes close it",
			steps: []step{
				{do: "trip", wantState: StateOpen},
				{do: "advance", advance: 9 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: false, wantState: StateOpen},
				{do: "advance", advance: time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "allow", wantAllow: false, wantState: StateHalfOpen}, // one probe at a time
				{do: "ok", wantState: StateHalfOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "ok", wantState: StateClosed},
				{do: "allow", wantAllow: true, wantState: StateClosed},
			},
		},
		{
			name: "a half-open failure re-opens and restarts the recovery window",
			steps: []step{
				{do: "trip", wantState: StateOpen},
				{do: "advance", advance: 10 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "fail", wantState: StateOpen},
				{do: "advance", advance: 9 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: false, wantState: StateOpen},
			},
		},
		{
			name: "a lost probe frees its slot after 30s",
			steps: []step{
				{do: "trip", wantState: StateOpen},
				{do: "advance", advance: 10 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "advance", advance: 29 * time.Second, wantState: StateHalfOpen},
				{do: "allow", wantAllow: false, wantState: StateHalfOpen},
				{do: "advance", advance: time.Second, wantState: StateHalfOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
			},
		},
		{
			name: "release frees the probe without counting",
			steps: []step{
				{do: "trip", wantState: StateOpen},
				{do: "advance", advance: 10 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "release", wantState: StateHalfOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "ok", wantState: StateHalfOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
				{do: "ok", wantState: StateClosed},
			},
		},
		{
			name: "failures while open push the recovery window out",
			steps: []step{
				{do: "trip", wantState: StateOpen},
				{do: "advance", advance: 8 * time.Second, wantState: StateOpen},
				{do: "fail", wantState: StateOpen},
				{do: "advance", advance: 8 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: false, wantState: StateOpen},
				{do: "advance", advance: 2 * time.Second, wantState: StateOpen},
				{do: "allow", wantAllow: true, wantState: StateHalfOpen},
			},
		},
		{
			name: "reset closes from any state",
			steps: []step{
				{do: "trip", wantState: StateOpen},
				{do: "reset", wantState: StateClosed},
				{do: "allow", wantAllow: true, wantState: StateClosed},
				{do: "fail", wantState: StateClosed}, // counters were cleared
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c, _ := newTestBreakers(cfg, "p")
			for i, s := range tt.steps {
				switch s.do {
				case "allow":
					if got := b.Allow("p"); got != s.wantAllow {
						t.Fatalf("step %d: Allow = %v, want %v", i, got, s.wantAllow)
					}
				case "ok":
					b.Record("p", true)
				case "fail":
					b.Record("p", false)
				case "release":
					b.Release("p")
				case "advance":
					c.Advance(s.advance)
				case "trip":
					if !b.Trip("p") {
						t.Fatalf("step %d: Trip reported unknown provider", i)
					}
				case "reset":
					if !b.Reset("p") {
						t.Fatalf("step %d: Reset reported unknown provider", i)
					}
				}
				if got := b.State("p"); got != s.wantState {
					t.Fatalf("step %d (%s): state = %s, want %s", i, s.do, got, s.wantState)
				}
			}
		})
	}
}

func TestBreakerZeroRecoveryOverride(t *testing.T) {
	b, _, _ := newTestBreakers(BreakerConfig{PerProvider: map[string]BreakerOverride{
		"p": {FailureThreshold: intp(1), RecoveryTimeout: durp(0)},
	}}, "p")
	b.Record("p", false)
	if b.State("p") != StateOpen {
		t.Fatalf("state = %s, want open", b.State("p"))
	}
	if !b.Allow("p") || b.State("p") != StateHalfOpen {
		t.Errorf("recovery 0: Allow should probe immediately; state %s", b.State("p"))
	}
}

func TestBreakerUnknownProviderAlwaysAllowed(t *testing.T) {
	b, _, _ := newTestBreakers(BreakerConfig{}, "p")
	for range 10 {
		b.Record("other", false)
	}
	if !b.Allow("other") || b.State("other") != "" || b.Has("other") || b.Trip("other") || b.Reset("other") {
		t.Error("a provider without a breaker must pass and report no state")
	}
	var nilB *Breakers
	if !nilB.Allow("p") || nilB.State("p") != "" || nilB.Snapshot() != nil {
		t.Error("nil Breakers must allow everything")
	}
	nilB.Record("p", false)
	nilB.Release("p")
}

func TestBreakerTransitionsMetric(t *testing.T) {
	b, c, reg := newTestBreakers(BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Second}, "p")
	b.Record("p", false) // -> open
	c.Advance(time.Second)
	b.Allow("p")        // -> half_open
	b.Record("p", true) // 1 of 2
	b.Allow("p")
	b.Record("p", true) // -> closed
	want := `
# HELP acteon_circuit_transitions_total Circuit breaker state transitions, by provider and target state.
# TYPE acteon_circuit_transitions_total counter
acteon_circuit_transitions_total{provider="p",to="closed"} 1
acteon_circuit_transitions_total{provider="p",to="half_open"} 1
acteon_circuit_transitions_total{provider="p",to="open"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "acteon_circuit_transitions_total"); err != nil {
		t.Error(err)
	}
}

func TestBreakerSnapshot(t *testing.T) {
	b, _, _ := newTestBreakers(BreakerConfig{PerProvider: map[string]BreakerOverride{
		"b": {SuccessThreshold: intp(4), RecoveryTimeout: durp(90 * time.Second), FallbackProvider: "a"},
	}}, "b", "a")
	b.Trip("b")
	want := []BreakerInfo{
		{Provider: "a", State: "closed", FailureThreshold: 5, SuccessThreshold: 2, RecoveryTimeoutSeconds: 60},
		{Provider: "b", State: "open", FailureThreshold: 5, SuccessThreshold: 4, RecoveryTimeoutSeconds: 90, FallbackProvider: "a"},
	}
	if diff := cmp.Diff(want, b.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	if b.Fallback("b") != "a" || b.Fallback("a") != "" {
		t.Errorf("Fallback = %q/%q", b.Fallback("b"), b.Fallback("a"))
	}
}

func TestBreakerFallbackChain(t *testing.T) {
	fb := func(to string) BreakerOverride { return BreakerOverride{FallbackProvider: to} }
	tests := []struct {
		name       string
		fallbacks  map[string]BreakerOverride
		open       []string // breakers to trip
		registered []string
		wantTarget string
		wantChain  []string
		wantOK     bool
	}{
		{
			name:       "first healthy fallback",
			fallbacks:  map[string]BreakerOverride{"a": fb("b"), "b": fb("c")},
			open:       []string{"a"},
			registered: []string{"a", "b", "c"},
			wantTarget: "b", wantChain: []string{"b"}, wantOK: true,
		},
		{
			name:       "open fallbacks are skipped onward",
			fallbacks:  map[string]BreakerOverride{"a": fb("b"), "b": fb("c")},
			open:       []string{"a", "b"},
			registered: []string{"a", "b", "c"},
			wantTarget: "c", wantChain: []string{"b", "c"}, wantOK: true,
		},
		{
			name:       "an unregistered fallback ends the walk",
			fallbacks:  map[string]BreakerOverride{"a": fb("b"), "b": fb("ghost")},
			open:       []string{"a", "b"},
			registered: []string{"a", "b"},
			wantChain:  []string{"b"},
		},
		{
			name:       "a cycle ends the walk",
			fallbacks:  map[string]BreakerOverride{"a": fb("b"), "b": fb("a")},
			open:       []string{"a", "b"},
			registered: []string{"a", "b"},
			wantChain:  []string{"b"},
		},
		{
			name:       "no fallback configured",
			open:       []string{"a"},
			registered: []string{"a"},
		},
		{
			name:       "a fallback without its own breaker is available",
			fallbacks:  map[string]BreakerOverride{"a": fb("log")},
			open:       []string{"a"},
			registered: []string{"a", "log"},
			wantTarget: "log", wantChain: []string{"log"}, wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, _ := newTestBreakers(BreakerConfig{PerProvider: tt.fallbacks}, "a", "b", "c")
			for _, o := range tt.open {
				b.Trip(o)
			}
			reg := map[string]bool{}
			for _, r := range tt.registered {
				reg[r] = true
			}
			target, chain, ok := b.FallbackChain("a", func(n string) bool { return reg[n] })
			if target != tt.wantTarget || ok != tt.wantOK {
				t.Errorf("target, ok = %q, %v; want %q, %v", target, ok, tt.wantTarget, tt.wantOK)
			}
			if diff := cmp.Diff(tt.wantChain, chain); diff != "" {
				t.Errorf("chain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBreakerConfigValidate(t *testing.T) {
	cfg := BreakerConfig{
		FailureThreshold: -1,
		PerProvider: map[string]BreakerOverride{
			"x": {SuccessThreshold: intp(0), RecoveryTimeout: durp(-time.Second), FallbackProvider: "x"},
		},
	}
	want := "executor: circuit breaker: failure_threshold: must be >= 1, got -1\n" +
		"providers.x.success_threshold: must be >= 1, got 0\n" +
		"providers.x.recovery_timeout: must be >= 0, got -1s\n" +
		"providers.x.fallback_provider: must not name the provider itself"
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
	if err := (BreakerConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
