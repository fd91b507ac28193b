package inhibit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
)

const file = `rules: []
inhibitions:
- name: node-down
  source: {field: action.metadata.alertname, eq: NodeDown}
  target: {field: action.metadata.severity, eq: warning}
  equal: [instance]
  ttl_seconds: 600
`

var t0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, yaml string) (*Tracker, *clock.Fake, state.Store) {
	t.Helper()
	pf, _, err := rules.ParseFileAll("f.yaml", []byte(yaml), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.NewSet(pf.Rules)
	if err != nil {
		t.Fatal(err)
	}
	if set, err = set.WithInhibitions(pf.Inhibitions); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	st := statemem.New(statemem.Options{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	return New(st, func() *rules.Set { return set }), clk, st
}

func alert(name, severity, instance, status string) *action.Action {
	m := map[string]string{"alertname": name, "severity": severity}
	if instance != "" {
		m["instance"] = instance
	}
	return &action.Action{ID: action.UUIDv4(), Namespace: "ns", Tenant: "t1", Provider: "email", Metadata: m, Status: status}
}

// dispatch runs both gates as the gateway would and reports the
// inhibition outcome.
func dispatch(t *testing.T, tr *Tracker, clk *clock.Fake, a *action.Action) *action.Outcome {
	t.Helper()
	ctx := context.Background()
	if _, err := (RecorderGate{T: tr}).Check(ctx, a, rules.Result{}, clk.Now()); err != nil {
		t.Fatal(err)
	}
	out, err := (TargetGate{T: tr}).Check(ctx, a, rules.Result{}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Inhibition mutes exactly the targets whose source is active, and stops
// when the source resolves.
func TestInhibitsExactlyActiveSources(t *testing.T) {
	tr, clk, _ := setup(t, file)
	warnA := func() *action.Action { return alert("HighLatency", "warning", "host-a", "") }
	warnB := func() *action.Action { return alert("HighLatency", "warning", "host-b", "") }

	if out := dispatch(t, tr, clk, warnA()); out != nil {
		t.Fatalf("no source yet, got %+v", out)
	}
	if out := dispatch(t, tr, clk, alert("NodeDown", "critical", "host-a", "firing")); out != nil {
		t.Fatalf("the source itself was inhibited: %+v", out)
	}
	out := dispatch(t, tr, clk, warnA())
	if out == nil || out.Kind != action.OutcomeSuppressed || out.Rule != "node-down" {
		t.Fatalf("target with active source: %+v", out)
	}
	if out := dispatch(t, tr, clk, warnB()); out != nil {
		t.Fatalf("other instance inhibited: %+v", out)
	}
	if out := dispatch(t, tr, clk, alert("HighLatency", "critical", "host-a", "")); out != nil {
		t.Fatalf("non-target inhibited: %+v", out)
	}
	other := warnA()
	other.Tenant = "t2"
	if out := dispatch(t, tr, clk, other); out != nil {
		t.Fatalf("other tenant inhibited: %+v", out)
	}
	// The source resolves: targets flow again.
	if out := dispatch(t, tr, clk, alert("NodeDown", "critical", "host-a", "resolved")); out != nil {
		t.Fatalf("resolving source: %+v", out)
	}
	if out := dispatch(t, tr, clk, warnA()); out != nil {
		t.Fatalf("target after resolve: %+v", out)
	}
}

func TestSourceTTL(t *testing.T) {
	tr, clk, _ := setup(t, file)
	dispatch(t, tr, clk, alert("NodeDown", "critical", "h", ""))
	clk.Advance(599 * time.Second)
	if out := dispatch(t, tr, clk, alert("X", "warning", "h", "")); out == nil {
		t.Fatal("not inhibited within the TTL")
	}
	// A repeated source refreshes the TTL.
	dispatch(t, tr, clk, alert("NodeDown", "critical", "h", ""))
	clk.Advance(599 * time.Second)
	if out := dispatch(t, tr, clk, alert("X", "warning", "h", "")); out == nil {
		t.Fatal("refreshed source expired early")
	}
	clk.Advance(time.Second)
	if out := dispatch(t, tr, clk, alert("X", "warning", "h", "")); out != nil {
		t.Fatalf("forgotten source still inhibits after its TTL: %+v", out)
	}
}

func TestEqualLabelsAbsentAndEscaped(t *testing.T) {
	tr, clk, _ := setup(t, file)
	// Both without the label: equal ("" == "").
	dispatch(t, tr, clk, alert("NodeDown", "critical", "", ""))
	if out := dispatch(t, tr, clk, alert("X", "warning", "", "")); out == nil {
		t.Fatal("absent labels on both sides should be equal")
	}
	if out := dispatch(t, tr, clk, alert("X", "warning", "h", "")); out != nil {
		t.Fatal("present vs absent label matched")
	}
	// Values containing the key separator do not collide.
	inh := tr.rules().Inhibitions()[0]
	a := SourceKey(inh, alert("", "", "a:b", ""))
	b := SourceKey(inh, alert("", "", "a%3Ab", ""))
	if a == b || strings.Count(a.ID, ":") != 1 {
		t.Fatalf("keys %q %q", a.ID, b.ID)
	}
	long := SourceKey(inh, alert("", "", strings.Repeat("x", 1000), ""))
	if len(long.ID) > maxKeyID || !strings.HasPrefix(long.ID, "node-down:sha256:") {
		t.Fatalf("long key %q", long.ID)
	}
}

func TestNoInhibitionsNoStateOps(t *testing.T) {
	tr, clk, _ := setup(t, "rules: []\n")
	failing := &failStore{}
	tr.st = failing
	if out := dispatch(t, tr, clk, alert("NodeDown", "warning", "h", "")); out != nil {
		t.Fatalf("%+v", out)
	}
	if failing.calls != 0 {
		t.Fatalf("%d state calls without inhibitions", failing.calls)
	}
}

func TestStateErrorsAre503(t *testing.T) {
	tr, clk, _ := setup(t, file)
	tr.st = &failStore{}
	_, err := (RecorderGate{T: tr}).Check(context.Background(), alert("NodeDown", "critical", "h", ""), rules.Result{}, clk.Now())
	if !errors.Is(err, gateway.ErrStateUnavailable) {
		t.Fatalf("record: %v", err)
	}
	_, err = (TargetGate{T: tr}).Check(context.Background(), alert("X", "warning", "h", ""), rules.Result{}, clk.Now())
	if !errors.Is(err, gateway.ErrStateUnavailable) {
		t.Fatalf("check: %v", err)
	}
}

// failStore fails every call with ErrUnavailable and counts them.
type failStore struct {
	state.Store
	calls int
}

func (f *failStore) Get(context.Context, state.Key) (string, error) {
	f.calls++
	return "", state.ErrUnavailable
}

func (f *failStore) Set(context.Context, state.Key, string, time.Duration) error {
	f.calls++
	return state.ErrUnavailable
}

func (f *failStore) Delete(context.Context, state.Key) (bool, error) {
	f.calls++
	return false, state.ErrUnavailable
}
