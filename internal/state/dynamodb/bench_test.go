package dynamodb

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acteon/acteon-go/internal/state"
)

// inFlight is the number of goroutines the parallel benchmarks keep busy.
const inFlight = 64

func setParallelism(b *testing.B) {
	b.SetParallelism((inFlight + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchKeys(n int) []state.Key {
	ks := make([]state.Key, n)
	for i := range ks {
		ks[i] = state.Key{Namespace: "notifications", Tenant: "tenant-1", Kind: state.KindDedup, ID: "018f4e2a-7b3c-7d4e-9f00-" + strconv.Itoa(1000000+i)}
	}
	return ks
}

// BenchmarkBareGetItem is the baseline: one GetItem round trip through the
// SDK, without any of this package's logic.
func BenchmarkBareGetItem(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	in := &dynamodb.GetItemInput{TableName: s.table, Key: s.key(benchKeys(1)[0]), ConsistentRead: aws.Bool(true)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.db.GetItem(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

func BenchmarkBareGetItemParallel(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	in := &dynamodb.GetItemInput{TableName: s.table, Key: s.key(benchKeys(1)[0]), ConsistentRead: aws.Bool(true)}
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.db.GetItem(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportOps(b)
}

// BenchmarkCheckAndSet measures the dedup primitive on keys not seen before.
func BenchmarkCheckAndSet(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	ks := benchKeys(1 << 20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if ok, err := s.CheckAndSet(ctx, ks[i&(len(ks)-1)], "1", time.Hour); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i++
	}
	reportOps(b)
}

func BenchmarkCheckAndSetParallel(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	ks := benchKeys(1 << 20)
	var next atomic.Int64
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.CheckAndSet(ctx, ks[next.Add(1)&(1<<20-1)], "1", time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportOps(b)
}

// BenchmarkCheckAndSetExisting measures a duplicate: the condition fails.
func BenchmarkCheckAndSetExisting(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	k := benchKeys(1)[0]
	_, _ = s.CheckAndSet(ctx, k, "1", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil || ok {
			b.Fatal(ok, err)
		}
	}
	reportOps(b)
}

// BenchmarkIncrementWindow measures the throttle primitive on a few hot
// keys (one per rule).
func BenchmarkIncrementWindow(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	ks := benchKeys(16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := s.IncrementWindow(ctx, ks[i&15], time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportOps(b)
}

func BenchmarkIncrementWindowParallel(b *testing.B) {
	s := open(b, newTable(b))
	ctx := b.Context()
	ks := benchKeys(1024)
	var next atomic.Int64
	setParallelism(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.IncrementWindow(ctx, ks[next.Add(1)&1023], time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportOps(b)
}
