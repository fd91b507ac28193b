package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acteon/acteon-go/internal/audit"
)

// TestWriterSurvivesOutage writes N records through an audit.Writer while
// the connection to the server first loses the answers to requests it
// delivered (so inserts that succeeded are retried) and then is cut
// altogether, for about two seconds in all, and restored. After Flush every
// record is stored exactly once as far as any read can tell.
func TestWriterSurvivesOutage(t *testing.T) {
	const n = 5000
	ctx := t.Context()
	direct := migratedStore(t) // owns the table and drops it
	p, url := newProxy(t, serverURL(t))
	s, err := New(ctx, Config{URL: url, Prefix: direct.name[:len(direct.name)-len("audit")], OpTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Keep the copies that retries store, so the test can see them.
	direct.raw(t, "SYSTEM STOP MERGES "+direct.table)

	reg := prometheus.NewPedanticRegistry()
	w := audit.NewWriter(s, audit.WriterOptions{
		BatchSize:     500,
		FlushInterval: 20 * time.Millisecond,
		RetryBackoff:  20 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
		Registerer:    reg,
	})
	ns := randomNS()
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			r := testRecord(ns, fmt.Sprintf("%s-%05d", ns, i), at.Add(time.Duration(i)*time.Millisecond))
			if err := w.Write(ctx, r); err != nil {
				t.Fatalf("Write %d: %v", i, err)
			}
		}
	}

	write(0, 1000)
	p.setLoseAnswers(true) // inserts arrive, their answers do not
	write(1000, 2500)
	time.Sleep(time.Second)
	p.cut() // refused and reset
	write(2500, 4000)
	time.Sleep(time.Second)
	p.setLoseAnswers(false)
	p.restore()
	write(4000, n)

	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := w.Close(fctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if f := testutil.ToFloat64(mustCounter(t, reg, "acteon_audit_write_failures_total")); f == 0 {
		t.Fatal("no append failed: the outage did not happen")
	} else {
		t.Logf("%v failed appends during the outage", f)
	}

	where := " WHERE namespace = " + quote(ns)
	// Inserts whose answers were lost stored their batch, and the writer
	// stored it again.
	if got := direct.raw(t, "SELECT count() > "+fmt.Sprint(n)+" FROM "+direct.table+where); got != "1" {
		t.Errorf("physical rows = %s, want more than %d (copies from retried inserts that had succeeded)",
			direct.raw(t, "SELECT count() FROM "+direct.table+where), n)
	} else {
		t.Logf("physical rows: %s", direct.raw(t, "SELECT count() FROM "+direct.table+where))
	}
	if got := direct.raw(t, "SELECT uniqExact(id) FROM "+direct.table+where); got != fmt.Sprint(n) {
		t.Errorf("distinct ids stored = %s, want %d", got, n)
	}
	if got := direct.raw(t, "SELECT count() FROM "+direct.table+" FINAL"+where); got != fmt.Sprint(n) {
		t.Errorf("count() FINAL = %s, want %d", got, n)
	}
	// Every read path sees each id once: offset page totals and a full
	// cursor walk.
	seen := make(map[string]int, n)
	q := audit.Query{Namespace: ns, Limit: 1000}
	first := true
	for {
		pg, err := s.Query(ctx, q)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		if first {
			if pg.Total == nil || *pg.Total != n {
				t.Errorf("Total = %v, want %d", pg.Total, n)
			}
			first = false
		}
		for _, r := range pg.Records {
			seen[r.ID]++
		}
		if pg.NextCursor == "" {
			break
		}
		q.Cursor = pg.NextCursor
	}
	if len(seen) != n {
		t.Errorf("query results hold %d distinct ids, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("id %s appears %d times in query results", id, c)
		}
	}
}

// TestOpsDuringOutage checks that each operation fails with
// audit.ErrUnavailable while the server is unreachable, and works again
// once it is back, without a new Store.
func TestOpsDuringOutage(t *testing.T) {
	ctx := t.Context()
	direct := migratedStore(t)
	p, url := newProxy(t, serverURL(t))
	s, err := New(ctx, Config{URL: url, Prefix: direct.name[:len(direct.name)-len("audit")], OpTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ns := randomNS()
	r := testRecord(ns, ns+"-1", time.Now())
	if err := s.Append(ctx, []audit.Record{r}); err != nil {
		t.Fatal(err)
	}

	ops := map[string]func() error{
		"Append":         func() error { return s.Append(ctx, []audit.Record{r}) },
		"GetByID":        func() error { _, err := s.GetByID(ctx, r.ID); return err },
		"GetByActionID":  func() error { _, err := s.GetByActionID(ctx, r.ActionID); return err },
		"Query":          func() error { _, err := s.Query(ctx, audit.Query{Namespace: ns}); return err },
		"CleanupExpired": func() error { _, err := s.CleanupExpired(ctx, time.Now()); return err },
		"CheckSchema":    func() error { return s.CheckSchema(ctx) },
	}
	for _, mode := range []string{"refused", "answers lost"} {
		if mode == "refused" {
			p.cut()
		} else {
			p.restore()
			p.setLoseAnswers(true)
		}
		for name, op := range ops {
			if err := op(); !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("%s, connection %s: err = %v, want audit.ErrUnavailable", name, mode, err)
			}
		}
	}
	p.setLoseAnswers(false)
	for name, op := range ops {
		if err := op(); err != nil {
			t.Errorf("%s after the server came back: %v", name, err)
		}
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "copy"})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}
