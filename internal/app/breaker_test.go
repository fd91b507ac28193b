package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/testenv"
)

// Circuit breakers on: the app builds, and the admin endpoints trip and
// reset a provider's breaker.
func TestBuildWithCircuitBreakers(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`
[circuit_breaker]
enabled = true
failure_threshold = 2

[[providers]]
name = "email"
type = "log"
`), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	for _, step := range []struct{ method, path, want string }{
		{"GET", "/admin/circuit-breakers", `"state":"closed"`},
		{"POST", "/admin/circuit-breakers/email/trip", `"state":"open"`},
		{"GET", "/v1/providers/health", `"circuit_breaker_state":"open"`},
		{"POST", "/admin/circuit-breakers/email/reset", `"state":"closed"`},
	} {
		req, _ := http.NewRequest(step.method, srv.URL+step.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(b.String(), step.want) {
			t.Errorf("%s %s: %d %s", step.method, step.path, resp.StatusCode, b.String())
		}
	}
}

// TestCircuitBreakersSharedAcrossNodesRedis: two nodes on one Redis. A
// breaker tripped through node A's admin API stops dispatches on node B
// too (CircuitOpen) within the sync interval, and a reset on B closes it
// on A.
func TestCircuitBreakersSharedAcrossNodesRedis(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	prefix := "acteon_cbtest_" + hex.EncodeToString(rnd[:])
	text := fmt.Sprintf(`
[state]
backend = "redis"
url = %q
prefix = %q
[circuit_breaker]
enabled = true
sync_interval_seconds = 1
[[providers]]
name = "email"
type = "log"
`, url, prefix)
	var nodes []*httptest.Server
	for range 2 {
		cfg, _, err := config.Parse([]byte(text), "t.toml")
		if err != nil {
			t.Fatal(err)
		}
		a, err := Build(cfg, Options{})
		if err != nil {
			testenv.Unreachable(t, testenv.Redis, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() {
			srv.Close()
			_, _ = a.State().Delete(context.Background(), executor.BreakerKey("email"))
			cancel()
			_ = a.Close(context.Background())
		})
		nodes = append(nodes, srv)
	}
	do := func(srv *httptest.Server, method, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10 s: %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	act := `{"namespace":"ns","tenant":"t","provider":"email","action_type":"alert","payload":{}}`

	if got := do(nodes[1], "POST", "/v1/dispatch", act); !strings.Contains(got, "Executed") {
		t.Fatalf("dispatch on B before the trip: %s", got)
	}
	if got := do(nodes[0], "POST", "/admin/circuit-breakers/email/trip", ""); !strings.Contains(got, `"state":"open"`) {
		t.Fatalf("trip on A: %s", got)
	}
	eventually("B sees the breaker A tripped", func() bool {
		return strings.Contains(do(nodes[1], "GET", "/admin/circuit-breakers", ""), `"state":"open"`)
	})
	if got := do(nodes[1], "POST", "/v1/dispatch", act); !strings.Contains(got, "CircuitOpen") {
		t.Fatalf("dispatch on B after the trip on A: %s", got)
	}
	if got := do(nodes[1], "POST", "/admin/circuit-breakers/email/reset", ""); !strings.Contains(got, `"state":"closed"`) {
		t.Fatalf("reset on B: %s", got)
	}
	eventually("A sees the reset done on B", func() bool {
		return strings.Contains(do(nodes[0], "POST", "/v1/dispatch", act), "Executed")
	})
}
