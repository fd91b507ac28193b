package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/sim"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

func TestCountingStoreCountsEveryOperation(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	c := sim.NewCountingStore(mem)
	defer c.Close()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "a"}
	if ok, err := c.CheckAndSet(ctx, k, "1", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	c.CheckAndSet(ctx, k, "1", time.Minute)
	c.Get(ctx, k)
	c.GetVersioned(ctx, k)
	c.Set(ctx, k, "2", 0)
	c.CompareAndSwap(ctx, k, 99, "3", 0)
	c.Increment(ctx, state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindCounter, ID: "n"}, 1, 0)
	c.IncrementWindow(ctx, state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "w"}, time.Minute)
	c.ScanKeys(ctx, "ns", "t", state.KindDedup, "")
	c.ScanKeysByKind(ctx, state.KindDedup)
	c.IndexTimeout(ctx, k, 1)
	c.GetExpiredTimeouts(ctx, 2)
	c.RemoveTimeoutIndex(ctx, k)
	c.Delete(ctx, k)
	l, err := c.TryLock(ctx, "l", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	l.Held(ctx)
	l.Extend(ctx, time.Minute)
	l.Release(ctx)
	if _, err := c.TryLock(ctx, "l", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TryLock(ctx, "l", time.Minute); err == nil {
		t.Fatal("second TryLock of a held lock succeeded")
	}

	want := map[string]int64{
		"CheckAndSet": 2, "Get": 1, "GetVersioned": 1, "Set": 1, "CompareAndSwap": 1, "Increment": 1,
		"IncrementWindow": 1, "ScanKeys": 1, "ScanKeysByKind": 1, "IndexTimeout": 1, "GetExpiredTimeouts": 1,
		"RemoveTimeoutIndex": 1, "Delete": 1, "TryLock": 3, "Lock.Held": 1, "Lock.Extend": 1, "Lock.Release": 1,
	}
	if diff := cmp.Diff(want, c.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if c.Total() != 20 || c.Count(sim.OpTryLock) != 3 {
		t.Errorf("total %d, TryLock %d", c.Total(), c.Count(sim.OpTryLock))
	}
	if c.Unwrap() != state.Store(mem) {
		t.Error("Unwrap does not return the wrapped store")
	}
	c.Reset()
	if c.Total() != 0 || len(c.Counts()) != 0 {
		t.Errorf("after Reset: %v", c.Counts())
	}
	if sim.Op(-1).String() != "Op(?)" || sim.OpCheckAndSet.String() != "CheckAndSet" {
		t.Error("Op.String")
	}
}
