package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/outbox"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func notification() *action.Action {
	return &action.Action{ID: action.UUIDv4(), Namespace: "ns", Tenant: "t:1", Provider: "email",
		ActionType: "group_notification", Payload: map[string]any{"n": "1"}, CreatedAt: t0}
}

// TestPutTakeDone: an entry is due After its Put, exactly one of two
// takers gets it (with the same action), and Done removes entry and index.
func TestPutTakeDone(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	o := &outbox.Outbox{Kind: "test_outbox", State: st, Clock: clk, After: time.Minute}
	ctx := context.Background()
	a := notification()
	if err := o.Put(ctx, "ns", "t:1", "g1", a); err != nil {
		t.Fatal(err)
	}
	due := func(at time.Time) []string {
		keys, err := st.GetExpiredTimeouts(ctx, at.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if got := due(t0.Add(59 * time.Second)); len(got) != 0 {
		t.Fatalf("due before After: %v", got)
	}
	keys := due(t0.Add(time.Minute))
	if len(keys) != 1 {
		t.Fatalf("due at After: %v", keys)
	}
	k, err := state.ParseKey(keys[0])
	if err != nil || k != o.Key("ns", "t:1", "g1") {
		t.Fatalf("due key %q → %#v, %v", keys[0], k, err)
	}
	got, ok, err := o.Take(ctx, k)
	if err != nil || !ok || got.ID != a.ID || got.Tenant != "t:1" {
		t.Fatalf("Take = %v, %v, %v", got, ok, err)
	}
	if _, ok, err := o.Take(ctx, k); ok || err != nil {
		t.Fatalf("a second Take while the first holds the claim = %v, %v", ok, err)
	}
	if err := o.Done(ctx, k); err != nil {
		t.Fatal(err)
	}
	if got := due(t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("due after Done: %v", got)
	}
	if _, err := st.Get(ctx, k); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("entry after Done: %v", err)
	}
}

type flaky struct {
	fails int
	err   error
	calls int
}

func (f *flaky) Dispatch(context.Context, *action.Action, gateway.Caller) (action.Outcome, error) {
	f.calls++
	if f.calls <= f.fails {
		return action.Outcome{}, f.err
	}
	return action.Outcome{Kind: action.OutcomeExecuted}, nil
}

// TestSend: a failing dispatch is tried again (up to 4 times); a gateway
// that is shutting down is not; no dispatcher is an error.
func TestSend(t *testing.T) {
	ctx := context.Background()
	f := &flaky{fails: 2, err: gateway.ErrStateUnavailable}
	if out, err := outbox.Send(ctx, f, notification(), gateway.Caller{}); err != nil || out.Kind != action.OutcomeExecuted || f.calls != 3 {
		t.Fatalf("two failures then success: %v, %v after %d calls", out.Kind, err, f.calls)
	}
	f = &flaky{fails: 10, err: gateway.ErrShuttingDown}
	if _, err := outbox.Send(ctx, f, notification(), gateway.Caller{}); !errors.Is(err, gateway.ErrShuttingDown) || f.calls != 1 {
		t.Fatalf("shutting down: %v after %d calls, want one call", err, f.calls)
	}
	if _, err := outbox.Send(ctx, nil, notification(), gateway.Caller{}); err == nil || outbox.Delivered(err) {
		t.Fatal("no dispatcher: no error, or counted as delivered")
	}
	// Dispatched, but the audit record could not be written: sending again
	// would duplicate it.
	f = &flaky{fails: 10, err: fmt.Errorf("%w (outcome was Executed): db down", gateway.ErrAuditUnavailable)}
	_, err := outbox.Send(ctx, f, notification(), gateway.Caller{})
	if f.calls != 1 || !outbox.Delivered(err) {
		t.Fatalf("audit unavailable: %d calls, Delivered(%v) = %v; want one call, delivered", f.calls, err, outbox.Delivered(err))
	}
	if outbox.Delivered(gateway.ErrStateUnavailable) || outbox.Delivered(gateway.ErrShuttingDown) {
		t.Fatal("a dispatch that did not happen counted as delivered")
	}
}
