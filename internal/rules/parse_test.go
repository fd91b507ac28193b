package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
)

func nameIn(names ...string) func(string) bool {
	return func(s string) bool {
		for _, n := range names {
			if n == s {
				return true
			}
		}
		return false
	}
}

// testOpts knows the providers of the spec's harness, one state machine,
// one chain and two time intervals.
var testOpts = Options{
	HasProvider:     nameIn("email", "sms", "slack", "webhook"),
	HasStateMachine: nameIn("alert"),
	HasChain:        nameIn("c"),
	HasTimeInterval: nameIn("maint", "biz"),
}

const validA = `rules:
- {name: ok, priority: 1, condition: {field: action.action_type, eq: x}, action: {type: suppress}}
`

// nestAll returns a condition with `levels` all-levels below the top one.
func nestAll(levels int) string {
	return strings.Repeat("{all: [", levels+1) + "{field: action.provider, eq: email}" + strings.Repeat("]}", levels+1)
}

func rule(body string) string {
	return "rules:\n- name: bad\n  " + strings.ReplaceAll(body, "\n", "\n  ") + "\n"
}

const okCond = "condition: {field: action.action_type, eq: x}"
const okAction = "action: {type: suppress}"

// TestLoadErrorsS20 adds each bad snippet as z.yaml next to a valid a.yaml
// (spec 02 S20): the whole directory fails and the error names z.yaml, the
// line and the rule.
func TestLoadErrorsS20(t *testing.T) {
	cases := []struct {
		name string
		file string // z.yaml content
		line int    // expected line of the first error (0 = don't check)
		rule string // expected rule in the first error
		want string // substring of the error
	}{
		{"not is no variant", rule("condition: {not: {field: action.action_type, eq: x}}\n" + okAction), 3, "bad", "did not match any variant"},
		{"regex is not an operator", rule("condition: {field: action.action_type, regex: \"^a\"}\n" + okAction), 3, "bad", "field operation has no comparison operator"},
		{"in is not an operator", rule("condition: {field: action.action_type, in: [a]}\n" + okAction), 3, "bad", "field operation has no comparison operator"},
		{"require_approval is unknown", rule(okCond + "\naction: {type: require_approval}"), 4, "bad", "unknown variant"},
		{"chain_name is not chain", rule(okCond + "\naction: {type: chain, chain_name: c}"), 4, "bad", "missing field `chain`"},
		{"rule without name", "rules:\n- {priority: 1, " + okCond + ", " + okAction + "}\n", 2, "", "missing field `name`"},
		{"empty segment", rule("condition: {field: \"action..payload\", eq: 1}\n" + okAction), 3, "bad", "empty segment in field path"},
		{"empty path", rule("condition: {field: \"\", eq: 1}\n" + okAction), 3, "bad", "empty field path"},
		{"17 nested levels", rule("condition: " + nestAll(17) + "\n" + okAction), 3, "bad", "condition nesting depth exceeded maximum of 16"},
		{"contains needs a string", rule("condition: {field: action.payload.x, contains: 5}\n" + okAction), 3, "bad", "`contains` operand must be a string"},
		{"starts_with needs a string", rule("condition: {field: action.payload.x, starts_with: true}\n" + okAction), 3, "bad", "`starts_with` operand must be a string"},
		{"matches needs a string", rule("condition: {field: action.payload.x, matches: 1}\n" + okAction), 3, "bad", "`matches` operand must be a string"},
		{"schedule without delay", rule(okCond + "\naction: {type: schedule}"), 4, "bad", "missing field `delay_seconds`"},
		{"unknown timezone", rule("timezone: Mars/Base\n" + okCond + "\n" + okAction), 3, "bad", `invalid timezone "Mars/Base"`},
		{"Local timezone", rule("timezone: Local\n" + okCond + "\n" + okAction), 3, "bad", `invalid timezone "Local"`},
		{"invalid regex", rule("condition: {field: action.action_type, matches: \"(\"}\n" + okAction), 3, "bad", "invalid regex"},
		{"unknown root", rule("condition: {field: foo.bar, eq: 1}\n" + okAction), 3, "bad", `unknown root "foo"`},
		{"metadata without action prefix", rule("condition: {field: metadata.severity, eq: x}\n" + okAction), 3, "bad", `unknown root "metadata"`},
		{"unknown action field", rule("condition: {field: action.priority, eq: 1}\n" + okAction), 3, "bad", `unknown action field "priority"`},
		{"unknown time field", rule("condition: {field: time.hours, eq: 1}\n" + okAction), 3, "bad", `unknown time field "hours"`},
		{"undefined reroute provider", rule(okCond + "\naction: {type: reroute, target_provider: nope}"), 4, "bad", `undefined provider "nope"`},
		{"undefined state machine", rule(okCond + "\naction: {type: state_machine, state_machine: nope}"), 4, "bad", `undefined state machine "nope"`},
		{"undefined chain", rule(okCond + "\naction: {type: chain, chain: nope}"), 4, "bad", `undefined chain "nope"`},
		{"undefined notify provider", rule(okCond + "\naction: {type: request_approval, notify_provider: nope}"), 4, "bad", `undefined notify provider "nope"`},
		{"schedule delay 0", rule(okCond + "\naction: {type: schedule, delay_seconds: 0}"), 4, "bad", "at least 1 second"},
		{"schedule delay too long", rule(okCond + "\naction: {type: schedule, delay_seconds: 604801}"), 4, "bad", "exceeds maximum of 604800s"},
		{"undefined active interval", rule(okCond + "\n" + okAction + "\nactive_time_intervals: [bizz]"), 5, "bad", `undefined time interval "bizz"`},
		{"undefined mute interval", rule(okCond + "\n" + okAction + "\nmute_time_intervals: [maint, nope]"), 5, "bad", `undefined time interval "nope"`},
		{"duplicate name across files", "rules:\n- {name: ok, " + okCond + ", " + okAction + "}\n", 2, "ok", "duplicate rule name (first defined at "},
		{"duplicate name in file", "rules:\n- {name: d, " + okCond + ", " + okAction + "}\n- {name: d, " + okCond + ", " + okAction + "}\n", 3, "d", "duplicate rule name"},
		{"priority as string", rule("priority: \"1\"\n" + okCond + "\n" + okAction), 3, "bad", "priority must be a 32-bit integer"},
		{"priority out of range", rule("priority: 3000000000\n" + okCond + "\n" + okAction), 3, "bad", "priority must be a 32-bit integer"},
		{"negative ttl", rule(okCond + "\naction: {type: deduplicate, ttl_seconds: -5}"), 4, "bad", "ttl_seconds must be a non-negative integer"},
		{"enabled as string", rule("enabled: \"false\"\n" + okCond + "\n" + okAction), 3, "bad", "enabled must be true or false"},
		{"metadata not string", rule("metadata: {n: 1}\n" + okCond + "\n" + okAction), 3, "bad", "metadata.n must be a string"},
		{"missing condition", rule(okAction), 2, "bad", "missing field `condition`"},
		{"missing action", rule(okCond), 2, "bad", "missing field `action`"},
		{"missing action type", rule(okCond + "\naction: {ttl_seconds: 1}"), 4, "bad", "missing field `type`"},
		{"throttle without window", rule(okCond + "\naction: {type: throttle, max_count: 1}"), 4, "bad", "missing field `window_seconds`"},
		{"throttle without max", rule(okCond + "\naction: {type: throttle, window_seconds: 1}"), 4, "bad", "missing field `max_count`"},
		{"throttle bad key field", rule(okCond + "\naction: {type: throttle, max_count: 1, window_seconds: 1, key_fields: [action.provider]}"), 4, "bad", "drop the \"action.\" prefix"},
		{"reroute without target", rule(okCond + "\naction: {type: reroute}"), 4, "bad", "missing field `target_provider`"},
		{"modify without changes", rule(okCond + "\naction: {type: modify}"), 4, "bad", "missing field `changes`"},
		{"group without group_by", rule(okCond + "\naction: {type: group}"), 4, "bad", "missing field `group_by`"},
		{"group_by unknown field", rule(okCond + "\naction: {type: group, group_by: [alertname]}"), 4, "bad", `unknown field "alertname"`},
		{"state machine without name", rule(okCond + "\naction: {type: state_machine}"), 4, "bad", "missing field `state_machine`"},
		{"approval without provider", rule(okCond + "\naction: {type: request_approval}"), 4, "bad", "missing field `notify_provider`"},
		{"eq null alone", rule("condition: {field: action.payload.x, eq: null}\n" + okAction), 3, "bad", "field operation has no comparison operator"},
		{"semantic_match needs a runtime", rule("condition: {semantic_match: billing}\n" + okAction), 3, "bad", "semantic_match requires embedding support"},
		{"wasm needs a runtime", rule("condition: {wasm_plugin: p}\n" + okAction), 3, "bad", "WASM plugin 'p' called but no WASM runtime configured"},
		{"mixed variants", rule("condition: {all: [], any: []}\n" + okAction), 3, "bad", "condition mixes all and any"},
		{"field plus all", rule("condition: {field: action.provider, eq: x, all: []}\n" + okAction), 3, "bad", "condition mixes"},
		{"unknown key next to operator", rule("condition: {field: action.provider, eq: x, regex: y}\n" + okAction), 3, "bad", `unknown key "regex"`},
		{"state_counter without operator", rule("condition: {state_counter: k}\n" + okAction), 3, "bad", "state_counter has no comparison operator"},
		{"state_seen negative window", rule("condition: {state_seen: k, within_seconds: -1}\n" + okAction), 3, "bad", "within_seconds must be a non-negative integer"},
		{"CEL syntax error", rule("condition: '1 + + + 2'\n" + okAction), 3, "bad", "CEL"},
		{"CEL incomplete", rule("condition: 'x =='\n" + okAction), 3, "bad", "CEL"},
		{"CEL unknown variable", rule("condition: 'foo.bar'\n" + okAction), 3, "bad", "undeclared reference to 'foo'"},
		{"CEL non-bool type", rule("condition: '1 + 2'\n" + okAction), 3, "bad", "must evaluate to bool"},
		{"CEL inside all", rule("condition: {all: [{cel: 'x =='}]}\n" + okAction), 3, "bad", "CEL"},
		{"condition is a number", rule("condition: 5\n" + okAction), 3, "bad", "a condition must be a mapping"},
		{"duplicate YAML key", rule("priority: 1\npriority: 2\n" + okCond + "\n" + okAction), 4, "", "duplicate key \"priority\""},
		{"empty file", "", 0, "", "missing top-level key `rules`"},
		{"comment-only file", "# nothing\n", 0, "", "missing top-level key `rules`"},
		{"no rules key", "other: 1\n", 1, "", "missing top-level key `rules`"},
		{"rules not a list", "rules: {a: 1}\n", 1, "", "`rules` must be a list"},
		{"YAML syntax error", "rules: [\n", 0, "", "YAML parse error"},
		{"modify changes with inf", rule(okCond + "\naction: {type: modify, changes: {x: .inf}}"), 4, "bad", "cannot be represented in JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a.yaml", validA)
			writeFile(t, dir, "z.yaml", c.file)
			set, _, err := LoadDir(dir, testOpts)
			if err == nil {
				t.Fatalf("LoadDir succeeded (%d rules), want an error containing %q", set.Len(), c.want)
			}
			if set != nil {
				t.Errorf("LoadDir returned a set with an error")
			}
			les := LoadErrors(err)
			if len(les) == 0 {
				t.Fatalf("no *LoadError in %v", err)
			}
			le := les[0]
			zf := filepath.Join(dir, "z.yaml")
			if le.File != zf {
				t.Errorf("error file = %q, want %q (%v)", le.File, zf, err)
			}
			if c.line != 0 && le.Line != c.line {
				t.Errorf("error line = %d, want %d (%v)", le.Line, c.line, err)
			}
			if le.Rule != c.rule {
				t.Errorf("error rule = %q, want %q (%v)", le.Rule, c.rule, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAcceptedS20 checks the snippets S20 says must load.
func TestAcceptedS20(t *testing.T) {
	cases := []struct {
		name     string
		file     string
		warnings []string // substrings, in order
		check    func(t *testing.T, r *Rule)
	}{
		{"suppress with reason", rule(okCond + "\naction: {type: suppress, reason: r}"), nil, nil},
		{"throttle with message", rule(okCond + "\naction: {type: throttle, max_count: 1, window_seconds: 60, message: m}"), nil,
			func(t *testing.T, r *Rule) {
				if r.Verdict.MaxCount != 1 || r.Verdict.WindowSeconds != 60 {
					t.Errorf("verdict = %+v", r.Verdict)
				}
			}},
		{"unknown rule key warns", rule("tags: [a]\n" + okCond + "\n" + okAction), []string{`unknown key "tags" ignored`}, nil},
		{"missing priority is 0", rule(okCond + "\n" + okAction), nil, func(t *testing.T, r *Rule) {
			if r.Priority != 0 {
				t.Errorf("priority = %d", r.Priority)
			}
		}},
		{"16 nested levels", rule("condition: " + nestAll(16) + "\n" + okAction), nil, nil},
		{"schedule 7 days", rule(okCond + "\naction: {type: schedule, delay_seconds: 604800}"), nil, func(t *testing.T, r *Rule) {
			if r.Verdict.DelaySeconds != 604800 {
				t.Errorf("delay = %d", r.Verdict.DelaySeconds)
			}
		}},
		{"dedup ttl 0 warns", rule(okCond + "\naction: {type: deduplicate, ttl_seconds: 0, keep_on_failure: true}"), []string{"never expires"}, func(t *testing.T, r *Rule) {
			if r.Verdict.TTLSeconds != 0 || !r.Verdict.KeepOnFailure {
				t.Errorf("verdict = %+v", r.Verdict)
			}
		}},
		{"unknown action key warns", rule(okCond + "\naction: {type: allow, foo: 1}"), []string{`unknown key "foo" in allow action ignored`}, nil},
		{"group defaults", rule(okCond + "\naction: {type: group, group_by: [metadata.cluster, payload.a.b, provider]}"), nil, func(t *testing.T, r *Rule) {
			v := r.Verdict
			if v.GroupWaitSeconds != 30 || v.GroupIntervalSeconds != 300 || v.RepeatIntervalSeconds != nil || v.MaxGroupSize != 100 {
				t.Errorf("defaults = %+v", v)
			}
			if d := cmp.Diff([]string{"metadata.cluster", "payload.a.b", "provider"}, v.GroupBy); d != "" {
				t.Error(d)
			}
		}},
		{"group all params", rule(okCond + "\naction: {type: group, group_by: [tenant], group_wait_seconds: 1, group_interval_seconds: 2, repeat_interval_seconds: 3, max_group_size: 4, template: t}"), nil, func(t *testing.T, r *Rule) {
			v := r.Verdict
			if v.GroupWaitSeconds != 1 || v.GroupIntervalSeconds != 2 || v.RepeatIntervalSeconds == nil || *v.RepeatIntervalSeconds != 3 || v.MaxGroupSize != 4 || v.Template != "t" {
				t.Errorf("params = %+v", v)
			}
		}},
		{"approval defaults", rule(okCond + "\naction: {type: request_approval, notify_provider: slack, message: hi}"), nil, func(t *testing.T, r *Rule) {
			if r.Verdict.TimeoutSeconds != 3600 || r.Verdict.NotifyProvider != "slack" || r.Verdict.Message != "hi" {
				t.Errorf("verdict = %+v", r.Verdict)
			}
		}},
		{"state machine", rule(okCond + "\naction: {type: state_machine, state_machine: alert, fingerprint_fields: [action_type, metadata.host, id]}"), nil, func(t *testing.T, r *Rule) {
			if r.Verdict.StateMachine != "alert" || len(r.Verdict.FingerprintFields) != 3 {
				t.Errorf("verdict = %+v", r.Verdict)
			}
		}},
		{"throttle key fields", rule(okCond + "\naction: {type: throttle, max_count: 1, window_seconds: 1, key_fields: [provider, metadata.host, payload.x]}"), nil, func(t *testing.T, r *Rule) {
			if d := cmp.Diff([]string{"provider", "metadata.host", "payload.x"}, r.Verdict.KeyFields); d != "" {
				t.Error(d)
			}
		}},
		{"time intervals and metadata", rule(okCond + "\n" + okAction + "\nmute_time_intervals: [maint]\nactive_time_intervals: [biz]\nmetadata: {llm_policy: no PII}\ndescription: d\ntimezone: US/Eastern"), nil, func(t *testing.T, r *Rule) {
			if r.MuteTimeIntervals[0] != "maint" || r.ActiveTimeIntervals[0] != "biz" || r.Metadata["llm_policy"] != "no PII" || r.Description != "d" || r.Timezone != "US/Eastern" {
				t.Errorf("rule = %+v", r)
			}
		}},
		{"disabled", rule("enabled: false\n" + okCond + "\n" + okAction), nil, func(t *testing.T, r *Rule) {
			if r.Enabled() {
				t.Error("rule is enabled")
			}
		}},
		{"empty all and any", rule("condition: {all: [{any: []}, {all: []}]}\n" + okAction), nil, nil},
		{"yes is a string", rule("condition: {field: action.payload.x, eq: yes}\n" + okAction), nil, func(t *testing.T, r *Rule) {
			if got := r.ConditionDisplay(); got != `(action.payload.x == "yes")` {
				t.Errorf("display = %s", got)
			}
		}},
		{"timestamps stay strings", rule("condition: {field: action.payload.d, eq: 2026-01-15}\n" + okAction), nil, func(t *testing.T, r *Rule) {
			if got := r.ConditionDisplay(); got != `(action.payload.d == "2026-01-15")` {
				t.Errorf("display = %s", got)
			}
		}},
		{"map operand warns", rule("condition: {field: action.payload, eq: {a: 1}}\n" + okAction), []string{"maps never compare equal"}, nil},
		{"anchors and aliases", "x: &c {field: action.provider, eq: email}\nrules:\n- {name: bad, condition: {any: [*c, *c]}, action: {type: deny}}\n", []string{`unknown top-level key "x"`}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a.yaml", validA)
			writeFile(t, dir, "z.yaml", c.file)
			set, warns, err := LoadDir(dir, testOpts)
			if err != nil {
				t.Fatalf("LoadDir: %v", err)
			}
			if len(warns) != len(c.warnings) {
				t.Errorf("warnings = %v, want %d", warns, len(c.warnings))
			}
			for i, w := range c.warnings {
				if i < len(warns) && !strings.Contains(warns[i].String(), w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warns[i], w)
				}
				if i < len(warns) && !strings.HasPrefix(warns[i].String(), filepath.Join(dir, "z.yaml")+":") {
					t.Errorf("warning %q does not name the file and line", warns[i])
				}
			}
			r := set.Lookup("bad")
			if r == nil {
				t.Fatalf("rule bad not loaded; rules: %d", set.Len())
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

func TestLoadDirFileSelectionAndOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.yml", "rules: [{name: b, priority: 5, condition: {field: action.provider, eq: email}, action: {type: deny}}]\n")
	writeFile(t, dir, "a.yaml", "rules: [{name: a, priority: 5, condition: {field: action.provider, eq: email}, action: {type: suppress}}]\n")
	writeFile(t, dir, "c.cel", "rules: [{name: c, priority: 5, condition: 'action.provider == \"email\"', action: {type: allow}}]\n")
	writeFile(t, dir, ".hidden.yaml", "rules: [{name: h, priority: 5, condition: {field: action.provider, eq: email}, action: {type: allow}}]\n")
	writeFile(t, dir, "upper.YAML", "not: [valid")
	writeFile(t, dir, "notes.txt", "not: [valid")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub"), "x.yaml", "not: [valid")
	set, warns, err := LoadDir(dir, Options{DefaultTimezone: "Europe/Paris"})
	if err != nil {
		t.Fatalf("LoadDir: %v (warnings %v)", err, warns)
	}
	var got []string
	for _, r := range set.Rules() {
		got = append(got, r.Name)
	}
	// Bytewise file order (".hidden" < "a" < "b" < "c"), stable within a priority.
	if d := cmp.Diff([]string{"h", "a", "b", "c"}, got); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
	if set.DefaultTimezone() != "Europe/Paris" {
		t.Errorf("default tz = %s", set.DefaultTimezone())
	}
	if src := set.Lookup("c").Source(); src != "cel:"+filepath.Join(dir, "c.cel") {
		t.Errorf("source = %s", src)
	}
	if src := set.Lookup("a").Source(); src != "yaml:"+filepath.Join(dir, "a.yaml") {
		t.Errorf("source = %s", src)
	}
}

func TestLoadDirCollectsAllErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", rule("condition: {field: foo, eq: 1}\n"+okAction))
	writeFile(t, dir, "b.yaml", "rules:\n- {name: x, condition: {field: action.provider, matches: '('}, action: {type: deny}}\n- {name: y, condition: {field: action.provider, eq: 1}, action: {type: nope}}\n")
	_, _, err := LoadDir(dir, Options{})
	les := LoadErrors(err)
	if len(les) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(les), err)
	}
	want := []string{"a.yaml:3: rule \"bad\"", "b.yaml:2: rule \"x\"", "b.yaml:3: rule \"y\""}
	for i, w := range want {
		if !strings.Contains(les[i].Error(), w) {
			t.Errorf("error %d = %q, want %q", i, les[i], w)
		}
	}
}

func TestLoadDirBadDefaultTimezone(t *testing.T) {
	if _, _, err := LoadDir(t.TempDir(), Options{DefaultTimezone: "Nope/Nope"}); err == nil || !strings.Contains(err.Error(), "Nope/Nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestCELFileRejectsStructuredCondition(t *testing.T) {
	_, _, err := ParseFile("r.cel", []byte(rule(okCond+"\n"+okAction)), Options{})
	if err == nil || !strings.Contains(err.Error(), "must be a CEL expression string") {
		t.Fatalf("err = %v", err)
	}
}

func TestModifyChangesAreJSON(t *testing.T) {
	rs, _, err := ParseFile("m.yaml", []byte(rule(okCond+"\naction: {type: modify, changes: {a: 1, b: 2.5, c: [true, null, x], d: {e: 18446744073709551615}}}")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := rs[0].Verdict.Changes
	want := map[string]any{
		"a": jsonNum("1"), "b": jsonNum("2.5"), "c": []any{true, nil, "x"},
		"d": map[string]any{"e": jsonNum("1.8446744073709552e+19")},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if rs[0].Verdict.Kind != action.VerdictModify {
		t.Errorf("kind = %s", rs[0].Verdict.Kind)
	}
}

func TestLoadErrorFormat(t *testing.T) {
	cases := []struct {
		e    LoadError
		want string
	}{
		{LoadError{File: "a.yaml", Line: 3, Rule: "x", Msg: "boom"}, `a.yaml:3: rule "x": boom`},
		{LoadError{File: "a.yaml", Msg: "boom"}, `a.yaml: boom`},
		{LoadError{Line: 2, Msg: "boom"}, `line 2: boom`},
		{LoadError{Msg: "boom"}, `boom`},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		w := Warning(c.e)
		if got := w.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestParseFileNeverPanicsOnSelfAlias(t *testing.T) {
	inputs := []string{
		"rules: &a [*a]",
		"a: &a [*a, *a]\nrules: *a",
		"rules:\n- &r {name: x, condition: {all: [*r]}, action: {type: deny}}",
	}
	for _, in := range inputs {
		_, _, _ = ParseFile("f.yaml", []byte(in), Options{})
	}
}

func jsonNum(s string) any { return json.Number(s) }
