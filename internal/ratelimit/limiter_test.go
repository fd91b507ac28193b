package ratelimit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

func TestParseDefaultsQuirk(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Config
	}{
		{"empty file: every tier 1000/60", "", Config{
			CallerDefault: Limit{1000, time.Minute}, CallerAnonymous: Limit{1000, time.Minute}, TenantDefault: Limit{1000, time.Minute},
		}},
		{"[callers] present: anonymous 100/60", "[callers]\n", Config{
			CallerDefault: Limit{1000, time.Minute}, CallerAnonymous: Limit{100, time.Minute}, TenantDefault: Limit{1000, time.Minute},
		}},
		{"[tenants] present: tenant default 10000/60", "[tenants]\nenabled = true\n", Config{
			CallerDefault: Limit{1000, time.Minute}, CallerAnonymous: Limit{1000, time.Minute}, TenantDefault: Limit{10000, time.Minute}, TenantsEnabled: true,
		}},
		{"overrides inherit missing keys from default", `
[callers.default]
requests_per_window = 10
window_seconds = 5
[callers.overrides."ci-bot"]
requests_per_window = 50
[tenants.overrides.acme]
window_seconds = 1
`, Config{
			CallerDefault: Limit{10, 5 * time.Second}, CallerAnonymous: Limit{100, time.Minute}, TenantDefault: Limit{10000, time.Minute},
			CallerOverrides: map[string]Limit{"ci-bot": {50, 5 * time.Second}}, TenantOverrides: map[string]Limit{"acme": {10000, time.Second}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Parse([]byte(tt.doc), "ratelimit.toml")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.CallerOverrides == nil {
				tt.want.CallerOverrides = map[string]Limit{}
			}
			if tt.want.TenantOverrides == nil {
				tt.want.TenantOverrides = map[string]Limit{}
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := Parse([]byte("[callers.default]\nrequests_per_window = 0\n"), "r.toml"); err == nil || !strings.Contains(err.Error(), "callers.default.requests_per_window") {
		t.Errorf("zero limit: %v", err)
	}
	if _, w, _ := Parse([]byte("[callers]\nbogus = 1\n"), "r.toml"); len(w) != 1 {
		t.Errorf("unknown key warnings = %v", w)
	}
}

func TestCallerBuckets(t *testing.T) {
	c, _, _ := Parse([]byte("[callers.overrides.vip]\nrequests_per_window = 7\n"), "r")
	for id, want := range map[string]string{"": "caller:_anonymous", "bob": "caller:bob", "vip": "caller:vip"} {
		if b, _ := c.Caller(id); b != want {
			t.Errorf("Caller(%q) bucket = %q, want %q", id, b, want)
		}
	}
	if _, l := c.Caller("vip"); l.Requests != 7 {
		t.Errorf("override limit = %d", l.Requests)
	}
}

func newLimiter(t *testing.T, doc string, st state.Store, onError string) *Limiter {
	t.Helper()
	c, _, err := Parse([]byte(doc), "ratelimit.toml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{Config: c, State: st, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The limit is exact under concurrency: of N concurrent requests exactly
// limit pass.
func TestCheckExactUnderConcurrency(t *testing.T) {
	st := memory.New(memory.Options{})
	l := newLimiter(t, "", st, "")
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.Check(t.Context(), "caller:x", Limit{100, time.Minute}).Allowed {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Errorf("allowed %d of 300, want exactly 100", ok.Load())
	}
}

func TestWindowRestartsWithClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(memory.Options{Clock: clk})
	l := newLimiter(t, "", st, "")
	lim := Limit{2, 10 * time.Second}
	var got []bool
	for i := 0; i < 3; i++ {
		got = append(got, l.Check(t.Context(), "b", lim).Allowed)
	}
	d := l.Check(t.Context(), "b", lim)
	if d.Allowed || d.RetryAfter != 10*time.Second || d.Remaining != 0 {
		t.Errorf("rejection = %+v", d)
	}
	clk.Advance(4 * time.Second)
	if d := l.Check(t.Context(), "b", lim); d.Allowed || d.RetryAfter != 6*time.Second {
		t.Errorf("later rejection = %+v, want retry after 6s", d)
	}
	clk.Advance(6 * time.Second)
	got = append(got, l.Check(t.Context(), "b", lim).Allowed)
	if diff := cmp.Diff([]bool{true, true, false, true}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

type downStore struct{ state.Store }

func (downStore) IncrementWindow(context.Context, state.Key, time.Duration) (int64, time.Duration, error) {
	return 0, 0, state.ErrUnavailable
}

func TestOnError(t *testing.T) {
	down := downStore{memory.New(memory.Options{})}
	if d := newLimiter(t, "", down, "allow").Check(t.Context(), "b", Limit{5, time.Minute}); !d.Allowed || d.Remaining != 5 {
		t.Errorf("allow: %+v", d)
	}
	if d := newLimiter(t, "", down, "deny").Check(t.Context(), "b", Limit{5, time.Minute}); d.Allowed || d.RetryAfter != time.Minute {
		t.Errorf("deny: %+v", d)
	}
	if _, err := New(Options{Config: &Config{}, State: down, OnError: "maybe"}); err == nil {
		t.Error("on_error maybe accepted")
	}
}

func TestMiddleware(t *testing.T) {
	st := memory.New(memory.Options{})
	l := newLimiter(t, "[callers.default]\nrequests_per_window = 2\nwindow_seconds = 60\n[callers.anonymous]\nrequests_per_window = 1\n", st, "")
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	do := func(path, caller string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if caller != "" {
			r = r.WithContext(auth.WithIdentity(r.Context(), &auth.Identity{CallerID: caller, Method: "api_key"}))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := do("/v1/audit", "bob")
	if w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "2" || w.Header().Get("X-RateLimit-Remaining") != "1" || w.Header().Get("X-RateLimit-Reset") != "60" {
		t.Errorf("first: %d %v", w.Code, w.Header())
	}
	do("/v1/audit", "bob")
	w = do("/v1/audit", "bob")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || w.Header().Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("third: %d %v", w.Code, w.Header())
	}
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if body["error"] != "rate limit exceeded" || body["limit"] != float64(2) || body["retry_after"] == nil {
		t.Errorf("body = %v", body)
	}
	// Callers have separate buckets; public routes are never limited.
	if w := do("/v1/audit", "carol"); w.Code != 200 {
		t.Errorf("other caller: %d", w.Code)
	}
	if w := do("/v1/audit", ""); w.Code != 200 {
		t.Errorf("anonymous first: %d", w.Code)
	}
	if w := do("/v1/audit", ""); w.Code != 429 {
		t.Errorf("anonymous second: %d", w.Code)
	}
	for i := 0; i < 5; i++ {
		if w := do("/health", ""); w.Code != 200 || w.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("public route limited: %d", w.Code)
		}
	}
}

func TestTenants(t *testing.T) {
	st := memory.New(memory.Options{})
	l := newLimiter(t, "[tenants]\nenabled = true\n[tenants.default]\nrequests_per_window = 2\n[tenants.overrides.big]\nrequests_per_window = 100\n", st, "")
	// A batch counts each distinct tenant once.
	if d := l.CheckTenants(t.Context(), []string{"acme", "acme", "acme"}); !d.Allowed {
		t.Fatal("first batch rejected")
	}
	if d := l.CheckTenants(t.Context(), []string{"acme"}); !d.Allowed {
		t.Fatal("second request rejected")
	}
	if d := l.CheckTenants(t.Context(), []string{"big", "acme"}); d.Allowed || d.Limit != 2 {
		t.Errorf("third acme: %+v", d)
	}
	w := httptest.NewRecorder()
	if l.AllowTenants(w, httptest.NewRequest("POST", "/v1/dispatch", nil), []string{"acme"}) || w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Errorf("AllowTenants: %d %v", w.Code, w.Header())
	}
	off := newLimiter(t, "[tenants]\nenabled = false\n[tenants.default]\nrequests_per_window = 1\n", st, "")
	for i := 0; i < 3; i++ {
		if !off.CheckTenants(t.Context(), []string{"x"}).Allowed {
			t.Fatal("disabled tenant limit rejected")
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	st := memory.New(memory.Options{})
	c, _, _ := Parse(nil, "")
	l, _ := New(Options{Config: c, State: st})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.Check(ctx, "caller:bench", Limit{1 << 62, time.Hour})
	}
}
