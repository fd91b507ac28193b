package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// blockingProvider holds every call until release is closed.
type blockingProvider struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingProvider) Name() string                      { return "slow" }
func (b *blockingProvider) HealthCheck(context.Context) error { return nil }
func (b *blockingProvider) Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error) {
	b.entered <- struct{}{}
	<-b.release
	return &action.ProviderResponse{Status: action.StatusSuccess}, nil
}

func newTestServer(t *testing.T, o Options, provs ...provider.Provider) *httptest.Server {
	t.Helper()
	st := memory.New(memory.Options{})
	reg, err := provider.NewRegistry(append(provs, sim.NewRecording("email"))...)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := executor.New(executor.Options{MaxConcurrent: 100, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{State: st, Providers: reg, Executor: exec})
	if err != nil {
		t.Fatal(err)
	}
	o.Gateway = gw
	srv := httptest.NewServer(New(o).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, ct, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Post(url, ct, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const oneAction = `{"namespace":"ns","tenant":"t","provider":"slow","action_type":"x","payload":{}}`

func TestDispatchBeyondConcurrencyCapIs429(t *testing.T) {
	bp := &blockingProvider{entered: make(chan struct{}, 4), release: make(chan struct{})}
	srv := newTestServer(t, Options{MaxConcurrentDispatch: 2}, bp)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post(t, srv.URL+"/v1/dispatch", "application/json", oneAction)
		}()
	}
	<-bp.entered
	<-bp.entered
	status, hdr, body := post(t, srv.URL+"/v1/dispatch", "application/json", oneAction)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" || !strings.Contains(body, `"retry_after":1`) {
		t.Errorf("third concurrent dispatch: %d %q %s", status, hdr.Get("Retry-After"), body)
	}
	// A batch needs one permit per action.
	status, _, _ = post(t, srv.URL+"/v1/dispatch/batch", "application/json", "["+oneAction+"]")
	if status != http.StatusTooManyRequests {
		t.Errorf("batch while full: %d, want 429", status)
	}
	close(bp.release)
	wg.Wait()
	status, _, body = post(t, srv.URL+"/v1/dispatch", "application/json", `{"namespace":"ns","tenant":"t","provider":"email","action_type":"x","payload":{}}`)
	if status != 200 {
		t.Errorf("after the burst: %d %s", status, body)
	}
}

func TestBadRequests(t *testing.T) {
	srv := newTestServer(t, Options{MaxBodyBytes: 1024, MaxBatchSize: 2})
	good := `{"namespace":"ns","tenant":"t","provider":"email","action_type":"x","payload":{}}`
	tests := []struct {
		name, path, ct, body string
		status               int
		contains             string
	}{
		{"malformed", "/v1/dispatch", "application/json", `{"x":`, 400, `"code":"BAD_REQUEST"`},
		{"missing field", "/v1/dispatch", "application/json", `{"tenant":"t"}`, 422, "namespace"},
		{"wrong type", "/v1/dispatch", "application/json", `{"namespace":1,"tenant":"t","provider":"p","action_type":"x","payload":{}}`, 422, "namespace"},
		{"no content type", "/v1/dispatch", "", good, 415, `"error"`},
		{"wrong content type", "/v1/dispatch", "text/plain", good, 415, `"error"`},
		{"charset is fine", "/v1/dispatch", "application/json; charset=utf-8", good, 200, `"Executed"`},
		{"too large", "/v1/dispatch", "application/json", `{"payload":"` + strings.Repeat("x", 2000) + `"}`, 413, `"code":"PAYLOAD_TOO_LARGE"`},
		{"batch not an array", "/v1/dispatch/batch", "application/json", good, 422, "array"},
		{"batch too big", "/v1/dispatch/batch", "application/json", "[" + good + "," + good + "," + good + "]", 400, `[{"error":"batch size 3 exceeds maximum of 2"`},
		{"bad dry_run", "/v1/dispatch?dry_run=1", "application/json", good, 400, "dry_run"},
		{"evaluate missing field", "/v1/rules/evaluate", "application/json", `{"namespace":"n"}`, 422, "tenant"},
		{"reload not configured", "/v1/rules/reload", "application/json", `{}`, 404, `"error"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := post(t, srv.URL+tc.path, tc.ct, tc.body)
			if status != tc.status || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %s, want %d containing %q", status, body, tc.status, tc.contains)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("error bodies must be JSON, content type %q", ct)
			}
		})
	}
}
