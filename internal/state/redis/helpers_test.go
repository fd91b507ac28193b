package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/acteon/acteon-go/internal/state/redis"
	"github.com/acteon/acteon-go/internal/testenv"
)

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// testPrefix returns a key prefix owned by this test run and deletes every
// key under it when tb ends.
func testPrefix(tb testing.TB, rawURL string) string {
	tb.Helper()
	prefix := "acteontest" + randomHex()
	tb.Cleanup(func() { deletePrefix(tb, rawURL, prefix) })
	return prefix
}

// deletePrefix removes every key the store wrote under prefix: entries and
// the timeout index ("prefix:") and locks ("prefix|").
func deletePrefix(tb testing.TB, rawURL, prefix string) {
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		tb.Errorf("cleanup: %v", err)
		return
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, match := range []string{prefix + ":*", prefix + "|*"} {
		iter := c.Scan(ctx, 0, match, 1000).Iterator()
		var batch []string
		flush := func() {
			if len(batch) > 0 {
				if err := c.Unlink(ctx, batch...).Err(); err != nil {
					tb.Errorf("cleanup: unlink: %v", err)
				}
				batch = batch[:0]
			}
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 1000 {
				flush()
			}
		}
		flush()
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: scan: %v", err)
		}
	}
}

// open returns a store on the test server; a configured server that does
// not answer fails the test.
func open(tb testing.TB, cfg redis.Config) *redis.Store {
	tb.Helper()
	s, err := redis.New(context.Background(), cfg)
	if err != nil {
		testenv.Unreachable(tb, testenv.Redis, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawClient is a plain go-redis client on the test server, to look at
// the physical layout.
func rawClient(tb testing.TB, rawURL string) *goredis.Client {
	tb.Helper()
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	c := goredis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// proxy is a TCP proxy in front of the test server that the test can cut
// (close everything), stall (accept but never answer) and restore.
type proxy struct {
	target string
	addr   string // fixed after the first start

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	stall bool
}

func newProxy(t *testing.T, serverURL string) *proxy {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.start(t, false)
	t.Cleanup(p.cut)
	return p
}

// url is the server URL with the proxy's address.
func (p *proxy) url(serverURL string) string {
	u, _ := url.Parse(serverURL)
	u.Host = p.addr
	return u.String()
}

func (p *proxy) start(t *testing.T, stall bool) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr, p.stall = ln, ln.Addr().String(), stall
	p.mu.Unlock()
	go p.accept(ln)
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.mu.Lock()
		stall := p.stall
		p.mu.Unlock()
		if stall {
			go func() { _, _ = io.Copy(io.Discard, c) }()
			continue
		}
		go func() {
			up, err := net.Dial("tcp", p.target)
			if err != nil || !p.track(up) {
				_ = c.Close()
				return
			}
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			_, _ = io.Copy(c, up)
			_ = c.Close()
		}()
	}
}

// cut closes the listener and every connection, as a server going away.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// eventually polls f until it returns nil or the wait is over.
func eventually(wait time.Duration, f func() error) error {
	deadline := time.Now().Add(wait)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var errWrongResult = errors.New("wrong result")
