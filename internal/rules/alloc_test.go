//go:build !race

package rules

import (
	"context"
	"testing"
	"time"
)

// TestEvaluateDoesNotAllocate pins the hot-path contract: an empty set, 50
// non-matching field rules, and a mix of payload/metadata/time/regex rules
// evaluate without a single allocation. (Allocation counts are exact, not
// timing, so this is stable; the race detector adds allocations, hence the
// build tag.)
func TestEvaluateDoesNotAllocate(t *testing.T) {
	a := withPayload(t, `{"to":"u@example.com","n":5,"user":{"tier":"gold"}}`)
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	sets := map[string]*Set{
		"empty":    benchSet(t, 0),
		"50 rules": benchSet(t, 50),
		"mixed": mustSet(t, `rules:
- {name: a, condition: {all: [{field: action.provider, eq: sms}, {field: action.payload.n, gt: 3}]}, action: {type: deny}}
- {name: b, condition: {field: action.payload.user.tier, in_list: [silver, bronze]}, action: {type: deny}}
- {name: c, condition: {field: action.metadata.env, in_list: [prod]}, action: {type: deny}}
- {name: d, condition: {field: action.payload.to, matches: "@test\\.com$"}, action: {type: deny}}
- {name: e, condition: {any: [{field: time.hour, lt: 6}, {field: time.weekday_num, gt: 5}, {field: time.weekday, eq: Sunday}]}, action: {type: deny}}
- {name: f, condition: {state_counter: k, gt: 5}, action: {type: deny}}
- {name: g, condition: {field: action.payload.n, gte: 5, lt: 10}, action: {type: reroute, target_provider: sms}}
`),
	}
	ctx := context.Background()
	for name, s := range sets {
		allocs := testing.AllocsPerRun(200, func() {
			s.Evaluate(ctx, Input{Action: a, Now: now})
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Evaluate, want 0", name, allocs)
		}
	}
}

// TestConditionDisplayAllocs: the display is no longer kept with each rule;
// rendering the common string comparison costs one allocation.
func TestConditionDisplayAllocs(t *testing.T) {
	r := benchSet(t, 1).Rules()[0]
	if got := r.ConditionDisplay(); got != `(action.action_type == "nonexistent-0")` {
		t.Fatalf("display = %s", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = r.ConditionDisplay() }); allocs != 1 {
		t.Errorf("%v allocations per ConditionDisplay, want 1", allocs)
	}
}
