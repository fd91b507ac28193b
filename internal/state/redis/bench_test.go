package redis_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/redis"
	"github.com/acteon/acteon-go/internal/testenv"
)

// The benchmarks report ops/s and, for the sequential ones, the p50 and
// p99 latency in µs, so a run can be read as ratios to BenchmarkPing (the
// bare round trip, measured in the same run):
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/state/redis/

// inFlight is the number of concurrent callers of the *Parallel64
// benchmarks.
const inFlight = 64

// parallel64 makes b.RunParallel run inFlight goroutines.
func parallel64(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((inFlight + procs - 1) / procs)
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// reportBatch reports the mean number of commands per round trip.
func reportBatch(b *testing.B, s *redis.Store) {
	if n, cmds := s.PipelineStats(); n > 0 {
		b.ReportMetric(float64(cmds)/float64(n), "cmds/batch")
	}
}

// latencies records one duration per iteration and reports p50 and p99.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds())/1e3, "p99-µs")
}

func benchStore(b *testing.B) *redis.Store {
	b.Helper()
	url := testenv.URL(b, testenv.Redis)
	return open(b, redis.Config{URL: url, Prefix: testPrefix(b, url)})
}

func benchKeys(kind string, n int) []state.Key {
	ks := make([]state.Key, n)
	for i := range ks {
		ks[i] = state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: kind, ID: "018f4e2a-7b3c-7d4e-9f00-" + strconv.Itoa(1000000+i)}
	}
	return ks
}

// rawPing is a plain go-redis client with default options: the baseline.
func rawPing(b *testing.B) *goredis.Client {
	b.Helper()
	c := rawClient(b, testenv.URL(b, testenv.Redis))
	if err := c.Ping(b.Context()).Err(); err != nil {
		testenv.Unreachable(b, testenv.Redis, err)
	}
	return c
}

// BenchmarkPing is the bare round trip: one PING at a time.
func BenchmarkPing(b *testing.B) {
	c := rawPing(b)
	ctx := context.Background()
	lat := make(latencies, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportRate(b)
	lat.report(b)
}

// BenchmarkPingParallel64 is 64 callers each doing PING on the plain
// client (one connection each, no pipelining): the unpipelined ceiling.
func BenchmarkPingParallel64(b *testing.B) {
	c := rawPing(b)
	ctx := context.Background()
	parallel64(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Ping(ctx).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkCheckAndSet: one caller, every call a new dedup key (a win).
func BenchmarkCheckAndSet(b *testing.B) {
	s := benchStore(b)
	ks := benchKeys(state.KindDedup, 1<<18)
	ctx := context.Background()
	lat := make(latencies, 0, 1<<16)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		ok, err := s.CheckAndSet(ctx, ks[i&(len(ks)-1)], "1", time.Minute)
		if err != nil || (!ok && i < len(ks)) {
			b.Fatal(ok, err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	reportRate(b)
	lat.report(b)
}

// BenchmarkCheckAndSetParallel64: 64 callers, distinct keys.
func BenchmarkCheckAndSetParallel64(b *testing.B) {
	s := benchStore(b)
	ks := benchKeys(state.KindDedup, 1<<18)
	ctx := context.Background()
	var next atomic.Int64
	parallel64(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := s.CheckAndSet(ctx, ks[i&(1<<18-1)], "1", time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
	reportBatch(b, s)
}

// BenchmarkIncrementWindow: one caller over 16 throttle keys.
func BenchmarkIncrementWindow(b *testing.B) {
	s := benchStore(b)
	ks := benchKeys(state.KindRateLimit, 16)
	ctx := context.Background()
	lat := make(latencies, 0, 1<<16)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := s.IncrementWindow(ctx, ks[i&15], time.Minute); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	reportRate(b)
	lat.report(b)
}

// BenchmarkIncrementWindowParallel64: 64 callers over 1024 throttle keys.
func BenchmarkIncrementWindowParallel64(b *testing.B) {
	s := benchStore(b)
	ks := benchKeys(state.KindRateLimit, 1024)
	ctx := context.Background()
	var next atomic.Int64
	parallel64(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, _, err := s.IncrementWindow(ctx, ks[i&1023], time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
	reportBatch(b, s)
}

// BenchmarkGet: one caller reading one entry.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	k := benchKeys(state.KindState, 1)[0]
	ctx := context.Background()
	if err := s.Set(ctx, k, "value", time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkCheckAndSetVsPing alternates one PING (on a plain go-redis
// client) and one CheckAndSet, so both see the same machine load, and
// reports each one's p50 and the ratio of CheckAndSet's rate to PING's
// (sum of PING time / sum of CheckAndSet time).
func BenchmarkCheckAndSetVsPing(b *testing.B) {
	c := rawPing(b)
	s := benchStore(b)
	ks := benchKeys(state.KindDedup, 1<<18)
	ctx := context.Background()
	pings := make(latencies, 0, 1<<16)
	cas := make(latencies, 0, 1<<16)
	var pingSum, casSum time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.CheckAndSet(ctx, ks[i&(len(ks)-1)], "1", time.Minute); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		pings = append(pings, t1.Sub(t0))
		cas = append(cas, t2.Sub(t1))
		pingSum += t1.Sub(t0)
		casSum += t2.Sub(t1)
		i++
	}
	slices.Sort(pings)
	slices.Sort(cas)
	b.ReportMetric(float64(pings[len(pings)/2].Nanoseconds())/1e3, "ping-p50-µs")
	b.ReportMetric(float64(cas[len(cas)/2].Nanoseconds())/1e3, "cas-p50-µs")
	b.ReportMetric(float64(pingSum)/float64(casSum), "cas/ping-rate")
}
