package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/silence"
	"github.com/acteon/acteon-go/internal/state"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
	"github.com/acteon/acteon-go/internal/testenv"
)

// muteEnv is one or more gateway nodes over one memory store and one fake
// clock, with recording providers email and sms shared by the nodes.
type muteEnv struct {
	clk   *clock.Fake
	st    state.Store
	email *sim.Recording
	sms   *sim.Recording
	dir   string
}

func newMuteEnv(t testing.TB, start time.Time, files map[string]string) *muteEnv {
	t.Helper()
	clk := clock.NewFake(start)
	st := statemem.New(statemem.Options{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &muteEnv{clk: clk, st: st, dir: dir,
		email: sim.NewRecording("email"), sms: sim.NewRecording("sms")}
}

func (e *muteEnv) build(t testing.TB) (*App, error) {
	t.Helper()
	toml := fmt.Sprintf("[rules]\ndirectory = %q\nwatch = false\n", e.dir)
	cfg, _, err := config.Parse([]byte(toml), "test.toml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := Build(cfg, Options{Clock: e.clk, State: e.st, ExtraProviders: []provider.Provider{e.email, e.sms}})
	if err == nil {
		t.Cleanup(func() { _ = a.Close(context.Background()) })
	}
	return a, err
}

func (e *muteEnv) node(t *testing.T) *App {
	t.Helper()
	a, err := e.build(t)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return a
}

func base(mods ...func(*action.Action)) *action.Action {
	a := &action.Action{ID: action.UUIDv4(), Namespace: "ns", Tenant: "t1", Provider: "email", ActionType: "send_email",
		Payload: map[string]any{"to": "u@example.com"}}
	for _, m := range mods {
		m(a)
	}
	return a
}

func labels(kv ...string) func(*action.Action) {
	return func(a *action.Action) {
		a.Metadata = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			a.Metadata[kv[i]] = kv[i+1]
		}
	}
}

func tenant(t string) func(*action.Action)   { return func(a *action.Action) { a.Tenant = t } }
func nsOf(ns string) func(*action.Action)    { return func(a *action.Action) { a.Namespace = ns } }
func typeOf(at string) func(*action.Action)  { return func(a *action.Action) { a.ActionType = at } }
func statusOf(s string) func(*action.Action) { return func(a *action.Action) { a.Status = s } }

func dispatchOK(t *testing.T, a *App, act *action.Action) action.Outcome {
	t.Helper()
	out, err := a.Gateway.Dispatch(context.Background(), act, gateway.Caller{})
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	return out
}

// do sends one request to h, as id when id is non-nil.
func do(t *testing.T, h http.Handler, id *auth.Identity, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != nil {
		req = req.WithContext(auth.WithIdentity(req.Context(), id))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func wire(t *testing.T, out action.Outcome) string {
	t.Helper()
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// S29: silences override every verdict; anchored regex; tenant hierarchy.
func TestS29Silences(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	e := newMuteEnv(t, t0, map[string]string{"rules.yaml": `rules: [{name: to-sms, priority: 1, condition: {field: action.provider, eq: email}, action: {type: reroute, target_provider: sms}}]`})
	a := e.node(t)
	h := a.Handler()

	code, body := do(t, h, nil, "POST", "/v1/silences", map[string]any{
		"namespace": "ns", "tenant": "t1", "comment": "deploy",
		"matchers":  []map[string]string{{"name": "service", "value": "api|web", "op": "regex"}},
		"starts_at": action.FormatTime(t0.Add(-time.Minute)), "ends_at": action.FormatTime(t0.Add(time.Hour)),
	})
	if code != http.StatusCreated {
		t.Fatalf("create silence: %d %s", code, body)
	}
	var sr struct {
		ID       string `json:"id"`
		Active   bool   `json:"active"`
		Matchers []struct{ Name, Value, Op string }
	}
	if err := json.Unmarshal(body, &sr); err != nil || sr.ID == "" || !sr.Active || sr.Matchers[0].Op != "regex" {
		t.Fatalf("silence response %s (%v)", body, err)
	}

	// Row 1 through the HTTP API: exact wire form.
	row1 := base(labels("service", "api"))
	code, body = do(t, h, nil, "POST", "/v1/dispatch", row1)
	if want := `{"Silenced":{"silence_id":"` + sr.ID + `","matched_rule":"to-sms"}}`; code != 200 || string(body) != want {
		t.Fatalf("row 1: %d %s, want %s", code, body, want)
	}
	if e.sms.CallCount() != 0 {
		t.Fatalf("sms called %d times", e.sms.CallCount())
	}
	rows := []struct {
		name string
		act  *action.Action
		want action.OutcomeKind
	}{
		{"anchored: api-gw does not match", base(labels("service", "api-gw")), action.OutcomeRerouted},
		{"child tenant is covered", base(tenant("t1.eu"), labels("service", "web")), action.OutcomeSilenced},
		{"t10 is not a child of t1", base(tenant("t10"), labels("service", "web")), action.OutcomeRerouted},
		{"other namespace", base(nsOf("other"), labels("service", "web")), action.OutcomeRerouted},
	}
	for _, r := range rows {
		if out := dispatchOK(t, a, r.act); out.Kind != r.want {
			t.Errorf("%s: %s, want %s", r.name, wire(t, out), r.want)
		}
	}
	// Dry run ignores silences.
	code, body = do(t, h, nil, "POST", "/v1/dispatch?dry_run=true", base(labels("service", "api")))
	if want := `{"DryRun":{"verdict":"reroute","matched_rule":"to-sms","would_be_provider":"sms"}}`; code != 200 || string(body) != want {
		t.Fatalf("dry run: %d %s, want %s", code, body, want)
	}
	// An allow rule: matched_rule is null.
	a.Gateway.SwapRules(mustSet(t, `rules: [{name: to-sms, priority: 1, condition: {field: action.provider, eq: email}, action: {type: allow}}]`))
	if got, want := wire(t, dispatchOK(t, a, base(labels("service", "api")))), `{"Silenced":{"silence_id":"`+sr.ID+`","matched_rule":null}}`; got != want {
		t.Fatalf("allow rule: %s, want %s", got, want)
	}
	// After ends_at the silence no longer applies.
	a.Gateway.SwapRules(mustSet(t, `rules: [{name: to-sms, priority: 1, condition: {field: action.provider, eq: email}, action: {type: reroute, target_provider: sms}}]`))
	e.clk.Set(t0.Add(time.Hour))
	if out := dispatchOK(t, a, base(labels("service", "api"))); out.Kind != action.OutcomeRerouted {
		t.Fatalf("after ends_at: %s", wire(t, out))
	}
}

const s30Intervals = `time_intervals:
- name: maint
  namespace: ns
  tenant: t1
  time_ranges: [{weekdays: [{start: 6, end: 7}]}]
- name: biz
  namespace: ns
  tenant: t1
  location: America/New_York
  time_ranges: [{times: [{start_minute: 540, end_minute: 1020}], weekdays: [{start: 1, end: 5}]}]
`

const s30Rules = `rules:
- {name: page, priority: 1, condition: {field: action.metadata.severity, eq: critical}, action: {type: reroute, target_provider: sms}, mute_time_intervals: [maint]}
- {name: digest, priority: 2, condition: {field: action.action_type, eq: digest}, action: {type: allow}, active_time_intervals: [biz]}
- {name: dd, priority: 5, condition: {field: action.action_type, eq: dup}, action: {type: deduplicate}, mute_time_intervals: [maint]}
`

// S30: time intervals (mute, active, dedup muted per D26), defined in
// time-intervals.yaml in the rules directory.
func TestS30TimeIntervals(t *testing.T) {
	sat := time.Date(2026, 1, 17, 12, 0, 0, 0, time.UTC)
	e := newMuteEnv(t, sat, map[string]string{"time-intervals.yaml": s30Intervals, "rules.yaml": s30Rules})
	a := e.node(t)
	h := a.Handler()
	rows := []struct {
		at   time.Time
		act  *action.Action
		want string
	}{
		{sat, base(labels("severity", "critical")), `{"Muted":{"interval":"maint","reason":"mute_time_interval","matched_rule":"page"}}`},
		{sat, base(typeOf("digest")), `{"Muted":{"interval":"biz","reason":"active_time_interval","matched_rule":null}}`},
		{sat, base(typeOf("dup")), `{"Muted":{"interval":"maint","reason":"mute_time_interval","matched_rule":"dd"}}`},
		{time.Date(2026, 1, 15, 15, 0, 0, 0, time.UTC), base(labels("severity", "critical")), `Rerouted`},
		{time.Date(2026, 1, 15, 15, 0, 0, 0, time.UTC), base(typeOf("digest")), `Executed`},
		{time.Date(2026, 1, 15, 23, 0, 0, 0, time.UTC), base(typeOf("digest")), `{"Muted":{"interval":"biz","reason":"active_time_interval","matched_rule":null}}`},
	}
	for i, r := range rows {
		e.clk.Set(r.at)
		code, body := do(t, h, nil, "POST", "/v1/dispatch", r.act)
		if code != 200 {
			t.Fatalf("row %d: %d %s", i, code, body)
		}
		if strings.HasPrefix(r.want, "{") {
			if string(body) != r.want {
				t.Errorf("row %d: %s, want %s", i, body, r.want)
			}
		} else if !strings.HasPrefix(string(body), `{"`+r.want+`"`) {
			t.Errorf("row %d: %s, want %s", i, body, r.want)
		}
	}
	if e.sms.CallCount() != 1 {
		t.Errorf("sms calls %d, want 1 (Thursday's critical)", e.sms.CallCount())
	}
	// A muted dedup action wrote no dedup marker: the same key executes on a weekday.
	// Dry runs never report Muted.
	e.clk.Set(sat)
	code, body := do(t, h, nil, "POST", "/v1/dispatch?dry_run=true", base(labels("severity", "critical")))
	if code != 200 || !strings.HasPrefix(string(body), `{"DryRun":{"verdict":"reroute","matched_rule":"page"`) {
		t.Fatalf("dry run: %d %s", code, body)
	}
}

// D25: rules naming undefined intervals do not load.
func TestS30UndefinedIntervalsDoNotLoad(t *testing.T) {
	e := newMuteEnv(t, time.Now(), map[string]string{"time-intervals.yaml": s30Intervals, "rules.yaml": s30Rules + `- {name: typo, priority: 3, condition: {field: action.action_type, eq: report}, action: {type: allow}, active_time_intervals: [bizz]}
- {name: typo-mute, priority: 4, condition: {field: action.action_type, eq: memo}, action: {type: allow}, mute_time_intervals: [nope]}
`})
	_, err := e.build(t)
	if err == nil || !strings.Contains(err.Error(), `undefined time interval "bizz"`) || !strings.Contains(err.Error(), `undefined time interval "nope"`) {
		t.Fatalf("build: %v", err)
	}
	// A bad interval file is a start-up error naming the file.
	e2 := newMuteEnv(t, time.Now(), map[string]string{"time-intervals.yaml": "time_intervals:\n- {name: x, namespace: ns, tenant: t1, location: Mars/Base}\n", "rules.yaml": "rules: []\n"})
	if _, err := e2.build(t); err == nil || !strings.Contains(err.Error(), "time-intervals.yaml") || !strings.Contains(err.Error(), "Mars/Base") {
		t.Fatalf("bad interval file: %v", err)
	}
}

// Inhibition through the whole pipeline: a source action mutes targets
// with the same equal labels until it resolves, on a second node too.
func TestInhibitionAcrossNodes(t *testing.T) {
	e := newMuteEnv(t, time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), map[string]string{"rules.yaml": `rules:
- {name: critical-to-sms, priority: 1, condition: {field: action.metadata.severity, eq: critical}, action: {type: reroute, target_provider: sms}}
inhibitions:
- name: node-down
  source: {field: action.metadata.alertname, eq: NodeDown}
  target: {field: action.metadata.severity, eq: warning}
  equal: [instance]
`})
	n1, n2 := e.node(t), e.node(t)
	warn := func(inst string) *action.Action {
		return base(labels("alertname", "HighLatency", "severity", "warning", "instance", inst))
	}
	if out := dispatchOK(t, n2, warn("h1")); out.Kind != action.OutcomeExecuted {
		t.Fatalf("before the source: %s", wire(t, out))
	}
	if out := dispatchOK(t, n1, base(labels("alertname", "NodeDown", "severity", "critical", "instance", "h1"))); out.Kind != action.OutcomeRerouted {
		t.Fatalf("source: %s", wire(t, out))
	}
	if got := wire(t, dispatchOK(t, n2, warn("h1"))); got != `{"Suppressed":{"rule":"node-down"}}` {
		t.Fatalf("target on node 2: %s", got)
	}
	if out := dispatchOK(t, n2, warn("h2")); out.Kind != action.OutcomeExecuted {
		t.Fatalf("other instance: %s", wire(t, out))
	}
	dispatchOK(t, n2, base(labels("alertname", "NodeDown", "severity", "critical", "instance", "h1"), statusOf("resolved")))
	if out := dispatchOK(t, n1, warn("h1")); out.Kind != action.OutcomeExecuted {
		t.Fatalf("after resolve: %s", wire(t, out))
	}
	// Dry runs neither record sources nor inhibit.
	code, _ := do(t, n1.Handler(), nil, "POST", "/v1/dispatch?dry_run=true", base(labels("alertname", "NodeDown", "instance", "h1")))
	if code != 200 {
		t.Fatal(code)
	}
	if out := dispatchOK(t, n1, warn("h1")); out.Kind != action.OutcomeExecuted {
		t.Fatalf("a dry-run source inhibited: %s", wire(t, out))
	}
}

// A silence created on node A applies on node B within one second, through
// B's poller (real time; the only sleeping test here).
func TestSilenceVisibleOnOtherNodeWithinOneSecond(t *testing.T) {
	t0 := time.Now()
	e := newMuteEnv(t, t0, map[string]string{"rules.yaml": "rules: []\n"})
	nodeA, nodeB := e.node(t), e.node(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := nodeB.Start(ctx); err != nil {
		t.Fatal(err)
	}
	crossNodeSilence(t, nodeA, nodeB, e.clk)
}

func crossNodeSilence(t *testing.T, nodeA, nodeB *App, clk clock.Clock) {
	t.Helper()
	act := func() *action.Action { return base(labels("service", "checkout")) }
	if out := dispatchOK(t, nodeB, act()); out.Kind != action.OutcomeExecuted {
		t.Fatalf("before the silence: %s", wire(t, out))
	}
	code, body := do(t, nodeA.Handler(), nil, "POST", "/v1/silences", map[string]any{
		"namespace": "ns", "tenant": "t1", "comment": "x", "duration_seconds": 3600,
		"matchers": []map[string]string{{"name": "service", "value": "checkout"}},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	created := time.Now()
	for {
		out := dispatchOK(t, nodeB, act())
		if out.Kind == action.OutcomeSilenced {
			break
		}
		if time.Since(created) > time.Second {
			t.Fatalf("node B still %s one second after the silence was created on node A", out.Kind)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Expiring it on node B stops it on node A too.
	var sr struct{ ID string }
	_ = json.Unmarshal(body, &sr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := nodeA.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, nodeB.Handler(), nil, "DELETE", "/v1/silences/"+sr.ID, nil); code != http.StatusNoContent {
		t.Fatalf("delete on B: %d %s", code, body)
	}
	deleted := time.Now()
	for dispatchOK(t, nodeA, act()).Kind == action.OutcomeSilenced {
		if time.Since(deleted) > time.Second {
			t.Fatal("node A still silences one second after the silence was expired on node B")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSilencesAPI(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	e := newMuteEnv(t, t0, map[string]string{"rules.yaml": "rules: []\n"})
	h := e.node(t).Handler()
	ok := map[string]any{"namespace": "ns", "tenant": "t1", "comment": "c", "duration_seconds": 600,
		"matchers": []map[string]string{{"name": "a", "value": "1"}}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range ok {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	bad := []struct {
		name string
		body map[string]any
		code int
		want string
	}{
		{"invalid regex", with("matchers", []map[string]string{{"name": "a", "value": "(", "op": "regex"}}), 400, "invalid regex"},
		{"no matchers", with("matchers", []map[string]string{}), 400, "at least one matcher"},
		{"end before start", with("duration_seconds", nil), 400, "either ends_at or duration_seconds"},
		{"ends_at before starts_at", with("ends_at", action.FormatTime(t0.Add(-time.Hour))), 400, "must be after starts_at"},
		{"unknown op", with("matchers", []map[string]string{{"name": "a", "value": "1", "op": "like"}}), 400, "unknown op"},
		{"matchers wrong type", with("matchers", "x"), 422, "matchers"},
		{"no tenant", with("tenant", nil), 400, "tenant"},
	}
	for _, b := range bad {
		code, body := do(t, h, nil, "POST", "/v1/silences", b.body)
		if code != b.code || !strings.Contains(string(body), b.want) {
			t.Errorf("%s: %d %s, want %d containing %q", b.name, code, body, b.code, b.want)
		}
	}
	code, body := do(t, h, nil, "POST", "/v1/silences", ok)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var created map[string]any
	_ = json.Unmarshal(body, &created)
	for _, k := range []string{"id", "namespace", "tenant", "matchers", "starts_at", "ends_at", "created_by", "comment", "created_at", "updated_at", "active"} {
		if _, present := created[k]; !present {
			t.Errorf("response lacks %q: %s", k, body)
		}
	}
	if created["ends_at"] != "2026-01-15T12:10:00Z" || created["starts_at"] != "2026-01-15T12:00:00Z" {
		t.Errorf("window %v..%v", created["starts_at"], created["ends_at"])
	}
	id := created["id"].(string)
	if code, body := do(t, h, nil, "GET", "/v1/silences/"+id, nil); code != 200 || !strings.Contains(string(body), id) {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, _ := do(t, h, nil, "GET", "/v1/silences/nope", nil); code != 404 {
		t.Fatalf("get missing: %d", code)
	}
	code, body = do(t, h, nil, "PUT", "/v1/silences/"+id, map[string]any{"comment": "extended", "ends_at": "2026-01-15T14:00:00Z"})
	if code != 200 || !strings.Contains(string(body), `"comment":"extended"`) || !strings.Contains(string(body), `"ends_at":"2026-01-15T14:00:00Z"`) {
		t.Fatalf("put: %d %s", code, body)
	}
	if code, body := do(t, h, nil, "PUT", "/v1/silences/"+id, map[string]any{"ends_at": "2026-01-15T11:00:00Z"}); code != 400 {
		t.Fatalf("put end before start: %d %s", code, body)
	}
	if code, body := do(t, h, nil, "GET", "/v1/silences?namespace=ns", nil); code != 200 || !strings.Contains(string(body), `"count":1`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _ := do(t, h, nil, "DELETE", "/v1/silences/"+id, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, body := do(t, h, nil, "GET", "/v1/silences", nil); code != 200 || !strings.Contains(string(body), `"count":0`) {
		t.Fatalf("list after delete: %d %s", code, body)
	}
	if code, body := do(t, h, nil, "GET", "/v1/silences?include_expired=true", nil); code != 200 || !strings.Contains(string(body), `"count":1`) || !strings.Contains(string(body), `"active":false`) {
		t.Fatalf("list expired: %d %s", code, body)
	}

	// Permissions and scope.
	viewer := &auth.Identity{CallerID: "v", Method: "api_key", Role: auth.RoleViewer, Grants: auth.Anonymous.Grants}
	other := &auth.Identity{CallerID: "o", Method: "api_key", Role: auth.RoleOperator,
		Grants: []auth.Grant{{Tenants: []string{"t2"}, Namespaces: []string{"*"}, Actions: []string{"*"}}}}
	if code, body := do(t, h, viewer, "POST", "/v1/silences", ok); code != 403 || !strings.Contains(string(body), "silences_manage") {
		t.Errorf("viewer create: %d %s", code, body)
	}
	if code, _ := do(t, h, viewer, "GET", "/v1/silences/"+id, nil); code != 200 {
		t.Errorf("viewer read: %d", code)
	}
	if code, _ := do(t, h, viewer, "DELETE", "/v1/silences/"+id, nil); code != 403 {
		t.Errorf("viewer delete: %d", code)
	}
	if code, _ := do(t, h, other, "POST", "/v1/silences", ok); code != 403 {
		t.Errorf("other-tenant create: %d", code)
	}
	if code, _ := do(t, h, other, "GET", "/v1/silences/"+id, nil); code != 403 {
		t.Errorf("other-tenant get: %d", code)
	}
	if code, _ := do(t, h, other, "PUT", "/v1/silences/"+id, map[string]any{"comment": "x"}); code != 403 {
		t.Errorf("other-tenant put: %d", code)
	}
	if code, _ := do(t, h, other, "GET", "/v1/silences?tenant=t1", nil); code != 403 {
		t.Errorf("other-tenant list of t1: %d", code)
	}
	if code, body := do(t, h, other, "GET", "/v1/silences?include_expired=true", nil); code != 200 || !strings.Contains(string(body), `"count":0`) {
		t.Errorf("other-tenant list: %d %s", code, body)
	}
	if code, body := do(t, h, other, "POST", "/v1/silences", with("tenant", "t2.eu")); code != 201 {
		t.Errorf("own child tenant create: %d %s", code, body)
	}
}

func TestTimeIntervalsAPI(t *testing.T) {
	sat := time.Date(2026, 1, 17, 12, 0, 0, 0, time.UTC)
	e := newMuteEnv(t, sat, map[string]string{"rules.yaml": "rules: []\n"})
	a := e.node(t)
	h := a.Handler()
	weekend := map[string]any{"name": "weekend", "namespace": "ns", "tenant": "t1",
		"time_ranges": []any{map[string]any{"weekdays": []any{map[string]int{"start": 6, "end": 7}}, "times": []any{map[string]string{"start": "00:00", "end": "24:00"}}}}}
	code, body := do(t, h, nil, "POST", "/v1/time-intervals", weekend)
	if code != 201 || !strings.Contains(string(body), `"times":[{"start_minute":0,"end_minute":1440}]`) || !strings.Contains(string(body), `"matches_now":true`) {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := do(t, h, nil, "POST", "/v1/time-intervals", weekend); code != 409 {
		t.Fatalf("duplicate: %d", code)
	}
	for _, b := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": "x", "namespace": "ns", "tenant": "t1", "time_ranges": []any{map[string]any{"times": []any{map[string]string{"start": "10:00", "end": "09:00"}}}}}, "must be after start"},
		{map[string]any{"name": "x", "namespace": "ns", "tenant": "t1", "time_ranges": []any{map[string]any{"times": []any{map[string]string{"start": "25:00", "end": "26:00"}}}}}, "HH:MM"},
		{map[string]any{"name": "x", "namespace": "ns", "tenant": "t1", "location": "Mars/Base"}, "invalid location"},
		{map[string]any{"name": "x", "namespace": "ns", "tenant": "t1", "time_ranges": []any{map[string]any{"days_of_month": []any{map[string]int{"start": 0, "end": 3}}}}}, "days_of_month"},
	} {
		if code, body := do(t, h, nil, "POST", "/v1/time-intervals", b.body); code != 400 || !strings.Contains(string(body), b.want) {
			t.Errorf("bad create: %d %s, want 400 with %q", code, body, b.want)
		}
	}
	if code, body := do(t, h, nil, "GET", "/v1/time-intervals/ns/t1/weekend", nil); code != 200 || !strings.Contains(string(body), `"name":"weekend"`) {
		t.Fatalf("get: %d %s", code, body)
	}
	code, body = do(t, h, nil, "PUT", "/v1/time-intervals/ns/t1/weekend", map[string]any{"location": "Europe/Paris", "description": "weekends"})
	if code != 200 || !strings.Contains(string(body), `"location":"Europe/Paris"`) || !strings.Contains(string(body), `"description":"weekends"`) {
		t.Fatalf("put: %d %s", code, body)
	}
	if code, body := do(t, h, nil, "GET", "/v1/time-intervals?namespace=ns", nil); code != 200 || !strings.Contains(string(body), `"count":1`) {
		t.Fatalf("list: %d %s", code, body)
	}

	// A rule naming it loads now (D25), and deleting it is then refused.
	if err := os.WriteFile(filepath.Join(e.dir, "rules.yaml"), []byte(`rules:
- {name: quiet-weekends, priority: 1, condition: {field: action.action_type, eq: page}, action: {type: allow}, mute_time_intervals: [weekend]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reloader.Reload(""); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if out := dispatchOK(t, a, base(typeOf("page"))); out.Kind != action.OutcomeMuted || out.Interval != "weekend" {
		t.Fatalf("dispatch: %s", wire(t, out))
	}
	code, body = do(t, h, nil, "DELETE", "/v1/time-intervals/ns/t1/weekend", nil)
	if code != 409 || !strings.Contains(string(body), "quiet-weekends") {
		t.Fatalf("delete referenced: %d %s", code, body)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "rules.yaml"), []byte("rules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reloader.Reload(""); err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, h, nil, "DELETE", "/v1/time-intervals/ns/t1/weekend", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := do(t, h, nil, "GET", "/v1/time-intervals/ns/t1/weekend", nil); code != 404 {
		t.Fatalf("get deleted: %d", code)
	}
	if code, _ := do(t, h, nil, "DELETE", "/v1/time-intervals/ns/t1/weekend", nil); code != 404 {
		t.Fatalf("delete again: %d", code)
	}
	// An interval added to time-intervals.yaml after start-up is picked up by
	// a rule reload that names it.
	if err := os.WriteFile(filepath.Join(e.dir, "time-intervals.yaml"), []byte("time_intervals:\n- {name: late, namespace: ns, tenant: t1, time_ranges: [{weekdays: [{start: 6, end: 6}]}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "rules.yaml"), []byte(`rules:
- {name: late-rule, priority: 1, condition: {field: action.action_type, eq: page}, action: {type: allow}, mute_time_intervals: [late]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reloader.Reload(""); err != nil {
		t.Fatalf("reload with a new file interval: %v", err)
	}
	if out := dispatchOK(t, a, base(typeOf("page"))); out.Kind != action.OutcomeMuted || out.Interval != "late" {
		t.Fatalf("dispatch: %s", wire(t, out))
	}
	if err := os.Remove(filepath.Join(e.dir, "time-intervals.yaml")); err != nil {
		t.Fatal(err)
	}

	// Rules naming a deleted interval no longer load.
	if err := os.WriteFile(filepath.Join(e.dir, "rules.yaml"), []byte(`rules:
- {name: quiet-weekends, priority: 1, condition: {field: action.action_type, eq: page}, action: {type: allow}, mute_time_intervals: [weekend]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reloader.Reload(""); err == nil || !strings.Contains(err.Error(), `undefined time interval "weekend"`) {
		t.Fatalf("reload naming a deleted interval: %v", err)
	}

	viewer := &auth.Identity{CallerID: "v", Method: "api_key", Role: auth.RoleViewer, Grants: auth.Anonymous.Grants}
	other := &auth.Identity{CallerID: "o", Method: "api_key", Role: auth.RoleOperator,
		Grants: []auth.Grant{{Tenants: []string{"t2"}, Namespaces: []string{"*"}, Actions: []string{"*"}}}}
	if code, _ := do(t, h, viewer, "POST", "/v1/time-intervals", weekend); code != 403 {
		t.Errorf("viewer create: %d", code)
	}
	if code, _ := do(t, h, other, "POST", "/v1/time-intervals", weekend); code != 403 {
		t.Errorf("other-tenant create: %d", code)
	}
	if code, _ := do(t, h, nil, "POST", "/v1/time-intervals", weekend); code != 201 {
		t.Fatal("recreate")
	}
	if code, _ := do(t, h, other, "GET", "/v1/time-intervals/ns/t1/weekend", nil); code != 403 {
		t.Errorf("other-tenant get: %d", code)
	}
	if code, _ := do(t, h, other, "DELETE", "/v1/time-intervals/ns/t1/weekend", nil); code != 403 {
		t.Errorf("other-tenant delete: %d", code)
	}
	if code, body := do(t, h, other, "GET", "/v1/time-intervals", nil); code != 200 || !strings.Contains(string(body), `"count":0`) {
		t.Errorf("other-tenant list: %d %s", code, body)
	}
}

// The cross-node silence test on Redis: two nodes, each with its own
// client, one key prefix.
func TestSilenceVisibleOnOtherNodeRedis(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := "acteon_mutetest_" + action.UUIDv4()[:8]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("rules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("[state]\nbackend = \"redis\"\nurl = %q\nprefix = %q\n[rules]\ndirectory = %q\nwatch = false\n", url, prefix, dir)
	email := sim.NewRecording("email")
	build := func() *App {
		cfg, _, err := config.Parse([]byte(toml), "test.toml")
		if err != nil {
			t.Fatal(err)
		}
		a, err := Build(cfg, Options{ExtraProviders: []provider.Provider{email}})
		if err != nil {
			testenv.Unreachable(t, testenv.Redis, err)
		}
		t.Cleanup(func() { _ = a.Close(context.Background()) })
		return a
	}
	nodeA, nodeB := build(), build()
	t.Cleanup(func() {
		ctx := context.Background()
		kvs, _ := nodeA.State().ScanKeysByKind(ctx, silence.Kind)
		for _, kv := range kvs {
			if k, err := state.ParseKey(kv.Key); err == nil {
				_, _ = nodeA.State().Delete(ctx, k)
			}
		}
		_, _ = nodeA.State().Delete(ctx, silence.VersionKey)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := nodeB.Start(ctx); err != nil {
		t.Fatal(err)
	}
	crossNodeSilence(t, nodeA, nodeB, clock.Real{})
}
