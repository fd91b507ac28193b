package rules

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/state"
)

// condSet builds a one-rule set "r" with the given condition (YAML flow).
func condSet(t testing.TB, cond string) *Set {
	t.Helper()
	rs, _, err := ParseFile("t.yaml", []byte("rules:\n- {name: r, condition: "+cond+", action: {type: deny}}\n"), Options{})
	if err != nil {
		t.Fatalf("parse %s: %v", cond, err)
	}
	s, err := NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAction(t testing.TB, js string) *action.Action {
	t.Helper()
	a, err := action.Decode([]byte(js))
	if err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return a
}

func withPayload(t testing.TB, payload string) *action.Action {
	return mustAction(t, `{"id":"i","namespace":"ns","tenant":"t1","provider":"email","action_type":"send_email","created_at":"2026-01-15T12:00:00Z","payload":`+payload+`}`)
}

// TestValueSemantics covers spec 02 §2.2–2.4 with D6 applied: errors are
// "no match" and reported.
func TestValueSemantics(t *testing.T) {
	cases := []struct {
		name    string
		cond    string
		payload string
		match   bool
		errSub  string // non-empty: a runtime error containing this
	}{
		{"int equals float", `{field: action.payload.n, eq: 5}`, `{"n":5.0}`, true, ""},
		{"float equals int", `{field: action.payload.n, eq: 5.0}`, `{"n":5}`, true, ""},
		{"no string-number coercion", `{field: action.payload.n, eq: 5}`, `{"n":"5"}`, false, ""},
		{"lists exact: [5] != [5.0]", `{field: action.payload.l, eq: [5]}`, `{"l":[5.0]}`, false, ""},
		{"lists equal", `{field: action.payload.l, eq: [1, a, true, null]}`, `{"l":[1,"a",true,null]}`, true, ""},
		{"maps are never equal", `{field: action.payload.m, eq: {a: 1}}`, `{"m":{"a":1}}`, false, ""},
		{"maps are never equal (ne)", `{field: action.payload.m, ne: {a: 1}}`, `{"m":{"a":1}}`, true, ""},
		{"bool vs string", `{field: action.payload.b, eq: "true"}`, `{"b":true}`, false, ""},
		{"bool eq", `{field: action.payload.b, eq: true}`, `{"b":true}`, true, ""},
		{"ne on missing is true", `{field: action.payload.x, ne: a}`, `{}`, true, ""},
		{"string order is bytewise", `{field: action.payload.s, gt: "B"}`, `{"s":"a"}`, true, ""},
		{"mixed numeric compare", `{field: action.payload.n, gte: 1.5}`, `{"n":2}`, true, ""},
		{"big json number becomes float", `{field: action.payload.n, gt: 1.0e19}`, `{"n":100000000000000000000}`, true, ""},
		{"big int operand becomes float", `{field: action.payload.n, lt: 18446744073709551615}`, `{"n":1}`, true, ""},
		{"compare bool is an error", `{field: action.payload.b, gt: 1}`, `{"b":true}`, false, "type error: cannot compare bool and int"},
		{"compare string and int is an error", `{field: action.payload.s, lt: 1}`, `{"s":"a"}`, false, "cannot compare string and int"},
		{"compare null is an error", `{field: action.payload.x, lte: 1}`, `{}`, false, "cannot compare null and int"},
		{"contains substring", `{field: action.payload.s, contains: ell}`, `{"s":"hello"}`, true, ""},
		{"contains in list", `{field: action.payload.l, contains: b}`, `{"l":["a","b"]}`, true, ""},
		{"contains on number is an error", `{field: action.payload.n, contains: "1"}`, `{"n":1}`, false, "contains: unsupported types int and string"},
		{"starts_with", `{field: action.payload.s, starts_with: he}`, `{"s":"hello"}`, true, ""},
		{"ends_with", `{field: action.payload.s, ends_with: lo}`, `{"s":"hello"}`, true, ""},
		{"ends_with on list is an error", `{field: action.payload.l, ends_with: lo}`, `{"l":[]}`, false, "ends_with: unsupported types list and string"},
		{"starts_with on null is an error", `{field: action.payload.s, starts_with: lo}`, `{}`, false, "starts_with: unsupported types null and string"},
		{"matches unanchored", `{field: action.payload.s, matches: "l+o"}`, `{"s":"hello"}`, true, ""},
		{"in_list numeric coercion", `{field: action.payload.n, in_list: [1, 5]}`, `{"n":5.0}`, true, ""},
		{"in_list null matches missing", `{field: action.payload.x, in_list: [null]}`, `{}`, true, ""},
		{"in_list miss", `{field: action.payload.n, in_list: [a, b]}`, `{"n":5}`, false, ""},
		{"several ops are ANDed", `{field: action.payload.n, gt: 1, lt: 3}`, `{"n":2}`, true, ""},
		{"several ops short-circuit", `{field: action.payload.n, gt: 5, lt: 3}`, `{"n":2}`, false, ""},
		{"no indexing of lists", `{field: action.payload.l.0, eq: 1}`, `{"l":[1]}`, false, "cannot access field '0' on list"},
		{"field of null", `{field: action.payload.a.b, eq: 1}`, `{}`, false, "cannot access field 'b' on null"},
		{"missing nested key is null", `{field: action.payload.a.b, in_list: [null]}`, `{"a":{}}`, true, ""},
		{"all short-circuits before an error", `{all: [{field: action.provider, eq: sms}, {field: action.payload.x, gt: 1}]}`, `{}`, false, ""},
		{"any short-circuits before an error", `{any: [{field: action.provider, eq: email}, {field: action.payload.x, gt: 1}]}`, `{}`, true, ""},
		{"error in any aborts the rule", `{any: [{field: action.payload.x, gt: 1}, {field: action.provider, eq: email}]}`, `{}`, false, "cannot compare null and int"},
		{"empty all is true", `{all: []}`, `{}`, true, ""},
		{"empty any is false", `{any: []}`, `{}`, false, ""},
		{"payload root", `{field: action.payload, eq: "text"}`, `"text"`, true, ""},
		{"status absent is null", `{field: action.status, in_list: [null]}`, `{}`, true, ""},
		{"created_at is RFC 3339", `{field: action.created_at, eq: "2026-01-15T12:00:00Z"}`, `{}`, true, ""},
		{"missing label is null", `{field: action.metadata.x, in_list: [null]}`, `{}`, true, ""},
		{"whole action is a map", `{field: action, ne: 1}`, `{}`, true, ""},
		{"attachments absent", `{field: action.attachments, in_list: [null]}`, `{}`, true, ""},
		{"env is empty", `{field: env.region, in_list: [null]}`, `{}`, true, ""},
		{"environment alias", `{field: environment.region, eq: eu}`, `{}`, false, ""},
		{"now is unix seconds", `{field: now, eq: 1768478400}`, `{}`, true, ""},
		{"time.timestamp", `{field: time.timestamp, eq: 1768478400}`, `{}`, true, ""},
		{"time fields", `{all: [{field: time.hour, eq: 12}, {field: time.minute, eq: 0}, {field: time.day, eq: 15}, {field: time.month, eq: 1}, {field: time.year, eq: 2026}, {field: time.weekday, eq: Thursday}, {field: time.weekday_num, eq: 4}, {field: time.second, eq: 0}]}`, `{}`, true, ""},
		{"time map", `{field: time, ne: 1}`, `{}`, true, ""},
		{"nan does not compare", `{field: action.payload.n, gt: .nan}`, `{"n":1}`, false, "NaN"},
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := condSet(t, c.cond)
			res := s.Evaluate(t.Context(), Input{Action: withPayload(t, c.payload), Now: now})
			if got := res.Rule != nil; got != c.match {
				t.Errorf("match = %v, want %v (errors %v)", got, c.match, res.Errors)
			}
			if c.errSub == "" {
				if len(res.Errors) != 0 {
					t.Errorf("unexpected errors %v", res.Errors)
				}
				return
			}
			if len(res.Errors) != 1 || res.Errors[0].Rule != "r" || !strings.Contains(res.Errors[0].Err.Error(), c.errSub) {
				t.Errorf("errors = %v, want one for rule r containing %q", res.Errors, c.errSub)
			}
		})
	}
}

func TestActionFields(t *testing.T) {
	a := mustAction(t, `{"id":"i1","namespace":"ns","tenant":"t1","provider":"email","action_type":"x","payload":{},
		"metadata":{"env":"prod"},"dedup_key":"dk","status":"open","fingerprint":"fp","template":"tp",
		"starts_at":"2026-01-15T10:00:00Z","trace_context":{"traceparent":"tp1"},"created_at":"2026-01-15T12:00:00Z",
		"attachments":[{"id":"a","name":"n","filename":"f","content_type":"text/plain","data_base64":"eA=="}],
		"signature":"sig","signer_id":"s","kid":"k"}`)
	cases := map[string]string{
		`{field: action.id, eq: i1}`:                                  "",
		`{field: action.namespace, eq: ns}`:                           "",
		`{field: action.tenant, eq: t1}`:                              "",
		`{field: action.dedup_key, eq: dk}`:                           "",
		`{field: action.status, eq: open}`:                            "",
		`{field: action.fingerprint, eq: fp}`:                         "",
		`{field: action.template, eq: tp}`:                            "",
		`{field: action.starts_at, eq: "2026-01-15T10:00:00Z"}`:       "",
		`{field: action.ends_at, in_list: [null]}`:                    "",
		`{field: action.trace_context.traceparent, eq: tp1}`:          "",
		`{field: action.metadata.env, eq: prod}`:                      "",
		`{field: action.metadata, ne: 1}`:                             "",
		`{field: action.attachments, ne: 1}`:                          "",
		`{field: action.signature, eq: sig}`:                          "",
		`{field: action.signer_id, eq: s}`:                            "",
		`{field: action.kid, eq: k}`:                                  "",
		`{cel: 'action.metadata.env == "prod" && action.kid == "k"'}`: "",
		`{cel: 'action.attachments[0].filename == "f"'}`:              "",
		`{cel: 'action.status == "open" && action.ends_at == null'}`:  "",
		`{cel: 'action.trace_context.traceparent.startsWith("tp")'}`:  "",
	}
	for cond := range cases {
		res := condSet(t, cond).Evaluate(t.Context(), Input{Action: a})
		if res.Rule == nil {
			t.Errorf("%s did not match (errors %v)", cond, res.Errors)
		}
	}
}

func TestRuleTimezoneAndDefault(t *testing.T) {
	rs, _, err := ParseFile("t.yaml", []byte(`rules:
- {name: paris, condition: {field: time.hour, eq: 13}, action: {type: deny}}
- {name: ny, timezone: America/New_York, condition: {field: time.hour, eq: 7}, action: {type: deny}}
`), Options{DefaultTimezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	a := withPayload(t, `{}`)
	for _, r := range rs {
		ok, err := r.eval(&evalCtx{ctx: context.Background(), a: a, now: now})
		if err != nil || !ok {
			t.Errorf("rule %s: ok=%v err=%v", r.Name, ok, err)
		}
	}
}

func TestFirstMatchAndDisabled(t *testing.T) {
	rs, _, err := ParseFile("t.yaml", []byte(`rules:
- {name: a, priority: 2, condition: {field: action.provider, eq: email}, action: {type: deny}}
- {name: b, priority: 1, enabled: false, condition: {field: action.provider, eq: email}, action: {type: suppress}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	a := withPayload(t, `{}`)
	if got := s.Evaluate(t.Context(), Input{Action: a}); got.Rule.Name != "a" {
		t.Fatalf("matched %v, want a (b is disabled)", got.Rule.Name)
	}
	if !s.SetEnabled("b", true) {
		t.Fatal("SetEnabled(b) = false")
	}
	if got := s.Evaluate(t.Context(), Input{Action: a}); got.Rule.Name != "b" || got.Verdict.Kind != action.VerdictSuppress {
		t.Fatalf("matched %v, want b after enabling", got.Rule.Name)
	}
	if s.SetEnabled("nope", true) {
		t.Error("SetEnabled(nope) = true")
	}
	if s.Lookup("nope") != nil {
		t.Error("Lookup(nope) != nil")
	}
}

func TestNilAndEmptySet(t *testing.T) {
	var s *Set
	res := s.Evaluate(context.Background(), Input{Action: withPayload(t, `{}`)})
	if res.Verdict.Kind != action.VerdictAllow || res.Rule != nil {
		t.Errorf("nil set: %+v", res)
	}
	if s.Len() != 0 || s.Rules() != nil || s.Lookup("x") != nil || s.SetEnabled("x", true) {
		t.Error("nil set accessors")
	}
	tr := s.EvaluateTrace(context.Background(), Input{Action: withPayload(t, `{}`)}, TraceOptions{})
	if tr.Verdict != "allow" || len(tr.Trace) != 1 || tr.Trace[0].RuleName != FallthroughRuleName {
		t.Errorf("nil set trace: %+v", tr)
	}
}

func TestProgrammaticRuleMatchesAll(t *testing.T) {
	s, err := NewSet([]*Rule{{Name: "catch", Verdict: &Verdict{Kind: action.VerdictDeny}}})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Evaluate(context.Background(), Input{Action: withPayload(t, `{}`)})
	if res.Rule == nil || res.Verdict.Kind != action.VerdictDeny || !res.Rule.Enabled() {
		t.Fatalf("result %+v", res)
	}
	if _, err := NewSet([]*Rule{{Name: "x"}, {Name: "x"}}); err == nil {
		t.Error("duplicate names accepted")
	}
}

type errState struct{}

func (errState) Get(context.Context, state.Key) (string, error) {
	return "", state.ErrUnavailable
}

func TestStateBackendErrorIsNoMatch(t *testing.T) {
	s := condSet(t, `{state_counter: k, gte: 0}`)
	res := s.Evaluate(t.Context(), Input{Action: withPayload(t, `{}`), State: errState{}})
	if res.Rule != nil || len(res.Errors) != 1 || !errors.Is(res.Errors[0].Err, state.ErrUnavailable) {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Errors[0].Error(), `rule "r": state access error`) {
		t.Errorf("error text %q", res.Errors[0].Error())
	}
}

func TestStateSeenWithoutWindowAndFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := condSet(t, `{state_seen: k}`)
	a := withPayload(t, `{}`)
	if res := s.Evaluate(t.Context(), Input{Action: a, Now: now}); res.Rule != nil {
		t.Error("missing key matched a state_seen without window")
	}
	if res := s.Evaluate(t.Context(), Input{Action: a, Now: now, State: mapState{"k": "2020-01-01T00:00:00Z"}}); res.Rule == nil {
		t.Error("present key did not match a state_seen without window")
	}
	w := condSet(t, `{state_seen: k, within_seconds: 1}`)
	if res := w.Evaluate(t.Context(), Input{Action: a, Now: now, State: mapState{"k": "2026-03-01T13:00:00Z"}}); res.Rule == nil {
		t.Error("a future timestamp (negative since) did not match")
	}
	if got := s.Lookup("r").ConditionDisplay(); got != `(StateTimeSince("k") < 9223372036854775807)` {
		t.Errorf("display %s", got)
	}
}

func TestCELRuntime(t *testing.T) {
	a := withPayload(t, `{"n": 3, "big": 100000000000000000000, "s": "x", "l": [1, 2, 3], "m": {"k": "v"}}`)
	cases := []struct {
		expr   string
		match  bool
		errSub string
	}{
		{`action.payload.n == 3`, true, ""},
		{`action.payload.n == 3.0`, true, ""},
		{`action.payload.big > 1e19`, true, ""},
		{`action.payload.l.exists(x, x == 2)`, true, ""},
		{`action.payload.l.all(x, x > 0)`, true, ""},
		{`action.payload.m.k == "v"`, true, ""},
		{`has(action.payload.zzz)`, false, ""},
		{`action.payload.s.upperAscii() == "X"`, true, ""},
		{`action.payload.s.upper() == "X"`, true, ""},
		{`math.greatest(1, 2) == 2`, true, ""},
		{`action.payload.n / 0 == 1`, false, "division by zero"},
		{`action.payload.zzz == 1`, false, "no such key"},
		{`action.payload.n`, false, "returned int, not bool"},
		{`action.metadata.size() == 0`, true, ""},
		{`"payload" in action && !("nope" in action)`, true, ""},
		{`action.size() >= 15 && action.exists(k, k == "tenant")`, true, ""},
		{`has(action.provider) && !has(action.nope)`, true, ""},
		{`action.nope == 1`, false, "no such key"},
		{`action.created_at == "2026-01-15T12:00:00Z" && action.namespace == "ns"`, true, ""},
		{`action.dedup_key == null`, true, ""},
		{`now == timestamp("2026-01-15T12:00:00Z")`, true, ""},
		{`[1,2,3].map(x, [x, x, x, x, x, x, x, x]).map(y, y.map(z, [z,z,z,z,z,z,z,z])).size() > 0`, true, ""},
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			s := condSet(t, `{cel: '`+strings.ReplaceAll(c.expr, "'", "''")+`'}`)
			res := s.Evaluate(t.Context(), Input{Action: a, Now: now})
			if (res.Rule != nil) != c.match {
				t.Errorf("match = %v, want %v (errors %v)", res.Rule != nil, c.match, res.Errors)
			}
			if c.errSub != "" && (len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Err.Error(), c.errSub)) {
				t.Errorf("errors = %v, want %q", res.Errors, c.errSub)
			}
			if c.errSub == "" && len(res.Errors) != 0 {
				t.Errorf("unexpected errors %v", res.Errors)
			}
		})
	}
}

func TestCELCostLimit(t *testing.T) {
	s := condSet(t, `{cel: 'lists.range(1000).all(i, lists.range(1000).all(j, lists.range(1000).all(k, true)))'}`)
	res := s.Evaluate(t.Context(), Input{Action: withPayload(t, `{}`)})
	if res.Rule != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Err.Error(), "cost limit") {
		t.Fatalf("result %+v", res)
	}
}

func TestCELCancelledContext(t *testing.T) {
	s := condSet(t, `{cel: 'action.provider == "email"'}`)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// A cancelled context may or may not interrupt a tiny program; it must
	// never panic or fail the evaluation as a whole.
	_ = s.Evaluate(ctx, Input{Action: withPayload(t, `{}`)})
}

func TestConcurrentEvaluate(t *testing.T) {
	s := condSet(t, `{any: [{cel: 'action.payload.n > 1'}, {field: action.payload.n, eq: 1}]}`)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				a := withPayload(t, `{"n": 2}`)
				if res := s.Evaluate(context.Background(), Input{Action: a}); res.Rule == nil {
					t.Error("no match")
					return
				}
				s.SetEnabled("r", true)
			}
		}(i)
	}
	wg.Wait()
}

func TestFieldValue(t *testing.T) {
	a := mustAction(t, `{"id":"i1","namespace":"ns","tenant":"t1","provider":"email","action_type":"x",
		"metadata":{"host":"h1"},"payload":{"a":{"b":[10,{"c":true}]},"s":"str","n":1.50,"z":null,"o":{"y":2,"x":1}}}`)
	cases := []struct {
		path string
		want string
		ok   bool
	}{
		{"id", "i1", true},
		{"namespace", "ns", true},
		{"tenant", "t1", true},
		{"provider", "email", true},
		{"action_type", "x", true},
		{"status", "", false},
		{"dedup_key", "", false},
		{"metadata.host", "h1", true},
		{"metadata.nope", "", false},
		{"payload.s", "str", true},
		{"payload.n", "1.50", true},
		{"payload.z", "", false},
		{"payload.missing", "", false},
		{"payload.a.b.0", "10", true},
		{"payload.a.b.1.c", "true", true},
		{"payload.a.b.5", "", false},
		{"payload.o", `{"x":1,"y":2}`, true},
		{"payload.a.b", `[10,{"c":true}]`, true},
		{"payload.s.x", "", false},
		{"unknown", "", false},
	}
	for _, c := range cases {
		got, ok := FieldValue(a, c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("FieldValue(%s) = %q, %v; want %q, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	if _, ok := FieldValue(nil, "id"); ok {
		t.Error("nil action")
	}
	for _, p := range []string{"id", "metadata.x", "payload", "payload.a.0", "status", "fingerprint"} {
		if err := ValidateFieldPath(p); err != nil {
			t.Errorf("ValidateFieldPath(%s) = %v", p, err)
		}
	}
	for _, p := range []string{"", "metadata.", "payload..a", "action.provider", "alertname", "payload."} {
		if err := ValidateFieldPath(p); err == nil {
			t.Errorf("ValidateFieldPath(%q) = nil", p)
		}
	}
}

func TestMergePatch(t *testing.T) {
	dec := func(s string) any {
		v, err := action.DecodeJSONValue([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// RFC 7386 appendix A examples.
	cases := [][3]string{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, c := range cases {
		target, patch := dec(c[0]), dec(c[1])
		tb, _ := json.Marshal(target)
		pb, _ := json.Marshal(patch)
		got := MergePatch(target, patch)
		if d := cmp.Diff(dec(c[2]), got); d != "" {
			t.Errorf("MergePatch(%s, %s) (-want +got):\n%s", c[0], c[1], d)
		}
		ta, _ := json.Marshal(target)
		pa, _ := json.Marshal(patch)
		if string(ta) != string(tb) || string(pa) != string(pb) {
			t.Errorf("MergePatch(%s, %s) mutated its inputs", c[0], c[1])
		}
	}
	// The result shares nothing with the target.
	target := dec(`{"keep":{"x":1}}`)
	out := MergePatch(target, dec(`{"y":2}`)).(map[string]any)
	out["keep"].(map[string]any)["x"] = 99
	if target.(map[string]any)["keep"].(map[string]any)["x"] != json.Number("1") {
		t.Error("result aliases the target")
	}
}

func TestTraceJSONShape(t *testing.T) {
	s := condSet(t, `{field: action.payload.n, gt: 1}`)
	tr := s.EvaluateTrace(t.Context(), Input{Action: withPayload(t, `{}`), Now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)}, TraceOptions{})
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"verdict", "has_errors", "total_rules_evaluated", "total_rules_skipped", "evaluation_duration_us", "trace", "context"} {
		if _, ok := m[k]; !ok {
			t.Errorf("trace JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := m["matched_rule"]; ok {
		t.Errorf("matched_rule present without a match: %s", b)
	}
	ctx := m["context"].(map[string]any)
	if ctx["effective_timezone"] != "UTC" || ctx["environment_keys"] == nil {
		t.Errorf("context = %v", ctx)
	}
	if _, ok := ctx["accessed_state_keys"]; ok {
		t.Errorf("accessed_state_keys present without state predicates")
	}
	entry := m["trace"].([]any)[0].(map[string]any)
	if entry["condition_display"] != "(action.payload.n > 1)" || entry["action"] != "deny" || entry["source"] != "yaml:t.yaml" {
		t.Errorf("entry = %v", entry)
	}
}
