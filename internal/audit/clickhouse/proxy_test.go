package clickhouse

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// proxy is a TCP proxy in front of the test server that a test can cut and
// restore, to play an outage.
type proxy struct {
	t      testing.TB
	target string
	addr   string // stays the same across cut and restore

	mu          sync.Mutex
	l           net.Listener
	conns       map[net.Conn]struct{}
	loseAnswers bool // forward requests but drop the server's answers
	wg          sync.WaitGroup
}

// newProxy starts a proxy to the host of serverURL and returns it with the
// URL to use instead.
func newProxy(t testing.TB, serverURL string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: u.Host, addr: l.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(l)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	u.Host = p.addr
	return p, u.String()
}

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) pipe(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	lose := p.loseAnswers
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); done <- struct{}{} }()
	go func() {
		if lose {
			// Read the answer so the server finishes, then hang up on the
			// client without a byte of it.
			buf := make([]byte, 1)
			if _, err := server.Read(buf); err == nil {
				_ = client.Close()
			}
			_, _ = io.Copy(io.Discard, server)
		} else {
			_, _ = io.Copy(client, server)
		}
		done <- struct{}{}
	}()
	<-done
	_ = client.Close()
	_ = server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// setLoseAnswers makes new connections deliver requests but drop answers,
// and closes the current ones.
func (p *proxy) setLoseAnswers(on bool) {
	p.mu.Lock()
	p.loseAnswers = on
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// cut stops listening (new connections are refused) and closes every open
// connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// restore listens again on the same address.
func (p *proxy) restore() {
	p.t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(l)
}
