package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/ratelimit"
	"github.com/acteon/acteon-go/internal/testenv"
)

// TestRateLimitExactAcrossThreeNodesRedis builds three gateway nodes that
// share one Redis and sends concurrent requests spread over them: every
// caller and tenant limit admits exactly its requests_per_window.
func TestRateLimitExactAcrossThreeNodesRedis(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	t.Setenv(auth.MasterKeyEnv, testMasterKey)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	prefix := "acteon_rltest_" + hex.EncodeToString(rnd[:])

	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "auth.toml"), authFile(t, "ratelimit-jwt-secret-0123456789", ""))
	limits := `
[callers.default]
requests_per_window = 37
window_seconds = 300
[callers.overrides."admin-all"]
requests_per_window = 100000
window_seconds = 300
[tenants]
enabled = true
[tenants.default]
requests_per_window = 100000
window_seconds = 300
[tenants.overrides.globex]
requests_per_window = 23
window_seconds = 300
`
	if err := os.WriteFile(filepath.Join(dir, "ratelimit.toml"), []byte(limits), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`
[state]
backend = "redis"
url = %q
prefix = %q
[auth]
enabled = true
[rate_limit]
enabled = true
on_error = "deny"
`, url, prefix)
	cfgPath := filepath.Join(dir, "acteon.toml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	email := sim.NewRecording("email")
	var nodes []*authEnv
	for i := 0; i < 3; i++ {
		cfg, _, err := config.Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Build(cfg, Options{ExtraProviders: []provider.Provider{email}})
		if err != nil {
			testenv.Unreachable(t, testenv.Redis, err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); _ = a.Close(context.Background()) })
		nodes = append(nodes, &authEnv{app: a, srv: srv})
	}

	// The counters expire with their window; delete them now anyway.
	t.Cleanup(func() {
		for _, b := range []string{"caller:op-acme", "caller:op-globex", "caller:admin-all", "tenant:globex", "tenant:acme"} {
			_, _ = nodes[0].app.State().Delete(context.Background(), ratelimit.Key(b, 300*time.Second))
		}
	})

	// spread sends n requests concurrently, request i to node i%3, and
	// counts the statuses.
	spread := func(n int, cred, method, path string, body func(i int) string) map[int]int {
		var mu sync.Mutex
		got := map[int]int{}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 24)
		for i := 0; i < n; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				code, h, _ := nodes[i%3].call(t, cred, method, path, body(i))
				if code == 429 && h.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				mu.Lock()
				got[code]++
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		return got
	}
	none := func(int) string { return "" }

	// Caller limit: 37 per window for op-acme and, separately, op-globex.
	for _, who := range []string{"key-op-acme", "key-op-globex"} {
		got := spread(100, who, "GET", "/v1/rules", none)
		if got[200] != 37 || got[429] != 63 {
			t.Errorf("%s caller limit across 3 nodes: %v, want exactly 37 x 200 and 63 x 429", who, got)
		}
	}
	// Tenant limit: globex admits 23 dispatches in the window whoever
	// sends them; dry runs are not counted.
	dry := spread(10, "key-admin-all", "POST", "/v1/dispatch?dry_run=true", func(i int) string { return act("", "globex") })
	if dry[200] != 10 {
		t.Errorf("dry runs: %v", dry)
	}
	got := spread(60, "key-admin-all", "POST", "/v1/dispatch", func(i int) string { return act("", "globex") })
	if got[200] != 23 || got[429] != 37 {
		t.Errorf("tenant limit across 3 nodes: %v, want exactly 23 x 200 and 37 x 429", got)
	}
	if n := len(email.Calls()); n != 23 {
		t.Errorf("provider calls = %d, want 23", n)
	}
	// Another tenant is not affected.
	if code, _, body := nodes[0].call(t, "key-admin-all", "POST", "/v1/dispatch", act("", "acme")); code != 200 {
		t.Errorf("acme after globex is limited: %d %s", code, body)
	}
}

// TestRateLimitFileHotReload: with [rate_limit] watch on (the default), a
// changed ratelimit.toml applies without a restart, and a file that no
// longer loads keeps the previous limits.
func TestRateLimitFileHotReload(t *testing.T) {
	limitsPath := filepath.Join(t.TempDir(), "ratelimit.toml")
	limits := func(n int) string {
		return fmt.Sprintf("[callers.default]\nrequests_per_window = %d\nwindow_seconds = 300\n", n)
	}
	writeAtomic(t, limitsPath, limits(3))
	e := newAuthApp(t, fmt.Sprintf("[rate_limit]\nenabled = true\nconfig_path = %q\n", limitsPath),
		authFile(t, "ratelimit-reload-jwt-secret-0123456789", ""))

	get := func() (int, string) {
		code, h, _ := e.call(t, "key-op-acme", "GET", "/v1/rules", "")
		return code, h.Get("X-RateLimit-Limit")
	}
	for i := range 3 {
		if code, lim := get(); code != 200 || lim != "3" {
			t.Fatalf("request %d under limit 3: %d, X-RateLimit-Limit %q", i+1, code, lim)
		}
	}
	if code, _ := get(); code != 429 {
		t.Fatalf("4th request under limit 3: %d, want 429", code)
	}

	writeAtomic(t, limitsPath, limits(50))
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, lim := get()
		if code == 200 && lim == "50" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit 50 not applied 10 s after the file changed: %d, X-RateLimit-Limit %q", code, lim)
		}
		time.Sleep(50 * time.Millisecond)
	}

	writeAtomic(t, limitsPath, "[callers.default\nrequests_per_window = ")
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(e.logs.String(), "rate limit config reload failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload failure logged; logs:\n%s", e.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, lim := get(); code != 200 || lim != "50" {
		t.Fatalf("after a bad file: %d, X-RateLimit-Limit %q; want the previous limit 50 in force", code, lim)
	}
}
