package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/testenv"
)

// The end-to-end test builds the real binary, starts it on a free port with
// a config file and a rules directory, and uses every core endpoint over
// HTTP the way a client would.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "acteon-e2e")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "acteon")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building acteon: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type server struct {
	t    *testing.T
	base string
	cmd  *exec.Cmd
	logs *syncWriter
	done chan error
}

// start runs the binary with the given config and waits for /health.
func start(t *testing.T, configPath string, extra ...string) *server {
	t.Helper()
	port := freePort(t)
	args := append([]string{"serve", "-c", configPath, "--port", fmt.Sprint(port)}, extra...)
	cmd := exec.Command(binPath, args...)
	logs := &syncWriter{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, logs: logs, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited early: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server did not become healthy\n%s", logs.String())
	return nil
}

// syncWriter collects the child's stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (s *server) do(method, path, contentType string, body []byte) resp {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, b}
}

func (s *server) post(path, body string) resp {
	return s.do("POST", path, "application/json", []byte(body))
}

func (s *server) get(path string) resp { return s.do("GET", path, "", nil) }

func expect(t *testing.T, r resp, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(string(r.body), c) {
			t.Fatalf("body %s does not contain %q", r.body, c)
		}
	}
}

const rulesYAML = `rules:
  - name: block-spam
    priority: 1
    condition: {field: action.action_type, eq: spam}
    action: {type: suppress}
  - name: dedup-alerts
    priority: 10
    condition: {field: action.action_type, eq: alert}
    action: {type: deduplicate, ttl_seconds: 300}
  - name: throttle-digest
    priority: 20
    condition: {field: action.action_type, eq: digest}
    action: {type: throttle, max_count: 3, window_seconds: 3600}
  - name: urgent-to-sms
    priority: 30
    condition: 'action.payload.priority == "urgent"'
    action: {type: reroute, target_provider: sms}
  - name: tag
    priority: 40
    description: adds a tag
    condition: {field: action.action_type, eq: tagged}
    action: {type: modify, changes: {tagged: true}}
`

func action(typ, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"namespace":"ns","tenant":"acme","provider":"email","action_type":%q,"payload":{"to":"u@example.com"}%s}`, typ, extra)
}

func writeConfig(t *testing.T, hookURL, failURL string) (cfgPath, rulesDir string) {
	t.Helper()
	dir := t.TempDir()
	rulesDir = filepath.Join(dir, "rules")
	if err := os.Mkdir(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "main.yaml"), []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
[rules]
directory = "rules"
watch = true

[audit]
enabled = true
flush_interval_ms = 10

[executor]
max_retries = 1
timeout_seconds = 2
dlq_enabled = true

[[providers]]
name = "email"
type = "log"

[[providers]]
name = "sms"
type = "log"

[[providers]]
name = "hook"
type = "webhook"
url = %q
headers = { "X-Token" = "abc" }

[[providers]]
name = "broken"
type = "webhook"
url = %q
`, hookURL, failURL)
	cfgPath = filepath.Join(dir, "acteon.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, rulesDir
}

func TestEndToEnd(t *testing.T) {
	var hookCalls atomic.Int64
	var lastHook atomic.Value
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookCalls.Add(1)
		b, _ := io.ReadAll(r.Body)
		lastHook.Store(r.Header.Get("X-Token") + " " + string(b))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"accepted":true}`)
	}))
	defer hook.Close()
	var brokenCalls atomic.Int64
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		brokenCalls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	cfgPath, rulesDir := writeConfig(t, hook.URL, broken.URL)
	s := start(t, cfgPath)

	t.Run("dispatch executes on the log provider", func(t *testing.T) {
		r := s.post("/v1/dispatch", action("send_email", `"id":"first"`))
		expect(t, r, 200, `{"Executed":{"status":"success","body":{"logged":true,"provider":"email"},"headers":{}}}`)
	})
	t.Run("webhook provider receives the action JSON with its headers", func(t *testing.T) {
		r := s.post("/v1/dispatch", `{"namespace":"ns","tenant":"acme","provider":"hook","action_type":"ping","payload":{"n":1}}`)
		expect(t, r, 200, `"Executed"`, `"accepted":true`)
		got, _ := lastHook.Load().(string)
		if !strings.HasPrefix(got, "abc ") || !strings.Contains(got, `"action_type":"ping"`) {
			t.Errorf("webhook got %q", got)
		}
	})
	t.Run("suppress, reroute via CEL, modify", func(t *testing.T) {
		expect(t, s.post("/v1/dispatch", action("spam", "")), 200, `{"Suppressed":{"rule":"block-spam"}}`)
		expect(t, s.post("/v1/dispatch", `{"namespace":"ns","tenant":"acme","provider":"email","action_type":"x","payload":{"priority":"urgent"}}`),
			200, `{"Rerouted":{"original_provider":"email","new_provider":"sms"`)
		expect(t, s.post("/v1/dispatch", action("tagged", "")), 200, `"Executed"`)
	})
	t.Run("unknown provider is a Failed outcome", func(t *testing.T) {
		expect(t, s.post("/v1/dispatch", `{"namespace":"ns","tenant":"acme","provider":"nope","action_type":"x","payload":{}}`),
			200, `{"Failed":{"code":"PROVIDER_NOT_FOUND","message":"provider not found: nope","retryable":false,"attempts":0}}`)
	})
	t.Run("dry run", func(t *testing.T) {
		expect(t, s.post("/v1/dispatch?dry_run=true", action("spam", "")), 200,
			`{"DryRun":{"verdict":"suppress","matched_rule":"block-spam","would_be_provider":"email"}}`)
		expect(t, s.post("/v1/dispatch?dry_run=maybe", action("spam", "")), 400, `"error"`)
	})
	t.Run("bad input", func(t *testing.T) {
		expect(t, s.post("/v1/dispatch", `{"namespace":`), 400, `"code":"BAD_REQUEST"`)
		expect(t, s.post("/v1/dispatch", `{"tenant":"t","provider":"p","action_type":"x","payload":{}}`), 422, "namespace")
		expect(t, s.do("POST", "/v1/dispatch", "text/plain", []byte(action("x", ""))), 415, `"error"`)
		big := `{"namespace":"ns","tenant":"t","provider":"email","action_type":"x","payload":{"blob":"` + strings.Repeat("x", 3<<20) + `"}}`
		expect(t, s.post("/v1/dispatch", big), 413, `"code":"PAYLOAD_TOO_LARGE"`)
		expect(t, s.get("/v1/nope"), 404, `"error"`)
	})
	t.Run("batch keeps order and reports bad items in their slot", func(t *testing.T) {
		r := s.post("/v1/dispatch/batch", "["+action("send_email", "")+`,{"tenant":"x"},`+action("spam", "")+"]")
		expect(t, r, 200)
		var items []json.RawMessage
		r.json(t, &items)
		if len(items) != 3 {
			t.Fatalf("want 3 results, got %s", r.body)
		}
		if !strings.HasPrefix(string(items[0]), `{"Executed"`) || !strings.HasPrefix(string(items[1]), `{"error":{"code":"UNPROCESSABLE_ENTITY"`) ||
			!strings.HasPrefix(string(items[2]), `{"Suppressed"`) {
			t.Errorf("batch results %s", r.body)
		}
		expect(t, s.post("/v1/dispatch/batch", "[]"), 200, "[]")
	})
	t.Run("20 concurrent dispatches with one dedup_key execute once", func(t *testing.T) {
		var wg sync.WaitGroup
		results := make([]string, 20)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := s.post("/v1/dispatch", action("alert", `"dedup_key":"disk-full"`))
				results[i] = string(r.body)
			}(i)
		}
		wg.Wait()
		exec, dedup := 0, 0
		for _, b := range results {
			switch {
			case strings.HasPrefix(b, `{"Executed"`):
				exec++
			case b == `"Deduplicated"`:
				dedup++
			default:
				t.Errorf("unexpected result %s", b)
			}
		}
		if exec != 1 || dedup != 19 {
			t.Errorf("executed %d, deduplicated %d; want 1 and 19", exec, dedup)
		}
	})
	t.Run("throttle lets exactly max_count through per window", func(t *testing.T) {
		var results []resp
		for i := 0; i < 6; i++ {
			results = append(results, s.post("/v1/dispatch", action("digest", "")))
		}
		for i, r := range results {
			if i < 3 {
				expect(t, r, 200, `"Executed"`)
				continue
			}
			expect(t, r, 200, `{"Throttled":{"retry_after":{"secs":`)
			if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("throttled response lacks a Retry-After header: %q", ra)
			}
		}
	})
	t.Run("rules list, toggle, evaluate", func(t *testing.T) {
		r := s.get("/v1/rules")
		expect(t, r, 200, `{"name":"block-spam","priority":1,"enabled":true,"description":null}`, `"description":"adds a tag"`)
		expect(t, s.do("PUT", "/v1/rules/block-spam/enabled", "application/json", []byte(`{"enabled":false}`)), 200,
			`{"enabled":false,"name":"block-spam","status":"disabled"}`)
		expect(t, s.post("/v1/dispatch", action("spam", "")), 200, `"Executed"`)
		expect(t, s.do("PUT", "/v1/rules/block-spam/enabled", "application/json", []byte(`{"enabled":true}`)), 200, `"status":"enabled"`)
		expect(t, s.do("PUT", "/v1/rules/nope/enabled", "application/json", []byte(`{"enabled":true}`)), 404, "rule not found: nope")
		r = s.post("/v1/rules/evaluate", `{"namespace":"ns","tenant":"acme","provider":"email","action_type":"tagged","payload":{"a":1},"evaluate_all":true}`)
		expect(t, r, 200, `"verdict":"modify"`, `"matched_rule":"tag"`, `"modified_payload":{"a":1,"tagged":true}`, `"trace":[`)
	})
	t.Run("reload: bad file keeps the old rules, good file swaps", func(t *testing.T) {
		bad := filepath.Join(rulesDir, "z.yaml")
		os.WriteFile(bad, []byte("rules:\n  - name: broken\n    condition: {field: action.x, matches: \"(\"}\n    action: {type: deny}\n"), 0o644)
		r := s.post("/v1/rules/reload", "")
		expect(t, r, 422, "z.yaml", "broken")
		expect(t, s.post("/v1/dispatch", action("spam", "")), 200, `{"Suppressed":{"rule":"block-spam"}}`)
		os.Remove(bad)
		r = s.do("POST", "/v1/rules/reload", "", nil)
		expect(t, r, 200, `"reloaded":5`, `"errors":[]`)
		r = s.post("/v1/rules/reload", fmt.Sprintf(`{"directory":%q}`, rulesDir))
		expect(t, r, 200, `"reloaded":5`)
	})
	t.Run("hot reload on file change", func(t *testing.T) {
		extra := filepath.Join(rulesDir, "a-extra.yaml")
		os.WriteFile(extra, []byte("rules:\n  - {name: block-memo, priority: 0, condition: {field: action.action_type, eq: memo}, action: {type: deny}}\n"), 0o644)
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := s.post("/v1/dispatch?dry_run=true", action("memo", ""))
			if strings.Contains(string(r.body), `"matched_rule":"block-memo"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watcher did not pick up the new file; last answer %s", r.body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		os.Remove(extra)
	})
	t.Run("failing webhook retries, fails, and lands in the DLQ", func(t *testing.T) {
		r := s.post("/v1/dispatch", `{"id":"to-dlq","namespace":"ns","tenant":"acme","provider":"broken","action_type":"x","payload":{}}`)
		expect(t, r, 200, `{"Failed":{"code":"CONNECTION"`, `"retryable":true,"attempts":2}`)
		if n := brokenCalls.Load(); n != 2 {
			t.Errorf("broken webhook called %d times, want 2 (max_retries = 1)", n)
		}
		expect(t, s.get("/v1/dlq/stats"), 200, `{"count":1,"enabled":true}`)
		expect(t, s.post("/v1/dlq/drain", ""), 200, `"count":1`, `"action_id":"to-dlq"`)
		expect(t, s.get("/v1/dlq/stats"), 200, `{"count":0,"enabled":true}`)
	})
	t.Run("audit query and lookup", func(t *testing.T) {
		var page struct {
			Records []map[string]any `json:"records"`
			Total   *int             `json:"total"`
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := s.get("/v1/audit/first")
			if r.status == 200 {
				expect(t, r, 200, `"action_id":"first"`, `"outcome":"executed"`, `"verdict":"allow"`, `"matched_rule":null`)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit record for 'first' never appeared: %d %s", r.status, r.body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		r := s.get("/v1/audit?outcome=suppressed&limit=2")
		expect(t, r, 200)
		r.json(t, &page)
		if len(page.Records) != 2 || page.Total == nil || *page.Total < 3 {
			t.Errorf("suppressed page: %s", r.body)
		}
		for _, rec := range page.Records {
			if rec["matched_rule"] != "block-spam" {
				t.Errorf("record %v", rec)
			}
		}
		// Walk all records with the cursor.
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			q := "/v1/audit?limit=7"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			var p struct {
				Records    []map[string]any `json:"records"`
				NextCursor string           `json:"next_cursor"`
			}
			s.get(q).json(t, &p)
			for _, rec := range p.Records {
				id := rec["id"].(string)
				if seen[id] {
					t.Fatalf("record %s seen twice", id)
				}
				seen[id] = true
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if len(seen) < 30 {
			t.Errorf("cursor walk saw %d records, want at least 30", len(seen))
		}
		expect(t, s.get("/v1/audit/never-dispatched"), 404, "no audit record found for action: never-dispatched")
		expect(t, s.get("/v1/audit?limit=abc"), 400, `"error"`)
	})
	t.Run("providers health", func(t *testing.T) {
		r := s.get("/v1/providers/health")
		expect(t, r, 200, `"provider":"email"`, `"healthy":true`, `"provider":"hook"`)
	})
	t.Run("metrics", func(t *testing.T) {
		r := s.get("/metrics")
		expect(t, r, 200, `"dispatched":`, `"deduplicated":19`, `"throttled":3`)
		expect(t, s.get("/health"), 200, `{"status":"ok","metrics":{`)
		r = s.get("/metrics/prometheus")
		expect(t, r, 200, "acteon_actions_dispatched_total", "acteon_actions_deduplicated_total 19",
			`acteon_rule_matches_total{rule="block-spam"}`, "acteon_provider_request_duration_seconds",
			`acteon_provider_requests_total{provider="email"}`, "acteon_executor_in_flight")
	})
	t.Run("SIGTERM drains and exits 0", func(t *testing.T) {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-s.done:
			if err != nil {
				t.Fatalf("exit: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server did not exit after SIGTERM")
		}
	})
}

func TestServeRefusesBadRules(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "rules"), 0o755)
	os.WriteFile(filepath.Join(dir, "rules", "bad.yaml"), []byte("rules:\n  - name: r2\n    condition: {field: action.action_type, matches: \"(unclosed\"}\n    action: {type: deny}\n"), 0o644)
	cfg := filepath.Join(dir, "acteon.toml")
	os.WriteFile(cfg, []byte("[rules]\ndirectory = \"rules\"\n"), 0o644)
	for _, args := range [][]string{{"serve", "-c", cfg, "--port", "0"}, {"check-config", "-c", cfg}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, binPath, args...).CombinedOutput()
		cancel()
		if err == nil {
			t.Fatalf("%v should fail; output %s", args, out)
		}
		for _, want := range []string{"bad.yaml:3", "r2"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%v output should name %q:\n%s", args, want, out)
			}
		}
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "acteon.toml")
	os.WriteFile(cfg, []byte("[server]\nport = 9999\n\n[llm_guardrail]\nmodel = \"x\"\n"), 0o644)
	out, err := exec.Command(binPath, "check-config", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("check-config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "OK") || !strings.Contains(string(out), "llm_guardrail") {
		t.Errorf("output %s", out)
	}
	out, err = exec.Command(binPath, "check-config", "--strict", "-c", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("--strict should fail on unknown keys: %s", out)
	}
	os.WriteFile(cfg, []byte("[executor]\nmax_concurrent = 0\n\n[[providers]]\nname = \"a\"\ntype = \"nope\"\n"), 0o644)
	out, err = exec.Command(binPath, "check-config", "-c", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "max_concurrent") || !strings.Contains(string(out), "nope") {
		t.Fatalf("check-config should list every problem; err %v, output %s", err, out)
	}
}

func TestServeWithoutConfigUsesDefaults(t *testing.T) {
	dir := t.TempDir()
	s := start(t, filepath.Join(dir, "missing.toml"))
	expect(t, s.post("/v1/dispatch", action("x", "")), 200, `{"Failed":{"code":"PROVIDER_NOT_FOUND"`)
	expect(t, s.get("/v1/audit"), 404, "audit is not enabled")
	expect(t, s.get("/v1/dlq/stats"), 200, `{"count":0,"enabled":false}`)
}

// TestMigrateThenServeOnPostgres: `acteon migrate` prepares a fresh
// database, then `serve` with auto_migrate = false runs dispatches with
// PostgreSQL state and PostgreSQL audit.
func TestMigrateThenServeOnPostgres(t *testing.T) {
	url := testenv.URL(t, testenv.Postgres)
	prefix := fmt.Sprintf("acteon_e2e_%d_", time.Now().UnixNano()%1_000_000_000)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "rules"), 0o755)
	os.WriteFile(filepath.Join(dir, "rules", "r.yaml"), []byte(rulesYAML), 0o644)
	cfg := filepath.Join(dir, "acteon.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[rules]
directory = "rules"

[state]
backend = "postgres"
url = %q
prefix = %q
auto_migrate = false

[audit]
enabled = true
backend = "postgres"
url = %q
prefix = %q
auto_migrate = false
flush_interval_ms = 10

[[providers]]
name = "email"
type = "log"

[[providers]]
name = "sms"
type = "log"
`, url, prefix, url, prefix)), 0o644)
	out, err := exec.Command(binPath, "serve", "-c", cfg, "--port", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), prefix+"state") {
		t.Fatalf("serve on an empty database with auto_migrate = false must fail naming the table; err %v\n%s", err, out)
	}
	out, err = exec.Command(binPath, "migrate", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "state: postgres schema ready") || !strings.Contains(string(out), "audit: postgres schema ready") {
		t.Errorf("migrate output %s", out)
	}
	s := start(t, cfg)
	var wg sync.WaitGroup
	results := make([]string, 20)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = string(s.post("/v1/dispatch", action("alert", `"dedup_key":"pg-key"`)).body)
		}(i)
	}
	wg.Wait()
	executed := 0
	for _, r := range results {
		if strings.HasPrefix(r, `{"Executed"`) {
			executed++
		} else if r != `"Deduplicated"` {
			t.Errorf("unexpected %s", r)
		}
	}
	if executed != 1 {
		t.Errorf("%d executed, want 1", executed)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.get("/v1/audit?action_type=alert&limit=50")
		var page struct {
			Records []map[string]any `json:"records"`
		}
		r.json(t, &page)
		if len(page.Records) == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit has %d records, want 20: %s", len(page.Records), r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	dropTables(t, url, prefix)
}
