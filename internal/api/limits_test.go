package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func labels(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"l%d":"v"`, i)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func actionWith(payload, metadata string) string {
	return `{"namespace":"ns","tenant":"t","provider":"email","action_type":"x","payload":` + payload + `,"metadata":` + metadata + `}`
}

func TestInputLimits(t *testing.T) {
	srv := newTestServer(t, Options{MaxPayloadDepth: 4, MaxMetadataLabels: 3})
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"depth at the limit", actionWith(nested(4), "{}"), 200, ""},
		{"depth over the limit", actionWith(nested(5), "{}"), 422, "payload: nesting depth exceeds the maximum of 4"},
		{"arrays count too", actionWith(`[[[[[1]]]]]`, "{}"), 422, "nesting depth"},
		{"labels at the limit", actionWith("{}", labels(3)), 200, ""},
		{"labels over the limit", actionWith("{}", labels(4)), 422, "metadata: 4 labels exceed the maximum of 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := post(t, srv.URL+"/v1/dispatch", "application/json", tt.body)
			if code != tt.status || !strings.Contains(body, tt.msg) {
				t.Fatalf("got %d %s, want %d %q", code, body, tt.status, tt.msg)
			}
		})
	}
	// In a batch the over-limit item fails alone (D4).
	code, _, body := post(t, srv.URL+"/v1/dispatch/batch", "application/json",
		"["+actionWith(nested(9), "{}")+","+actionWith("{}", "{}")+"]")
	var items []map[string]any
	if err := json.Unmarshal([]byte(body), &items); code != 200 || err != nil || len(items) != 2 {
		t.Fatalf("batch: %d %s", code, body)
	}
	if e, ok := items[0]["error"].(map[string]any); !ok || !strings.Contains(fmt.Sprint(e["message"]), "nesting depth") {
		t.Errorf("item 0 = %v", items[0])
	}
	if _, failed := items[1]["error"]; failed {
		t.Errorf("item 1 = %v", items[1])
	}
}

// countingLimiter rejects after n tenants.
type countingLimiter struct {
	seen [][]string
	deny bool
}

func (c *countingLimiter) AllowTenants(w http.ResponseWriter, r *http.Request, tenants []string) bool {
	c.seen = append(c.seen, tenants)
	if c.deny {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate limit exceeded", "retry_after": 7})
		return false
	}
	return true
}

func TestTenantLimiterHook(t *testing.T) {
	lim := &countingLimiter{}
	srv := newTestServer(t, Options{TenantLimiter: lim})
	a := func(tenant string) string {
		return `{"namespace":"ns","tenant":"` + tenant + `","provider":"email","action_type":"x","payload":{}}`
	}
	post(t, srv.URL+"/v1/dispatch", "application/json", a("acme"))
	post(t, srv.URL+"/v1/dispatch?dry_run=true", "application/json", a("acme"))
	post(t, srv.URL+"/v1/dispatch/batch", "application/json", "["+a("acme")+","+a("globex")+","+a("acme")+"]")
	want := [][]string{{"acme"}, {"acme", "globex"}}
	if fmt.Sprint(lim.seen) != fmt.Sprint(want) {
		t.Errorf("tenant checks = %v, want %v (dry runs skipped, one check per distinct tenant)", lim.seen, want)
	}
	lim.deny = true
	if code, h, _ := post(t, srv.URL+"/v1/dispatch", "application/json", a("acme")); code != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("denied: %d %v", code, h)
	}
}

func TestAuthRoutesDisabled(t *testing.T) {
	mux := http.NewServeMux()
	AuthRoutes{Config: func() any { return map[string]any{"server": map[string]any{"port": 1}} }}.Register(mux)
	for _, p := range []string{"/v1/auth/login", "/v1/auth/logout"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("POST", p, strings.NewReader(`{"username":"a","password":"b"}`)))
		if w.Code != 404 || !strings.Contains(w.Body.String(), "authentication is not enabled") {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/admin/config", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"port":1`) {
		t.Errorf("admin config (anonymous admin): %d %s", w.Code, w.Body)
	}
}
