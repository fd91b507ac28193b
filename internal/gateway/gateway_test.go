package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/audit"
	auditmem "github.com/acteon/acteon-go/internal/audit/memory"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// harness is spec 02 §6's: memory state, recording providers email, sms,
// slack and webhook, an injectable clock.
type harness struct {
	gw    *Gateway
	clk   *clock.Fake
	st    *memory.Store
	provs map[string]*sim.Recording
	t     *testing.T
}

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, rulesYAML string, extra ...provider.Provider) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	t.Cleanup(func() { st.Close() })
	h := &harness{clk: clk, st: st, provs: map[string]*sim.Recording{}, t: t}
	var ps []provider.Provider
	for _, n := range []string{"email", "sms", "slack", "webhook"} {
		r := sim.NewRecording(n)
		h.provs[n] = r
		ps = append(ps, r)
	}
	ps = append(ps, extra...)
	reg, err := provider.NewRegistry(ps...)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := executor.New(executor.Options{MaxRetries: 2, Timeout: 5 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	set := mustRules(t, rulesYAML, reg)
	gw, err := New(Options{State: st, Providers: reg, Executor: exec, Rules: set, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	return h
}

func mustRules(t *testing.T, y string, reg *provider.Registry) *rules.Set {
	t.Helper()
	if y == "" {
		s, _ := rules.NewSet(nil)
		return s
	}
	rs, _, err := rules.ParseFile("rules.yaml", []byte(y), rules.Options{HasProvider: reg.Has})
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// base is spec 02 §6's B with overrides applied.
func base(mod func(a *action.Action)) *action.Action {
	a := &action.Action{
		ID: action.UUIDv4(), Namespace: "ns", Tenant: "t1", Provider: "email", ActionType: "send_email",
		Payload: map[string]any{"to": "u@example.com"}, CreatedAt: t0,
	}
	if mod != nil {
		mod(a)
	}
	return a
}

func (h *harness) at(sec int) { h.clk.Set(t0.Add(time.Duration(sec) * time.Second)) }

func (h *harness) dispatch(a *action.Action) action.Outcome {
	h.t.Helper()
	out, err := h.gw.Dispatch(context.Background(), a, Caller{})
	if err != nil {
		h.t.Fatalf("dispatch: %v", err)
	}
	return out
}

func wantKind(t *testing.T, out action.Outcome, k action.OutcomeKind) {
	t.Helper()
	if out.Kind != k {
		b, _ := json.Marshal(out)
		t.Fatalf("outcome %s, want %s", b, k)
	}
}

func TestDedupTTLIsInclusive(t *testing.T) { // S6
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: deduplicate, ttl_seconds: 300}}]`)
	k := func(key, tenant string) *action.Action {
		return base(func(a *action.Action) { a.DedupKey = key; a.Tenant = tenant })
	}
	steps := []struct {
		at   int
		a    *action.Action
		want action.OutcomeKind
	}{
		{0, k("k1", "t1"), action.OutcomeExecuted},
		{10, k("k1", "t1"), action.OutcomeDeduplicated},
		{10, k("k2", "t1"), action.OutcomeExecuted},
		{10, k("k1", "t2"), action.OutcomeExecuted},
		{300, k("k1", "t1"), action.OutcomeExecuted},
		{301, k("k1", "t1"), action.OutcomeDeduplicated},
	}
	for i, s := range steps {
		h.at(s.at)
		if out := h.dispatch(s.a); out.Kind != s.want {
			t.Errorf("step %d (t=%d): got %s, want %s", i, s.at, out.Kind, s.want)
		}
	}
	if n := h.provs["email"].CallCount(); n != 4 {
		t.Errorf("email calls = %d, want 4", n)
	}
}

func TestDedupWithoutKeyUsesActionID(t *testing.T) { // S7
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: deduplicate}}]`)
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.ID = "a-1" })), action.OutcomeExecuted)
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.ID = "a-2" })), action.OutcomeExecuted)
	h.at(1_000_000) // no ttl: never expires
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.ID = "a-1" })), action.OutcomeDeduplicated)
}

func TestDedupReleasesMarkerWhenDeliveryFails(t *testing.T) { // D9
	failing := sim.NewFailing("flaky", provider.KindExecutionFailed, "boom")
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: x}, action: {type: deduplicate, ttl_seconds: 60}}]`, failing)
	a := func() *action.Action {
		return base(func(a *action.Action) { a.Provider = "flaky"; a.ActionType = "x"; a.DedupKey = "k" })
	}
	wantKind(t, h.dispatch(a()), action.OutcomeFailed)
	// The marker was released, so the retry runs again instead of being deduplicated.
	wantKind(t, h.dispatch(a()), action.OutcomeFailed)
	if n := failing.CallCount(); n != 2 {
		t.Errorf("failing provider calls = %d, want 2", n)
	}
	if _, err := h.st.Get(context.Background(), state.Key{Namespace: "ns", Tenant: "t1", Kind: "dedup", ID: "k"}); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("dedup marker should be released, Get err = %v", err)
	}
}

func TestDedupKeepOnFailure(t *testing.T) {
	failing := sim.NewFailing("flaky", provider.KindExecutionFailed, "boom")
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: x}, action: {type: deduplicate, ttl_seconds: 60, keep_on_failure: true}}]`, failing)
	a := func() *action.Action {
		return base(func(a *action.Action) { a.Provider = "flaky"; a.ActionType = "x"; a.DedupKey = "k" })
	}
	wantKind(t, h.dispatch(a()), action.OutcomeFailed)
	wantKind(t, h.dispatch(a()), action.OutcomeDeduplicated)
}

func TestConcurrentDedupExecutesExactlyOnce(t *testing.T) {
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: deduplicate, ttl_seconds: 300}}]`)
	const n = 20
	var wg sync.WaitGroup
	outs := make([]action.OutcomeKind, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out, err := h.gw.Dispatch(context.Background(), base(func(a *action.Action) { a.DedupKey = "same" }), Caller{})
			if err != nil {
				t.Error(err)
			}
			outs[i] = out.Kind
		}(i)
	}
	close(start)
	wg.Wait()
	count := map[action.OutcomeKind]int{}
	for _, k := range outs {
		count[k]++
	}
	if count[action.OutcomeExecuted] != 1 || count[action.OutcomeDeduplicated] != n-1 {
		t.Errorf("got %v, want 1 executed and %d deduplicated", count, n-1)
	}
	if c := h.provs["email"].CallCount(); c != 1 {
		t.Errorf("email calls = %d, want 1", c)
	}
}

func TestThrottleFixedWindow(t *testing.T) { // S8, S9 with D10
	h := newHarness(t, `rules: [{name: thr, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: throttle, max_count: 2, window_seconds: 60}}]`)
	alert := func(tenant string) *action.Action {
		return base(func(a *action.Action) { a.ActionType = "alert"; a.Tenant = tenant })
	}
	h.at(0)
	wantKind(t, h.dispatch(alert("t1")), action.OutcomeExecuted)
	h.at(1)
	wantKind(t, h.dispatch(alert("t1")), action.OutcomeExecuted)
	h.at(2)
	out := h.dispatch(alert("t1"))
	wantKind(t, out, action.OutcomeThrottled)
	if out.RetryAfter != 58*time.Second {
		t.Errorf("retry_after = %s, want 58s (time left in the window)", out.RetryAfter)
	}
	wantKind(t, h.dispatch(alert("t2")), action.OutcomeExecuted)
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.ActionType = "page" })), action.OutcomeExecuted)

	h2 := newHarness(t, `rules: [{name: thr1, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: throttle, max_count: 1, window_seconds: 10}}]`)
	steps := []struct {
		at    int
		want  action.OutcomeKind
		retry time.Duration
	}{
		{0, action.OutcomeExecuted, 0}, {5, action.OutcomeThrottled, 5 * time.Second},
		{12, action.OutcomeExecuted, 0}, {21, action.OutcomeThrottled, time.Second}, {31, action.OutcomeExecuted, 0},
	}
	for _, s := range steps {
		h2.at(s.at)
		out := h2.dispatch(alert("t1"))
		if out.Kind != s.want || out.RetryAfter != s.retry {
			t.Errorf("t=%d: got %s retry %s, want %s retry %s", s.at, out.Kind, out.RetryAfter, s.want, s.retry)
		}
	}
}

func TestThrottleKeyFieldsSplitCounters(t *testing.T) {
	h := newHarness(t, `rules: [{name: thr, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: throttle, max_count: 1, window_seconds: 60, key_fields: [metadata.host]}}]`)
	host := func(hn string) *action.Action {
		return base(func(a *action.Action) { a.ActionType = "alert"; a.Metadata = map[string]string{"host": hn} })
	}
	wantKind(t, h.dispatch(host("a")), action.OutcomeExecuted)
	wantKind(t, h.dispatch(host("b")), action.OutcomeExecuted)
	wantKind(t, h.dispatch(host("a")), action.OutcomeThrottled)
}

func TestThrottleCountersPerRule(t *testing.T) { // S10
	h := newHarness(t, `rules:
- {name: ta, priority: 1, condition: {field: action.action_type, eq: a}, action: {type: throttle, max_count: 1, window_seconds: 60}}
- {name: tb, priority: 2, condition: {field: action.action_type, eq: b}, action: {type: throttle, max_count: 1, window_seconds: 60}}`)
	typ := func(s string) *action.Action { return base(func(a *action.Action) { a.ActionType = s }) }
	for i, want := range []action.OutcomeKind{action.OutcomeExecuted, action.OutcomeExecuted, action.OutcomeThrottled, action.OutcomeThrottled} {
		h.at(i)
		got := h.dispatch(typ([]string{"a", "b", "a", "b"}[i]))
		if got.Kind != want {
			t.Errorf("dispatch %d: %s, want %s", i, got.Kind, want)
		}
	}
	h.gw.SwapRules(mustRules(t, `rules: [{name: ta2, priority: 1, condition: {field: action.action_type, eq: a}, action: {type: throttle, max_count: 1, window_seconds: 60}}]`, h.gw.Providers()))
	wantKind(t, h.dispatch(typ("a")), action.OutcomeExecuted)
}

func TestRerouteAndUnknownProvider(t *testing.T) { // S11
	h := newHarness(t, `rules: [{name: urgent-sms, priority: 1, condition: {field: action.payload.priority, eq: urgent}, action: {type: reroute, target_provider: sms}}]`)
	out := h.dispatch(base(func(a *action.Action) { a.Payload = map[string]any{"priority": "urgent"} }))
	wantKind(t, out, action.OutcomeRerouted)
	if out.OriginalProvider != "email" || out.NewProvider != "sms" {
		t.Errorf("rerouted %s → %s", out.OriginalProvider, out.NewProvider)
	}
	if got := h.provs["sms"].LastAction(); got == nil || got.Provider != "email" {
		t.Errorf("sms should receive the unchanged action (provider still email), got %+v", got)
	}
	if h.provs["email"].CallCount() != 0 {
		t.Error("email must not be called")
	}
	out = h.dispatch(base(func(a *action.Action) { a.Provider = "nope"; a.ActionType = "x" }))
	want := action.ActionError{Code: "PROVIDER_NOT_FOUND", Message: "provider not found: nope", Retryable: false, Attempts: 0}
	if out.Kind != action.OutcomeFailed || out.Error == nil || *out.Error != want {
		t.Errorf("unknown provider: got %+v", out)
	}
}

func TestModifyIsMergePatchWithoutTemplating(t *testing.T) { // S12
	h := newHarness(t, `rules:
- name: enrich
  priority: 1
  condition: {field: action.action_type, eq: send_email}
  action: {type: modify, changes: {tracking: true, meta: {source: gw, old: null}, to: null, tags: [x], note: "{{ action.payload.to }}"}}`)
	in := base(func(a *action.Action) {
		a.Payload = map[string]any{"to": "u@example.com", "meta": map[string]any{"old": json.Number("1"), "keep": json.Number("2")}, "tags": []any{"a", "b"}}
	})
	wantKind(t, h.dispatch(in), action.OutcomeExecuted)
	got, _ := json.Marshal(h.provs["email"].LastAction().Payload)
	want := `{"meta":{"keep":2,"source":"gw"},"note":"{{ action.payload.to }}","tags":["x"],"tracking":true}`
	if string(got) != want {
		t.Errorf("provider payload\n got %s\nwant %s", got, want)
	}
	orig, _ := json.Marshal(in.Payload)
	if string(orig) != `{"meta":{"keep":2,"old":1},"tags":["a","b"],"to":"u@example.com"}` {
		t.Errorf("the dispatched action's payload must stay unchanged, got %s", orig)
	}
}

func TestRuntimeToggleAndSuppress(t *testing.T) { // S4 (gateway part), S1, S2
	h := newHarness(t, `rules: [{name: gate, priority: 1, enabled: false, condition: {field: action.provider, eq: email}, action: {type: deny}}]`)
	wantKind(t, h.dispatch(base(nil)), action.OutcomeExecuted)
	if !h.gw.Rules().SetEnabled("gate", true) {
		t.Fatal("SetEnabled(gate) = false")
	}
	out := h.dispatch(base(nil))
	if out.Kind != action.OutcomeSuppressed || out.Rule != "gate" {
		t.Errorf("got %+v, want Suppressed{gate}", out)
	}
	if h.gw.Rules().SetEnabled("nope", true) {
		t.Error("SetEnabled(nope) should report an unknown rule")
	}
}

func TestDryRunHasNoSideEffects(t *testing.T) { // S31 (with D26: dedup names its rule)
	h := newHarness(t, `rules:
- {name: dd, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: deduplicate, ttl_seconds: 300}}
- {name: thr, priority: 2, condition: {field: action.action_type, eq: alert}, action: {type: throttle, max_count: 1, window_seconds: 60}}`)
	for i := 0; i < 2; i++ {
		out := h.gw.DryRun(context.Background(), base(func(a *action.Action) { a.DedupKey = "k9" }))
		want := action.Outcome{Kind: action.OutcomeDryRun, Verdict: "deduplicate", MatchedRule: "dd", WouldBeProvider: "email"}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("dry run %d (-want +got):\n%s", i, diff)
		}
	}
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.DedupKey = "k9" })), action.OutcomeExecuted)
	for i := 0; i < 5; i++ {
		h.gw.DryRun(context.Background(), base(func(a *action.Action) { a.ActionType = "alert" }))
	}
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.ActionType = "alert" })), action.OutcomeExecuted)
	if n := h.provs["email"].CallCount(); n != 2 {
		t.Errorf("email calls = %d, want 2 (dry runs never deliver)", n)
	}
}

func TestRuleErrorsNeverFailDispatch(t *testing.T) { // S16 row 2 through the gateway (D6)
	h := newHarness(t, `rules:
- {name: big, priority: 1, condition: {all: [{field: action.action_type, eq: refund}, {field: action.payload.amount, gt: 1000}]}, action: {type: deny}}`)
	wantKind(t, h.dispatch(base(func(a *action.Action) { a.ActionType = "refund"; a.Payload = map[string]any{} })), action.OutcomeExecuted)
}

// stateDown fails every operation, like an unreachable backend.
type stateDown struct{ state.Store }

func (stateDown) CheckAndSet(context.Context, state.Key, string, time.Duration) (bool, error) {
	return false, fmt.Errorf("dial tcp: connection refused: %w", state.ErrUnavailable)
}

func TestDedupStateFailureIsAClearError(t *testing.T) {
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: deduplicate}}]`)
	h.gw.state = stateDown{h.st}
	_, err := h.gw.Dispatch(context.Background(), base(nil), Caller{})
	if !errors.Is(err, ErrStateUnavailable) {
		t.Fatalf("err = %v, want ErrStateUnavailable", err)
	}
	if h.provs["email"].CallCount() != 0 {
		t.Error("nothing may be delivered when the dedup marker cannot be set")
	}
}

func TestCircuitBreakerOpensAndFallsBack(t *testing.T) {
	down := sim.NewFailing("down", provider.KindConnection, "refused")
	h := newHarness(t, "", down)
	br := executor.NewBreakers(executor.BreakerConfig{
		FailureThreshold: 2, SuccessThreshold: 1, RecoveryTimeout: time.Minute,
		PerProvider: map[string]executor.BreakerOverride{"down": {FallbackProvider: "sms"}},
	}, h.gw.Providers().Names(), h.clk)
	exec, err := executor.New(executor.Options{NoRetries: true, Breakers: br, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.exec, h.gw.breakers = exec, br
	toDown := func() *action.Action { return base(func(a *action.Action) { a.Provider = "down" }) }
	wantKind(t, h.dispatch(toDown()), action.OutcomeFailed)
	wantKind(t, h.dispatch(toDown()), action.OutcomeFailed)
	if st := br.State("down"); st != "open" {
		t.Fatalf("breaker state %q after 2 retryable failures, want open", st)
	}
	out := h.dispatch(toDown())
	wantKind(t, out, action.OutcomeRerouted)
	if out.NewProvider != "sms" || h.provs["sms"].CallCount() != 1 {
		t.Errorf("fallback: %+v, sms calls %d", out, h.provs["sms"].CallCount())
	}
	if down.CallCount() != 2 {
		t.Errorf("an open breaker must not call the provider; calls %d", down.CallCount())
	}
	br.Trip("sms")
	out = h.dispatch(toDown())
	wantKind(t, out, action.OutcomeCircuitOpen)
	if out.Provider != "down" {
		t.Errorf("circuit open outcome %+v", out)
	}
}

func TestAuditRecordExplainsTheDecision(t *testing.T) {
	h := newHarness(t, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: deduplicate, ttl_seconds: 60}}]`)
	store := auditmem.New(auditmem.Options{Clock: h.clk})
	w := audit.NewWriter(store, audit.WriterOptions{})
	h.gw.audit, h.gw.auditTTL, h.gw.storePay = w, time.Hour, true
	a := base(func(a *action.Action) {
		a.ID = "act-1"
		a.DedupKey = "k"
		a.Metadata = map[string]string{"sev": "high"}
	})
	wantKind(t, h.dispatch(a), action.OutcomeExecuted)
	b := base(func(a *action.Action) { a.ID = "act-2"; a.DedupKey = "k" })
	wantKind(t, h.dispatch(b), action.OutcomeDeduplicated)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := store.GetByActionID(context.Background(), "act-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != "deduplicate" || rec.MatchedRule == nil || *rec.MatchedRule != "dd" || rec.Outcome != "executed" {
		t.Errorf("record verdict %s rule %v outcome %s", rec.Verdict, rec.MatchedRule, rec.Outcome)
	}
	if string(rec.OutcomeDetails) != `{"attempts":1,"status":"Success"}` {
		t.Errorf("outcome_details %s", rec.OutcomeDetails)
	}
	if string(rec.ActionPayload) != `{"to":"u@example.com"}` {
		t.Errorf("payload %s", rec.ActionPayload)
	}
	if rec.Metadata["sev"] != "high" || rec.Metadata["__dedup_key"] != "k" {
		t.Errorf("metadata %v", rec.Metadata)
	}
	if rec.ExpiresAt == nil || !rec.ExpiresAt.Equal(t0.Add(time.Hour)) || rec.AuthMethod != "anonymous" {
		t.Errorf("expires_at %v auth %q", rec.ExpiresAt, rec.AuthMethod)
	}
	rec2, err := store.GetByActionID(context.Background(), "act-2")
	if err != nil || rec2.Outcome != "deduplicated" || string(rec2.OutcomeDetails) != `{}` {
		t.Errorf("dedup record %+v %v", rec2, err)
	}
}

func (stateDown) IncrementWindow(context.Context, state.Key, time.Duration) (int64, time.Duration, error) {
	return 0, 0, fmt.Errorf("i/o timeout: %w", state.ErrUnavailable)
}

func TestThrottleStateFailureIsAClearError(t *testing.T) {
	h := newHarness(t, `rules: [{name: thr, priority: 1, condition: {field: action.action_type, eq: send_email}, action: {type: throttle, max_count: 1, window_seconds: 60}}]`)
	h.gw.state = stateDown{h.st}
	_, err := h.gw.Dispatch(context.Background(), base(nil), Caller{})
	if !errors.Is(err, ErrStateUnavailable) {
		t.Fatalf("err = %v, want ErrStateUnavailable", err)
	}
	if h.provs["email"].CallCount() != 0 {
		t.Error("nothing may be delivered when the throttle counter cannot be read")
	}
}

func TestMetricsRegisterBesideBreakerMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg)
	executor.NewBreakers(executor.BreakerConfig{}, []string{"email"}, clock.NewFake(t0), executor.WithBreakerRegisterer(reg))
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// Drain waits for running dispatches and then refuses new ones.
func TestDrainWaitsThenRefuses(t *testing.T) {
	slow := sim.NewRecording("slow", sim.WithDelay(200*time.Millisecond))
	h := newHarness(t, "", slow)
	done := make(chan error, 1)
	go func() {
		_, err := h.gw.Dispatch(context.Background(), base(func(a *action.Action) { a.Provider = "slow" }), Caller{})
		done <- err
	}()
	for h.gw.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := h.gw.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The provider records a call when it has answered: Drain returned only
	// after the running dispatch got its answer.
	if n := len(slow.Calls()); n != 1 {
		t.Fatal("Drain returned before the running dispatch finished")
	}
	if err := <-done; err != nil {
		t.Fatalf("the running dispatch should finish: %v", err)
	}
	if _, err := h.gw.Dispatch(context.Background(), base(nil), Caller{}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("after Drain: %v, want ErrShuttingDown", err)
	}
}
