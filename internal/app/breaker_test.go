package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acteon/acteon-go/internal/config"
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
