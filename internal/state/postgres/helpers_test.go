package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/testenv"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testPrefix is a table prefix no other test run uses.
func testPrefix() string { return "t" + randomHex(5) + "_" }

// openStore connects to the test server with cfg (URL and Prefix filled in
// when empty) and closes the store when t ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = testenv.URL(t, testenv.Postgres)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		testenv.Unreachable(t, testenv.Postgres, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// migratedPrefix creates the tables under a fresh prefix and drops them when
// t ends (after its parallel subtests).
func migratedPrefix(t testing.TB) string {
	t.Helper()
	p := testPrefix()
	s := openStore(t, Config{Prefix: p, PurgeInterval: -1})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	t.Cleanup(func() {
		if err := s.DropTables(context.Background()); err != nil {
			t.Errorf("DropTables: %v", err)
		}
	})
	return p
}

// proxy is a TCP proxy to the test server that the test can cut (existing
// connections closed, new ones accepted but never answered, like a hung
// server) and restore.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
	return p.cut
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.track(c) {
			continue // cut: hold the connection open and say nothing
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			d, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				return
			}
			p.track(d)
			go func() {
				_, _ = io.Copy(d, c)
				_ = d.Close()
			}()
			_, _ = io.Copy(c, d)
			_ = c.Close()
		}()
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// setCut cuts (true) or restores (false) the proxy; either way every
// current connection is closed.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	p.closeAll()
}

// viaProxy returns the test URL with its host replaced by addr.
func viaProxy(t *testing.T, raw, addr string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("test url: %v", err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	u.Host = addr
	return u.String(), target
}

// eventually retries f until it returns nil or limit passes.
func eventually(limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
