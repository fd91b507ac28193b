package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/state"
)

// Scenario fixtures live in testdata/scenarios. Each file holds two YAML
// documents: the rule file itself (the loader reads only the first) and,
// after "---", the expectations below.
type scenarioSpec struct {
	Order     []string          `yaml:"order"`
	Display   map[string]string `yaml:"display"`
	LoadError *struct {
		Line     int      `yaml:"line"`
		Rule     string   `yaml:"rule"`
		Contains []string `yaml:"contains"`
	} `yaml:"load_error"`
	Cases []scenarioCase `yaml:"cases"`
}

type scenarioCase struct {
	Name   string            `yaml:"name"`
	Action map[string]any    `yaml:"action"` // overrides of the base action B
	Now    string            `yaml:"now"`
	State  map[string]string `yaml:"state"` // served by a fake StateReader to Evaluate
	Want   *struct {
		Verdict        string            `yaml:"verdict"`
		Rule           string            `yaml:"rule"`
		TargetProvider string            `yaml:"target_provider"`
		PayloadAfter   any               `yaml:"payload_after"`
		Errors         map[string]string `yaml:"errors"` // rule -> substring; present (even empty) = exact set
	} `yaml:"want"`
	Trace *struct {
		IncludeDisabled bool              `yaml:"include_disabled"`
		EvaluateAll     bool              `yaml:"evaluate_all"`
		MockState       map[string]string `yaml:"mock_state"`
		Want            struct {
			Verdict           string         `yaml:"verdict"`
			MatchedRule       *string        `yaml:"matched_rule"`
			HasErrors         *bool          `yaml:"has_errors"`
			Evaluated         *int           `yaml:"evaluated"`
			Skipped           *int           `yaml:"skipped"`
			ModifiedPayload   any            `yaml:"modified_payload"`
			AccessedStateKeys []string       `yaml:"accessed_state_keys"`
			ContextTime       map[string]any `yaml:"context_time"`
			EffectiveTimezone string         `yaml:"effective_timezone"`
			Entries           []struct {
				Rule        string `yaml:"rule"`
				Result      string `yaml:"result"`
				SkipReason  string `yaml:"skip_reason"`
				Error       string `yaml:"error"`
				Enabled     *bool  `yaml:"enabled"`
				Action      string `yaml:"action"`
				Source      string `yaml:"source"`
				Priority    *int32 `yaml:"priority"`
				ModifyPatch any    `yaml:"modify_patch"`
				Preview     any    `yaml:"preview"`
			} `yaml:"entries"`
		} `yaml:"want"`
	} `yaml:"trace"`
}

// baseAction is B of spec 02 §6.
var baseAction = map[string]any{
	"namespace": "ns", "tenant": "t1", "provider": "email", "action_type": "send_email",
	"payload": map[string]any{"to": "u@example.com"},
}

func buildAction(t *testing.T, over map[string]any) *action.Action {
	t.Helper()
	m := map[string]any{"id": "act-1", "created_at": "2026-01-15T12:00:00Z"}
	for k, v := range baseAction {
		m[k] = v
	}
	for k, v := range over {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal action: %v", err)
	}
	a, err := action.Decode(b)
	if err != nil {
		t.Fatalf("decode action %s: %v", b, err)
	}
	return a
}

// normJSON turns YAML-decoded or payload values into a comparable form.
func normJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

type mapState map[string]string

func (m mapState) Get(_ context.Context, k state.Key) (string, error) {
	if v, ok := m[k.String()]; ok {
		return v, nil
	}
	if v, ok := m[k.ID]; ok {
		return v, nil
	}
	return "", state.ErrNotFound
}

func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/scenarios/*")
	if len(files) == 0 {
		t.Fatal("no scenario fixtures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := bytes.SplitN(data, []byte("\n---\n"), 2)
			if len(parts) != 2 {
				t.Fatal("fixture needs a second YAML document with expectations")
			}
			var spec scenarioSpec
			if err := yaml.Unmarshal(parts[1], &spec); err != nil {
				t.Fatalf("expectations: %v", err)
			}
			rs, _, err := ParseFile(file, data, Options{})
			if spec.LoadError != nil {
				checkLoadError(t, file, err, spec.LoadError.Line, spec.LoadError.Rule, spec.LoadError.Contains)
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			set, err := NewSet(rs)
			if err != nil {
				t.Fatalf("NewSet: %v", err)
			}
			if spec.Order != nil {
				var got []string
				for _, r := range set.Rules() {
					got = append(got, r.Name)
				}
				if d := cmp.Diff(spec.Order, got); d != "" {
					t.Errorf("evaluation order (-want +got):\n%s", d)
				}
			}
			for name, want := range spec.Display {
				if got := set.Lookup(name).ConditionDisplay(); got != want {
					t.Errorf("ConditionDisplay(%s) = %s, want %s", name, got, want)
				}
			}
			for _, c := range spec.Cases {
				t.Run(c.Name, func(t *testing.T) { runCase(t, set, c) })
			}
		})
	}
}

func checkLoadError(t *testing.T, file string, err error, line int, rule string, contains []string) {
	t.Helper()
	if err == nil {
		t.Fatal("load succeeded, want a load error")
	}
	les := LoadErrors(err)
	if len(les) == 0 {
		t.Fatalf("error %v has no *LoadError", err)
	}
	le := les[0]
	if le.File != file || le.Rule != rule || (line > 0 && le.Line != line) {
		t.Errorf("load error at %s:%d rule %q, want %s:%d rule %q (%v)", le.File, le.Line, le.Rule, file, line, rule, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("load error %q does not mention %q", err, s)
		}
	}
	if !strings.HasPrefix(err.Error(), file+":") {
		t.Errorf("load error %q does not start with the file name", err)
	}
}

func runCase(t *testing.T, set *Set, c scenarioCase) {
	a := buildAction(t, c.Action)
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	if c.Now != "" {
		var err error
		if now, err = time.Parse(time.RFC3339, c.Now); err != nil {
			t.Fatal(err)
		}
	}
	if w := c.Want; w != nil {
		in := Input{Action: a, Now: now}
		if c.State != nil {
			in.State = mapState(c.State)
		}
		res := set.Evaluate(t.Context(), in)
		if string(res.Verdict.Kind) != w.Verdict {
			t.Errorf("verdict = %s, want %s", res.Verdict.Kind, w.Verdict)
		}
		gotRule := ""
		if res.Rule != nil {
			gotRule = res.Rule.Name
		}
		if gotRule != w.Rule {
			t.Errorf("matched rule = %q, want %q", gotRule, w.Rule)
		}
		if w.TargetProvider != "" && res.Verdict.TargetProvider != w.TargetProvider {
			t.Errorf("target provider = %q, want %q", res.Verdict.TargetProvider, w.TargetProvider)
		}
		if w.PayloadAfter != nil {
			got := normJSON(t, MergePatch(a.Payload, res.Verdict.Changes))
			if d := cmp.Diff(normJSON(t, w.PayloadAfter), got); d != "" {
				t.Errorf("patched payload (-want +got):\n%s", d)
			}
		}
		if w.Errors != nil {
			gotErrs := map[string]string{}
			for _, e := range res.Errors {
				gotErrs[e.Rule] = e.Err.Error()
			}
			if len(gotErrs) != len(w.Errors) {
				t.Errorf("errors = %v, want rules %v", gotErrs, w.Errors)
			}
			for r, sub := range w.Errors {
				if !strings.Contains(gotErrs[r], sub) {
					t.Errorf("error of rule %s = %q, want it to contain %q", r, gotErrs[r], sub)
				}
			}
		}
	}
	if tr := c.Trace; tr != nil {
		res := set.EvaluateTrace(t.Context(), Input{Action: a, Now: now},
			TraceOptions{IncludeDisabled: tr.IncludeDisabled, EvaluateAll: tr.EvaluateAll, MockState: tr.MockState})
		w := tr.Want
		if res.Verdict != w.Verdict {
			t.Errorf("trace verdict = %s, want %s", res.Verdict, w.Verdict)
		}
		if w.MatchedRule != nil && (res.MatchedRule == nil || *res.MatchedRule != *w.MatchedRule) {
			t.Errorf("trace matched_rule = %v, want %s", res.MatchedRule, *w.MatchedRule)
		}
		if w.MatchedRule == nil && res.MatchedRule != nil && w.Verdict == "allow" {
			t.Errorf("trace matched_rule = %s, want none", *res.MatchedRule)
		}
		if w.HasErrors != nil && res.HasErrors != *w.HasErrors {
			t.Errorf("has_errors = %v, want %v", res.HasErrors, *w.HasErrors)
		}
		if w.Evaluated != nil && res.TotalRulesEvaluated != *w.Evaluated {
			t.Errorf("total_rules_evaluated = %d, want %d", res.TotalRulesEvaluated, *w.Evaluated)
		}
		if w.Skipped != nil && res.TotalRulesSkipped != *w.Skipped {
			t.Errorf("total_rules_skipped = %d, want %d", res.TotalRulesSkipped, *w.Skipped)
		}
		if w.ModifiedPayload != nil {
			if d := cmp.Diff(normJSON(t, w.ModifiedPayload), normJSON(t, res.ModifiedPayload)); d != "" {
				t.Errorf("modified_payload (-want +got):\n%s", d)
			}
		}
		if w.AccessedStateKeys != nil {
			got, _ := res.Context["accessed_state_keys"].([]string)
			if d := cmp.Diff(w.AccessedStateKeys, got); d != "" {
				t.Errorf("accessed_state_keys (-want +got):\n%s", d)
			}
		}
		for k, v := range w.ContextTime {
			tm := normJSON(t, res.Context["time"]).(map[string]any)
			if d := cmp.Diff(normJSON(t, v), tm[k]); d != "" {
				t.Errorf("context.time.%s (-want +got):\n%s", k, d)
			}
		}
		if w.EffectiveTimezone != "" && res.Context["effective_timezone"] != w.EffectiveTimezone {
			t.Errorf("effective_timezone = %v, want %s", res.Context["effective_timezone"], w.EffectiveTimezone)
		}
		if w.Entries != nil {
			if len(res.Trace) != len(w.Entries) {
				t.Fatalf("trace has %d entries, want %d: %+v", len(res.Trace), len(w.Entries), res.Trace)
			}
			for i, we := range w.Entries {
				ge := res.Trace[i]
				if ge.RuleName != we.Rule || ge.Result != we.Result {
					t.Errorf("entry %d = %s/%s, want %s/%s", i, ge.RuleName, ge.Result, we.Rule, we.Result)
				}
				if we.SkipReason != "" && (ge.SkipReason == nil || *ge.SkipReason != we.SkipReason) {
					t.Errorf("entry %d skip_reason = %v, want %s", i, ge.SkipReason, we.SkipReason)
				}
				if we.Error != "" && (ge.Error == nil || !strings.Contains(*ge.Error, we.Error)) {
					t.Errorf("entry %d error = %v, want it to contain %q", i, ge.Error, we.Error)
				}
				if we.Error == "" && ge.Error != nil {
					t.Errorf("entry %d has unexpected error %q", i, *ge.Error)
				}
				if we.Enabled != nil && ge.Enabled != *we.Enabled {
					t.Errorf("entry %d enabled = %v", i, ge.Enabled)
				}
				if we.Action != "" && ge.Action != we.Action {
					t.Errorf("entry %d action = %q, want %q", i, ge.Action, we.Action)
				}
				if we.Source != "" && ge.Source != we.Source {
					t.Errorf("entry %d source = %q, want %q", i, ge.Source, we.Source)
				}
				if we.Priority != nil && ge.Priority != *we.Priority {
					t.Errorf("entry %d priority = %d, want %d", i, ge.Priority, *we.Priority)
				}
				if we.ModifyPatch != nil {
					if d := cmp.Diff(normJSON(t, we.ModifyPatch), normJSON(t, ge.ModifyPatch)); d != "" {
						t.Errorf("entry %d modify_patch (-want +got):\n%s", i, d)
					}
				}
				if we.Preview != nil {
					if d := cmp.Diff(normJSON(t, we.Preview), normJSON(t, ge.ModifiedPayloadPreview)); d != "" {
						t.Errorf("entry %d modified_payload_preview (-want +got):\n%s", i, d)
					}
				}
			}
		}
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("trace result does not encode: %v", err)
		}
	}
}

// TestScenarioLoadErrorsAreLoadErrors checks that the error values are the
// exported type.
func TestScenarioLoadErrorsAreLoadErrors(t *testing.T) {
	_, _, err := ParseFile("x.yaml", []byte("rules: [{name: a}]"), Options{})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("errors.As(*LoadError) failed for %v", err)
	}
}
