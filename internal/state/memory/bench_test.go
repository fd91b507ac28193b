package memory_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// keys returns n distinct dedup keys shaped like the gateway's.
func keys(n int) []state.Key {
	ks := make([]state.Key, n)
	for i := range ks {
		ks[i] = state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindDedup, ID: "018f4e2a-7b3c-7d4e-9f00-" + strconv.Itoa(1000000+i)}
	}
	return ks
}

// BenchmarkCheckAndSet measures the dedup primitive on a key not seen
// before (the common case: most actions are not duplicates) in a steady
// state: markers expire and the sweeper removes them, so about 16k markers
// are live and every CheckAndSet inserts a brand-new map entry.
func BenchmarkCheckAndSet(b *testing.B) {
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	ks := keys(1 << 16)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if ok, err := s.CheckAndSet(ctx, ks[i&(len(ks)-1)], "1", 16*time.Second); err != nil || !ok {
			b.Fatal(ok, err)
		}
		c.Advance(time.Millisecond)
		i++
		if i&16383 == 0 {
			// The sweeper runs on its own goroutine in production; its cost
			// is measured by BenchmarkSweep.
			b.StopTimer()
			s.Sweep()
			b.StartTimer()
		}
	}
}

// BenchmarkSweep measures one sweep that removes 16k expired markers out
// of 32k (reported per removed entry).
func BenchmarkSweep(b *testing.B) {
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	ks := keys(1 << 15)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i, k := range ks {
			ttl := time.Hour
			if i%2 == 0 {
				ttl = time.Second
			}
			_ = s.Set(ctx, k, "1", ttl)
		}
		c.Advance(time.Second)
		b.StartTimer()
		if n := s.Sweep(); n != len(ks)/2 {
			b.Fatalf("swept %d", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ks)/2), "ns/removed")
}

// BenchmarkCheckAndSetGrowing inserts a million distinct keys that never
// expire: the cost includes growing the maps and cache misses.
func BenchmarkCheckAndSetGrowing(b *testing.B) {
	s := memory.New(memory.Options{})
	ks := keys(1 << 20)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.CheckAndSet(ctx, ks[i&(len(ks)-1)], "1", time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCheckAndSetExisting measures a duplicate: the key is live.
func BenchmarkCheckAndSetExisting(b *testing.B) {
	s := memory.New(memory.Options{})
	k := keys(1)[0]
	ctx := b.Context()
	_, _ = s.CheckAndSet(ctx, k, "1", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := s.CheckAndSet(ctx, k, "1", time.Hour); ok {
			b.Fatal("duplicate won")
		}
	}
}

func BenchmarkCheckAndSetParallel(b *testing.B) {
	s := memory.New(memory.Options{})
	ks := keys(1 << 20)
	ctx := b.Context()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := s.CheckAndSet(ctx, ks[i&(1<<20-1)], "1", time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIncrementWindow measures the throttle primitive on a few hot
// keys (one per rule), the realistic shape.
func BenchmarkIncrementWindow(b *testing.B) {
	s := memory.New(memory.Options{})
	ks := keys(16)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := s.IncrementWindow(ctx, ks[i&15], time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkIncrementWindowParallel(b *testing.B) {
	s := memory.New(memory.Options{})
	ks := keys(1024)
	ctx := b.Context()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, _, err := s.IncrementWindow(ctx, ks[i&1023], time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	s := memory.New(memory.Options{})
	k := keys(1)[0]
	ctx := b.Context()
	_ = s.Set(ctx, k, "value", 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

// timeoutKeys returns n distinct keys shaped like an open group's timeout
// (the id is a hex sha256, as group keys are).
func timeoutKeys(n int) []state.Key {
	ks := make([]state.Key, n)
	for i := range ks {
		ks[i] = state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: "pending_groups", ID: fmt.Sprintf("%064x", 0x9e3779b97f4a7c15*uint64(i+1))}
	}
	return ks
}

// BenchmarkIndexTimeout measures the timeout index with 10k keys indexed:
// re-indexing one at its deadline (every event added to an open group),
// at a new deadline, and churn (a new key indexed, an old one removed: a
// group opened and one flushed).
func BenchmarkIndexTimeout(b *testing.B) {
	const n = 10000
	setup := func(b *testing.B) (*memory.Store, []state.Key) {
		s := memory.New(memory.Options{})
		ks := timeoutKeys(2 * n)
		for i, k := range ks[:n] {
			if err := s.IndexTimeout(b.Context(), k, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
		return s, ks
	}
	b.Run("same", func(b *testing.B) {
		s, ks := setup(b)
		ctx := b.Context()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			j := (i * 7919) % n
			_ = s.IndexTimeout(ctx, ks[j], int64(j))
			i++
		}
	})
	b.Run("moved", func(b *testing.B) {
		s, ks := setup(b)
		ctx := b.Context()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			j := (i * 7919) % n
			_ = s.IndexTimeout(ctx, ks[j], int64(n+i))
			i++
		}
	})
	b.Run("churn", func(b *testing.B) {
		s, ks := setup(b)
		ctx := b.Context()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// Keys i..i+n-1 (mod 2n) are indexed; index the next, remove
			// the oldest.
			_ = s.IndexTimeout(ctx, ks[(i+n)%(2*n)], int64(n+i))
			_ = s.RemoveTimeoutIndex(ctx, ks[i%(2*n)])
			i++
		}
	})
}

// BenchmarkGetExpiredTimeouts asks which of 10k indexed keys are due when
// 100 are (what the group flusher and the state-machine timeout job ask
// every tick).
func BenchmarkGetExpiredTimeouts(b *testing.B) {
	s := memory.New(memory.Options{})
	ctx := b.Context()
	for i, k := range timeoutKeys(10000) {
		_ = s.IndexTimeout(ctx, k, int64(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, _ := s.GetExpiredTimeouts(ctx, 99); len(got) != 100 {
			b.Fatalf("%d due, want 100", len(got))
		}
	}
}
