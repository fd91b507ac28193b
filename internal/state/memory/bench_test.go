package memory_test

import (
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
