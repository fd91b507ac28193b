package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/statetest"
	"github.com/acteon/acteon-go/internal/testenv"
)

func TestConformance(t *testing.T) {
	prefix := migratedPrefix(t)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			return openStore(t, Config{Prefix: prefix, PurgeInterval: -1})
		},
		// The server's clock runs on its own: wait.
		Advance: func(_ *testing.T, d time.Duration) { time.Sleep(d) },
	})
}

// TestCheckAndSetRaceTwoStores: two nodes (Store instances, separate pools
// and batchers) race on one dedup key; the database arbitrates.
func TestCheckAndSetRaceTwoStores(t *testing.T) {
	prefix := migratedPrefix(t)
	stores := []*Store{openStore(t, Config{Prefix: prefix}), openStore(t, Config{Prefix: prefix})}
	ctx := t.Context()
	for round := range 5 {
		key := state.Key{Namespace: "race", Tenant: "t", Kind: state.KindDedup, ID: fmt.Sprint(round)}
		var wins sync.WaitGroup
		results := make([]bool, 20)
		errs := make([]error, 20)
		start := make(chan struct{})
		for i := range 20 {
			wins.Go(func() {
				<-start
				results[i], errs[i] = stores[i%2].CheckAndSet(ctx, key, fmt.Sprint(i), time.Minute)
			})
		}
		close(start)
		wins.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ok := range results {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d of 20 CheckAndSet calls through two stores won, want exactly 1", round, n)
		}
	}
}

// TestIncrementWindowTwoStores: hits through two stores on one window are
// counted exactly: every count 1..N is handed out once.
func TestIncrementWindowTwoStores(t *testing.T) {
	prefix := migratedPrefix(t)
	stores := []*Store{openStore(t, Config{Prefix: prefix}), openStore(t, Config{Prefix: prefix})}
	ctx := t.Context()
	key := state.Key{Namespace: "win", Tenant: "t", Kind: state.KindRateLimit, ID: "rule"}
	const goroutines, hits = 32, 10
	counts := make([][]int64, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range hits {
				n, left, err := stores[g%2].IncrementWindow(ctx, key, time.Minute)
				if err != nil {
					errs[g] = err
					return
				}
				if left <= 0 || left > time.Minute {
					errs[g] = fmt.Errorf("remaining %s out of (0, 1m]", left)
					return
				}
				counts[g] = append(counts[g], n)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	all := slices.Concat(counts...)
	slices.Sort(all)
	want := make([]int64, goroutines*hits)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}
	got, err := stores[0].GetVersioned(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := (state.Entry{Value: fmt.Sprint(goroutines * hits), Version: goroutines * hits}); got != want {
		t.Fatalf("entry = %+v, want %+v", got, want)
	}
}

// TestNewUnreachable: nothing listens on port 1; the error names postgres
// and the address, wraps ErrUnavailable and does not leak the password.
func TestNewUnreachable(t *testing.T) {
	for _, raw := range []string{
		"postgres://u:secret@127.0.0.1:1/x",
		"postgres://u@127.0.0.1:1/x?password=secret&sslmode=disable",
		"host=127.0.0.1 port=1 user=u password=secret dbname=x",
	} {
		t.Run(raw[:8], func(t *testing.T) {
			s, err := New(t.Context(), Config{URL: raw, ConnectTimeout: 2 * time.Second})
			if err == nil {
				_ = s.Close()
				t.Fatal("New succeeded against port 1")
			}
			if !errors.Is(err, state.ErrUnavailable) {
				t.Errorf("error %v does not wrap state.ErrUnavailable", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "state/postgres") || !strings.Contains(msg, "127.0.0.1:1") {
				t.Errorf("error %q does not name the backend and address", msg)
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error %q leaks the password", msg)
			}
		})
	}
}

func TestNewBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "url is required"},
		{"bad prefix", Config{URL: "postgres://127.0.0.1:1/x", Prefix: "Robert'); DROP"}, "prefix"},
		{"digit prefix", Config{URL: "postgres://127.0.0.1:1/x", Prefix: "1x_"}, "prefix"},
		{"bad url", Config{URL: "postgres://u:secret@127.0.0.1:notaport/x"}, "invalid url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}

func TestCheckSchemaAndMigrate(t *testing.T) {
	p := testPrefix()
	s := openStore(t, Config{Prefix: p, PurgeInterval: -1})
	ctx := t.Context()
	t.Cleanup(func() { _ = s.DropTables(context.Background()) })

	err := s.CheckSchema(ctx)
	want := fmt.Sprintf("state/postgres: missing tables %[1]sstate, %[1]slocks, %[1]stimeout_index (run `acteon migrate` or set auto_migrate = true)", p)
	if err == nil || err.Error() != want {
		t.Fatalf("CheckSchema on a fresh prefix = %v, want %q", err, want)
	}
	// Before migration, operations say what is missing.
	if _, err := s.Get(ctx, state.Key{Namespace: "a", Tenant: "b", Kind: "c", ID: "d"}); err == nil || !strings.Contains(err.Error(), "acteon migrate") {
		t.Fatalf("Get without tables = %v, want an error pointing at migrate", err)
	}
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
	if _, err := s.pool.Exec(ctx, "DROP TABLE "+p+"locks"); err != nil {
		t.Fatal(err)
	}
	err = s.CheckSchema(ctx)
	want = fmt.Sprintf("state/postgres: missing table %slocks (run `acteon migrate` or set auto_migrate = true)", p)
	if err == nil || err.Error() != want {
		t.Fatalf("CheckSchema without the locks table = %v, want %q", err, want)
	}
}

// TestMigrateConcurrent: several nodes migrating at once do not trip over
// each other's CREATE IF NOT EXISTS.
func TestMigrateConcurrent(t *testing.T) {
	p := testPrefix()
	s := openStore(t, Config{Prefix: p, PurgeInterval: -1})
	t.Cleanup(func() { _ = s.DropTables(context.Background()) })
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestServerGoesAway cuts the connection to the server mid-run (a proxy
// that then accepts connections and never answers, like a hung server):
// operations fail with ErrUnavailable after about OpTimeout instead of
// hanging; once the proxy forwards again the same Store recovers.
func TestServerGoesAway(t *testing.T) {
	prefix := migratedPrefix(t)
	raw := testenv.URL(t, testenv.Postgres)
	_, target := viaProxy(t, raw, "")
	p := startProxy(t, target)
	u, _ := viaProxy(t, raw, p.addr())
	const opTimeout = 300 * time.Millisecond
	s := openStore(t, Config{URL: u, Prefix: prefix, OpTimeout: opTimeout, ConnectTimeout: opTimeout})
	ctx := t.Context()
	k := func(id string) state.Key {
		return state.Key{Namespace: "away", Tenant: "t", Kind: state.KindDedup, ID: id}
	}

	if ok, err := s.CheckAndSet(ctx, k("before"), "1", time.Minute); err != nil || !ok {
		t.Fatalf("CheckAndSet before the cut = %v, %v", ok, err)
	}

	p.setCut(true)
	ops := []struct {
		name string
		run  func() error
	}{
		{"CheckAndSet", func() error { _, err := s.CheckAndSet(ctx, k("during"), "1", time.Minute); return err }},
		{"IncrementWindow", func() error { _, _, err := s.IncrementWindow(ctx, k("w"), time.Minute); return err }},
		{"Get", func() error { _, err := s.Get(ctx, k("before")); return err }},
		{"Set", func() error { return s.Set(ctx, k("x"), "v", 0) }},
		{"Delete", func() error { _, err := s.Delete(ctx, k("x")); return err }},
		{"TryLock", func() error { _, err := s.TryLock(ctx, "away", time.Second); return err }},
		{"ScanKeys", func() error { _, err := s.ScanKeys(ctx, "away", "t", "dedup", ""); return err }},
	}
	for _, op := range ops {
		start := time.Now()
		err := op.run()
		took := time.Since(start)
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s with the server gone = %v, want ErrUnavailable", op.name, err)
		}
		t.Logf("%s failed after %s: %v", op.name, took.Round(time.Millisecond), err)
		// Not a performance bound: a generous guard that the op did not hang.
		if took > opTimeout+10*time.Second {
			t.Errorf("%s took %s with OpTimeout %s: it hung", op.name, took, opTimeout)
		}
	}
	// Concurrent CheckAndSet calls go through the batcher: all fail, none hang.
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.CheckAndSet(ctx, k(fmt.Sprint("c", i)), "1", time.Minute) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("concurrent CheckAndSet #%d with the server gone = %v, want ErrUnavailable", i, err)
		}
	}

	p.setCut(false)
	err := eventually(20*time.Second, func() error {
		_, err := s.Get(ctx, k("before"))
		return err
	})
	if err != nil {
		t.Fatalf("Store did not recover after the server came back: %v", err)
	}
	if ok, err := s.CheckAndSet(ctx, k("before"), "1", time.Minute); err != nil || ok {
		t.Fatalf("CheckAndSet on the marker written before the cut = %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.CheckAndSet(ctx, k("after"), "1", time.Minute); err != nil || !ok {
		t.Fatalf("CheckAndSet after recovery = %v, %v; want true, nil", ok, err)
	}
}

// TestScanEscapesWildcards: '%', '_' and '\' in the scanned prefix and kind
// are literal characters, not LIKE wildcards.
func TestScanEscapesWildcards(t *testing.T) {
	prefix := migratedPrefix(t)
	s := openStore(t, Config{Prefix: prefix, PurgeInterval: -1})
	ctx := t.Context()
	ns := "esc" + randomHex(4)
	put := func(kind, id string) {
		if err := s.Set(ctx, state.Key{Namespace: ns, Tenant: "t", Kind: kind, ID: id}, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a_b", "axb", "a%b", "aXXb", `a\b`, "ab"} {
		put("k_1", id)
	}
	put("kx1", "other")
	ids := func(kvs []state.KV) []string {
		var out []string
		for _, kv := range kvs {
			out = append(out, strings.TrimPrefix(kv.Key, ns+":t:k_1:"))
		}
		return out
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"a_", []string{"a_b"}},
		{"a%", []string{"a%b"}},
		{`a\`, []string{`a\b`}},
		{"", []string{"a%b", "aXXb", `a\b`, "a_b", "ab", "axb"}},
	} {
		kvs, err := s.ScanKeys(ctx, ns, "t", "k_1", tc.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, ids(kvs)); diff != "" {
			t.Errorf("ScanKeys(prefix %q) (-want +got):\n%s", tc.prefix, diff)
		}
	}
	kvs, err := s.ScanKeysByKind(ctx, "k_1")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.Contains(kv.Key, ":kx1:") {
			t.Errorf("ScanKeysByKind(k_1) returned %s", kv.Key)
		}
	}
}

// TestBatchedCheckAndSet drives one multi-row statement directly: duplicate
// keys in the batch have exactly one winner, a live key loses, an expired
// key is replaced.
func TestBatchedCheckAndSet(t *testing.T) {
	prefix := migratedPrefix(t)
	s := openStore(t, Config{Prefix: prefix, PurgeInterval: -1})
	ctx := t.Context()
	ns := "batch" + randomHex(4)
	key := func(id string) string { return ns + ":t:dedup:" + id }
	if _, err := s.pool.Exec(ctx, "INSERT INTO "+prefix+"state (key, value, expires_at) VALUES ($1, 'live', now() + interval '1 hour'), ($2, 'old', now() - interval '1 second')", key("live"), key("expired")); err != nil {
		t.Fatal(err)
	}
	ids := []string{"new", "dup", "live", "dup", "expired", "dup", "other"}
	batch := make([]*req, len(ids))
	for i, id := range ids {
		batch[i] = &req{key: key(id), value: fmt.Sprint(i), us: micros(time.Minute)}
	}
	s.execCheckAndSet(ctx, batch)
	wins := map[string]int{}
	for _, r := range batch {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.ok {
			wins[strings.TrimPrefix(r.key, ns+":t:dedup:")]++
		}
	}
	if diff := cmp.Diff(map[string]int{"new": 1, "dup": 1, "expired": 1, "other": 1}, wins); diff != "" {
		t.Fatalf("winners (-want +got):\n%s", diff)
	}
	e, err := s.GetVersioned(ctx, state.Key{Namespace: ns, Tenant: "t", Kind: "dedup", ID: "expired"})
	if err != nil || e.Version != 1 || e.Value != "4" {
		t.Fatalf("replaced expired entry = %+v, %v; want value 4 at version 1", e, err)
	}
	v, err := s.Get(ctx, state.Key{Namespace: ns, Tenant: "t", Kind: "dedup", ID: "live"})
	if err != nil || v != "live" {
		t.Fatalf("live entry = %q, %v; want it untouched", v, err)
	}
}

// TestBatchedIncrementWindow: n hits on one key in a batch get n
// consecutive counts, in queue order, and the version grows by n.
func TestBatchedIncrementWindow(t *testing.T) {
	prefix := migratedPrefix(t)
	s := openStore(t, Config{Prefix: prefix, PurgeInterval: -1})
	ctx := t.Context()
	ns := "bwin" + randomHex(4)
	a, b := ns+":t:rate_limit:a", ns+":t:rate_limit:b"
	for round, want := range [][]int64{{1, 1, 2, 3}, {4, 2, 5, 6}} {
		batch := []*req{{key: a}, {key: b}, {key: a}, {key: a}}
		for _, r := range batch {
			r.us = micros(time.Minute)
		}
		s.execIncrementWindow(ctx, batch)
		var got []int64
		for _, r := range batch {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.remain <= 0 || r.remain > micros(time.Minute) {
				t.Fatalf("round %d: remaining %dµs out of range", round, r.remain)
			}
			got = append(got, r.count)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d counts (-want +got):\n%s", round, diff)
		}
	}
	e, err := s.GetVersioned(ctx, state.Key{Namespace: ns, Tenant: "t", Kind: "rate_limit", ID: "a"})
	if err != nil || e != (state.Entry{Value: "6", Version: 6}) {
		t.Fatalf("entry a = %+v, %v; want 6 at version 6", e, err)
	}
}

// TestPurge: expired rows are deleted from the table (not just hidden), live
// ones stay; expired locks go too.
func TestPurge(t *testing.T) {
	prefix := migratedPrefix(t)
	s := openStore(t, Config{Prefix: prefix, PurgeInterval: -1})
	ctx := t.Context()
	ns := "purge" + randomHex(4)
	if _, err := s.pool.Exec(ctx, "INSERT INTO "+prefix+`state (key, value, expires_at)
		SELECT $1 || g, 'x', now() - interval '1 second' FROM generate_series(1, 12000) g`, ns+":t:dedup:old"); err != nil {
		t.Fatal(err)
	}
	live := state.Key{Namespace: ns, Tenant: "t", Kind: "dedup", ID: "live"}
	if err := s.Set(ctx, live, "x", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "INSERT INTO "+prefix+"locks VALUES ('old', 'o', now() - interval '1 second')"); err != nil {
		t.Fatal(err)
	}
	n, err := s.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 12000 {
		t.Errorf("Purge removed %d rows, want 12000", n)
	}
	var left, locks int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+prefix+"state WHERE key LIKE $1", ns+"%").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+prefix+"locks").Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if left != 1 || locks != 0 {
		t.Fatalf("after Purge: %d state rows (want 1, the live one), %d lock rows (want 0)", left, locks)
	}
}

// TestPurgeLoopStopsOnClose: the background purge runs and Close waits for
// it (the race detector and goroutine accounting would flag a leak).
func TestPurgeLoopStopsOnClose(t *testing.T) {
	prefix := migratedPrefix(t)
	s := openStore(t, Config{Prefix: prefix, PurgeInterval: 20 * time.Millisecond})
	ctx := t.Context()
	k := state.Key{Namespace: "loop" + randomHex(4), Tenant: "t", Kind: "dedup", ID: "x"}
	if _, err := s.pool.Exec(ctx, "INSERT INTO "+prefix+"state (key, value, expires_at) VALUES ($1, 'x', now() - interval '1 second')", k.String()); err != nil {
		t.Fatal(err)
	}
	err := eventually(10*time.Second, func() error {
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+prefix+"state WHERE key = $1", k.String()).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return errors.New("expired row still there")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("background purge: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("purge goroutine still running after Close")
	}
}

// TestServerTimeDecidesExpiry: expiry is computed by the server, so the
// remaining time reported matches the server's view, whatever the client
// clock says (here: the row's expires_at equals the server's now() + ttl).
func TestServerTimeDecidesExpiry(t *testing.T) {
	prefix := migratedPrefix(t)
	s := openStore(t, Config{Prefix: prefix, PurgeInterval: -1})
	ctx := t.Context()
	k := state.Key{Namespace: "srv" + randomHex(4), Tenant: "t", Kind: "dedup", ID: "x"}
	if ok, err := s.CheckAndSet(ctx, k, "1", time.Hour); err != nil || !ok {
		t.Fatalf("CheckAndSet = %v, %v", ok, err)
	}
	var secs float64
	if err := s.pool.QueryRow(ctx, "SELECT extract(epoch FROM expires_at - now()) FROM "+prefix+"state WHERE key = $1", k.String()).Scan(&secs); err != nil {
		t.Fatal(err)
	}
	if secs <= 3500 || secs > 3600 {
		t.Fatalf("expires_at - server now() = %.3fs, want about 3600s", secs)
	}
}

func TestLikeEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"plain:key":   "plain:key",
		"a_b":         `a\_b`,
		"100%":        `100\%`,
		`back\slash`:  `back\\slash`,
		`%_\`:         `\%\_\\`,
		"ünïcode_ok":  `ünïcode\_ok`,
		"ns:t:rate_l": `ns:t:rate\_l`,
	} {
		if got := likeEscape(in); got != want {
			t.Errorf("likeEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, addr, password string }{
		{"postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db", "secret"},
		{"postgresql://h/db", "postgresql://h/db", ""},
		{"postgres://u@h/db?password=secret", "postgres://u@h/db?password=xxxxx", "secret"},
		{"host=h port=6000 password=secret", "postgres://h:6000", "secret"},
	} {
		addr, pw := redact(tc.in)
		if addr != tc.addr || pw != tc.password {
			t.Errorf("redact(%q) = %q, %q; want %q, %q", tc.in, addr, pw, tc.addr, tc.password)
		}
	}
}
