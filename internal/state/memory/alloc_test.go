//go:build !race

package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// TestNoAllocations pins the operations that find or update an existing
// entry in place at zero allocations: lookups, a duplicate CheckAndSet,
// CheckAndSet over an expired marker, overwrites, small counts, Delete,
// re-indexing a timeout and removing one that is not indexed. (The
// counts are exact, not timing; the race detector adds allocations, hence
// the build tag.)
func TestNoAllocations(t *testing.T) {
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	ctx := t.Context()
	k := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindDedup, ID: "018f4e2a-7b3c-7d4e-9f00-1000000"}
	w := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindRateLimit, ID: "rule-a"}
	st := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindState, ID: "fp-1"}
	missing := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindDedup, ID: "nope"}
	if _, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, st, `{"state":"open"}`, 0); err != nil {
		t.Fatal(err)
	}
	// An open group's timeout, re-indexed by each event added to it; other
	// keys around it so that a new deadline moves it in the heap.
	pk := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: "pending_groups", ID: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"}
	ms := int64(5000)
	for i := range 100 {
		_ = s.IndexTimeout(ctx, state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: "pending_groups", ID: fmt.Sprint(i)}, int64(50*i+1))
	}
	if err := s.IndexTimeout(ctx, pk, ms); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		op   func()
	}{
		{"Get", func() { _, _ = s.Get(ctx, k) }},
		{"Get missing", func() { _, _ = s.Get(ctx, missing) }},
		{"GetVersioned", func() { _, _ = s.GetVersioned(ctx, st) }},
		{"CheckAndSet duplicate", func() { _, _ = s.CheckAndSet(ctx, k, "1", time.Hour) }},
		{"CheckAndSet over expired", func() {
			c.Advance(2 * time.Hour)
			_, _ = s.CheckAndSet(ctx, k, "1", time.Hour)
		}},
		{"Set small value", func() { _ = s.Set(ctx, k, "7", time.Hour) }},
		{"Set over own value", func() { _ = s.Set(ctx, st, `{"state":"closed"}`, 0) }},
		{"CompareAndSwap", func() {
			e, _ := s.GetVersioned(ctx, st)
			_ = s.CompareAndSwap(ctx, st, e.Version, `{"state":"open"}`, 0)
		}},
		{"IncrementWindow", func() {
			c.Advance(2 * time.Minute) // a new window each time: the count stays small
			_, _, _ = s.IncrementWindow(ctx, w, time.Minute)
		}},
		{"Delete missing", func() { _, _ = s.Delete(ctx, missing) }},
		{"IndexTimeout again, same deadline", func() { _ = s.IndexTimeout(ctx, pk, 5000) }},
		{"IndexTimeout again, new deadline", func() {
			ms = 6000 - ms // 1000 and 5000 in turn: to the top and back
			_ = s.IndexTimeout(ctx, pk, ms)
		}},
		{"RemoveTimeoutIndex missing", func() { _ = s.RemoveTimeoutIndex(ctx, missing) }},
		{"GetExpiredTimeouts none due", func() { _, _ = s.GetExpiredTimeouts(ctx, 0) }},
	}
	for _, o := range ops {
		if n := testing.AllocsPerRun(100, o.op); n != 0 {
			t.Errorf("%s: %v allocations, want 0", o.name, n)
		}
	}
}
