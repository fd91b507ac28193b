package clickhouse

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
)

// BenchmarkSelect1 is the bare round trip (SELECT 1 over HTTP), the unit
// the other benchmarks compare against.
func BenchmarkSelect1(b *testing.B) {
	s := newStore(b, serverURL(b), uniquePrefix())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Ping(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBatch500 appends batches of 500 new records, as the
// writer does under load; records/s is the figure to read.
func BenchmarkAppendBatch500(b *testing.B) {
	const batchSize = 500
	s := migratedStore(b)
	ctx := context.Background()
	ns := randomNS()
	batch := make([]audit.Record, batchSize)
	base := time.Now()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i] = benchRecord(ns, n, base)
			n++
		}
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendBatch500Parallel is BenchmarkAppendBatch500 with several
// writers at once (several gateway nodes, or one writer per shard).
func BenchmarkAppendBatch500Parallel(b *testing.B) {
	const batchSize = 500
	s := migratedStore(b)
	ctx := context.Background()
	ns := randomNS()
	base := time.Now()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(1) // GOMAXPROCS writers
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]audit.Record, batchSize)
		for pb.Next() {
			for i := range batch {
				batch[i] = benchRecord(ns, int(n.Add(1)), base)
			}
			if err := s.Append(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkQueryRecent reads the default first page (50 newest records of
// one namespace and tenant, with Total) from a table of 100,000 records
// in 10 namespaces, and the next page by cursor.
func BenchmarkQueryRecent(b *testing.B) {
	s := migratedStore(b)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	nss := make([]string, 10)
	for i := range nss {
		nss[i] = randomNS()
	}
	batch := make([]audit.Record, 0, 10000)
	for i := range 100000 {
		batch = append(batch, benchRecord(nss[i%len(nss)], i, base))
		if len(batch) == cap(batch) {
			if err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	q := audit.Query{Namespace: nss[3], Tenant: "tenant-1"}
	first, err := s.Query(ctx, q)
	if err != nil || len(first.Records) != 50 || first.NextCursor == "" {
		b.Fatalf("first page: %d records, cursor %q, %v", len(first.Records), first.NextCursor, err)
	}
	b.Run("offset_page", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Query(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cursor_page", func(b *testing.B) {
		q := q
		q.Cursor = first.NextCursor
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Query(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get_by_id", func(b *testing.B) {
		id := first.Records[7].ID
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetByID(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeRow is the client-side cost of one record in an INSERT.
func BenchmarkEncodeRow(b *testing.B) {
	r := benchRecord("ns", 1, time.Now())
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRow(buf[:0], &r)
	}
	b.SetBytes(int64(len(buf)))
}

func benchRecord(ns string, i int, base time.Time) audit.Record {
	r := testRecord(ns, fmt.Sprintf("%s-%08d", ns, i), base.Add(time.Duration(i)*time.Millisecond))
	rule := "rule-7"
	r.MatchedRule = &rule
	r.ActionPayload = []byte(`{"to":"ops@example.com","subject":"disk full","host":"db-3","severity":"critical"}`)
	r.Metadata = map[string]string{"env": "prod", "__dedup_key": "k" + fmt.Sprint(i%100)}
	exp := base.Add(30 * 24 * time.Hour)
	r.ExpiresAt = &exp
	return r
}
