package clickhouse

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// Benchmarks run against the real server (ACTEON_TEST_CLICKHOUSE_URL).
// BenchmarkSelect1 is the bare HTTP round trip the others compare with.
// Each reports ops/s; the parallel ones keep about 64 operations in flight
// (SetParallelism(64/GOMAXPROCS)) like a busy gateway.

func benchStore(b *testing.B) *Store {
	b.Helper()
	return open(b, migrated(b))
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// parallelism is the SetParallelism argument that puts about 64
// goroutines in flight.
func parallelism() int { return max(64/runtime.GOMAXPROCS(0), 1) }

func BenchmarkSelect1(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Ping(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

func BenchmarkSelect1Parallel(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Ping(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b)
}

// BenchmarkCheckAndSet: a new dedup marker per call (the common case: most
// actions are not duplicates), one caller.
func BenchmarkCheckAndSet(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	ns := "bench" + randomHex(4)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		k := state.Key{Namespace: ns, Tenant: "t", Kind: state.KindDedup, ID: strconv.Itoa(i)}
		if ok, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	reportOps(b)
}

// BenchmarkCheckAndSetDuplicate: the same marker again (answered from the
// node's copy of the row).
func BenchmarkCheckAndSetDuplicate(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	k := state.Key{Namespace: "bench" + randomHex(4), Tenant: "t", Kind: state.KindDedup, ID: "dup"}
	if _, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil || ok {
			b.Fatal(ok, err)
		}
	}
	reportOps(b)
}

// BenchmarkCheckAndSetParallel: new markers from ~64 concurrent callers,
// with 1, 2 and 4 batching workers (fewer workers: bigger batches, fewer
// INSERTs).
func BenchmarkCheckAndSetParallel(b *testing.B) {
	cfg := migrated(b)
	for _, p := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("pipelines=%d", p), func(b *testing.B) {
			c := cfg
			c.Pipelines = p
			s := open(b, c)
			ctx := context.Background()
			ns := "bench" + randomHex(4)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(parallelism())
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := state.Key{Namespace: ns, Tenant: "t", Kind: state.KindDedup, ID: strconv.FormatInt(n.Add(1), 10)}
					if ok, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil || !ok {
						b.Error(ok, err)
						return
					}
				}
			})
			reportOps(b)
		})
	}
}

// BenchmarkIncrementWindow: one throttle counter, one caller.
func BenchmarkIncrementWindow(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	k := state.Key{Namespace: "bench" + randomHex(4), Tenant: "t", Kind: state.KindRateLimit, ID: "rule"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.IncrementWindow(ctx, k, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

// BenchmarkIncrementWindowParallel: 64 throttle counters, ~64 callers.
func BenchmarkIncrementWindowParallel(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	ns := "bench" + randomHex(4)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.RunParallel(func(pb *testing.PB) {
		k := state.Key{Namespace: ns, Tenant: "t", Kind: state.KindRateLimit, ID: strconv.FormatInt(n.Add(1), 10)}
		for pb.Next() {
			if _, _, err := s.IncrementWindow(ctx, k, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b)
}
