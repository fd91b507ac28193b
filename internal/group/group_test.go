package group_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/group"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// recorder is a Dispatcher that records what it is given.
type recorder struct {
	mu       sync.Mutex
	sent     []*action.Action
	executed []*action.Action
}

func (r *recorder) Dispatch(_ context.Context, a *action.Action, _ gateway.Caller) (action.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, a)
	return action.Outcome{Kind: action.OutcomeExecuted}, nil
}

func (r *recorder) Execute(_ context.Context, a *action.Action) action.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.executed = append(r.executed, a)
	return action.Outcome{Kind: action.OutcomeExecuted}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func verdict(wait uint64, groupBy ...string) rules.Verdict {
	return rules.Verdict{Kind: action.VerdictGroup, GroupBy: groupBy, GroupWaitSeconds: wait, GroupIntervalSeconds: 300, MaxGroupSize: 100}
}

func ev(cluster string) *action.Action {
	return &action.Action{ID: action.UUIDv4(), Namespace: "ns", Tenant: "t1", Provider: "email", ActionType: "alert",
		Metadata: map[string]string{"cluster": cluster}, Payload: map[string]any{"c": cluster}}
}

func newManager(t *testing.T, st state.Store, clk clock.Clock, d group.Dispatcher) *group.Manager {
	t.Helper()
	m, err := group.New(group.Options{State: st, Clock: clk, Dispatcher: d})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestKey(t *testing.T) {
	a := ev("a")
	a.Status = ""
	got, labels := group.Key(a, []string{"metadata.cluster", "status", "payload.missing", "action_type"})
	sum := sha256.Sum256([]byte("ns:t1:metadata.cluster=a;action_type=alert;"))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("key = %s, want %s (absent fields skipped)", got, want)
	}
	if len(labels) != 2 || labels["metadata.cluster"] != "a" || labels["action_type"] != "alert" {
		t.Errorf("labels = %v", labels)
	}
	empty, _ := group.Key(a, nil)
	sum = sha256.Sum256([]byte("ns:t1:"))
	if empty != hex.EncodeToString(sum[:]) {
		t.Errorf("key without group_by = %s", empty)
	}
}

// A node that claimed a flush and died leaves the group pending; another
// node flushes it once the claim has expired, and only then.
func TestDeadNodeClaimIsTakenOverAfterTTL(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	rec := &recorder{}
	m := newManager(t, st, clk, rec)
	ctx := context.Background()
	out, err := m.Add(ctx, ev("a"), verdict(30, "metadata.cluster"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := group.Key(ev("a"), []string{"metadata.cluster"})
	// The dead node's claim.
	ck := state.Key{Namespace: "ns", Tenant: "t1", Kind: group.KindFlushClaim, ID: key + ":" + action.FormatTime(out.NotifyAt)}
	if ok, _ := st.CheckAndSet(ctx, ck, "claimed", 60*time.Second); !ok {
		t.Fatal("could not plant the claim")
	}
	clk.Set(out.NotifyAt)
	if n, err := m.FlushDue(ctx, clk.Now()); n != 0 || err != nil {
		t.Fatalf("flushed %d (%v) while another node holds the claim", n, err)
	}
	clk.Advance(61 * time.Second)
	if n, err := m.FlushDue(ctx, clk.Now()); n != 1 || err != nil {
		t.Fatalf("flushed %d (%v) after the claim expired, want 1", n, err)
	}
	if n, _ := m.FlushDue(ctx, clk.Now()); n != 0 || rec.count() != 1 {
		t.Fatalf("sent %d notifications", rec.count())
	}
}

// Two managers (two nodes) adding to one group concurrently lose nothing.
func TestConcurrentAddsFromTwoNodes(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	rec := &recorder{}
	nodes := []*group.Manager{newManager(t, st, clk, rec), newManager(t, st, clk, rec)}
	v := verdict(30, "metadata.cluster")
	v.MaxGroupSize = 0
	var wg sync.WaitGroup
	const n = 400
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := nodes[i%2].Add(context.Background(), ev("a"), v, clk.Now()); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	clk.Advance(time.Minute)
	if k, err := nodes[1].FlushDue(context.Background(), clk.Now()); k != 1 || err != nil {
		t.Fatalf("flushed %d: %v", k, err)
	}
	got := rec.sent[0].Payload.(map[string]any)["events"].([]any)
	if len(got) != n {
		t.Fatalf("notification lists %d events, want %d", len(got), n)
	}
}

// A group notification that reaches a group verdict again is delivered,
// not regrouped.
func TestGroupNotificationIsNotRegrouped(t *testing.T) {
	clk := clock.NewFake(t0)
	rec := &recorder{}
	m := newManager(t, memory.New(memory.Options{Clock: clk}), clk, rec)
	a := ev("a")
	a.Payload = map[string]any{"_group_dispatch": true}
	out, err := m.Handle(context.Background(), a, rules.Result{Verdict: verdict(30)}, clk.Now())
	if err != nil || out.Kind != action.OutcomeExecuted || len(rec.executed) != 1 {
		t.Fatalf("got %v %v, executed %d", out.Kind, err, len(rec.executed))
	}
}

func ExampleKey() {
	a := &action.Action{Namespace: "ns", Tenant: "t1", Metadata: map[string]string{"cluster": "a"}}
	key, labels := group.Key(a, []string{"metadata.cluster"})
	fmt.Println(len(key), labels)
	// Output: 64 map[metadata.cluster:a]
}

// A group stored by the previous build (JSON object lines) keeps working:
// it is listed and read, a new event joins it, and its flush sends every
// event, oldest first, under its group_id.
func TestGroupStoredByPreviousBuild(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	rec := &recorder{}
	m := newManager(t, st, clk, rec)
	ctx := context.Background()
	key, _ := group.Key(ev("a"), []string{"metadata.cluster"})
	notifyAt := t0.Add(30 * time.Second).UnixMilli()
	legacy := fmt.Sprintf(`{"group_id":"9e71efde-03ad-4572-9956-a92121fa7e4d","group_key":%q,"namespace":"ns","tenant":"t1","provider":"email","rule":"r","state":"pending","group_by":["metadata.cluster"],"labels":{"metadata.cluster":"a"},"notify_at":%d,"created_at":%d,"updated_at":%d,"group_wait_seconds":30,"group_interval_seconds":300,"max_group_size":100,"idle_flushes":0,"event_count":1}`,
		key, notifyAt, t0.UnixMilli(), t0.UnixMilli()) + "\n" + fmt.Sprintf(`{"at":%d,"fp":"f0","payload":{"c":"old"}}`, t0.UnixMilli())
	if ok, err := st.CheckAndSet(ctx, state.Key{Namespace: "ns", Tenant: "t1", Kind: group.KindGroup, ID: key}, legacy, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := st.IndexTimeout(ctx, state.Key{Namespace: "ns", Tenant: "t1", Kind: group.KindPending, ID: key}, notifyAt); err != nil {
		t.Fatal(err)
	}
	list, err := m.List(ctx, nil)
	if err != nil || len(list) != 1 || list[0].GroupID != "9e71efde-03ad-4572-9956-a92121fa7e4d" || list[0].GroupKey != key || list[0].EventCount != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	out, err := m.Add(ctx, ev("a"), verdict(30, "metadata.cluster"), t0.Add(time.Second))
	if err != nil || out.GroupID != "9e71efde-03ad-4572-9956-a92121fa7e4d" || out.GroupSize != 2 || out.NotifyAt.UnixMilli() != notifyAt {
		t.Fatalf("add: %+v %v", out, err)
	}
	d, err := m.Get(ctx, "", "", key)
	if err != nil {
		t.Fatal(err)
	}
	if d.Group.Namespace != "ns" || d.Group.Tenant != "t1" || d.Group.Provider != "email" || len(d.Events) != 2 || d.Events[0] != "f0" ||
		fmt.Sprint(d.Payloads) != "[map[c:old] map[c:a]]" || d.Labels["metadata.cluster"] != "a" {
		t.Fatalf("get: %+v", d)
	}
	clk.Set(t0.Add(30 * time.Second))
	if n, err := m.FlushDue(ctx, clk.Now()); n != 1 || err != nil {
		t.Fatalf("flushed %d: %v", n, err)
	}
	p := rec.sent[0].Payload.(map[string]any)
	if p["group_id"] != "9e71efde-03ad-4572-9956-a92121fa7e4d" || fmt.Sprint(p["events"]) != "[map[c:old] map[c:a]]" {
		t.Fatalf("notification payload %v", p)
	}
}

// A group whose namespace and tenant contain ':' is listed and flushed
// like any other (the state keys escape them).
func TestColonsInNamespaceAndTenant(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	rec := &recorder{}
	m := newManager(t, st, clk, rec)
	ctx := context.Background()
	a := ev("a")
	a.Namespace, a.Tenant = "prod:eu", "acme:web"
	out, err := m.Add(ctx, a, verdict(30, "metadata.cluster"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	sums, err := m.List(ctx, func(ns, tenant string) bool { return ns == "prod:eu" && tenant == "acme:web" })
	if err != nil || len(sums) != 1 {
		t.Fatalf("List = %d groups, %v; want the one group", len(sums), err)
	}
	clk.Set(out.NotifyAt)
	if n, err := m.FlushDue(ctx, clk.Now()); n != 1 || err != nil {
		t.Fatalf("flushed %d (%v), want 1", n, err)
	}
	if rec.count() != 1 {
		t.Fatalf("sent %d notifications, want 1", rec.count())
	}
	if got := rec.sent[0]; got.Namespace != "prod:eu" || got.Tenant != "acme:web" {
		t.Fatalf("notification for %s/%s, want prod:eu/acme:web", got.Namespace, got.Tenant)
	}
}

// failing is a Dispatcher whose dispatches all fail, like a node that dies
// (or whose gateway is gone) right after committing a flush.
type failing struct {
	calls int
	ids   []string
}

func (f *failing) Dispatch(_ context.Context, a *action.Action, _ gateway.Caller) (action.Outcome, error) {
	f.calls++
	f.ids = append(f.ids, a.ID)
	return action.Outcome{}, gateway.ErrShuttingDown
}

func (f *failing) Execute(context.Context, *action.Action) action.Outcome {
	f.calls++
	return action.Outcome{Kind: action.OutcomeFailed}
}

// TestCommittedFlushIsRedeliveredByAnotherNode: node A commits a flush
// but its notification is never dispatched; once RedeliverAfter has passed,
// node B sends that same notification (same action id) exactly once, and
// nothing is left in the outbox. A flush that is dispatched leaves nothing
// in the outbox.
func TestCommittedFlushIsRedeliveredByAnotherNode(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	ctx := context.Background()
	dead := &failing{}
	a, err := group.New(group.Options{State: st, Clock: clk, Dispatcher: dead, RedeliverAfter: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	recB, recC := &recorder{}, &recorder{}
	b, _ := group.New(group.Options{State: st, Clock: clk, Dispatcher: recB, RedeliverAfter: 5 * time.Minute})
	c, _ := group.New(group.Options{State: st, Clock: clk, Dispatcher: recC, RedeliverAfter: 5 * time.Minute})

	out, err := a.Add(ctx, ev("a"), verdict(30, "metadata.cluster"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(ctx, ev("a"), verdict(30, "metadata.cluster"), clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Set(out.NotifyAt)
	if _, err := a.FlushDue(ctx, clk.Now()); err == nil {
		t.Fatal("node A's flush reported no error although its dispatch failed")
	}
	if dead.calls == 0 {
		t.Fatal("node A never tried to dispatch")
	}
	// The group itself is flushed: B has nothing to flush yet.
	if n, _ := b.FlushDue(ctx, clk.Now()); n != 0 || recB.count() != 0 {
		t.Fatalf("B sent %d before RedeliverAfter", recB.count())
	}
	clk.Advance(5 * time.Minute)
	nb, errB := b.FlushDue(ctx, clk.Now())
	nc, errC := c.FlushDue(ctx, clk.Now())
	if errB != nil || errC != nil {
		t.Fatalf("redelivery: %v / %v", errB, errC)
	}
	if nb+nc != 1 || recB.count()+recC.count() != 1 {
		t.Fatalf("redelivered %d+%d times (sent %d+%d), want exactly once", nb, nc, recB.count(), recC.count())
	}
	got := recB.sent[0]
	if p, _ := got.Payload.(map[string]any); got.ActionType != group.ActionType || p["event_count"] != json.Number("2") {
		t.Fatalf("redelivered %s with payload %v", got.ActionType, got.Payload)
	}
	if got.ID != dead.ids[0] {
		t.Fatalf("redelivered action id %s, node A's was %s", got.ID, dead.ids[0])
	}
	if kvs, _ := st.ScanKeysByKind(ctx, group.KindOutbox); len(kvs) != 0 {
		t.Fatalf("outbox after redelivery: %v", kvs)
	}
	clk.Advance(time.Hour)
	if n, _ := b.FlushDue(ctx, clk.Now()); n != 0 || recB.count() != 1 {
		t.Fatalf("sent again later: %d", recB.count())
	}

	// A normal flush leaves nothing behind.
	out, _ = b.Add(ctx, ev("b"), verdict(30, "metadata.cluster"), clk.Now())
	clk.Set(out.NotifyAt)
	if n, err := b.FlushDue(ctx, clk.Now()); n != 1 || err != nil {
		t.Fatalf("flush: %d, %v", n, err)
	}
	if kvs, _ := st.ScanKeysByKind(ctx, group.KindOutbox); len(kvs) != 0 {
		t.Fatalf("outbox after a dispatched flush: %v", kvs)
	}
}
