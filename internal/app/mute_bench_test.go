package app

import (
	"context"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/silence"
)

// BenchmarkDispatchMuteGates measures one in-process dispatch (allow →
// recording provider) with the silence, time-interval and inhibition gates
// installed: with nothing configured, with 10 non-matching silences, and
// with a rule naming a mute interval that does not match.
func BenchmarkDispatchMuteGates(b *testing.B) {
	t0 := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC) // a Thursday
	cases := []struct {
		name, rules string
		silences    int
	}{
		{"nothing", "rules: [{name: r, condition: {field: action.action_type, eq: x}, action: {type: deny}}]\n", 0},
		{"10-silences", "rules: [{name: r, condition: {field: action.action_type, eq: x}, action: {type: deny}}]\n", 10},
		{"mute-interval", "rules: [{name: r, condition: {field: action.provider, eq: email}, action: {type: reroute, target_provider: email}, mute_time_intervals: [maint]}]\n", 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newMuteEnv(b, t0, map[string]string{"rules.yaml": c.rules, "time-intervals.yaml": s30Intervals})
			e.email = sim.NewRecording("email", sim.WithoutCapture())
			a, err := e.build(b)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < c.silences; i++ {
				if _, err := a.Silences().Create(context.Background(), silence.Silence{Namespace: "ns", Tenant: "t1",
					Matchers: []silence.Matcher{{Name: "service", Value: "svc-.*", Op: silence.OpRegex}},
					StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			act := &action.Action{ID: "a", Namespace: "ns", Tenant: "t1", Provider: "email", ActionType: "send",
				Payload: map[string]any{}, Metadata: map[string]string{"service": "db"}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Gateway.Dispatch(ctx, act, gateway.Caller{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
