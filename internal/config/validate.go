package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// validate checks every value and cross-reference, recording all problems.
func (d *decoder) validate(c *Config) {
	d.validateServer(&c.Server)
	d.validateState(&c.State)
	d.validateAudit(&c.Audit)
	d.validateRules(&c.Rules)

	d.atLeast("executor.timeout_seconds", c.Executor.TimeoutSeconds, 1)
	d.atLeast("executor.max_concurrent", c.Executor.MaxConcurrent, 1)

	providers := d.validateProviders(c.Providers)
	d.validateBreaker(&c.CircuitBreaker, providers)
	d.validateBackground(&c.Background)

	if c.Auth.Enabled && c.Auth.ConfigPath == "" {
		d.errorf("auth.config_path", "must be set when auth is enabled")
	}
	if c.RateLimit.Enabled && c.RateLimit.ConfigPath == "" {
		d.errorf("rate_limit.config_path", "must be set when rate limiting is enabled")
	}
	d.oneOf("rate_limit.on_error", "on_error value", c.RateLimit.OnError, []string{"allow", "deny"})
	d.validateTLS(&c.TLS)

	d.validateStateMachines(c.StateMachines)
}

func (d *decoder) atLeast(path string, v, minV uint64) {
	if v < minV {
		d.errorf(path, "must be >= %d, got %d", minV, v)
	}
}

func (d *decoder) oneOf(path, what, v string, allowed []string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	d.errorf(path, "invalid %s %q (want one of %s)", what, v, strings.Join(allowed, ", "))
	return false
}

func (d *decoder) validateServer(s *Server) {
	if s.Host == "" {
		d.errorf("server.host", "must not be empty")
	}
	d.atLeast("server.max_concurrent_dispatch", s.MaxConcurrentDispatch, 1)
	if s.MaxBodyBytes < 1 {
		d.errorf("server.max_body_bytes", "must be >= 1, got %d", s.MaxBodyBytes)
	}
	d.atLeast("server.max_batch_size", s.MaxBatchSize, 1)
	d.atLeast("server.max_payload_depth", s.MaxPayloadDepth, 1)
	d.atLeast("server.max_metadata_labels", s.MaxMetadataLabels, 1)
	d.atLeast("server.max_header_bytes", s.MaxHeaderBytes, 1024)
	d.atLeast("server.read_header_timeout_seconds", s.ReadHeaderTimeoutSeconds, 1)
	if s.ExternalURL != "" {
		u, err := url.Parse(s.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf("server.external_url", "must be an absolute http(s) URL, got %q", s.ExternalURL)
		}
	}
	if s.ApprovalSecret != "" {
		if _, err := hex.DecodeString(s.ApprovalSecret.Reveal()); err != nil {
			d.errorf("server.approval_secret", "must be hex-encoded")
		}
	}
	ids := map[string]bool{}
	for i, k := range s.ApprovalKeys {
		p := joinIndex("server.approval_keys", i)
		switch {
		case k.ID == "":
			d.errorf(joinKey(p, "id"), "must not be empty")
		case ids[k.ID]:
			d.errorf(joinKey(p, "id"), "duplicate key id %q", k.ID)
		}
		ids[k.ID] = true
		if k.Secret == "" {
			d.errorf(joinKey(p, "secret"), "must not be empty")
		} else if _, err := hex.DecodeString(k.Secret.Reveal()); err != nil {
			d.errorf(joinKey(p, "secret"), "must be hex-encoded")
		}
	}
}

func (d *decoder) validateTLS(t *TLS) {
	d.oneOf("tls.server.min_version", "TLS version", t.Server.MinVersion, []string{"1.2", "1.3"})
	if t.Server.ClientAuth != "" {
		d.oneOf("tls.server.client_auth", "client_auth value", t.Server.ClientAuth, []string{"require", "verify_if_given"})
		if t.Server.ClientCAPath == "" {
			d.errorf("tls.server.client_auth", "needs tls.server.client_ca_path")
		}
	}
	if !t.Enabled {
		return
	}
	if t.Server.CertPath == "" {
		d.errorf("tls.server.cert_path", "must be set when tls is enabled")
	}
	if t.Server.KeyPath == "" {
		d.errorf("tls.server.key_path", "must be set when tls is enabled")
	}
}

func (d *decoder) validateState(s *State) {
	if !d.oneOf("state.backend", "state backend", s.Backend, StateBackends) {
		return
	}
	if (s.Backend == "postgres" || s.Backend == "clickhouse") && s.URL == "" {
		d.errorf("state.url", "must be set for the %s backend", s.Backend)
	}
}

func (d *decoder) validateAudit(a *Audit) {
	if d.oneOf("audit.backend", "audit backend", a.Backend, AuditBackends) && a.Enabled {
		switch a.Backend {
		case "postgres", "clickhouse", "elasticsearch":
			if a.URL == "" {
				d.errorf("audit.url", "must be set for the %s backend", a.Backend)
			}
		}
	}
	if a.TTLSeconds != nil && *a.TTLSeconds == 0 {
		d.errorf("audit.ttl_seconds", "must be >= 1, got 0 (leave it out for no expiry)")
	}
	if a.Enabled { // the writer and the cleanup job run only when enabled
		d.atLeast("audit.cleanup_interval_seconds", a.CleanupIntervalSeconds, 1)
		d.atLeast("audit.queue_size", a.QueueSize, 1)
		d.atLeast("audit.flush_interval_ms", a.FlushIntervalMs, 1)
	}
	for i, f := range a.Redact.Fields {
		if f == "" {
			d.errorf(joinIndex("audit.redact.fields", i), "must not be empty")
		}
	}
}

func (d *decoder) validateRules(r *Rules) {
	if tz := r.DefaultTimezone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			d.errorf("rules.default_timezone", "unknown time zone %q", tz)
		}
	}
}

// validateProviders checks names and types and returns the set of names.
func (d *decoder) validateProviders(ps []ProviderConfig) map[string]bool {
	names := make(map[string]bool, len(ps))
	first := make(map[string]int, len(ps))
	for i, p := range ps {
		path := joinIndex("providers", i)
		if p.Name == "" {
			if _, set := p.Raw["name"]; !set || d.noErrorAt(joinKey(path, "name")) {
				d.errorf(joinKey(path, "name"), "must be set")
			}
		} else if _, dup := first[p.Name]; dup {
			d.errorf(joinKey(path, "name"), "duplicate provider name %q (first defined at %s)", p.Name, d.lineRef(joinIndex("providers", first[p.Name])))
		} else {
			first[p.Name] = i
			names[p.Name] = true
		}
		switch {
		case p.Type == "":
			if _, set := p.Raw["type"]; !set || d.noErrorAt(joinKey(path, "type")) {
				d.errorf(joinKey(path, "type"), "must be set")
			}
		case !slices.Contains(KnownProviderTypes, p.Type):
			d.errorf(joinKey(path, "type"), "unknown provider type %q (want one of %s)", p.Type, strings.Join(KnownProviderTypes, ", "))
		}
	}
	return names
}

// noErrorAt reports whether no error was recorded at path yet (so a type
// error is not followed by a redundant "must be set").
func (d *decoder) noErrorAt(path string) bool {
	return !d.errPaths[path]
}

func (d *decoder) lineRef(path string) string {
	if l := d.pos.line(path); l > 0 {
		return fmt.Sprintf("line %d", l)
	}
	return path
}

// validateBreaker checks the circuit-breaker settings when breakers are on.
func (d *decoder) validateBreaker(cb *CircuitBreaker, providers map[string]bool) {
	if !cb.Enabled {
		return
	}
	d.atLeast("circuit_breaker.failure_threshold", uint64(cb.FailureThreshold), 1)
	d.atLeast("circuit_breaker.success_threshold", uint64(cb.SuccessThreshold), 1)
	d.atLeast("circuit_breaker.recovery_timeout_seconds", cb.RecoveryTimeoutSeconds, 1)
	for _, name := range sortedKeysOf(cb.Providers) {
		o := cb.Providers[name]
		p := joinKey("circuit_breaker.providers", name)
		if o.FailureThreshold != nil {
			d.atLeast(joinKey(p, "failure_threshold"), uint64(*o.FailureThreshold), 1)
		}
		if o.SuccessThreshold != nil {
			d.atLeast(joinKey(p, "success_threshold"), uint64(*o.SuccessThreshold), 1)
		}
		if o.RecoveryTimeoutSeconds != nil {
			d.atLeast(joinKey(p, "recovery_timeout_seconds"), *o.RecoveryTimeoutSeconds, 1)
		}
		if !providers[name] {
			d.warns = append(d.warns, Warning{File: d.file, Line: d.pos.line(p), Path: p,
				Msg: fmt.Sprintf("%s: no provider named %q; override unused", p, name)})
		}
		switch fb := o.FallbackProvider; {
		case fb == "":
		case fb == name:
			d.errorf(joinKey(p, "fallback_provider"), "provider %q cannot be its own fallback", name)
		case !providers[fb]:
			d.errorf(joinKey(p, "fallback_provider"), "undefined provider %q", fb)
		}
	}
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validateBackground checks the interval of each job that will run. Like
// upstream, an interval of a disabled job is not looked at, so an upstream
// config that zeroes the interval of a job it turned off still loads.
func (d *decoder) validateBackground(b *Background) {
	if !b.Enabled {
		return
	}
	for _, iv := range []struct {
		key string
		on  bool
		v   uint64
	}{
		{"group_flush_interval_seconds", b.EnableGroupFlush, b.GroupFlushIntervalSeconds},
		{"timeout_check_interval_seconds", b.EnableTimeoutProcessing, b.TimeoutCheckIntervalSeconds},
		{"cleanup_interval_seconds", true, b.CleanupIntervalSeconds},
		{"scheduled_check_interval_seconds", b.EnableScheduledActions, b.ScheduledCheckIntervalSecs},
		{"recurring_check_interval_seconds", b.EnableRecurringActions, b.RecurringCheckIntervalSecs},
		{"retention_check_interval_seconds", b.EnableRetentionReaper, b.RetentionCheckIntervalSecs},
		{"stale_task_check_interval_seconds", b.EnableStaleTaskReaper, b.StaleTaskCheckIntervalSecs},
		{"template_sync_interval_seconds", b.EnableTemplateSync, b.TemplateSyncIntervalSeconds},
		{"silence_sync_interval_seconds", b.EnableSilenceSync, b.SilenceSyncIntervalSeconds},
		{"time_interval_sync_interval_seconds", b.EnableTimeIntervalSync, b.TimeIntervalSyncIntervalSecs},
		{"group_sync_interval_seconds", b.EnableGroupSync, b.GroupSyncIntervalSeconds},
	} {
		if iv.on {
			d.atLeast("background."+iv.key, iv.v, 1)
		}
	}
}

func (d *decoder) validateStateMachines(sms []StateMachine) {
	seen := map[string]int{}
	for i, sm := range sms {
		p := joinIndex("state_machines", i)
		if sm.Name == "" {
			d.errorf(joinKey(p, "name"), "must be set")
		} else if j, dup := seen[sm.Name]; dup {
			d.errorf(joinKey(p, "name"), "duplicate state machine name %q (first defined at %s)", sm.Name, d.lineRef(joinIndex("state_machines", j)))
		} else {
			seen[sm.Name] = i
		}
		states := map[string]bool{}
		for j, s := range sm.States {
			sp := joinIndex(joinKey(p, "states"), j)
			switch {
			case s == "":
				d.errorf(sp, "must not be empty")
			case states[s]:
				d.errorf(sp, "duplicate state %q", s)
			}
			states[s] = true
		}
		// ref checks that a state name is set and, when states are listed,
		// is one of them.
		ref := func(path, s string) {
			switch {
			case s == "":
				d.errorf(path, "must be set")
			case len(sm.States) > 0 && !states[s]:
				d.errorf(path, "unknown state %q (states: %s)", s, strings.Join(sm.States, ", "))
			}
		}
		ref(joinKey(p, "initial_state"), sm.InitialState)
		for j, t := range sm.Transitions {
			tp := joinIndex(joinKey(p, "transitions"), j)
			ref(joinKey(tp, "from"), t.From)
			ref(joinKey(tp, "to"), t.To)
			if u := t.OnTransition.WebhookURL; u != "" {
				pu, err := url.Parse(u)
				if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
					d.errorf(joinKey(joinKey(tp, "on_transition"), "webhook_url"), "must be an absolute http(s) URL, got %q", u)
				}
			}
		}
		for j, to := range sm.Timeouts {
			tp := joinIndex(joinKey(p, "timeouts"), j)
			ref(joinKey(tp, "in_state"), to.InState)
			ref(joinKey(tp, "transition_to"), to.TransitionTo)
			d.atLeast(joinKey(tp, "after_seconds"), to.AfterSeconds, 1)
		}
	}
}
