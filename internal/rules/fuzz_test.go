package rules

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseFile feeds arbitrary bytes to the parser (without ParseFile's
// recover guard, so a panic is a finding) and evaluates whatever loads.
// Seeds: every scenario fixture plus a few hostile shapes.
func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/scenarios/*")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(filepath.Base(file), data)
		}
	}
	for _, s := range []string{
		"",
		"rules: []",
		"rules: &a [*a]",
		"rules:\n- {name: a, condition: {all: [{any: []}]}, action: {type: deny}}",
		"rules:\n- {name: a, condition: 'action.payload.x > 1', action: {type: modify, changes: {a: [1, {b: null}]}}}",
		"rules:\n- {name: a, condition: {field: action.payload.x, in_list: [1, 2.5, x, null, [1], {a: 1}]}, action: {type: group, group_by: [payload.a]}}",
		"rules:\n- {name: a, condition: {state_seen: k, within_seconds: 18446744073709551615}, action: {type: schedule, delay_seconds: 5}}",
	} {
		f.Add("f.yaml", []byte(s))
	}
	a := withPayload(f, `{"x": 2, "a": {"b": [1, "s"]}, "to": "u@test.com"}`)
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if filepath.Ext(name) != ".cel" {
			name = "f.yaml"
		}
		rs, _, err := parseFile(name, data, Options{})
		if err != nil {
			if len(LoadErrors(err)) == 0 {
				t.Fatalf("error without *LoadError: %v", err)
			}
			return
		}
		s, err := NewSet(rs)
		if err != nil {
			return
		}
		for _, r := range s.Rules() {
			_ = r.ConditionDisplay()
		}
		s.Evaluate(context.Background(), Input{Action: a, Now: now, State: mapState{"k": "2026-01-15T11:00:00Z"}})
		s.EvaluateTrace(context.Background(), Input{Action: a, Now: now}, TraceOptions{EvaluateAll: true, IncludeDisabled: true})
	})
}

// FuzzCEL compiles arbitrary CEL and evaluates what type-checks; neither
// step may panic and evaluation must stay within the cost limit.
func FuzzCEL(f *testing.F) {
	for _, s := range []string{
		`action.action_type in ["spam", "phish"] || action.payload.to.endsWith("@test.com")`,
		`"items" in action.payload && size(action.payload.items) > 2 && action.payload.items[0] == "a"`,
		`action.payload.subject`,
		`action.payload.to.lower() == "boss@x.io" ? true : false`,
		`has(action.payload.x) && 1e3 > 0.0`,
		`action.payload.a.b.exists(x, x == 1)`,
		`now > timestamp("2020-01-01T00:00:00Z")`,
		`lists.range(10).all(i, i < 10)`,
		`1 + + + 2`,
		`x ==`,
		`action.payload.x / 0 > 1`,
		`action.metadata.env.matches("^p.*")`,
	} {
		f.Add(s)
	}
	a := withPayload(f, `{"x": 2, "a": {"b": [1, "s"]}, "to": "u@test.com", "items": ["a", "b", "c"]}`)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := compileCEL(src)
		if err != nil {
			return
		}
		ec := evalCtx{ctx: context.Background(), a: a, now: time.Unix(1768478400, 0)}
		_, _ = p.eval(&ec)
	})
}
