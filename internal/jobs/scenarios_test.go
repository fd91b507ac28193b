package jobs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

const memoryTOML = "[state]\nbackend = \"memory\"\n"

func grouped(t *testing.T, out action.Outcome) action.Outcome {
	t.Helper()
	if out.Kind != action.OutcomeGrouped {
		b, _ := json.Marshal(out)
		t.Fatalf("outcome = %s, want Grouped", b)
	}
	return out
}

// S23 (spec 02 §6): an ephemeral group with a size cap keeps the newest
// events, flushes once at notify_at as one notification through the rules,
// and the next event opens a new group.
func TestScenarioS23EphemeralGroupWithSizeCap(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newProvs()
	a := build(t, memoryTOML, `rules: [{name: grp, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: group, group_by: [metadata.cluster], group_wait_seconds: 60, max_group_size: 2}}]`, clk, p)
	ev := func(cluster string, n int) *action.Action {
		var meta map[string]string
		if cluster != "" {
			meta = map[string]string{"cluster": cluster}
		}
		return alertEvent("ns", meta, map[string]any{"n": json.Number(fmt.Sprint(n))})
	}
	at := func(s int) { clk.Set(t0.Add(time.Duration(s) * time.Second)) }

	g1 := grouped(t, dispatch(t, a, ev("a", 1)))
	if g1.GroupSize != 1 || !g1.NotifyAt.Equal(t0.Add(60*time.Second)) {
		t.Fatalf("t=0: %+v", g1)
	}
	at(10)
	o := grouped(t, dispatch(t, a, ev("a", 2)))
	if o.GroupID != g1.GroupID || o.GroupSize != 2 || !o.NotifyAt.Equal(g1.NotifyAt) {
		t.Fatalf("t=10: %+v", o)
	}
	at(20)
	o = grouped(t, dispatch(t, a, ev("a", 3)))
	if o.GroupID != g1.GroupID || o.GroupSize != 2 || !o.NotifyAt.Equal(g1.NotifyAt) {
		t.Fatalf("t=20 (n:1 dropped): %+v", o)
	}
	g2 := grouped(t, dispatch(t, a, ev("b", 4)))
	if g2.GroupID == g1.GroupID || g2.GroupSize != 1 || !g2.NotifyAt.Equal(t0.Add(80*time.Second)) {
		t.Fatalf("cluster b: %+v", g2)
	}
	g3 := grouped(t, dispatch(t, a, ev("", 5)))
	if g3.GroupID == g1.GroupID || g3.GroupID == g2.GroupID || g3.GroupSize != 1 {
		t.Fatalf("no cluster: %+v", g3)
	}
	if n := len(calls(p.email, "alert")); n != 0 {
		t.Fatalf("email called %d times for events", n)
	}

	at(59)
	if n := run(t, a, app.JobGroupFlush); n != 0 {
		t.Fatalf("flushed %d groups before notify_at", n)
	}
	at(60)
	if n := run(t, a, app.JobGroupFlush); n != 1 {
		t.Fatalf("flushed %d groups at t=60, want 1", n)
	}
	if n := run(t, a, app.JobGroupFlush); n != 0 {
		t.Fatalf("second run flushed %d more", n)
	}
	got := calls(p.email, "group_notification")
	if len(got) != 1 {
		t.Fatalf("%d notifications, want 1", len(got))
	}
	n := got[0]
	if n.Namespace != "ns" || n.Tenant != "t1" || n.Provider != "email" || n.Metadata["cluster"] != "a" {
		t.Errorf("notification addressed to %s/%s/%s metadata %v", n.Namespace, n.Tenant, n.Provider, n.Metadata)
	}
	pl := n.Payload.(map[string]any)
	want := map[string]any{
		"group_id": g1.GroupID, "event_count": json.Number("2"),
		"events":          []any{map[string]any{"n": json.Number("2")}, map[string]any{"n": json.Number("3")}},
		"labels":          map[string]any{"metadata.cluster": "a"},
		"flushed_at":      "2026-01-15T10:01:00Z",
		"_group_dispatch": true,
	}
	delete(pl, "group_key")
	if d := cmp.Diff(want, pl); d != "" {
		t.Errorf("payload (-want +got):\n%s", d)
	}

	at(70)
	g4 := grouped(t, dispatch(t, a, ev("a", 6)))
	if g4.GroupID == g1.GroupID || g4.GroupSize != 1 || !g4.NotifyAt.Equal(t0.Add(130*time.Second)) {
		t.Fatalf("t=70: %+v, want a new group", g4)
	}
}

// S24 (spec 02 §6): a persistent group notifies at 10, 80, 180, 280, 380
// and is evicted after the third idle re-notification.
func TestScenarioS24PersistentGroup(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newProvs()
	a := build(t, memoryTOML, `rules: [{name: grp, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: group, group_by: [metadata.cluster], group_wait_seconds: 10, group_interval_seconds: 30, repeat_interval_seconds: 100}}]`, clk, p)
	ev := alertEvent("ns", map[string]string{"cluster": "a"}, map[string]any{})
	g := grouped(t, dispatch(t, a, ev))
	var notified []int
	for s := 0; s <= 600; s++ {
		clk.Set(t0.Add(time.Duration(s) * time.Second))
		if s == 50 {
			o := grouped(t, dispatch(t, a, alertEvent("ns", map[string]string{"cluster": "a"}, map[string]any{})))
			if o.GroupID != g.GroupID || !o.NotifyAt.Equal(t0.Add(80*time.Second)) {
				t.Fatalf("t=50: %+v", o)
			}
		}
		if run(t, a, app.JobGroupFlush) > 0 {
			notified = append(notified, s)
		}
	}
	if d := cmp.Diff([]int{10, 80, 180, 280, 380}, notified); d != "" {
		t.Fatalf("notification times (-want +got):\n%s", d)
	}
	if n := len(calls(p.email, "group_notification")); n != 5 {
		t.Fatalf("%d notifications delivered, want 5", n)
	}
	if gs, _ := a.Groups().List(context.Background(), nil); len(gs) != 0 {
		t.Fatalf("group not evicted: %+v", gs)
	}
	o := grouped(t, dispatch(t, a, alertEvent("ns", map[string]string{"cluster": "a"}, map[string]any{})))
	if o.GroupID == g.GroupID {
		t.Fatal("an event after eviction joined the evicted group")
	}
}

func fpHost(h string) string {
	s := sha256.Sum256([]byte("action_type=alert;metadata.host=" + h + ";"))
	return hex.EncodeToString(s[:])
}

// S25 (spec 02 §6): a state machine walks its transitions, ignores a
// disallowed one, notifies on notify transitions and times out once.
func TestScenarioS25StateMachine(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newProvs()
	a := build(t, memoryTOML+stateMachineTOML, `rules: [{name: lc, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: state_machine, state_machine: alert, fingerprint_fields: [action_type, metadata.host]}}]`, clk, p)
	at := func(s int) { clk.Set(t0.Add(time.Duration(s) * time.Second)) }
	ev := func(h, status string) *action.Action {
		e := alertEvent("ns", map[string]string{"host": h}, map[string]any{"h": h})
		e.Status = status
		return e
	}
	type sc struct {
		fp, prev, next string
		notify         bool
	}
	check := func(step string, out action.Outcome, want sc) {
		t.Helper()
		got := sc{out.Fingerprint, out.PreviousState, out.NewState, out.Notify}
		if out.Kind != action.OutcomeStateChanged || got != want {
			t.Fatalf("%s: got %s %+v, want StateChanged %+v", step, out.Kind, got, want)
		}
	}
	check("t=0", dispatch(t, a, ev("h1", "")), sc{fpHost("h1"), "open", "open", false})
	at(1)
	check("t=1", dispatch(t, a, ev("h1", "closed")), sc{fpHost("h1"), "open", "open", false})
	at(2)
	check("t=2", dispatch(t, a, ev("h1", "acknowledged")), sc{fpHost("h1"), "open", "acknowledged", true})
	at(3)
	check("t=3", dispatch(t, a, ev("h2", "acknowledged")), sc{fpHost("h2"), "open", "acknowledged", true})

	v, err := a.State().Get(context.Background(), state.Key{Namespace: "ns", Tenant: "t1", Kind: "active_events", ID: "alert"})
	if err != nil || v != `{"fingerprint":"`+fpHost("h2")+`","state":"acknowledged"}` {
		t.Errorf("active_events:alert = %s, %v", v, err)
	}
	if n := len(calls(p.email, "alert")); n != 0 {
		t.Fatalf("the event's provider was called %d times", n)
	}
	notes := calls(p.email, "state_notification")
	if len(notes) != 2 {
		t.Fatalf("%d state notifications, want 2", len(notes))
	}
	np := notes[0].Payload.(map[string]any)
	if np["fingerprint"] != fpHost("h1") || np["previous_state"] != "open" || np["new_state"] != "acknowledged" ||
		np["transitioned_by"] != "event" || np["state_machine"] != "alert" || notes[0].Metadata["host"] != "h1" {
		t.Errorf("state notification = %+v %v", np, notes[0].Metadata)
	}

	at(601)
	if n := run(t, a, app.JobStateTimeouts); n != 0 {
		t.Fatalf("%d timeouts fired before 602", n)
	}
	at(602)
	if n := run(t, a, app.JobStateTimeouts); n != 1 {
		t.Fatalf("%d timeouts fired at 602, want 1", n)
	}
	e, err := a.StateMachines().Event(context.Background(), "ns", "t1", fpHost("h1"))
	if err != nil || e.State != "closed" {
		t.Fatalf("h1 after timeout: %+v %v", e, err)
	}
	to := calls(p.email, "timeout_notification")
	if len(to) != 1 || to[0].Payload.(map[string]any)["new_state"] != "closed" || to[0].Payload.(map[string]any)["transitioned_by"] != "timeout" {
		t.Fatalf("timeout notifications: %d", len(to))
	}
	at(603)
	check("t=603", dispatch(t, a, ev("h1", "open")), sc{fpHost("h1"), "closed", "closed", false})
	at(604)
	x := ev("h9", "acknowledged")
	x.Fingerprint = "X"
	check("t=604", dispatch(t, a, x), sc{"X", "open", "acknowledged", true})

	// h2's timeout (due 603) fires once, however often the job runs.
	at(700)
	fired := 0
	for i := 0; i < 3; i++ {
		fired += run(t, a, app.JobStateTimeouts)
	}
	if fired != 1 || len(calls(p.email, "timeout_notification")) != 2 {
		t.Fatalf("h2 timeout fired %d times; %d timeout notifications in all", fired, len(calls(p.email, "timeout_notification")))
	}
}

// A state machine walks open → acknowledged → closed through events, and
// the unattended h2 times out exactly once.
func TestStateMachineWalkAndSingleTimeout(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newProvs()
	a := build(t, memoryTOML+stateMachineTOML, `rules: [{name: lc, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: state_machine, state_machine: alert, fingerprint_fields: [metadata.host]}}]`, clk, p)
	step := func(h, status, want string) {
		t.Helper()
		e := alertEvent("ns", map[string]string{"host": h}, nil)
		e.Status = status
		if out := dispatch(t, a, e); out.NewState != want {
			t.Fatalf("%s %s → %s, want %s", h, status, out.NewState, want)
		}
	}
	step("h1", "", "open")
	step("h1", "acknowledged", "acknowledged")
	clk.Advance(time.Minute)
	step("h1", "closed", "closed")
	step("h2", "acknowledged", "acknowledged")
	clk.Advance(11 * time.Minute)
	total := 0
	for i := 0; i < 5; i++ {
		total += run(t, a, app.JobStateTimeouts)
		clk.Advance(time.Minute)
	}
	if total != 1 {
		t.Fatalf("fired %d timeouts, want exactly 1 (h2; h1 was closed by hand)", total)
	}
}
