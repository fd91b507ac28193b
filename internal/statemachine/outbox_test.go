package statemachine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state/memory"
	"github.com/acteon/acteon-go/internal/statemachine"
)

// disp records dispatches; with fail set every dispatch fails (a node
// whose gateway is gone right after committing a timeout).
type disp struct {
	mu   sync.Mutex
	fail bool
	sent []*action.Action
}

func (d *disp) Dispatch(_ context.Context, a *action.Action, _ gateway.Caller) (action.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, a)
	if d.fail {
		return action.Outcome{}, gateway.ErrShuttingDown
	}
	return action.Outcome{Kind: action.OutcomeExecuted}, nil
}

func (d *disp) Execute(context.Context, *action.Action) action.Outcome {
	return action.Outcome{Kind: action.OutcomeExecuted}
}

// TestFiredTimeoutIsRedeliveredByAnotherNode: node A fires a timeout
// (the state moves to closed) but cannot dispatch its notification; once
// RedeliverAfter has passed, exactly one of nodes B and C sends that same
// notification, and then nothing is left to send.
func TestFiredTimeoutIsRedeliveredByAnotherNode(t *testing.T) {
	ms, err := statemachine.Compile([]config.StateMachine{{
		Name: "alert", InitialState: "open", States: []string{"open", "ack", "closed"},
		Transitions: []config.StateTransition{{From: "open", To: "ack"}, {From: "ack", To: "closed"}},
		Timeouts:    []config.StateMachineTimeout{{InState: "ack", AfterSeconds: 60, TransitionTo: "closed"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	ctx := context.Background()
	node := func(d *disp) *statemachine.Engine {
		e, err := statemachine.New(statemachine.Options{Machines: ms, State: st, Clock: clk, Dispatcher: d, RedeliverAfter: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	dead, dB, dC := &disp{fail: true}, &disp{}, &disp{}
	a, b, c := node(dead), node(dB), node(dC)

	ev := &action.Action{ID: action.UUIDv4(), Namespace: "ns", Tenant: "t1", Provider: "email", ActionType: "alert",
		Status: "ack", Fingerprint: "fp-1", Payload: map[string]any{}}
	res := rules.Result{Verdict: rules.Verdict{Kind: action.VerdictStateMachine, StateMachine: "alert"}}
	if _, err := a.Handle(ctx, ev, res, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(60 * time.Second)
	if n, _ := a.FireDue(ctx, clk.Now()); n != 1 {
		t.Fatalf("node A fired %d timeouts, want 1", n)
	}
	if len(dead.sent) == 0 || dead.sent[0].ActionType != statemachine.TimeoutType {
		t.Fatalf("node A dispatched %v", dead.sent)
	}
	firstID := dead.sent[0].ID
	if n, _ := b.FireDue(ctx, clk.Now()); n != 0 || len(dB.sent) != 0 {
		t.Fatalf("node B fired %d before RedeliverAfter", n)
	}

	clk.Advance(5 * time.Minute)
	nb, errB := b.FireDue(ctx, clk.Now())
	nc, errC := c.FireDue(ctx, clk.Now())
	if errB != nil || errC != nil {
		t.Fatalf("redelivery: %v / %v", errB, errC)
	}
	sent := append(append([]*action.Action{}, dB.sent...), dC.sent...)
	if nb+nc != 1 || len(sent) != 1 {
		t.Fatalf("redelivered %d+%d times (%d dispatches), want exactly once", nb, nc, len(sent))
	}
	if sent[0].ID != firstID || sent[0].ActionType != statemachine.TimeoutType {
		t.Fatalf("redelivered %s %s, want node A's %s", sent[0].ActionType, sent[0].ID, firstID)
	}
	p, _ := sent[0].Payload.(map[string]any)
	if p["previous_state"] != "ack" || p["new_state"] != "closed" {
		t.Fatalf("redelivered payload %v", p)
	}
	clk.Advance(time.Hour)
	if n, _ := b.FireDue(ctx, clk.Now()); n != 0 || len(dB.sent)+len(dC.sent) != 1 {
		t.Fatal("sent again later")
	}
	if kvs, _ := st.ScanKeysByKind(ctx, statemachine.KindOutbox); len(kvs) != 0 {
		t.Fatalf("outbox after redelivery: %v", kvs)
	}

	// A timeout fired and dispatched normally leaves nothing behind.
	ev2 := ev.Clone()
	ev2.ID, ev2.Fingerprint = action.UUIDv4(), "fp-2"
	if _, err := b.Handle(ctx, ev2, res, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(60 * time.Second)
	if n, err := b.FireDue(ctx, clk.Now()); n != 1 || err != nil {
		t.Fatalf("fire: %d, %v", n, err)
	}
	if kvs, _ := st.ScanKeysByKind(ctx, statemachine.KindOutbox); len(kvs) != 0 {
		t.Fatalf("outbox after a dispatched timeout: %v", kvs)
	}
	clk.Advance(time.Hour)
	before := len(dB.sent) + len(dC.sent)
	nb, _ = b.FireDue(ctx, clk.Now())
	nc, _ = c.FireDue(ctx, clk.Now())
	if nb+nc != 0 || len(dB.sent)+len(dC.sent) != before {
		t.Fatal("a dispatched timeout notification was sent again")
	}
}
