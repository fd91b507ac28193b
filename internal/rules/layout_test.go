package rules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/acteon/acteon-go/action"
)

// TestRuleLayout pins the per-rule footprint: a set holds one Rule and at
// least one node per loaded rule (`acteon bench --memory`, "per active
// rule"). The bounds are the allocator size classes the structs fit today
// (on 64-bit platforms): a new field that pushes one into the next class
// costs every rule of a large set; move rarely used data behind a pointer
// instead.
func TestRuleLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are pinned for 64-bit platforms")
	}
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Rule", unsafe.Sizeof(Rule{}), 176},
		{"node", unsafe.Sizeof(node{}), 96},
	} {
		if c.size > c.max {
			t.Errorf("unsafe.Sizeof(%s{}) = %d, want at most %d", c.name, c.size, c.max)
		}
	}
	// The nStrCmp fast path reads only the first words of a node.
	if off := unsafe.Offsetof(node{}.str) + unsafe.Sizeof(""); off > 24 {
		t.Errorf("node.str ends at byte %d, want within the first 24", off)
	}
}

// TestParsedRulesShare checks what the rules of one file share instead of
// copying: the parameterless verdicts, the Source() and File strings, and the
// verdict kind text.
func TestParsedRulesShare(t *testing.T) {
	rs, _, err := ParseFile("share.yaml", []byte(`rules:
- {name: a, condition: {field: action.action_type, eq: x}, action: {type: suppress}}
- {name: b, condition: {field: action.action_type, eq: y}, action: {type: suppress, reason: spam}}
- {name: c, condition: {field: action.provider, ne: z}, action: {type: deny}}
- {name: d, condition: {field: action.provider, ne: z}, action: {type: deny}}
- {name: e, condition: {field: action.provider, eq: z}, action: {type: deduplicate, ttl_seconds: 5}}
- {name: f, condition: {field: action.provider, eq: z}, action: {type: deduplicate, ttl_seconds: 6}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d, e, f := rs[0], rs[1], rs[2], rs[3], rs[4], rs[5]
	if a.Verdict != b.Verdict || c.Verdict != d.Verdict || a.Verdict == c.Verdict {
		t.Error("parameterless verdicts of one kind are not shared (or kinds are mixed up)")
	}
	if a.Verdict.Kind != action.VerdictSuppress || c.Verdict.Kind != action.VerdictDeny {
		t.Errorf("kinds = %s, %s", a.Verdict.Kind, c.Verdict.Kind)
	}
	if e.Verdict == f.Verdict || e.Verdict.TTLSeconds != 5 || f.Verdict.TTLSeconds != 6 {
		t.Errorf("verdicts with parameters: %+v, %+v", *e.Verdict, *f.Verdict)
	}
	if unsafe.StringData(string(e.Verdict.Kind)) != unsafe.StringData(string(action.VerdictDeduplicate)) {
		t.Error("the verdict kind is a copy of the YAML text, not the action.VerdictKind constant")
	}
	if a.Source() != "yaml:share.yaml" || unsafe.StringData(a.Source()) != unsafe.StringData(f.Source()) {
		t.Errorf("Source() = %q, not one string shared by the file's rules", a.Source())
	}
	if unsafe.StringData(a.File) != unsafe.StringData(f.File) {
		t.Error("File is copied per rule")
	}
}

// TestStrCmpDisplay checks that the specialised string comparison renders
// exactly as the general field check it replaces.
func TestStrCmpDisplay(t *testing.T) {
	lits := []string{"", "spam", "nonexistent-7", `a"b`, `back\slash`, "tab\there", "é", "\x00\x7f", "\xff", "😀", "\u2028"}
	n := 0
	for name, af := range actionFields {
		for _, op := range []string{"eq", "ne"} {
			for _, lit := range lits {
				src := fmt.Sprintf("rules:\n- {name: r, condition: {field: action.%s, %s: %s}, action: {type: deny}}\n", name, op, strconv.Quote(lit))
				rs, _, err := ParseFile("d.yaml", []byte(src), Options{})
				if err != nil {
					t.Fatalf("%s: %v", src, err)
				}
				cond := rs[0].cond
				if cond.kind != nStrCmp {
					continue
				}
				n++
				opk := opEq
				if op == "ne" {
					opk = opNe
				}
				var want strings.Builder
				// (YAML reads "\xff" as U+00FF: compare with the literal held.)
				renderOps(&want, "action."+name, []fieldOp{{op: opk, lit: strV(cond.str)}})
				if got := rs[0].ConditionDisplay(); got != want.String() {
					t.Errorf("action.%s %s %q: display %s, want %s", name, op, lit, got, want.String())
				}
				if cond.af != af {
					t.Errorf("action.%s: af = %d, want %d", name, cond.af, af)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no condition was specialised")
	}
}

func TestWriteQuoted(t *testing.T) {
	for _, s := range []string{"", "a", `"`, `\`, "~", " ", "\x1f", "\x7f", "\x80", "é", "\xff\xfe", "a\nb", "😀", "\u00a0", "x y-z_1.2"} {
		var b strings.Builder
		writeQuoted(&b, s)
		if got, want := b.String(), strconv.Quote(s); got != want {
			t.Errorf("writeQuoted(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestNilVerdict: a Rule built in code without a Verdict decides the zero
// Verdict.
func TestNilVerdict(t *testing.T) {
	s, err := NewSet([]*Rule{{Name: "bare"}})
	if err != nil {
		t.Fatal(err)
	}
	a := &action.Action{ID: "1", Namespace: "n", Tenant: "t", Provider: "p", ActionType: "x"}
	res := s.Evaluate(context.Background(), Input{Action: a})
	if res.Rule == nil || res.Verdict.Kind != "" {
		t.Errorf("Evaluate = %+v, want the rule with the zero verdict", res)
	}
	tr := s.EvaluateTrace(context.Background(), Input{Action: a}, TraceOptions{})
	if tr.MatchedRule == nil || *tr.MatchedRule != "bare" || tr.Verdict != "" || tr.Trace[0].Action != "" {
		t.Errorf("EvaluateTrace = %+v", tr)
	}
}
