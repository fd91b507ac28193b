package postgres

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
)

// benchRecord is a record of typical size: a small payload, two labels, an
// expiry, a matched rule.
func benchRecord(id string, at time.Time) audit.Record {
	exp := at.Add(30 * 24 * time.Hour)
	return audit.Record{
		ID:             id,
		ActionID:       "act-" + id,
		Namespace:      "bench",
		Tenant:         "tenant-" + id[len(id)-1:],
		Provider:       "webhook",
		ActionType:     "alert",
		Verdict:        "allow",
		MatchedRule:    ptr("route-alerts"),
		Outcome:        "executed",
		ActionPayload:  json.RawMessage(`{"to":"ops@example.com","subject":"disk almost full","host":"db-17","usage":0.93,"tags":["prod","eu-west-1"]}`),
		VerdictDetails: json.RawMessage(`{"verdict":"allow"}`),
		OutcomeDetails: json.RawMessage(`{"status":"Success"}`),
		Metadata:       map[string]string{"env": "prod", "__dedup_key": "disk-db-17"},
		DispatchedAt:   at,
		CompletedAt:    at.Add(4 * time.Millisecond),
		DurationMs:     4,
		ExpiresAt:      &exp,
		CallerID:       "svc-monitor",
		AuthMethod:     "api_key",
	}
}

// BenchmarkSelect1 is the bare round trip the other figures compare with.
func BenchmarkSelect1(b *testing.B) {
	s := newTestStore(b, Config{})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBatch500 appends batches of 500 new records, as the
// audit.Writer does, one batch at a time.
func BenchmarkAppendBatch500(b *testing.B) {
	s := newTestStore(b, Config{})
	ctx := b.Context()
	batch := make([]audit.Record, 500)
	now := time.Now()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			n++
			batch[i] = benchRecord(fmt.Sprintf("b%09d", n), now.Add(time.Duration(n)*time.Microsecond))
		}
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendBatch500Parallel appends batches of 500 from 4 goroutines,
// as several writers (or nodes) would.
func BenchmarkAppendBatch500Parallel(b *testing.B) {
	s := newTestStore(b, Config{MaxConns: 8})
	ctx := b.Context()
	now := time.Now()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(2) // × GOMAXPROCS goroutines
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]audit.Record, 500)
		for pb.Next() {
			for i := range batch {
				n := seq.Add(1)
				batch[i] = benchRecord(fmt.Sprintf("p%09d", n), now.Add(time.Duration(n)*time.Microsecond))
			}
			if err := s.Append(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(seq.Load())/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkQueryRecent reads the most recent page of a table of 20,000
// records: by offset (with the Total count), by cursor, and by tenant.
func BenchmarkQueryRecent(b *testing.B) {
	s := newTestStore(b, Config{})
	ctx := b.Context()
	now := time.Now()
	batch := make([]audit.Record, 1000)
	for k := range 20 {
		for i := range batch {
			n := k*len(batch) + i
			batch[i] = benchRecord(fmt.Sprintf("q%09d", n), now.Add(time.Duration(n)*time.Millisecond))
		}
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE "+s.table); err != nil {
		b.Fatal(err)
	}
	first, err := s.Query(ctx, audit.Query{Namespace: "bench"})
	if err != nil || first.NextCursor == "" {
		b.Fatalf("first page: %v", err)
	}
	for _, c := range []struct {
		name string
		q    audit.Query
	}{
		{"offset_with_total", audit.Query{Namespace: "bench"}},
		{"cursor", audit.Query{Namespace: "bench", Cursor: first.NextCursor}},
		{"tenant_cursor", audit.Query{Namespace: "bench", Tenant: "tenant-7", Cursor: first.NextCursor}},
		{"scope_cursor", audit.Query{TenantScope: []string{"tenant-3", "tenant-4"}, Cursor: first.NextCursor}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.Query(ctx, c.q)
				if err != nil || len(p.Records) != 50 {
					b.Fatalf("Query: %d records, %v", len(p.Records), err)
				}
			}
		})
	}
	b.Run("get_by_id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetByID(ctx, "q000012345"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
