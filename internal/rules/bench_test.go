package rules

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchSet builds n rules `{field: action.action_type, eq: "nonexistent-i"}`
// followed by nothing that matches: every evaluation walks the whole set and
// ends in the default allow.
func benchSet(tb testing.TB, n int) *Set {
	tb.Helper()
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "- {name: r%d, priority: %d, condition: {field: action.action_type, eq: \"nonexistent-%d\"}, action: {type: suppress}}\n", i, i, i)
	}
	if n == 0 {
		b.WriteString("  []\n")
		return mustSet(tb, "rules: []\n")
	}
	return mustSet(tb, b.String())
}

func mustSet(tb testing.TB, src string) *Set {
	tb.Helper()
	rs, _, err := ParseFile("bench.yaml", []byte(src), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewSet(rs)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func BenchmarkEvaluate(b *testing.B) {
	a := withPayload(b, `{"to":"u@example.com","n":5,"user":{"tier":"gold"}}`)
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for _, n := range []int{0, 10, 50} {
		s := benchSet(b, n)
		b.Run(fmt.Sprintf("%d_rules", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res := s.Evaluate(ctx, Input{Action: a, Now: now}); res.Rule != nil {
					b.Fatal("matched")
				}
			}
		})
	}
	mixed := mustSet(b, `rules:
- {name: a, priority: 1, condition: {all: [{field: action.provider, eq: sms}, {field: action.payload.n, gt: 3}]}, action: {type: deny}}
- {name: b, priority: 2, condition: {field: action.payload.user.tier, in_list: [silver, bronze]}, action: {type: deny}}
- {name: c, priority: 3, condition: {field: action.metadata.env, in_list: [prod]}, action: {type: deny}}
- {name: d, priority: 4, condition: {field: action.payload.to, matches: "@test\\.com$"}, action: {type: deny}}
- {name: e, priority: 5, condition: {any: [{field: time.hour, lt: 6}, {field: time.weekday_num, gt: 5}]}, action: {type: deny}}
- {name: f, priority: 6, condition: {field: action.payload.n, gte: 5, lt: 10}, action: {type: reroute, target_provider: sms}}
`)
	b.Run("mixed_6_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := mixed.Evaluate(ctx, Input{Action: a, Now: now}); res.Rule == nil || res.Rule.Name != "f" {
				b.Fatal("want f")
			}
		}
	})
	cel := mustSet(b, `rules:
- {name: c, priority: 1, condition: 'action.action_type in ["spam", "phish"] || action.payload.to.endsWith("@test.com")', action: {type: suppress}}
- {name: d, priority: 2, condition: 'action.payload.n > 3 && action.payload.user.tier == "gold"', action: {type: deny}}
`)
	b.Run("cel_2_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := cel.Evaluate(ctx, Input{Action: a, Now: now}); res.Rule == nil || res.Rule.Name != "d" {
				b.Fatal("want d")
			}
		}
	})
}

func BenchmarkEvaluateTrace(b *testing.B) {
	a := withPayload(b, `{"to":"u@example.com"}`)
	s := benchSet(b, 10)
	b.ReportAllocs()
	for b.Loop() {
		s.EvaluateTrace(context.Background(), Input{Action: a}, TraceOptions{})
	}
}

func BenchmarkParseFile(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&sb, "- {name: r%d, priority: %d, condition: {all: [{field: action.action_type, eq: \"t%d\"}, {field: action.payload.n, gt: 1}]}, action: {type: suppress}}\n", i, i, i)
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseFile("b.yaml", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
