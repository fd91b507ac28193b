package executor

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// flakyStore is a real memory store whose Set fails while down is set.
type flakyStore struct {
	state.Store
	down atomic.Bool
}

func (f *flakyStore) Set(ctx context.Context, k state.Key, v string, ttl time.Duration) error {
	if f.down.Load() {
		return state.ErrUnavailable
	}
	return f.Store.Set(ctx, k, v, ttl)
}

// twoNodes builds the breakers of two gateway nodes sharing one store and
// one clock, with a sync for each (driven by hand: Publish and Pull).
func twoNodes(t *testing.T) (a, b *Breakers, sa, sb *BreakerSync, clk *clock.Fake, st *flakyStore) {
	clk = clock.NewFake(t0)
	st = &flakyStore{Store: memory.New(memory.Options{Clock: clk})}
	cfg := BreakerConfig{FailureThreshold: 2, SuccessThreshold: 1, RecoveryTimeout: time.Minute}
	a = NewBreakers(cfg, []string{"email", "sms"}, clk)
	b = NewBreakers(cfg, []string{"email", "sms"}, clk)
	sa = &BreakerSync{Breakers: a, Store: st}
	sb = &BreakerSync{Breakers: b, Store: st}
	return a, b, sa, sb, clk, st
}

var quiet = slog.New(slog.DiscardHandler)

func wantStates(t *testing.T, who string, br *Breakers, email, sms string) {
	t.Helper()
	if got := br.State("email"); got != email {
		t.Errorf("%s: email breaker %q, want %q", who, got, email)
	}
	if got := br.State("sms"); got != sms {
		t.Errorf("%s: sms breaker %q, want %q", who, got, sms)
	}
}

// TestBreakerSyncOpenAndCloseAcrossNodes: a breaker opened by failures on
// one node is open on the other after a sync, with recovery timed from the
// first node's last failure; closing it after a successful probe on the
// second node closes it on the first.
func TestBreakerSyncOpenAndCloseAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, sa, sb, clk, st := twoNodes(t)

	a.Record("email", false)
	a.Record("email", false)
	wantStates(t, "A", a, StateOpen, StateClosed)
	sa.Publish(ctx, quiet)
	sb.Pull(ctx, quiet)
	wantStates(t, "B", b, StateOpen, StateClosed)
	if b.Allow("email") {
		t.Fatal("B lets an action through to a provider A found failing")
	}

	// The stored record has the spec's fields.
	raw, err := st.Get(ctx, BreakerKey("email"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"state", "consecutive_failures", "consecutive_successes", "last_failure_time_ms", "probe_started_at_ms"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("stored record %s lacks %q", raw, k)
		}
	}
	if rec["state"] != "open" || rec["last_failure_time_ms"] != float64(t0.UnixMilli()) {
		t.Errorf("stored record %s", raw)
	}

	clk.Advance(time.Minute)
	if !b.Allow("email") {
		t.Fatal("B does not probe after the recovery timeout")
	}
	b.Record("email", true)
	wantStates(t, "B", b, StateClosed, StateClosed)
	sb.Publish(ctx, quiet)
	sa.Pull(ctx, quiet)
	wantStates(t, "A", a, StateClosed, StateClosed)
	if !a.Allow("email") {
		t.Fatal("A refuses after the breaker closed on B")
	}
}

// TestBreakerSyncAdminTripAndReset: an admin trip on one node and a reset
// on another reach every node.
func TestBreakerSyncAdminTripAndReset(t *testing.T) {
	ctx := context.Background()
	a, b, sa, sb, clk, _ := twoNodes(t)
	a.Trip("sms")
	sa.Publish(ctx, quiet)
	sb.Pull(ctx, quiet)
	wantStates(t, "B after trip on A", b, StateClosed, StateOpen)

	clk.Advance(time.Second)
	b.Reset("sms")
	sb.Publish(ctx, quiet)
	sa.Pull(ctx, quiet)
	wantStates(t, "A after reset on B", a, StateClosed, StateClosed)

	// A trip of a breaker that is already open is shared too (it
	// restarts the recovery timeout everywhere).
	clk.Advance(time.Second)
	a.Trip("email")
	sa.Publish(ctx, quiet)
	sb.Pull(ctx, quiet)
	clk.Advance(50 * time.Second)
	a.Trip("email")
	sa.Publish(ctx, quiet)
	sb.Pull(ctx, quiet)
	clk.Advance(20 * time.Second) // 70 s after the first trip, 20 s after the second
	if b.Allow("email") {
		t.Error("B probes 20 s after a re-trip on A (recovery 60 s)")
	}
}

// TestBreakerSyncNewerLocalChangeWins: a record older than this node's own
// last change is not adopted, and neither is a half-open state.
func TestBreakerSyncNewerLocalChangeWins(t *testing.T) {
	ctx := context.Background()
	a, b, sa, sb, clk, _ := twoNodes(t)
	a.Trip("email")
	sa.Publish(ctx, quiet)
	clk.Advance(time.Second)
	b.Trip("email")
	clk.Advance(time.Second)
	b.Reset("email") // B's change is newer than A's stored trip
	sb.Pull(ctx, quiet)
	wantStates(t, "B", b, StateClosed, StateClosed)

	// Half-open is per node: A's probe does not make B half-open.
	clk.Advance(time.Minute)
	sa.Pull(ctx, quiet) // A adopts nothing newer (B has not published)
	if !a.Allow("email") || a.State("email") != StateHalfOpen {
		t.Fatalf("A: %q", a.State("email"))
	}
	sa.Publish(ctx, quiet)
	c := NewBreakers(BreakerConfig{FailureThreshold: 2}, []string{"email"}, clk)
	(&BreakerSync{Breakers: c, Store: sa.Store}).Pull(ctx, quiet)
	if got := c.State("email"); got != StateOpen {
		t.Errorf("a third node reads %q; want the last shared state, open", got)
	}
}

// TestBreakerSyncStoreDown: a change that cannot be written stays queued
// and is written once the store is back; the breaker decides locally
// meanwhile.
func TestBreakerSyncStoreDown(t *testing.T) {
	ctx := context.Background()
	a, b, sa, sb, _, st := twoNodes(t)
	st.down.Store(true)
	a.Trip("email")
	sa.Publish(ctx, quiet)
	if a.Allow("email") {
		t.Fatal("A's breaker does not hold while the store is down")
	}
	sb.Pull(ctx, quiet)
	wantStates(t, "B while the store is down", b, StateClosed, StateClosed)
	st.down.Store(false)
	sa.Publish(ctx, quiet)
	sb.Pull(ctx, quiet)
	wantStates(t, "B after the store is back", b, StateOpen, StateClosed)
}

// TestBreakerSyncRun: Run publishes a change at once and a peer's Run
// adopts it within its interval; both stop with their context.
func TestBreakerSyncRun(t *testing.T) {
	st := memory.New(memory.Options{})
	cfg := BreakerConfig{FailureThreshold: 1}
	a := NewBreakers(cfg, []string{"email"}, nil)
	b := NewBreakers(cfg, []string{"email"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, br := range []*Breakers{a, b} {
		s := &BreakerSync{Breakers: br, Store: st, Interval: 20 * time.Millisecond}
		go func() { s.Run(ctx); done <- struct{}{} }()
	}
	a.Record("email", false)
	deadline := time.Now().Add(10 * time.Second)
	for b.State("email") != StateOpen {
		if time.Now().After(deadline) {
			t.Fatal("B did not adopt A's open breaker within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	<-done
}
