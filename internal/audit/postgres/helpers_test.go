package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/testenv"
)

// testURL is the real server's URL (skips or fails per testenv).
func testURL(t testing.TB) string {
	t.Helper()
	return testenv.URL(t, testenv.Postgres)
}

func randomPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "acteon_test_" + hex.EncodeToString(b[:]) + "_"
}

// openStore connects to rawURL with cfg (URL and, if empty, Prefix filled
// in) and closes the store at the end of the test. It does not migrate.
func openStore(t testing.TB, rawURL string, cfg Config) *Store {
	t.Helper()
	cfg.URL = rawURL
	if cfg.Prefix == "" {
		cfg.Prefix = randomPrefix()
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 2
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		testenv.Unreachable(t, testenv.Postgres, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newTestStore returns a migrated store on a table of its own, dropped at
// the end of the test.
func newTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s := openStore(t, testURL(t), cfg)
	dropAtEnd(t, s)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// dropAtEnd drops s's table when the test ends (registered after the
// store's Close, so it runs before it).
func dropAtEnd(t testing.TB, s *Store) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS "+s.table); err != nil {
			t.Errorf("drop %s: %v", s.table, err)
		}
	})
}

// rawCount runs a count query on s's table.
func rawCount(t testing.TB, s *Store, expr, cond string, args ...any) int {
	t.Helper()
	var n int
	sql := "SELECT " + expr + " FROM " + s.table
	if cond != "" {
		sql += " WHERE " + cond
	}
	if err := s.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

var testBase = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// testRecord is a plain record dispatched at testBase+at.
func testRecord(id string, at time.Duration) audit.Record {
	return audit.Record{
		ID:             id,
		ActionID:       "action-" + id,
		Namespace:      "ns",
		Tenant:         "tenant-1",
		Provider:       "webhook",
		ActionType:     "alert",
		Verdict:        "allow",
		Outcome:        "executed",
		VerdictDetails: json.RawMessage(`{"verdict":"allow"}`),
		OutcomeDetails: json.RawMessage(`{"status":"Success"}`),
		Metadata:       map[string]string{"env": "test"},
		DispatchedAt:   testBase.Add(at),
		CompletedAt:    testBase.Add(at + 3*time.Millisecond),
		DurationMs:     3,
	}
}

// proxy is a TCP proxy to a real server that a test can cut and restore.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startProxy listens on a free local port and forwards to target until the
// test ends.
func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.down { // cut while dialling
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		p.wg.Go(func() { pipe(up, c) })
		p.wg.Go(func() { pipe(c, up) })
	}
}

// cut breaks every open connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// viaProxy returns rawURL with its host replaced by the proxy's, and the
// original host:port.
func viaProxy(t testing.TB, rawURL string) (proxied string, p *proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		t.Fatalf("%s is not a postgres:// URL the proxy test can rewrite", testenv.Postgres)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p = startProxy(t, target)
	u.Host = p.addr()
	return u.String(), p
}

// observed records the errors of its store's Append calls.
type observed struct {
	audit.Store
	mu   sync.Mutex
	errs []error
}

func (o *observed) Append(ctx context.Context, rs []audit.Record) error {
	err := o.Store.Append(ctx, rs)
	if err != nil {
		o.mu.Lock()
		o.errs = append(o.errs, err)
		o.mu.Unlock()
	}
	return err
}

func (o *observed) failures() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]error(nil), o.errs...)
}

// wantUnavailable fails unless err wraps audit.ErrUnavailable.
func wantUnavailable(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("%s: error %v does not wrap audit.ErrUnavailable", what, err)
	}
}
