package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/provider"
)

func testAction() *action.Action {
	return &action.Action{
		ID: "a-1", Namespace: "ns", Tenant: "t", Provider: "hook", ActionType: "notify",
		Payload:   map[string]any{"msg": "hi"},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// recorded is what the test server saw.
type recorded struct {
	mu      sync.Mutex
	method  string
	body    string
	headers http.Header
}

func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.method, rec.body, rec.headers = r.Method, string(b), r.Header.Clone()
		rec.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "hook"
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestExecuteSuccess(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		ctype    string
		body     string
		wantBody any
	}{
		{"json object", 200, "application/json", `{"id":7,"ok":true}`, map[string]any{"id": jsonNumber("7"), "ok": true}},
		{"json array with 201", 201, "application/json", `[1,"a"]`, []any{jsonNumber("1"), "a"}},
		{"text body is a string", 200, "text/plain", "accepted", "accepted"},
		{"invalid json is a string", 200, "application/json", `{"a":`, `{"a":`},
		{"empty 204 body is null", 204, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.Header().Set("X-Request-Id", "req-9")
				w.Header().Set("X-Internal", "not copied")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			p := newProvider(t, Config{URL: srv.URL + "/hook", Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Team": "ops"}})
			resp, err := p.Execute(t.Context(), testAction())
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			wantHeaders := map[string]string{"x-request-id": "req-9"}
			if tt.ctype != "" {
				wantHeaders["content-type"] = tt.ctype
			}
			want := &action.ProviderResponse{Status: action.StatusSuccess, Body: tt.wantBody, Headers: wantHeaders}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			wantJSON, _ := testAction().MarshalJSON()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.method != http.MethodPost {
				t.Errorf("method = %s, want POST", rec.method)
			}
			if rec.body != string(wantJSON) {
				t.Errorf("body = %s\nwant   %s", rec.body, wantJSON)
			}
			for k, v := range map[string]string{"Content-Type": "application/json", "Authorization": "Bearer s3cret", "X-Team": "ops"} {
				if got := rec.headers.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func jsonNumber(s string) any {
	v, _ := action.DecodeJSONValue([]byte(s))
	return v
}

func TestExecuteConfiguredMethod(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	p := newProvider(t, Config{URL: srv.URL, Method: http.MethodPut})
	if _, err := p.Execute(t.Context(), testAction()); err != nil {
		t.Fatal(err)
	}
	if rec.method != http.MethodPut {
		t.Errorf("method = %s, want PUT", rec.method)
	}
}

func TestExecuteStatusClasses(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wantKind   provider.Kind
		wantRetry  bool
		wantAfter  time.Duration
	}{
		{400, "", provider.KindExecutionFailed, false, 0},
		{401, "", provider.KindExecutionFailed, false, 0},
		{404, "", provider.KindExecutionFailed, false, 0},
		{409, "", provider.KindExecutionFailed, false, 0},
		{422, "", provider.KindExecutionFailed, false, 0},
		{304, "", provider.KindExecutionFailed, false, 0},
		{408, "", provider.KindConnection, true, 0},
		{425, "", provider.KindConnection, true, 0},
		{429, "", provider.KindRateLimited, true, 0},
		{429, "7", provider.KindRateLimited, true, 7 * time.Second},
		{429, "Fri, 02 Jan 2026 03:05:05 GMT", provider.KindRateLimited, true, 60 * time.Second},
		{429, "garbage", provider.KindRateLimited, true, 0},
		{429, "-3", provider.KindRateLimited, true, 0},
		{500, "", provider.KindConnection, true, 0},
		{502, "", provider.KindConnection, true, 0},
		{503, "3", provider.KindConnection, true, 3 * time.Second},
		{504, "", provider.KindConnection, true, 0},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+"/"+tt.retryAfter, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, "nope")
			})
			p := newProvider(t, Config{URL: srv.URL})
			p.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
			resp, err := p.Execute(t.Context(), testAction())
			if resp != nil {
				t.Errorf("response = %+v, want nil on HTTP %d", resp, tt.status)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *provider.Error", err)
			}
			if pe.Kind != tt.wantKind || pe.Retryable() != tt.wantRetry || pe.RetryAfter != tt.wantAfter {
				t.Errorf("error = {%s retryable=%v after=%s}, want {%s %v %s}", pe.Kind, pe.Retryable(), pe.RetryAfter, tt.wantKind, tt.wantRetry, tt.wantAfter)
			}
			if tt.status != 304 && !strings.Contains(pe.Message, "nope") {
				t.Errorf("message %q lacks the error body", pe.Message)
			}
		})
	}
}

func TestErrorBodyTruncated(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, strings.Repeat("x", 5000))
	})
	p := newProvider(t, Config{URL: srv.URL})
	_, err := p.Execute(t.Context(), testAction())
	want := "execution failed: HTTP 400: " + strings.Repeat("x", 256) + "...[truncated]"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestTruncateBodyKeepsCharacters(t *testing.T) {
	got := truncateBody([]byte(strings.Repeat("é", 200))) // 400 bytes
	if !strings.HasSuffix(got, "...[truncated]") || !strings.HasPrefix(strings.Repeat("é", 200), strings.TrimSuffix(got, "...[truncated]")) {
		t.Errorf("truncated body split a character: %q", got)
	}
}

func TestTimeouts(t *testing.T) {
	block := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-block:
		}
	})
	defer close(block)

	t.Run("own timeout", func(t *testing.T) {
		p := newProvider(t, Config{URL: srv.URL})
		p.timeout = 30 * time.Millisecond
		_, err := p.Execute(t.Context(), testAction())
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout || !pe.Retryable() || pe.Error() != "timeout after 30ms" {
			t.Errorf("err = %v, want retryable TIMEOUT after 30ms", err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		p := newProvider(t, Config{URL: srv.URL})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		_, err := p.Execute(ctx, testAction())
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout || !pe.Retryable() {
			t.Errorf("err = %v, want retryable TIMEOUT", err)
		}
	})
}

func TestURLNeverInErrors(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	secretPath := "/hooks/SECRETPATH?token=SECRETTOKEN"

	p := newProvider(t, Config{URL: srv.URL + secretPath})
	_, err := p.Execute(t.Context(), testAction())
	assertNoSecret(t, err)

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	p = newProvider(t, Config{URL: "http://user:SECRETPASS@" + strings.TrimPrefix(closedURL, "http://") + secretPath})
	_, err = p.Execute(t.Context(), testAction())
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindConnection || !pe.Retryable() {
		t.Errorf("connection refused: err = %v, want retryable CONNECTION", err)
	}
	assertNoSecret(t, err)
	assertNoSecret(t, p.HealthCheck(t.Context()))

	_, verr := New(Config{Name: "h", URL: "ftp://x/SECRETPATH"})
	assertNoSecret(t, verr)
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks the URL: %v", err)
	}
}

func TestHealthCheck(t *testing.T) {
	tests := []struct {
		status int
		ok     bool
	}{{200, true}, {204, true}, {404, true}, {405, true}, {499, true}, {500, false}, {503, false}}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tt.status) })
			p := newProvider(t, Config{URL: srv.URL, Headers: map[string]string{"X-Key": "k"}})
			err := p.HealthCheck(t.Context())
			if (err == nil) != tt.ok {
				t.Errorf("HealthCheck = %v, want healthy=%v", err, tt.ok)
			}
			if rec.method != http.MethodHead || rec.headers.Get("X-Key") != "k" {
				t.Errorf("health request = %s with X-Key %q, want HEAD with the configured headers", rec.method, rec.headers.Get("X-Key"))
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"valid", Config{Name: "h", URL: "https://example.com/x"}, ""},
		{"valid with everything", Config{Name: "h", URL: "http://h:8080", Method: "PATCH", TimeoutSeconds: 5, Headers: map[string]string{"X-A": "b"}}, ""},
		{"missing all", Config{}, "webhook ?: name: must not be empty\nurl: must not be empty"},
		{"relative url", Config{Name: "h", URL: "/x"}, "webhook h: url: must be an absolute http or https URL"},
		{"bad scheme", Config{Name: "h", URL: "ftp://h/x"}, "webhook h: url: must be an absolute http or https URL"},
		{"negative timeout", Config{Name: "h", URL: "http://h", TimeoutSeconds: -1}, "webhook h: timeout_seconds: must be >= 0, got -1"},
		{"bad method", Config{Name: "h", URL: "http://h", Method: "GE T"}, `webhook h: method: invalid HTTP method "GE T"`},
		{"bad header", Config{Name: "h", URL: "http://h", Headers: map[string]string{"X A": "v", "X-B": "a\r\nb"}},
			"webhook h: headers: invalid header name \"X A\"\nheaders.X-B: value must not contain CR, LF or NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate = %q\nwant       %q", got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := newProvider(t, Config{URL: "http://h"})
	if p.method != http.MethodPost || p.timeout != 30*time.Second || p.client != sharedClient {
		t.Errorf("defaults = %s %s shared=%v", p.method, p.timeout, p.client == sharedClient)
	}
}
