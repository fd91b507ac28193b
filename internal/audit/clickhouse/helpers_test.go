package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/testenv"
)

// serverURL returns the test server's URL, skipping (or failing under
// scripts/test) when none is configured.
func serverURL(t testing.TB) string {
	t.Helper()
	return testenv.URL(t, testenv.ClickHouse)
}

// uniquePrefix is a table prefix owned by one test run.
func uniquePrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "acteon_t" + hex.EncodeToString(b[:]) + "_"
}

// newStore connects to url with prefix; a configured server that does not
// answer fails the test.
func newStore(t testing.TB, url, prefix string) *Store {
	t.Helper()
	s, err := New(context.Background(), Config{URL: url, Prefix: prefix})
	if err != nil {
		if errors.Is(err, audit.ErrUnavailable) {
			testenv.Unreachable(t, testenv.ClickHouse, err)
		}
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// migratedStore is newStore plus Migrate, and a cleanup that drops the
// table.
func migratedStore(t testing.TB) *Store {
	t.Helper()
	s := newStore(t, serverURL(t), uniquePrefix())
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.drop(ctx); err != nil {
			t.Errorf("drop %s: %v", s.table, err)
		}
	})
	return s
}

// drop removes the table.
func (s *Store) drop(ctx context.Context) error {
	_, err := s.c.exec(ctx, "drop table", "DROP TABLE IF EXISTS "+s.table, nil, false)
	return err
}

// raw runs a statement and returns its TabSeparated answer, trimmed.
func (s *Store) raw(t testing.TB, stmt string) string {
	t.Helper()
	out, err := s.c.exec(context.Background(), "test", stmt, nil, true)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	return strings.TrimSpace(string(out))
}

// testRecord is a plain record of namespace ns.
func testRecord(ns, id string, at time.Time) audit.Record {
	return audit.Record{
		ID:             id,
		ActionID:       "action-" + id,
		Namespace:      ns,
		Tenant:         "tenant-1",
		Provider:       "webhook",
		ActionType:     "alert",
		Verdict:        "allow",
		Outcome:        "executed",
		VerdictDetails: []byte(`{"verdict":"allow"}`),
		OutcomeDetails: []byte(`{"status":"Success"}`),
		Metadata:       map[string]string{"env": "prod"},
		DispatchedAt:   at,
		CompletedAt:    at.Add(3 * time.Millisecond),
		DurationMs:     3,
	}
}

var testTime = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

func randomNS() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ns" + hex.EncodeToString(b[:])
}
