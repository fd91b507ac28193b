package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/statetest"
	"github.com/acteon/acteon-go/internal/testenv"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testConfig returns a config for the test server with a table prefix
// unique to this run.
func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{URL: testenv.URL(t, testenv.ClickHouse), Prefix: "acteon_test_" + randomHex(4) + "_"}
}

// open builds a Store for cfg, failing the test if the server does not
// answer, and closes it at cleanup.
func open(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		testenv.Unreachable(t, testenv.ClickHouse, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// migrated returns a config whose tables exist; they are dropped at
// cleanup.
func migrated(t testing.TB) Config {
	t.Helper()
	cfg := testConfig(t)
	s, err := New(context.Background(), cfg)
	if err != nil {
		testenv.Unreachable(t, testenv.ClickHouse, err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	t.Cleanup(func() {
		dropTables(t, s)
		_ = s.Close()
	})
	return cfg
}

func dropTables(t testing.TB, s *Store) {
	for _, tb := range s.tables() {
		if _, err := s.cl.do(context.Background(), "DROP TABLE IF EXISTS "+s.cfg.Database+"."+tb.name, nil, false, ""); err != nil {
			t.Errorf("drop %s: %v", tb.name, err)
		}
	}
}

func TestConformance(t *testing.T) {
	cfg := migrated(t)
	statetest.Run(t, statetest.Harness{
		New:     func(t *testing.T) state.Store { return open(t, cfg) },
		Advance: func(t *testing.T, d time.Duration) { time.Sleep(d) },
	})
}

// TestCheckAndSetRace20 is the seed's ClickHouse row: 20 concurrent
// dispatches with one dedup key through one gateway node execute once
// (upstream's read-then-append store let 10-20 through).
func TestCheckAndSetRace20(t *testing.T) {
	s := open(t, migrated(t))
	ctx := t.Context()
	for round := range 10 {
		k := state.Key{Namespace: "race" + randomHex(4), Tenant: "t", Kind: state.KindDedup, ID: fmt.Sprint("dk-", round)}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		start := make(chan struct{})
		for range 20 {
			wg.Go(func() {
				<-start
				ok, err := s.CheckAndSet(ctx, k, "1", time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d of 20 concurrent CheckAndSet won, want exactly 1", round, wins)
		}
	}
}

// TestFreshStoreSeesExistingState: a Store that has never seen a key (a
// restarted node) must read the server, not trust its empty cache: the
// guessed-absent CheckAndSet fails over to a read, counters continue, and
// locks stay held.
func TestFreshStoreSeesExistingState(t *testing.T) {
	cfg := migrated(t)
	a := open(t, cfg)
	ctx := t.Context()
	ns := "fresh" + randomHex(4)
	dk := state.Key{Namespace: ns, Tenant: "t", Kind: state.KindDedup, ID: "x"}
	rl := state.Key{Namespace: ns, Tenant: "t", Kind: state.KindRateLimit, ID: "r"}
	if ok, err := a.CheckAndSet(ctx, dk, "1", time.Minute); err != nil || !ok {
		t.Fatalf("first CheckAndSet = %v, %v", ok, err)
	}
	if _, _, err := a.IncrementWindow(ctx, rl, time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := a.TryLock(ctx, ns+":job", time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	b := open(t, cfg)
	// Several keys in one batch, one of them live: the whole guess fails
	// and the batch is redone from a read.
	var wg sync.WaitGroup
	results := make([]bool, 5)
	for i := range results {
		k := dk
		if i > 0 {
			k.ID = fmt.Sprint("new", i)
		}
		wg.Go(func() {
			ok, err := b.CheckAndSet(ctx, k, "1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			results[i] = ok
		})
	}
	wg.Wait()
	if results[0] {
		t.Error("CheckAndSet of a live key through a fresh Store = true, want false")
	}
	for i, ok := range results[1:] {
		if !ok {
			t.Errorf("CheckAndSet of new key %d through a fresh Store = false, want true", i+1)
		}
	}
	if n, _, err := b.IncrementWindow(ctx, rl, time.Minute); err != nil || n != 2 {
		t.Errorf("IncrementWindow through a fresh Store = %d, %v; want 2", n, err)
	}
	if _, err := b.TryLock(ctx, ns+":job", time.Minute); !errors.Is(err, state.ErrLockHeld) {
		t.Errorf("TryLock of a held lock through a fresh Store = %v, want ErrLockHeld", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(ctx, ns+":job", time.Minute); err != nil {
		t.Errorf("TryLock after release through another Store: %v", err)
	}
}

// TestOddBytes: keys and values with quotes, backslashes, control bytes,
// NUL, invalid UTF-8 and multibyte text survive a round trip, both through
// the batched RowBinary INSERT and the SQL-literal conditional INSERT.
func TestOddBytes(t *testing.T) {
	s := open(t, migrated(t))
	ctx := t.Context()
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	odd := []string{"", "'", `\`, `\'`, "'; DROP TABLE x; --", "a\x00b", "tab\tnl\nend\r", "\xff\xfe", "žluťoučký 🐎", all.String()}
	for i, v := range odd {
		k := state.Key{Namespace: "odd" + randomHex(3), Tenant: "t", Kind: "k", ID: "id:" + v}
		if ok, err := s.CheckAndSet(ctx, k, v, 0); err != nil || !ok {
			t.Fatalf("#%d CheckAndSet: %v, %v", i, ok, err)
		}
		if got, err := s.Get(ctx, k); err != nil || got != v {
			t.Fatalf("#%d Get after CheckAndSet = %q, %v; want %q", i, got, err, v)
		}
		if err := s.Set(ctx, k, v+v, 0); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, k); err != nil || got != v+v {
			t.Fatalf("#%d Get after Set = %q, %v; want %q", i, got, err, v+v)
		}
		kvs, err := s.ScanKeys(ctx, k.Namespace, "t", "k", "id:")
		if err != nil || len(kvs) != 1 || kvs[0].Key != k.String() || kvs[0].Value != v+v {
			t.Fatalf("#%d ScanKeys = %q, %v", i, kvs, err)
		}
	}
	// The quoting function on its own, against the server's parser.
	for i, v := range odd {
		out, err := s.cl.do(ctx, "SELECT "+quote(v)+" FORMAT RowBinary", nil, true, "")
		if err != nil {
			t.Fatalf("#%d SELECT literal: %v", i, err)
		}
		r := reader{b: out}
		if got := r.string(); r.done() != nil || got != v {
			t.Fatalf("#%d server read literal %s as %q, want %q", i, quote(v), got, v)
		}
	}
}

func TestNewUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, Config{URL: "http://admin:s3cret-pw@127.0.0.1:1", OpTimeout: 2 * time.Second})
	if err == nil {
		_ = s.Close()
		t.Fatal("New with an unreachable URL succeeded")
	}
	if !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("error %v does not wrap state.ErrUnavailable", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "clickhouse") || !strings.Contains(msg, "127.0.0.1:1") {
		t.Errorf("error %q does not name clickhouse and the address", msg)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error %q leaks the password", msg)
	}
}

func TestConfigRejectsBadIdentifiers(t *testing.T) {
	for _, cfg := range []Config{{Prefix: "a-b"}, {Database: "x; DROP"}, {Prefix: "1x"}} {
		if _, err := New(t.Context(), cfg); err == nil || errors.Is(err, state.ErrUnavailable) {
			t.Errorf("New(%+v) = %v, want a validation error", cfg, err)
		}
	}
}

func TestCheckSchema(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	ctx := t.Context()
	err := s.CheckSchema(ctx)
	if err == nil {
		t.Fatal("CheckSchema before Migrate = nil, want missing tables")
	}
	for _, name := range []string{"state", "locks", "timeout_index"} {
		if !strings.Contains(err.Error(), "default."+cfg.Prefix+name) {
			t.Errorf("CheckSchema error %q does not name table %s", err, cfg.Prefix+name)
		}
	}
	t.Cleanup(func() { dropTables(t, s) })
	for range 2 { // idempotent
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
}

// proxy is a TCP proxy to the ClickHouse server that can be cut (listener
// closed, connections dropped) and restored on the same port.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	var ln net.Listener
	var err error
	for range 50 { // the port was just released; retry briefly
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("restore proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestOutage: with the server cut off every kind of operation fails with
// state.ErrUnavailable well within its timeout; once it is back the same
// Store works again without being rebuilt.
func TestOutage(t *testing.T) {
	cfg := migrated(t)
	target := strings.TrimPrefix(cfg.URL, "http://")
	p := startProxy(t, target)
	pcfg := cfg
	pcfg.URL = "http://" + p.addr
	pcfg.OpTimeout = 3 * time.Second
	s := open(t, pcfg)
	ctx := t.Context()
	k := state.Key{Namespace: "out" + randomHex(4), Tenant: "t", Kind: state.KindDedup, ID: "a"}
	if ok, err := s.CheckAndSet(ctx, k, "1", 0); err != nil || !ok {
		t.Fatalf("before the outage: %v, %v", ok, err)
	}

	p.cut()
	// A duplicate of a marker this Store wrote is answered from its own
	// copy of the row, without the server (exact on one node, D17).
	if ok, err := s.CheckAndSet(ctx, k, "1", 0); err != nil || ok {
		t.Errorf("duplicate CheckAndSet during the outage = %v, %v; want false, nil", ok, err)
	}
	ops := map[string]func() error{
		"CheckAndSet(new)": func() error {
			_, err := s.CheckAndSet(ctx, state.Key{Namespace: k.Namespace, Tenant: "t", Kind: "dedup", ID: "b"}, "1", 0)
			return err
		},
		"Get":             func() error { _, err := s.Get(ctx, k); return err },
		"Set":             func() error { return s.Set(ctx, k, "2", 0) },
		"IncrementWindow": func() error { _, _, err := s.IncrementWindow(ctx, k, time.Minute); return err },
		"ScanKeysByKind":  func() error { _, err := s.ScanKeysByKind(ctx, "dedup"); return err },
		"Timeouts":        func() error { _, err := s.GetExpiredTimeouts(ctx, 1); return err },
		"TryLock":         func() error { _, err := s.TryLock(ctx, "x", time.Second); return err },
	}
	for name, f := range ops {
		if err := f(); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s during the outage = %v, want ErrUnavailable", name, err)
		}
	}

	p.restore()
	if ok, err := s.CheckAndSet(ctx, k, "1", 0); err != nil || ok {
		t.Fatalf("CheckAndSet of the live key after the outage = %v, %v; want false, nil", ok, err)
	}
	k2 := state.Key{Namespace: k.Namespace, Tenant: "t", Kind: "dedup", ID: "c"}
	if ok, err := s.CheckAndSet(ctx, k2, "1", 0); err != nil || !ok {
		t.Fatalf("CheckAndSet of a new key after the outage = %v, %v; want true, nil", ok, err)
	}
}

func TestClosedStore(t *testing.T) {
	s := open(t, migrated(t))
	_ = s.Close()
	_, err := s.CheckAndSet(t.Context(), state.Key{Namespace: "n", Tenant: "t", Kind: "k", ID: "i"}, "1", 0)
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("CheckAndSet after Close = %v, want ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestStaleCacheDetected: when another writer (here a second Store, as a
// second gateway node would be) changes a key, the first Store's copy of
// the row is stale; its next write is conditional on the row it assumed,
// so the server refuses it, the batch is redone from a fresh read, and the
// answer reflects the other writer.
func TestStaleCacheDetected(t *testing.T) {
	cfg := migrated(t)
	a, b := open(t, cfg), open(t, cfg)
	ctx := t.Context()
	k := state.Key{Namespace: "stale" + randomHex(4), Tenant: "t", Kind: state.KindState, ID: "sm"}
	if err := a.Set(ctx, k, "v1", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, k, "v2", 0); err != nil { // version 2, unknown to a
		t.Fatal(err)
	}
	if err := a.CompareAndSwap(ctx, k, 1, "from-a", 0); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("CompareAndSwap(1) through the stale Store = %v, want ErrConflict", err)
	}
	if err := a.CompareAndSwap(ctx, k, 2, "from-a", 0); err != nil {
		t.Fatalf("CompareAndSwap(2) after the refresh: %v", err)
	}
	c := state.Key{Namespace: k.Namespace, Tenant: "t", Kind: state.KindCounter, ID: "n"}
	if _, err := a.Increment(ctx, c, 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, c, "41", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Increment(ctx, c, 1, 0); err != nil || n != 42 {
		t.Fatalf("Increment through the stale Store = %d, %v; want 42", n, err)
	}
}
