package rules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
)

const inhFile = `rules:
- {name: r, condition: {field: action.provider, eq: email}, action: {type: allow}}
inhibitions:
- name: node-down
  source: {field: action.metadata.alertname, eq: NodeDown}
  target: {all: [{field: action.metadata.severity, eq: warning}]}
  equal: [instance]
  ttl_seconds: 600
- name: cel-form
  source: 'action.metadata.severity == "critical"'
  target: {cel: 'action.metadata.severity == "info"'}
`

func TestParseInhibitions(t *testing.T) {
	pf, warns, err := ParseFileAll("f.yaml", []byte(inhFile), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	if len(pf.Rules) != 1 || len(pf.Inhibitions) != 2 {
		t.Fatalf("parsed %d rules, %d inhibitions", len(pf.Rules), len(pf.Inhibitions))
	}
	nd := pf.Inhibitions[0]
	if nd.Name != "node-down" || nd.TTLSeconds != 600 || len(nd.Equal) != 1 || nd.Equal[0] != "instance" || nd.Line != 4 {
		t.Fatalf("inhibition %+v", nd)
	}
	if nd.SourceDisplay() != `(action.metadata.alertname == "NodeDown")` {
		t.Fatalf("source display %q", nd.SourceDisplay())
	}
	ctx, now := context.Background(), time.Now()
	src := &action.Action{Metadata: map[string]string{"alertname": "NodeDown"}}
	tgt := &action.Action{Metadata: map[string]string{"severity": "warning"}}
	if !nd.MatchesSource(ctx, src, now, nil) || nd.MatchesSource(ctx, tgt, now, nil) {
		t.Fatal("source condition")
	}
	if !nd.MatchesTarget(ctx, tgt, now, nil) || nd.MatchesTarget(ctx, src, now, nil) {
		t.Fatal("target condition")
	}
	cf := pf.Inhibitions[1]
	if !cf.MatchesSource(ctx, &action.Action{Metadata: map[string]string{"severity": "critical"}}, now, nil) ||
		!cf.MatchesTarget(ctx, &action.Action{Metadata: map[string]string{"severity": "info"}}, now, nil) {
		t.Fatal("CEL conditions")
	}
	// ParseFile keeps returning the rules only.
	rs, _, err := ParseFile("f.yaml", []byte(inhFile), Options{})
	if err != nil || len(rs) != 1 {
		t.Fatalf("ParseFile: %d %v", len(rs), err)
	}
}

func TestParseInhibitionErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not a list", "rules: []\ninhibitions: {a: 1}\n", "`inhibitions` must be a list"},
		{"missing name", "rules: []\ninhibitions:\n- {source: {field: action.provider, eq: a}, target: {field: action.provider, eq: b}}\n", "missing field `name`"},
		{"missing target", "rules: []\ninhibitions:\n- {name: x, source: {field: action.provider, eq: a}}\n", "missing field `target`"},
		{"bad condition key", "rules: []\ninhibitions:\n- {name: x, source: {field: action.provider, regex: a}, target: {field: action.provider, eq: b}}\n", `inhibition "x": source:`},
		{"bad root", "rules: []\ninhibitions:\n- {name: x, source: {field: payload.a, eq: a}, target: {field: action.provider, eq: b}}\n", "inhibition \"x\": source:"},
		{"bad CEL", "rules: []\ninhibitions:\n- {name: x, source: 'action.nope(', target: {field: action.provider, eq: b}}\n", "inhibition \"x\": source:"},
		{"equal not strings", "rules: []\ninhibitions:\n- {name: x, source: {field: action.provider, eq: a}, target: {field: action.provider, eq: b}, equal: [{a: 1}]}\n", "equal items must be a string"},
		{"ttl negative", "rules: []\ninhibitions:\n- {name: x, source: {field: action.provider, eq: a}, target: {field: action.provider, eq: b}, ttl_seconds: -1}\n", "ttl_seconds must be a non-negative integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseFileAll("f.yaml", []byte(tc.body), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadDirInhibitionsAndIntervalFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", inhFile)
	write("time-intervals.yaml", "time_intervals:\n- {name: maint, namespace: ns, tenant: t1, time_ranges: []}\n")
	write("z.yaml", "inhibitions:\n- {name: only-inh, source: {field: action.provider, eq: a}, target: {field: action.provider, eq: b}}\n")
	set, warns, err := LoadDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	if set.Len() != 1 || len(set.Inhibitions()) != 3 || set.Inhibitions()[2].Name != "only-inh" {
		t.Fatalf("rules %d inhibitions %d", set.Len(), len(set.Inhibitions()))
	}
	write("zz.yaml", "inhibitions:\n- {name: node-down, source: {field: action.provider, eq: a}, target: {field: action.provider, eq: b}}\n")
	if _, _, err := LoadDir(dir, Options{}); err == nil || !strings.Contains(err.Error(), "duplicate inhibition name") {
		t.Fatalf("duplicate: %v", err)
	}
	// An empty file is still an error.
	write("zz.yaml", "# nothing\n")
	if _, _, err := LoadDir(dir, Options{}); err == nil || !strings.Contains(err.Error(), "missing top-level key `rules`") {
		t.Fatalf("empty file: %v", err)
	}
}

func TestWithInhibitionsKeepsRules(t *testing.T) {
	pf, _, err := ParseFileAll("f.yaml", []byte(inhFile), Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(pf.Rules)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := set.WithInhibitions(pf.Inhibitions)
	if err != nil || s2.Len() != 1 || len(s2.Inhibitions()) != 2 || len(set.Inhibitions()) != 0 {
		t.Fatalf("WithInhibitions: %v", err)
	}
	if _, err := set.WithInhibitions(append(pf.Inhibitions, pf.Inhibitions[0])); err == nil {
		t.Fatal("duplicate accepted")
	}
	var nilSet *Set
	if s3, err := nilSet.WithInhibitions(pf.Inhibitions); err != nil || len(s3.Inhibitions()) != 2 {
		t.Fatalf("nil set: %v", err)
	}
}
