package postgres

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// inFlight is the number of concurrent callers in the *64 benchmarks.
const inFlight = 64

// benchStore opens a store on fresh tables (dropped afterwards).
func benchStore(b *testing.B, cfg Config) *Store {
	b.Helper()
	cfg.Prefix = migratedPrefix(b)
	cfg.PurgeInterval = -1
	return openStore(b, cfg)
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// parallel64 makes b.RunParallel run about inFlight goroutines.
func parallel64(b *testing.B) {
	b.SetParallelism((inFlight + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

// dedupKey returns distinct keys shaped like the gateway's dedup markers.
func dedupKey(run string, i int64) state.Key {
	return state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindDedup, ID: run + "-" + strconv.FormatInt(i, 10)}
}

// BenchmarkSelect1 is the bare round trip through the same pool: the
// reference the other numbers are read against.
func BenchmarkSelect1(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		var one int
		if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkSelect1Parallel64 is the bare round trip with 64 callers sharing
// the pool (MaxConns 10).
func BenchmarkSelect1Parallel64(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	b.ReportAllocs()
	parallel64(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var one int
			if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkCheckAndSet: sequential dedup markers on new keys (the common
// case), each one round trip.
func BenchmarkCheckAndSet(b *testing.B) {
	for _, sc := range []struct {
		name string
		sync bool
	}{{"async_commit", false}, {"sync_commit", true}} {
		b.Run(sc.name, func(b *testing.B) {
			s := benchStore(b, Config{SynchronousCommit: sc.sync})
			ctx := b.Context()
			run := randomHex(4)
			var i int64
			b.ReportAllocs()
			for b.Loop() {
				i++
				if ok, err := s.CheckAndSet(ctx, dedupKey(run, i), "1", time.Minute); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
			reportRate(b)
		})
	}
}

// BenchmarkCheckAndSetParallel64: 64 callers on distinct new keys; the
// batcher folds whatever is queued into one statement.
func BenchmarkCheckAndSetParallel64(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	run := randomHex(4)
	var next atomic.Int64
	b.ReportAllocs()
	parallel64(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := s.CheckAndSet(ctx, dedupKey(run, next.Add(1)), "1", time.Minute); err != nil || !ok {
				b.Error(ok, err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkCheckAndSetUnbatchedParallel64 is the same load sent as one
// statement per call (the batcher bypassed), for comparison.
func BenchmarkCheckAndSetUnbatchedParallel64(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	run := randomHex(4)
	var next atomic.Int64
	b.ReportAllocs()
	parallel64(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, cancel := context.WithTimeout(ctx, s.opTO)
			var ok bool
			err := s.pool.QueryRow(c, s.q.checkAndSet, dedupKey(run, next.Add(1)).String(), "1", micros(time.Minute)).Scan(&ok)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkIncrementWindow: sequential hits on 16 throttle keys.
func BenchmarkIncrementWindow(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	run := randomHex(4)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		k := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindRateLimit, ID: run + strconv.Itoa(i&15)}
		if _, _, err := s.IncrementWindow(ctx, k, time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b)
}

// BenchmarkIncrementWindowParallel64: 64 callers on 16 hot throttle keys;
// hits on one key in a batch are added at once.
func BenchmarkIncrementWindowParallel64(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	run := randomHex(4)
	var next atomic.Int64
	b.ReportAllocs()
	parallel64(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			k := state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindRateLimit, ID: run + strconv.FormatInt(i&15, 10)}
			if _, _, err := s.IncrementWindow(ctx, k, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkCheckAndSetBatchers64 varies how many batches may be in flight
// at once (New uses MaxConns/2).
func BenchmarkCheckAndSetBatchers64(b *testing.B) {
	for _, par := range []int{1, 2, 3, 5, 8} {
		b.Run("par="+strconv.Itoa(par), func(b *testing.B) {
			s := benchStore(b, Config{})
			s.cas = newBatcher(par, maxBatch, s.execCheckAndSet)
			ctx := b.Context()
			run := randomHex(4)
			var next atomic.Int64
			b.ReportAllocs()
			parallel64(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if ok, err := s.CheckAndSet(ctx, dedupKey(run, next.Add(1)), "1", time.Minute); err != nil || !ok {
						b.Error(ok, err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkCheckAndSetVsSelect1 interleaves one bare SELECT 1 and one
// sequential CheckAndSet per iteration and times each separately, so that
// their ratio is measured under the same machine load (a shared, noisy
// machine makes separate runs hard to compare).
func BenchmarkCheckAndSetVsSelect1(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := b.Context()
	run := randomHex(4)
	var i int64
	var tSel, tCAS time.Duration
	b.ReportAllocs()
	for b.Loop() {
		i++
		t0 := time.Now()
		var one int
		if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if ok, err := s.CheckAndSet(ctx, dedupKey(run, i), "1", time.Minute); err != nil || !ok {
			b.Fatal(ok, err)
		}
		tCAS += time.Since(t1)
		tSel += t1.Sub(t0)
	}
	b.ReportMetric(float64(b.N)/tSel.Seconds(), "select1/s")
	b.ReportMetric(float64(b.N)/tCAS.Seconds(), "cas/s")
	b.ReportMetric(tSel.Seconds()/tCAS.Seconds(), "cas/select1")
}
