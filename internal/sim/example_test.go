package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/provider"
	simprov "github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/sim"
)

// Three nodes over one memory state store receive the same event at the
// same moment; the deduplicate rule lets exactly one through.
func Example() {
	ctx := context.Background()
	h, err := sim.Start(ctx, sim.Config{
		Nodes:     3,
		Recording: []string{"email"},
		Rules: []string{`rules:
- name: dedup
  priority: 1
  condition: {field: action.action_type, eq: alert}
  action: {type: deduplicate, ttl_seconds: 300}
`},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(ctx)

	var actions []*action.Action
	for range 20 {
		a := h.Action("email", "alert", map[string]any{"host": "db-1"})
		a.DedupKey = "db-1-down"
		actions = append(actions, a)
	}
	res := h.DispatchConcurrently(ctx, actions)
	fmt.Println(sim.Count(res))
	fmt.Println("email calls:", h.CallCount("email"))
	// Output:
	// deduplicated=19 executed=1
	// email calls: 1
}

// A provider that fails its first two calls with a retryable error is
// delivered on the third attempt by the executor's retries.
func ExampleHarness_Dispatch_failingProvider() {
	ctx := context.Background()
	flaky := simprov.NewFailing("pager", provider.KindConnection, "connection refused", simprov.FailUntil(2))
	h, err := sim.Start(ctx, sim.Config{Providers: []provider.Provider{flaky}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(ctx)

	out, err := h.Dispatch(ctx, h.Action("pager", "page", nil))
	fmt.Println(out.Kind, err, "calls:", flaky.CallCount())
	// Output: executed <nil> calls: 3
}

// Throttle windows follow the virtual clock.
func ExampleHarness_Advance() {
	ctx := context.Background()
	h, err := sim.Start(ctx, sim.Config{
		Nodes:     2,
		Recording: []string{"sms"},
		Rules:     []string{`rules: [{name: one-per-minute, priority: 1, condition: {field: action.provider, eq: sms}, action: {type: throttle, max_count: 1, window_seconds: 60}}]`},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(ctx)

	first, _ := h.DispatchTo(ctx, 0, h.Action("sms", "send", nil))
	second, _ := h.DispatchTo(ctx, 1, h.Action("sms", "send", nil))
	h.Advance(time.Minute)
	third, _ := h.DispatchTo(ctx, 1, h.Action("sms", "send", nil))
	fmt.Println(first.Kind, second.Kind, second.RetryAfter, third.Kind)
	// Output: executed throttled 1m0s executed
}
