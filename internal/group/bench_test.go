package group_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/group"
	"github.com/acteon/acteon-go/internal/state/memory"
)

const (
	benchGroups = 1000
	benchEvents = 100_000
)

// benchEvent is a typical alert: ~90 bytes of payload JSON.
func benchEvent(i int) *action.Action {
	c := fmt.Sprintf("cluster-%04d", i%benchGroups)
	return &action.Action{ID: action.UUIDv4(), Namespace: "prod", Tenant: "acme", Provider: "webhook", ActionType: "alert",
		Metadata: map[string]string{"cluster": c, "severity": "critical"},
		Payload:  map[string]any{"alert": "HighCPU", "host": fmt.Sprintf("h-%d", i), "value": json.Number("97.5"), "cluster": c}}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkGroup100kInto1k groups 100,000 events into 1,000 groups (100
// each, the default max_group_size) on the memory backend, then flushes
// them all once group_wait has passed. Reported: events/s of the adds,
// heap bytes per open group (with its first event) and per further
// grouped event, and the flush latency (time for one flush run to send
// all 1,000 notifications after notify_at; add up to one tick interval).
func BenchmarkGroup100kInto1k(b *testing.B) {
	b.ReportAllocs()
	events := make([]*action.Action, benchEvents)
	for i := range events {
		events[i] = benchEvent(i)
	}
	v := verdict(30, "metadata.cluster")
	ctx := context.Background()
	var addSecs, flushSecs, perGroup, perEvent float64
	runs := 0
	for b.Loop() {
		clk := clock.NewFake(t0)
		st := memory.New(memory.Options{Clock: clk})
		rec := &recorder{}
		m, _ := group.New(group.Options{State: st, Clock: clk, Dispatcher: rec})
		h0 := heap()
		start := time.Now()
		for i := 0; i < benchGroups; i++ {
			if _, err := m.Add(ctx, events[i], v, t0); err != nil {
				b.Fatal(err)
			}
		}
		firstDur := time.Since(start)
		h1 := heap()
		start = time.Now()
		for i := benchGroups; i < benchEvents; i++ {
			if _, err := m.Add(ctx, events[i], v, t0); err != nil {
				b.Fatal(err)
			}
		}
		addSecs += (firstDur + time.Since(start)).Seconds()
		h2 := heap()
		perGroup += float64(h1-h0) / benchGroups
		perEvent += float64(h2-h1) / (benchEvents - benchGroups)
		clk.Set(t0.Add(30 * time.Second))
		start = time.Now()
		n, err := m.FlushDue(ctx, clk.Now())
		flushSecs += time.Since(start).Seconds()
		if err != nil || n != benchGroups || rec.count() != benchGroups {
			b.Fatalf("flushed %d (%v), sent %d", n, err, rec.count())
		}
		runs++
		runtime.KeepAlive(st)
	}
	r := float64(runs)
	b.ReportMetric(benchEvents*r/addSecs, "events/s")
	b.ReportMetric(perGroup/r, "B/group")
	b.ReportMetric(perEvent/r, "B/event")
	b.ReportMetric(flushSecs/r*1000, "flush-ms")
}

// BenchmarkAddToPendingGroup is one add to a group that already holds 50
// events (the steady state): two state operations and one header rewrite.
func BenchmarkAddToPendingGroup(b *testing.B) {
	b.ReportAllocs()
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	m, _ := group.New(group.Options{State: st, Clock: clk, Dispatcher: &recorder{}})
	v := verdict(30, "metadata.cluster")
	ctx := context.Background()
	a := benchEvent(0)
	for i := 0; i < 50; i++ {
		_, _ = m.Add(ctx, a, v, t0)
	}
	v.MaxGroupSize = 50
	for b.Loop() {
		if _, err := m.Add(ctx, a, v, t0); err != nil {
			b.Fatal(err)
		}
	}
}
