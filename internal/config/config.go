package config

import (
	"net"
	"strconv"
)

// Config is the whole gateway configuration (spec 01 §4). A *Config returned
// by Load or Parse is fully defaulted, validated and has its relative paths
// resolved; treat it as immutable and share it freely between goroutines.
//
// TOML keys are exactly upstream Acteon's. Sections upstream documents but
// this build does not implement (telemetry, llm_guardrail, encryption,
// quotas, chains, tls, signing, …) are deliberately absent, so their keys are
// reported as warnings (decision D24) instead of being silently ignored.
type Config struct {
	Server         Server         `toml:"server"`
	State          State          `toml:"state"`
	Audit          Audit          `toml:"audit"`
	Rules          Rules          `toml:"rules"`
	Executor       Executor       `toml:"executor"`
	CircuitBreaker CircuitBreaker `toml:"circuit_breaker"`
	Background     Background     `toml:"background"`
	Auth           Auth           `toml:"auth"`
	RateLimit      RateLimit      `toml:"rate_limit"`
	TLS            TLS            `toml:"tls"`
	// Providers are the [[providers]] tables, in file order.
	Providers []ProviderConfig `toml:"providers"`
	// StateMachines are the [[state_machines]] tables (decision D11).
	StateMachines []StateMachine `toml:"state_machines"`

	// File is the path the configuration was read from ("" when it came
	// from Parse without a name or from defaults).
	File string `toml:"-"`
}

// Server is the [server] section.
type Server struct {
	Host                   string `toml:"host"`
	Port                   uint16 `toml:"port"`
	ShutdownTimeoutSeconds uint64 `toml:"shutdown_timeout_seconds"`
	// ExternalURL is the base of approval URLs; empty means
	// http://{host}:{port} (see ExternalBaseURL).
	ExternalURL           string `toml:"external_url"`
	MaxConcurrentDispatch uint64 `toml:"max_concurrent_dispatch"`
	// MaxBodyBytes limits request bodies (413 above it). Go extension.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// MaxBatchSize limits the number of actions in one batch. Go extension.
	MaxBatchSize uint64 `toml:"max_batch_size"`
	// CORSAllowedOrigins empty means permissive.
	CORSAllowedOrigins []string `toml:"cors_allowed_origins"`
	// ApprovalSecret is the hex HMAC key for approval URLs (kid "k0");
	// empty means a random key per process.
	ApprovalSecret Secret `toml:"approval_secret"`
	// ApprovalKeys take precedence over ApprovalSecret; the first signs.
	ApprovalKeys               []ApprovalKey `toml:"approval_keys"`
	MaxSSEConnectionsPerTenant uint64        `toml:"max_sse_connections_per_tenant"`

	// Input limits (Go extensions). MaxPayloadDepth is the deepest nesting
	// of objects and arrays in an action's payload; MaxMetadataLabels the
	// most metadata labels per action (422 beyond either).
	MaxPayloadDepth   uint64 `toml:"max_payload_depth"`
	MaxMetadataLabels uint64 `toml:"max_metadata_labels"`
	// MaxHeaderBytes bounds the request line and headers (431 beyond it).
	MaxHeaderBytes uint64 `toml:"max_header_bytes"`
	// Slow-client protection: the time allowed to read the headers
	// (slowloris), the whole request, and an idle keep-alive connection.
	ReadHeaderTimeoutSeconds uint64 `toml:"read_header_timeout_seconds"`
	ReadTimeoutSeconds       uint64 `toml:"read_timeout_seconds"`
	IdleTimeoutSeconds       uint64 `toml:"idle_timeout_seconds"`
}

// ApprovalKey is one entry of [server] approval_keys.
type ApprovalKey struct {
	ID string `toml:"id"`
	// Secret is hex.
	Secret Secret `toml:"secret"`
}

// ListenAddr returns host:port for net.Listen.
func (c *Config) ListenAddr() string {
	return net.JoinHostPort(c.Server.Host, strconv.Itoa(int(c.Server.Port)))
}

// ExternalBaseURL returns ExternalURL, or http://{host}:{port} when unset.
func (s Server) ExternalBaseURL() string {
	if s.ExternalURL != "" {
		return s.ExternalURL
	}
	return "http://" + net.JoinHostPort(s.Host, strconv.Itoa(int(s.Port)))
}

// State is the [state] section: the state backend.
type State struct {
	// Backend is one of StateBackends.
	Backend string `toml:"backend"`
	// URL defaults per backend (redis://127.0.0.1:6379 for redis). It may
	// carry a password, hence Secret.
	URL       Secret `toml:"url"`
	Prefix    string `toml:"prefix"`
	Region    string `toml:"region"`
	TableName string `toml:"table_name"`
	// Backend TLS.
	SSLMode       string `toml:"ssl_mode"`
	SSLRootCert   string `toml:"ssl_root_cert"`
	SSLCert       string `toml:"ssl_cert"`
	SSLKey        string `toml:"ssl_key"`
	TLSEnabled    bool   `toml:"tls_enabled"`
	TLSCACertPath string `toml:"tls_ca_cert_path"`
	TLSInsecure   bool   `toml:"tls_insecure"`
	// MemorySweepIntervalSecs is the memory backend's expired-entry sweep
	// period; 0 turns the sweeper off.
	MemorySweepIntervalSecs uint64 `toml:"memory_sweep_interval_secs"`
	// AutoMigrate, when set, overrides the backend's default for running
	// schema migrations at start-up.
	AutoMigrate *bool `toml:"auto_migrate"`
	// Database is the ClickHouse database (default "default").
	Database string `toml:"database"`
	// Connection pool and timeouts; zero means the backend's default.
	PoolSize         uint64 `toml:"pool_size"`
	ConnectTimeoutMs uint64 `toml:"connect_timeout_ms"`
	OpTimeoutMs      uint64 `toml:"op_timeout_ms"`
}

// Audit is the [audit] section.
type Audit struct {
	Enabled bool `toml:"enabled"`
	// Backend is one of AuditBackends.
	Backend   string `toml:"backend"`
	URL       Secret `toml:"url"`
	Region    string `toml:"region"`
	TableName string `toml:"table_name"`
	Prefix    string `toml:"prefix"`
	// Backend TLS.
	SSLMode     string `toml:"ssl_mode"`
	SSLRootCert string `toml:"ssl_root_cert"`
	SSLCert     string `toml:"ssl_cert"`
	SSLKey      string `toml:"ssl_key"`
	// TTLSeconds is the record retention; nil means records never expire.
	// Upstream quirk kept: 2592000 (30 days) when the [audit] section is
	// absent, nil when the section exists without the key.
	TTLSeconds             *uint64 `toml:"ttl_seconds"`
	CleanupIntervalSeconds uint64  `toml:"cleanup_interval_seconds"`
	StorePayload           bool    `toml:"store_payload"`
	// Sync writes the record before the response is sent (D21).
	Sync   bool        `toml:"sync"`
	Redact AuditRedact `toml:"redact"`
	// AutoMigrate, when set to false, makes serve fail fast when the audit
	// schema is missing instead of creating it.
	AutoMigrate *bool `toml:"auto_migrate"`
	// Database is the ClickHouse database (default "default").
	Database string `toml:"database"`
	// Connection pool and timeouts; zero means the backend's default.
	PoolSize         uint64 `toml:"pool_size"`
	ConnectTimeoutMs uint64 `toml:"connect_timeout_ms"`
	OpTimeoutMs      uint64 `toml:"op_timeout_ms"`
	// Asynchronous writer tuning (D21). Go extensions. QueueSize bounds the
	// records accepted and not yet stored (default 50000, room for several
	// batches in flight plus the next ones filling).
	QueueSize uint64 `toml:"queue_size"`
	// BatchSize 0 means the backend's default: 2000 for PostgreSQL (one
	// COPY each), 5000 for ClickHouse (each INSERT costs tens of
	// milliseconds whatever its size), 500 otherwise.
	BatchSize       uint64 `toml:"batch_size"`
	FlushIntervalMs uint64 `toml:"flush_interval_ms"`
	// WriteConcurrency is the most batches being stored at once; 0 means
	// the writer's default (2).
	WriteConcurrency uint64 `toml:"write_concurrency"`
}

// AuditRedact is [audit.redact].
type AuditRedact struct {
	Enabled     bool     `toml:"enabled"`
	Fields      []string `toml:"fields"`
	Placeholder string   `toml:"placeholder"`
}

// Rules is the [rules] section.
type Rules struct {
	// Directory holds the YAML/CEL rule files; resolved against the
	// config file's directory.
	Directory string `toml:"directory"`
	// DefaultTimezone is an IANA zone name for time conditions.
	DefaultTimezone string `toml:"default_timezone"`
	// Watch is true by default when [rules] is present; nil when absent.
	Watch *bool `toml:"watch"`
}

// WatchEnabled reports whether the rules directory should be watched for
// changes: a directory is configured and watch is not turned off.
func (r Rules) WatchEnabled() bool {
	return r.Directory != "" && (r.Watch == nil || *r.Watch)
}

// Executor is the [executor] section.
type Executor struct {
	MaxRetries     uint32 `toml:"max_retries"`
	TimeoutSeconds uint64 `toml:"timeout_seconds"`
	MaxConcurrent  uint64 `toml:"max_concurrent"`
	DLQEnabled     bool   `toml:"dlq_enabled"`
}

// CircuitBreaker is the [circuit_breaker] section.
type CircuitBreaker struct {
	Enabled                bool   `toml:"enabled"`
	FailureThreshold       uint32 `toml:"failure_threshold"`
	SuccessThreshold       uint32 `toml:"success_threshold"`
	RecoveryTimeoutSeconds uint64 `toml:"recovery_timeout_seconds"`
	// SyncIntervalSeconds is how often a node reads the breaker states
	// other nodes shared through the state store (default 2; 0 keeps
	// breakers per node). Local changes are shared as they happen.
	SyncIntervalSeconds uint64 `toml:"sync_interval_seconds"`
	// Providers holds per-provider overrides keyed by provider name.
	Providers map[string]CircuitBreakerOverride `toml:"providers"`
}

// CircuitBreakerOverride is [circuit_breaker.providers.<name>]; nil fields
// inherit the section's value.
type CircuitBreakerOverride struct {
	FailureThreshold       *uint32 `toml:"failure_threshold"`
	SuccessThreshold       *uint32 `toml:"success_threshold"`
	RecoveryTimeoutSeconds *uint64 `toml:"recovery_timeout_seconds"`
	FallbackProvider       string  `toml:"fallback_provider"`
}

// BreakerSettings is the effective circuit-breaker setting for one provider.
type BreakerSettings struct {
	FailureThreshold       uint32
	SuccessThreshold       uint32
	RecoveryTimeoutSeconds uint64
	FallbackProvider       string
}

// For returns the effective settings for provider name: the section's
// values overridden by [circuit_breaker.providers.<name>].
func (cb CircuitBreaker) For(name string) BreakerSettings {
	s := BreakerSettings{
		FailureThreshold:       cb.FailureThreshold,
		SuccessThreshold:       cb.SuccessThreshold,
		RecoveryTimeoutSeconds: cb.RecoveryTimeoutSeconds,
	}
	if o, ok := cb.Providers[name]; ok {
		if o.FailureThreshold != nil {
			s.FailureThreshold = *o.FailureThreshold
		}
		if o.SuccessThreshold != nil {
			s.SuccessThreshold = *o.SuccessThreshold
		}
		if o.RecoveryTimeoutSeconds != nil {
			s.RecoveryTimeoutSeconds = *o.RecoveryTimeoutSeconds
		}
		s.FallbackProvider = o.FallbackProvider
	}
	return s
}

// Background is the [background] section. Enabled defaults to true
// (decision D18; upstream defaults to false).
type Background struct {
	Enabled                      bool   `toml:"enabled"`
	GroupFlushIntervalSeconds    uint64 `toml:"group_flush_interval_seconds"`
	TimeoutCheckIntervalSeconds  uint64 `toml:"timeout_check_interval_seconds"`
	CleanupIntervalSeconds       uint64 `toml:"cleanup_interval_seconds"`
	EnableGroupFlush             bool   `toml:"enable_group_flush"`
	EnableTimeoutProcessing      bool   `toml:"enable_timeout_processing"`
	EnableApprovalRetry          bool   `toml:"enable_approval_retry"`
	EnableScheduledActions       bool   `toml:"enable_scheduled_actions"`
	ScheduledCheckIntervalSecs   uint64 `toml:"scheduled_check_interval_seconds"`
	EnableRecurringActions       bool   `toml:"enable_recurring_actions"`
	RecurringCheckIntervalSecs   uint64 `toml:"recurring_check_interval_seconds"`
	MaxRecurringActionsPerTenant uint64 `toml:"max_recurring_actions_per_tenant"`
	EnableRetentionReaper        bool   `toml:"enable_retention_reaper"`
	RetentionCheckIntervalSecs   uint64 `toml:"retention_check_interval_seconds"`
	EnableStaleTaskReaper        bool   `toml:"enable_stale_task_reaper"`
	StaleTaskCheckIntervalSecs   uint64 `toml:"stale_task_check_interval_seconds"`
	EnableTemplateSync           bool   `toml:"enable_template_sync"`
	TemplateSyncIntervalSeconds  uint64 `toml:"template_sync_interval_seconds"`
	EnableSilenceSync            bool   `toml:"enable_silence_sync"`
	SilenceSyncIntervalSeconds   uint64 `toml:"silence_sync_interval_seconds"`
	EnableTimeIntervalSync       bool   `toml:"enable_time_interval_sync"`
	TimeIntervalSyncIntervalSecs uint64 `toml:"time_interval_sync_interval_seconds"`
	EnableGroupSync              bool   `toml:"enable_group_sync"`
	GroupSyncIntervalSeconds     uint64 `toml:"group_sync_interval_seconds"`
	// Namespace and Tenant scope group recovery; "" means all.
	Namespace string `toml:"namespace"`
	Tenant    string `toml:"tenant"`
	// BatchSize caps the work items (groups, timeouts) one job run handles;
	// the rest wait for the next run. 0 means 1000.
	BatchSize uint64 `toml:"batch_size"`
	// DLQRetentionSeconds drops dead-letter entries older than this during
	// cleanup (default 604800, 7 days; 0 keeps them forever).
	DLQRetentionSeconds uint64 `toml:"dlq_retention_seconds"`
}

// Auth is the [auth] section.
type Auth struct {
	Enabled bool `toml:"enabled"`
	// ConfigPath is resolved against the config file's directory.
	ConfigPath string `toml:"config_path"`
	Watch      bool   `toml:"watch"`
}

// RateLimit is the [rate_limit] section.
type RateLimit struct {
	Enabled bool `toml:"enabled"`
	// ConfigPath is resolved against the config file's directory.
	ConfigPath string `toml:"config_path"`
	// OnError is "allow" or "deny": what to do when the limiter's state
	// backend fails.
	OnError string `toml:"on_error"`
	// Watch reloads the limits file when it changes (default true). A
	// file that no longer loads keeps the previous limits.
	Watch bool `toml:"watch"`
}

// TLS is the [tls] section: HTTPS for the API, optionally with client
// certificates (mTLS).
type TLS struct {
	Enabled bool      `toml:"enabled"`
	Server  TLSServer `toml:"server"`
}

// TLSServer is [tls.server]. Paths are resolved against the config file's
// directory.
type TLSServer struct {
	CertPath string `toml:"cert_path"`
	KeyPath  string `toml:"key_path"`
	// ClientCAPath, when set, turns on client-certificate verification
	// against these CAs (mTLS).
	ClientCAPath string `toml:"client_ca_path"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `toml:"min_version"`
	// ClientAuth is "require" (default when client_ca_path is set: every
	// client must present a valid certificate) or "verify_if_given"
	// (certificates are optional but verified when presented). Go
	// extension.
	ClientAuth string `toml:"client_auth"`
}

// StateMachine is one [[state_machines]] table (decision D11).
type StateMachine struct {
	Name         string `toml:"name"`
	InitialState string `toml:"initial_state"`
	// States lists the valid states; when empty, any state name is
	// accepted and references are not checked.
	States      []string              `toml:"states"`
	Transitions []StateTransition     `toml:"transitions"`
	Timeouts    []StateMachineTimeout `toml:"timeouts"`
	// Line is where the table starts in the config file.
	Line int `toml:"-"`
}

// StateTransition is one allowed transition of a state machine.
type StateTransition struct {
	From         string       `toml:"from"`
	To           string       `toml:"to"`
	OnTransition OnTransition `toml:"on_transition"`
}

// OnTransition says what happens when a transition fires.
type OnTransition struct {
	Notify     bool              `toml:"notify"`
	WebhookURL string            `toml:"webhook_url"`
	Metadata   map[string]string `toml:"metadata"`
}

// StateMachineTimeout moves an event out of InState after AfterSeconds.
type StateMachineTimeout struct {
	// InState is also accepted under the key "state" (upstream docs).
	InState      string `toml:"in_state" alias:"state"`
	AfterSeconds uint64 `toml:"after_seconds"`
	TransitionTo string `toml:"transition_to"`
}

// Defaults returns the configuration used when no file exists.
func Defaults() *Config {
	ttl := uint64(defaultAuditTTL)
	return &Config{
		Server: Server{
			Host:                       "127.0.0.1",
			Port:                       8080,
			ShutdownTimeoutSeconds:     30,
			MaxConcurrentDispatch:      5000,
			MaxBodyBytes:               2 << 20,
			MaxBatchSize:               1000,
			MaxSSEConnectionsPerTenant: 10,
			MaxPayloadDepth:            64,
			MaxMetadataLabels:          128,
			MaxHeaderBytes:             64 << 10,
			ReadHeaderTimeoutSeconds:   10,
			ReadTimeoutSeconds:         60,
			IdleTimeoutSeconds:         120,
		},
		State: State{
			Backend:                 "memory",
			MemorySweepIntervalSecs: 60,
		},
		Audit: Audit{
			Backend:                "memory",
			Prefix:                 "acteon_",
			TTLSeconds:             &ttl,
			CleanupIntervalSeconds: 3600,
			StorePayload:           true,
			Redact:                 AuditRedact{Placeholder: "[REDACTED]"},
			QueueSize:              50000,
			BatchSize:              0, // backend default: PostgreSQL 2000, ClickHouse 5000, else 500
			FlushIntervalMs:        100,
		},
		Executor: Executor{
			MaxRetries:     3,
			TimeoutSeconds: 30,
			MaxConcurrent:  10,
		},
		CircuitBreaker: CircuitBreaker{
			FailureThreshold:       5,
			SuccessThreshold:       2,
			RecoveryTimeoutSeconds: 60,
			SyncIntervalSeconds:    2,
		},
		Background: Background{
			Enabled:                      true,
			GroupFlushIntervalSeconds:    5,
			TimeoutCheckIntervalSeconds:  10,
			CleanupIntervalSeconds:       60,
			EnableGroupFlush:             true,
			EnableTimeoutProcessing:      true,
			EnableApprovalRetry:          true,
			ScheduledCheckIntervalSecs:   5,
			RecurringCheckIntervalSecs:   60,
			MaxRecurringActionsPerTenant: 100,
			RetentionCheckIntervalSecs:   3600,
			StaleTaskCheckIntervalSecs:   60,
			EnableTemplateSync:           true,
			TemplateSyncIntervalSeconds:  30,
			EnableSilenceSync:            true,
			SilenceSyncIntervalSeconds:   10,
			EnableTimeIntervalSync:       true,
			TimeIntervalSyncIntervalSecs: 30,
			EnableGroupSync:              true,
			GroupSyncIntervalSeconds:     30,
			BatchSize:                    1000,
			DLQRetentionSeconds:          604800,
		},
		Auth: Auth{
			ConfigPath: "auth.toml",
			Watch:      true,
		},
		RateLimit: RateLimit{
			ConfigPath: "ratelimit.toml",
			OnError:    "allow",
			Watch:      true,
		},
		TLS: TLS{Server: TLSServer{MinVersion: "1.2"}},
	}
}

const defaultAuditTTL = 2592000

// Backend defaults applied after decoding when the key is absent.
const (
	DefaultRedisURL       = "redis://127.0.0.1:6379"
	DefaultRedisPrefix    = "acteon"
	DefaultPostgresPrefix = "acteon_"
	DefaultDynamoDBTable  = "acteon_state"
)

// StateBackends are the accepted [state] backend values.
var StateBackends = []string{"memory", "redis", "postgres", "dynamodb", "clickhouse"}

// AuditBackends are the accepted [audit] backend values.
var AuditBackends = []string{"memory", "postgres", "clickhouse"}

// KnownProviderTypes are the [[providers]] type values this build can
// construct. Validation rejects any other type (upstream: unknown type is a
// startup error). Provider packages that register more types may append
// here before loading.
var KnownProviderTypes = []string{"log", "webhook"}
