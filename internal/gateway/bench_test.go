package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/audit"
	auditmem "github.com/acteon/acteon-go/internal/audit/memory"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// benchGateway is the seed's baseline: memory state, no audit, one
// recording provider, default executor settings.
func benchGateway(b *testing.B, rulesYAML string, opts ...sim.RecordingOption) *Gateway {
	b.Helper()
	st := memory.New(memory.Options{})
	b.Cleanup(func() { st.Close() })
	rec := sim.NewRecording("bench-provider", opts...)
	reg, _ := provider.NewRegistry(rec)
	exec, err := executor.New(executor.Options{MaxConcurrent: 10, MaxRetries: 3, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	set, _ := rules.NewSet(nil)
	if rulesYAML != "" {
		rs, _, err := rules.ParseFile("bench.yaml", []byte(rulesYAML), rules.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if set, err = rules.NewSet(rs); err != nil {
			b.Fatal(err)
		}
	}
	gw, err := New(Options{State: st, Providers: reg, Executor: exec, Rules: set})
	if err != nil {
		b.Fatal(err)
	}
	return gw
}

func nonMatchingRules(n int) string {
	if n == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "- {name: r%d, priority: %d, condition: {field: action.action_type, eq: nonexistent-%d}, action: {type: suppress}}\n", i, i, i)
	}
	return sb.String()
}

func benchAction() *action.Action {
	return &action.Action{
		ID: action.UUIDv4(), Namespace: "bench-ns", Tenant: "bench-tenant", Provider: "bench-provider",
		ActionType: "bench-action", Payload: map[string]any{"key": "value"}, CreatedAt: time.Now(),
	}
}

// BenchmarkDispatch: one in-process sequential dispatch per op, the action
// built inside the timed loop as upstream's Criterion bench does.
func BenchmarkDispatch(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{0, 10, 50} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			gw := benchGateway(b, nonMatchingRules(n), sim.WithoutCapture())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := gw.Dispatch(ctx, benchAction(), Caller{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("rules=0/prebuilt", func(b *testing.B) {
		// The seed's method: actions are built before the timer starts.
		gw := benchGateway(b, "", sim.WithoutCapture())
		acts := make([]*action.Action, 4096)
		for i := range acts {
			acts[i] = benchAction()
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := gw.Dispatch(ctx, acts[i&4095], Caller{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("rules=dedup", func(b *testing.B) {
		gw := benchGateway(b, `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: bench-action}, action: {type: deduplicate, ttl_seconds: 60}}]`, sim.WithoutCapture())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gw.Dispatch(ctx, benchAction(), Caller{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rules=throttle", func(b *testing.B) {
		gw := benchGateway(b, `rules: [{name: th, priority: 1, condition: {field: action.action_type, eq: bench-action}, action: {type: throttle, max_count: 1000000000, window_seconds: 3600}}]`, sim.WithoutCapture())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gw.Dispatch(ctx, benchAction(), Caller{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rules=0/capture", func(b *testing.B) {
		// Upstream's recording provider keeps a copy of every action.
		gw := benchGateway(b, "")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gw.Dispatch(ctx, benchAction(), Caller{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDispatchParallel runs dispatches from GOMAXPROCS goroutines.
func BenchmarkDispatchParallel(b *testing.B) {
	gw := benchGateway(b, "", sim.WithoutCapture())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := gw.Dispatch(ctx, benchAction(), Caller{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDispatchAudit: the no-rules dispatch plus building and queueing
// its audit record (memory audit store, asynchronous writer).
func BenchmarkDispatchAudit(b *testing.B) {
	ctx := context.Background()
	gw := benchGateway(b, "", sim.WithoutCapture())
	store := auditmem.New(auditmem.Options{})
	w := audit.NewWriter(store, audit.WriterOptions{QueueSize: 50000})
	b.Cleanup(func() { _ = w.Close(context.Background()) })
	gw.audit, gw.storePay, gw.auditTTL = w, true, time.Hour
	acts := make([]*action.Action, 4096)
	for i := range acts {
		acts[i] = benchAction()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := gw.Dispatch(ctx, acts[i&4095], Caller{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
