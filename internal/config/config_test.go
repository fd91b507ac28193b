package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func mustParse(t *testing.T, src string) (*Config, []Warning) {
	t.Helper()
	cfg, warns, err := Parse([]byte(src), "test.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg, warns
}

// TestGoodConfigs loads every file in testdata/config/good and expects no error.
func TestGoodConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/config/good/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, _, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg == nil {
				t.Fatal("nil config without error")
			}
		})
	}
}

// TestBadConfigs loads every file in testdata/config/bad; each must fail with
// the message in its sibling .err file (a substring of the joined error,
// with the file's base name as the location).
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/config/bad/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".toml") + ".err")
			if err != nil {
				t.Fatalf("missing .err file: %v", err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Parse(data, filepath.Base(f))
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", want)
			}
			if cfg != nil {
				t.Error("config returned together with an error")
			}
			if w := strings.TrimSpace(string(want)); !strings.Contains(err.Error(), w) {
				t.Errorf("error:\n%v\nwant substring:\n%s", err, w)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *config.Error", err)
			}
		})
	}
}

func TestFullExample(t *testing.T) {
	cfg, warns, err := Load("testdata/config/good/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "config", "good")

	if diff := cmp.Diff(Server{
		Host: "0.0.0.0", Port: 9090, ShutdownTimeoutSeconds: 15,
		ExternalURL: "https://acteon.example.com", MaxConcurrentDispatch: 2000,
		MaxBodyBytes: 2 << 20, MaxBatchSize: 1000,
		CORSAllowedOrigins:         []string{"https://ui.example.com", "http://localhost:3000"},
		ApprovalSecret:             "00112233445566778899aabbccddeeff",
		ApprovalKeys:               []ApprovalKey{{ID: "k1", Secret: "deadbeef"}, {ID: "k0", Secret: "cafebabe"}},
		MaxSSEConnectionsPerTenant: 4,
		MaxPayloadDepth:            64, MaxMetadataLabels: 128, MaxHeaderBytes: 64 << 10,
		ReadHeaderTimeoutSeconds: 10, ReadTimeoutSeconds: 60, IdleTimeoutSeconds: 120,
	}, cfg.Server); diff != "" {
		t.Errorf("server (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(State{
		Backend: "redis", URL: "redis://:hunter2@redis.internal:6379/0", Prefix: "acteon-prod",
	}, cfg.State); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Audit{
		Enabled: true, Backend: "postgres", URL: "postgres://acteon:s3cret@db.internal/acteon",
		Prefix: "audit_", TTLSeconds: ptr(uint64(604800)), CleanupIntervalSeconds: 600,
		Redact:    AuditRedact{Enabled: true, Fields: []string{"password", "token", "ssn"}, Placeholder: "***"},
		QueueSize: 50000, BatchSize: 0, FlushIntervalMs: 100,
	}, cfg.Audit); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Rules{Directory: filepath.Join(dir, "rules"), DefaultTimezone: "Europe/Paris", Watch: ptr(true)}, cfg.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Executor{MaxRetries: 5, TimeoutSeconds: 10, MaxConcurrent: 64, DLQEnabled: true}, cfg.Executor); diff != "" {
		t.Errorf("executor (-want +got):\n%s", diff)
	}
	if got, want := cfg.CircuitBreaker.For("slack-webhook"), (BreakerSettings{10, 1, 30, "audit-log"}); got != want {
		t.Errorf("breaker for slack-webhook = %+v, want %+v", got, want)
	}
	if got, want := cfg.CircuitBreaker.For("audit-log"), (BreakerSettings{3, 1, 30, ""}); got != want {
		t.Errorf("breaker for audit-log = %+v, want %+v", got, want)
	}
	bg := cfg.Background
	if !bg.Enabled || bg.GroupFlushIntervalSeconds != 2 || bg.TimeoutCheckIntervalSeconds != 5 ||
		bg.CleanupIntervalSeconds != 60 || !bg.EnableScheduledActions || bg.Namespace != "prod" {
		t.Errorf("background = %+v", bg)
	}
	if diff := cmp.Diff(Auth{Enabled: true, ConfigPath: filepath.Join(dir, "auth.toml")}, cfg.Auth); diff != "" {
		t.Errorf("auth (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(RateLimit{Enabled: true, ConfigPath: "/etc/acteon/ratelimit.toml", OnError: "deny", Watch: true}, cfg.RateLimit); diff != "" {
		t.Errorf("rate_limit (-want +got):\n%s", diff)
	}

	if len(cfg.Providers) != 2 {
		t.Fatalf("providers = %d, want 2", len(cfg.Providers))
	}
	p := cfg.Providers[1]
	if p.Name != "slack-webhook" || p.Type != "webhook" || p.Line != 77 || p.Raw["url"] != "https://hooks.example.com/T000/B000" {
		t.Errorf("providers[1] = %+v", p)
	}

	wantSM := []StateMachine{
		{
			Name: "alert", InitialState: "open", States: []string{"open", "acknowledged", "resolved"},
			Transitions: []StateTransition{
				{From: "open", To: "acknowledged"},
				{From: "acknowledged", To: "resolved", OnTransition: OnTransition{
					Notify: true, WebhookURL: "https://hooks.example.com/resolved", Metadata: map[string]string{"severity": "info"}}},
			},
			Timeouts: []StateMachineTimeout{{InState: "acknowledged", AfterSeconds: 3600, TransitionTo: "open"}},
			Line:     83,
		},
		{
			Name: "ticket", InitialState: "new", States: []string{"new", "closed"},
			Transitions: []StateTransition{{From: "new", To: "closed"}},
			Timeouts:    []StateMachineTimeout{{InState: "new", AfterSeconds: 86400, TransitionTo: "closed"}},
			Line:        102,
		},
	}
	if diff := cmp.Diff(wantSM, cfg.StateMachines); diff != "" {
		t.Errorf("state machines (-want +got):\n%s", diff)
	}

	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	want := []string{
		"testdata/config/good/full.toml:113: unknown key telemetry.enabled",
		"testdata/config/good/full.toml:114: unknown key telemetry.endpoint",
		"testdata/config/good/full.toml:117: unknown key llm_guardrail.enabled",
		"testdata/config/good/full.toml:118: unknown key llm_guardrail.model",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	got, warns := mustParse(t, "")
	if len(warns) != 0 {
		t.Errorf("warnings on empty config: %v", warns)
	}
	want := Defaults()
	want.File = "test.toml"
	want.Auth.ConfigPath = "auth.toml"
	want.RateLimit.ConfigPath = "ratelimit.toml"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("empty config differs from Defaults() (-want +got):\n%s", diff)
	}

	// The documented defaults, spelled out so that a change to Defaults()
	// has to change this table too.
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"server.host", got.Server.Host, "127.0.0.1"},
		{"server.port", got.Server.Port, uint16(8080)},
		{"server.shutdown_timeout_seconds", got.Server.ShutdownTimeoutSeconds, uint64(30)},
		{"server.max_concurrent_dispatch", got.Server.MaxConcurrentDispatch, uint64(5000)},
		{"server.max_body_bytes", got.Server.MaxBodyBytes, int64(2097152)},
		{"server.max_batch_size", got.Server.MaxBatchSize, uint64(1000)},
		{"server.max_sse_connections_per_tenant", got.Server.MaxSSEConnectionsPerTenant, uint64(10)},
		{"server.external_url (derived)", got.Server.ExternalBaseURL(), "http://127.0.0.1:8080"},
		{"server.max_payload_depth", got.Server.MaxPayloadDepth, uint64(64)},
		{"server.max_metadata_labels", got.Server.MaxMetadataLabels, uint64(128)},
		{"server.max_header_bytes", got.Server.MaxHeaderBytes, uint64(65536)},
		{"server.read_header_timeout_seconds", got.Server.ReadHeaderTimeoutSeconds, uint64(10)},
		{"server.read_timeout_seconds", got.Server.ReadTimeoutSeconds, uint64(60)},
		{"server.idle_timeout_seconds", got.Server.IdleTimeoutSeconds, uint64(120)},
		{"tls.enabled", got.TLS.Enabled, false},
		{"tls.server.min_version", got.TLS.Server.MinVersion, "1.2"},
		{"state.backend", got.State.Backend, "memory"},
		{"state.memory_sweep_interval_secs", got.State.MemorySweepIntervalSecs, uint64(60)},
		{"audit.enabled", got.Audit.Enabled, false},
		{"audit.backend", got.Audit.Backend, "memory"},
		{"audit.prefix", got.Audit.Prefix, "acteon_"},
		{"audit.ttl_seconds", *got.Audit.TTLSeconds, uint64(2592000)},
		{"audit.cleanup_interval_seconds", got.Audit.CleanupIntervalSeconds, uint64(3600)},
		{"audit.store_payload", got.Audit.StorePayload, true},
		{"audit.sync", got.Audit.Sync, false},
		{"audit.redact.placeholder", got.Audit.Redact.Placeholder, "[REDACTED]"},
		{"audit.queue_size", got.Audit.QueueSize, uint64(50000)},
		{"audit.write_concurrency", got.Audit.WriteConcurrency, uint64(0)},
		{"audit.batch_size", got.Audit.BatchSize, uint64(0)},
		{"audit.flush_interval_ms", got.Audit.FlushIntervalMs, uint64(100)},
		{"rules.watch (no [rules])", got.Rules.WatchEnabled(), false},
		{"executor.max_retries", got.Executor.MaxRetries, uint32(3)},
		{"executor.timeout_seconds", got.Executor.TimeoutSeconds, uint64(30)},
		{"executor.max_concurrent", got.Executor.MaxConcurrent, uint64(10)},
		{"executor.dlq_enabled", got.Executor.DLQEnabled, false},
		{"circuit_breaker.enabled", got.CircuitBreaker.Enabled, false},
		{"circuit_breaker.failure_threshold", got.CircuitBreaker.FailureThreshold, uint32(5)},
		{"circuit_breaker.success_threshold", got.CircuitBreaker.SuccessThreshold, uint32(2)},
		{"circuit_breaker.recovery_timeout_seconds", got.CircuitBreaker.RecoveryTimeoutSeconds, uint64(60)},
		{"background.enabled (D18)", got.Background.Enabled, true},
		{"background.group_flush_interval_seconds", got.Background.GroupFlushIntervalSeconds, uint64(5)},
		{"background.timeout_check_interval_seconds", got.Background.TimeoutCheckIntervalSeconds, uint64(10)},
		{"background.cleanup_interval_seconds", got.Background.CleanupIntervalSeconds, uint64(60)},
		{"background.enable_group_flush", got.Background.EnableGroupFlush, true},
		{"background.enable_timeout_processing", got.Background.EnableTimeoutProcessing, true},
		{"background.enable_approval_retry", got.Background.EnableApprovalRetry, true},
		{"background.enable_scheduled_actions", got.Background.EnableScheduledActions, false},
		{"background.scheduled_check_interval_seconds", got.Background.ScheduledCheckIntervalSecs, uint64(5)},
		{"background.enable_recurring_actions", got.Background.EnableRecurringActions, false},
		{"background.recurring_check_interval_seconds", got.Background.RecurringCheckIntervalSecs, uint64(60)},
		{"background.max_recurring_actions_per_tenant", got.Background.MaxRecurringActionsPerTenant, uint64(100)},
		{"background.enable_retention_reaper", got.Background.EnableRetentionReaper, false},
		{"background.retention_check_interval_seconds", got.Background.RetentionCheckIntervalSecs, uint64(3600)},
		{"background.enable_stale_task_reaper", got.Background.EnableStaleTaskReaper, false},
		{"background.stale_task_check_interval_seconds", got.Background.StaleTaskCheckIntervalSecs, uint64(60)},
		{"background.enable_template_sync", got.Background.EnableTemplateSync, true},
		{"background.template_sync_interval_seconds", got.Background.TemplateSyncIntervalSeconds, uint64(30)},
		{"background.enable_silence_sync", got.Background.EnableSilenceSync, true},
		{"background.silence_sync_interval_seconds", got.Background.SilenceSyncIntervalSeconds, uint64(10)},
		{"background.enable_time_interval_sync", got.Background.EnableTimeIntervalSync, true},
		{"background.time_interval_sync_interval_seconds", got.Background.TimeIntervalSyncIntervalSecs, uint64(30)},
		{"background.enable_group_sync", got.Background.EnableGroupSync, true},
		{"background.group_sync_interval_seconds", got.Background.GroupSyncIntervalSeconds, uint64(30)},
		{"auth.enabled", got.Auth.Enabled, false},
		{"auth.config_path", got.Auth.ConfigPath, "auth.toml"},
		{"auth.watch", got.Auth.Watch, true},
		{"rate_limit.enabled", got.RateLimit.Enabled, false},
		{"rate_limit.config_path", got.RateLimit.ConfigPath, "ratelimit.toml"},
		{"rate_limit.on_error", got.RateLimit.OnError, "allow"},
		{"rate_limit.watch", got.RateLimit.Watch, true},
		{"circuit_breaker.sync_interval_seconds", got.CircuitBreaker.SyncIntervalSeconds, uint64(2)},
		{"providers", len(got.Providers), 0},
		{"listen addr", got.ListenAddr(), "127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackendDefaults(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want State
	}{
		{"redis", "[state]\nbackend = \"redis\"", State{Backend: "redis", URL: DefaultRedisURL, Prefix: "acteon", MemorySweepIntervalSecs: 60}},
		{"redis explicit", "[state]\nbackend = \"redis\"\nurl = \"redis://r:1\"\nprefix = \"p\"", State{Backend: "redis", URL: "redis://r:1", Prefix: "p", MemorySweepIntervalSecs: 60}},
		{"postgres", "[state]\nbackend = \"postgres\"\nurl = \"postgres://db\"", State{Backend: "postgres", URL: "postgres://db", Prefix: "acteon_", MemorySweepIntervalSecs: 60}},
		{"dynamodb", "[state]\nbackend = \"dynamodb\"", State{Backend: "dynamodb", TableName: "acteon_state", MemorySweepIntervalSecs: 60}},
		{"memory", "[state]\nmemory_sweep_interval_secs = 0", State{Backend: "memory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.src)
			if diff := cmp.Diff(tt.want, cfg.State); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuditTTLQuirk: upstream gives 30 days only when [audit] is absent; a
// present section without ttl_seconds means no expiry.
func TestAuditTTLQuirk(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *uint64
	}{
		{"section absent", "[server]\nport = 1", ptr(uint64(2592000))},
		{"section present without key", "[audit]\nenabled = true", nil},
		{"empty section", "[audit]", nil},
		{"only a subtable", "[audit.redact]\nenabled = true", nil},
		{"dotted key at top level", "audit.enabled = true", nil},
		{"key set", "[audit]\nttl_seconds = 60", ptr(uint64(60))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.src)
			if diff := cmp.Diff(tt.want, cfg.Audit.TTLSeconds); diff != "" {
				t.Errorf("ttl (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesWatch(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		wantWatch *bool
		enabled   bool
	}{
		{"no section", "", nil, false},
		{"section without watch", "[rules]\ndirectory = \"r\"", ptr(true), true},
		{"watch off", "[rules]\ndirectory = \"r\"\nwatch = false", ptr(false), false},
		{"watch on but no directory", "[rules]\nwatch = true", ptr(true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.src)
			if diff := cmp.Diff(tt.wantWatch, cfg.Rules.Watch); diff != "" {
				t.Errorf("watch (-want +got):\n%s", diff)
			}
			if got := cfg.Rules.WatchEnabled(); got != tt.enabled {
				t.Errorf("WatchEnabled() = %t, want %t", got, tt.enabled)
			}
		})
	}
}

// TestUnknownKeyWarnings checks that unknown keys are warnings (never
// errors) carrying the right line and TOML path.
func TestUnknownKeyWarnings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line path"
	}{
		{
			name: "unknown key in known section",
			src:  "[server]\nport = 1\nportt = 2\n",
			want: []string{"3 server.portt"},
		},
		{
			name: "unknown section, one warning per key",
			src:  "[server]\nport = 1\n\n[llm_guardrail]\nenabled = true\n# comment\nmodel = \"gpt\"\n",
			want: []string{"5 llm_guardrail.enabled", "7 llm_guardrail.model"},
		},
		{
			name: "unknown top-level key",
			src:  "debug = true\n[server]\nport = 1\n",
			want: []string{"1 debug"},
		},
		{
			name: "dotted keys",
			src:  "[server]\ntls.cert = \"x\"\n\n[quotas]\nlimits.daily = 5\n",
			want: []string{"2 server.tls.cert", "5 quotas.limits.daily"},
		},
		{
			name: "empty unknown table",
			src:  "[encryption]\n\n[server]\nport = 1\n",
			want: []string{"1 encryption"},
		},
		{
			name: "unknown arrays of tables",
			src:  "[chains]\nmax_concurrent_advances = 4\n\n[[chains.definitions]]\nname = \"a\"\n\n[[chains.definitions]]\nname = \"b\"\nsteps = [\n  { provider = \"x\" },\n]\n",
			want: []string{"2 chains.max_concurrent_advances", "5 chains.definitions[0].name", "8 chains.definitions[1].name", "9 chains.definitions[1].steps"},
		},
		{
			name: "unknown key in state machine array element",
			src:  "[[state_machines]]\nname = \"a\"\ninitial_state = \"x\"\n\n[[state_machines]]\nname = \"b\"\ninitial_state = \"x\"\ncolor = \"red\"\n",
			want: []string{"8 state_machines[1].color"},
		},
		{
			name: "unknown key in nested array of tables",
			src:  "[[state_machines]]\nname = \"a\"\ninitial_state = \"x\"\n[[state_machines.transitions]]\nfrom = \"x\"\nto = \"x\"\n[[state_machines.transitions]]\nfrom = \"x\"\nto = \"x\"\nguard = \"g\"\n",
			want: []string{"10 state_machines[0].transitions[1].guard"},
		},
		{
			name: "unknown key in inline table inside array",
			src:  "[[state_machines]]\nname = \"a\"\ninitial_state = \"x\"\ntransitions = [\n  { from = \"x\", to = \"x\" },\n  { from = \"x\", to = \"x\",\n    guard = 1 },\n]\n",
			want: []string{"7 state_machines[0].transitions[1].guard"},
		},
		{
			name: "quoted keys",
			src:  "[server]\n\"odd key\" = 1\n\n[\"my.section\"]\nx = 1\n",
			want: []string{`2 server."odd key"`, `5 "my.section".x`},
		},
		{
			name: "multi-line strings hide fake keys",
			src:  "[server]\nexternal_url = \"\"\"\nhttps://e.example\"\"\"\n[[providers]]\nname = \"p\"\ntype = \"log\"\nnote = '''\nnot_a_key = 1\n[fake]\n'''\n\n[telemetry]\nenabled = true\n",
			want: []string{"13 telemetry.enabled"},
		},
		{
			name: "provider keys are not warned about",
			src:  "[[providers]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"https://x\"\nheaders = { A = \"b\" }\n",
			want: nil,
		},
		{
			name: "CRLF line endings",
			src:  "[server]\r\nport = 1\r\nbogus = 2\r\n",
			want: []string{"3 server.bogus"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns := mustParse(t, tt.src)
			var got []string
			for _, w := range warns {
				got = append(got, strings.Join([]string{strconv.Itoa(w.Line), w.Path}, " "))
				if want := "unknown key " + w.Path; w.Msg != want {
					t.Errorf("Msg = %q, want %q", w.Msg, want)
				}
				if w.File != "test.toml" {
					t.Errorf("File = %q", w.File)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWarningFormat(t *testing.T) {
	_, warns := mustParse(t, "\n\n[llm_guardrail]\nenabled = false\n\n\n\n\n\n\n\nmodel = \"m\"\n")
	if len(warns) != 2 {
		t.Fatalf("warnings = %v", warns)
	}
	if got, want := warns[1].String(), "test.toml:12: unknown key llm_guardrail.model"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	err := Warnings(warns).AsErrors()
	if err == nil || !strings.Contains(err.Error(), "test.toml:12: unknown key llm_guardrail.model") {
		t.Errorf("AsErrors() = %v", err)
	}
	if Warnings(nil).AsErrors() != nil {
		t.Error("AsErrors() of no warnings is not nil")
	}
}

// TestAllErrorsCollected: every problem in a file is reported, in line
// order, each as a *Error.
func TestAllErrorsCollected(t *testing.T) {
	src := `[server]
port = "x"
max_batch_size = 0

[executor]
max_concurrent = 0
timeout_seconds = "slow"

[state]
backend = "mongo"

[[providers]]
name = "a"
type = "nope"
`
	_, _, err := Parse([]byte(src), "acteon.toml")
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`acteon.toml:2: server.port: expected integer, got string "x"`,
		`acteon.toml:3: server.max_batch_size: must be >= 1, got 0`,
		`acteon.toml:6: executor.max_concurrent: must be >= 1, got 0`,
		`acteon.toml:7: executor.timeout_seconds: expected integer, got string "slow"`,
		`acteon.toml:10: state.backend: invalid state backend "mongo" (want one of memory, redis, postgres, dynamodb, clickhouse)`,
		`acteon.toml:14: providers[0].type: unknown provider type "nope" (want one of log, webhook)`,
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), err.Error()); diff != "" {
		t.Errorf("joined error (-want +got):\n%s", diff)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a join", err)
	}
	for _, e := range joined.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Errorf("%v is not a *Error", e)
			continue
		}
		if ce.Line == 0 || ce.Path == "" {
			t.Errorf("error without line or path: %#v", ce)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, _, err := Parse([]byte("[server]\nport = 80\nhost = \n"), "acteon.toml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *Error", err)
	}
	if ce.Line != 3 || ce.Col == 0 {
		t.Errorf("position = %d:%d, want line 3 with a column", ce.Line, ce.Col)
	}
	if !strings.HasPrefix(err.Error(), "acteon.toml:3: syntax error: ") {
		t.Errorf("error = %q", err)
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "conf", "acteon.toml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `[rules]
directory = "rules.d"
[auth]
config_path = "../secrets/auth.toml"
[rate_limit]
config_path = "/abs/ratelimit.toml"
[state]
ssl_root_cert = "certs/ca.pem"
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	confDir := filepath.Join(dir, "conf")
	tests := []struct{ name, got, want string }{
		{"rules.directory", cfg.Rules.Directory, filepath.Join(confDir, "rules.d")},
		{"auth.config_path", cfg.Auth.ConfigPath, filepath.Join(dir, "secrets", "auth.toml")},
		{"rate_limit.config_path (absolute)", cfg.RateLimit.ConfigPath, "/abs/ratelimit.toml"},
		{"state.ssl_root_cert", cfg.State.SSLRootCert, filepath.Join(confDir, "certs", "ca.pem")},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadOrDefault(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "acteon.toml")

	cfg, warns, err := LoadOrDefault(missing, false)
	if err != nil || cfg == nil {
		t.Fatalf("default path: cfg=%v err=%v", cfg, err)
	}
	if len(warns) != 0 {
		t.Errorf("default path: warnings %v, want none", warns)
	}
	if cfg.Auth.ConfigPath != filepath.Join(dir, "auth.toml") {
		t.Errorf("auth.config_path = %q, want it next to the config file", cfg.Auth.ConfigPath)
	}
	if cfg.Server.Port != 8080 || !cfg.Background.Enabled {
		t.Errorf("not the defaults: %+v", cfg.Server)
	}

	_, warns, err = LoadOrDefault(missing, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Msg, "config file "+missing+" not found; using defaults") {
		t.Errorf("explicit path: warnings %v", warns)
	}

	if err := os.WriteFile(missing, []byte("[server]\nport = 1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = LoadOrDefault(missing, true)
	if err != nil || cfg.Server.Port != 1234 {
		t.Errorf("existing file: cfg=%+v err=%v", cfg, err)
	}

	if err := os.WriteFile(missing, []byte("[server]\nport = -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrDefault(missing, false); err == nil {
		t.Error("bad existing file: no error")
	}
}

func TestLoadMissing(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotFound and fs.ErrNotExist", err)
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "approval.hex"), []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "acteon.toml")

	cfg, _, err := Parse([]byte("[server]\napproval_secret_file = \"approval.hex\"\n"), file)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.ApprovalSecret.Reveal(); got != "abcd" {
		t.Errorf("secret = %q, want %q", got, "abcd")
	}

	_, _, err = Parse([]byte("[server]\napproval_secret = \"ab\"\napproval_secret_file = \"approval.hex\"\n"), file)
	if err == nil || !strings.Contains(err.Error(), "set only one of approval_secret and approval_secret_file") {
		t.Errorf("both set: err = %v", err)
	}
	_, _, err = Parse([]byte("[server]\napproval_secret_file = \"missing\"\n"), file)
	if err == nil || !strings.Contains(err.Error(), "acteon.toml:2: server.approval_secret_file: cannot read secret") {
		t.Errorf("missing file: err = %v", err)
	}
	// _file on a non-secret key is just an unknown key.
	_, warns := mustParse(t, "[server]\nhost_file = \"x\"\n")
	if len(warns) != 1 || warns[0].Path != "server.host_file" {
		t.Errorf("host_file: warnings = %v", warns)
	}
}

func TestProviderDecode(t *testing.T) {
	cfg, _ := mustParse(t, `[[providers]]
name = "hook"
type = "webhook"
url = "https://example.com/hook"
timeout_seconds = 5
headers = { X-Token = "t" }
extra = true
`)
	type webhookConfig struct {
		URL            string            `toml:"url"`
		TimeoutSeconds int               `toml:"timeout_seconds"`
		Headers        map[string]string `toml:"headers"`
	}
	var wc webhookConfig
	if err := cfg.Providers[0].Decode(&wc); err != nil {
		t.Fatal(err)
	}
	want := webhookConfig{URL: "https://example.com/hook", TimeoutSeconds: 5, Headers: map[string]string{"X-Token": "t"}}
	if diff := cmp.Diff(want, wc); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	undecoded, err := cfg.Providers[0].DecodeStrict(&webhookConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"extra"}, undecoded); diff != "" {
		t.Errorf("undecoded (-want +got):\n%s", diff)
	}
	var bad struct {
		URL int `toml:"url"`
	}
	if err := cfg.Providers[0].Decode(&bad); err == nil {
		t.Error("decoding a string into an int: no error")
	}
}

func TestBreakerOverrideWarning(t *testing.T) {
	_, warns := mustParse(t, "[circuit_breaker.providers.ghost]\nfailure_threshold = 2\n[circuit_breaker]\nenabled = true\n")
	if len(warns) != 1 || warns[0].Line != 1 || !strings.Contains(warns[0].Msg, `no provider named "ghost"`) {
		t.Errorf("warnings = %v", warns)
	}
}

func TestListenAddr(t *testing.T) {
	cfg, _ := mustParse(t, "[server]\nhost = \"::1\"\nport = 9000\n")
	if got, want := cfg.ListenAddr(), "[::1]:9000"; got != want {
		t.Errorf("ListenAddr() = %q, want %q", got, want)
	}
	if got, want := cfg.Server.ExternalBaseURL(), "http://[::1]:9000"; got != want {
		t.Errorf("ExternalBaseURL() = %q, want %q", got, want)
	}
}

// TestDisabledFeaturesNotValidated: like upstream, settings of a feature that
// is turned off are not range-checked, so such upstream configs still load.
func TestDisabledFeaturesNotValidated(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string // "" = loads
	}{
		{"disabled job interval", "[background]\nenable_scheduled_actions = false\nscheduled_check_interval_seconds = 0", ""},
		{"enabled job interval", "[background]\nenable_scheduled_actions = true\nscheduled_check_interval_seconds = 0", "test.toml:3: background.scheduled_check_interval_seconds: must be >= 1, got 0"},
		{"background off", "[background]\nenabled = false\ngroup_flush_interval_seconds = 0", ""},
		{"breaker off", "[circuit_breaker]\nfailure_threshold = 0", ""},
		{"breaker on", "[circuit_breaker]\nenabled = true\nsuccess_threshold = 0", "test.toml:3: circuit_breaker.success_threshold: must be >= 1, got 0"},
		{"audit off", "[audit]\nqueue_size = 0", ""},
		{"audit on", "[audit]\nenabled = true\nqueue_size = 0", "test.toml:3: audit.queue_size: must be >= 1, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.src), "test.toml")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSyntaxErrorUnwrapsToParseError(t *testing.T) {
	_, _, err := Parse([]byte("a = [1,\nb"), "x.toml")
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%v does not unwrap to toml.ParseError", err)
	}
	if !strings.Contains(pe.ErrorWithPosition(), "At line") {
		t.Errorf("ErrorWithPosition() = %q", pe.ErrorWithPosition())
	}
}

func TestAuditWriterTuning(t *testing.T) {
	cfg, _, err := Parse([]byte("[audit]\nenabled = true\nqueue_size = 80000\nbatch_size = 4000\nwrite_concurrency = 3\n"), "acteon.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if a := cfg.Audit; a.QueueSize != 80000 || a.BatchSize != 4000 || a.WriteConcurrency != 3 {
		t.Fatalf("queue_size, batch_size, write_concurrency = %d, %d, %d; want 80000, 4000, 3", a.QueueSize, a.BatchSize, a.WriteConcurrency)
	}
}
