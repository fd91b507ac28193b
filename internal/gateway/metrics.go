package gateway

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/rules"
)

// counterNames are the JSON keys of GET /metrics, in upstream's order. The
// ones this gateway never increments yet stay at zero so that clients that
// read them keep working.
var counterNames = []string{
	"dispatched", "executed", "deduplicated", "suppressed", "silenced", "muted",
	"rerouted", "throttled", "failed", "llm_guardrail_allowed", "llm_guardrail_denied",
	"llm_guardrail_errors", "chains_started", "chains_completed", "chains_failed",
	"chains_cancelled", "pending_approval", "circuit_open", "circuit_transitions",
	"circuit_fallbacks", "scheduled", "recurring_dispatched", "recurring_events_emitted",
	"recurring_errors", "recurring_skipped", "recurring_active", "quota_exceeded",
	"quota_warned", "quota_degraded", "quota_notified", "retention_deleted_state",
	"retention_skipped_compliance", "retention_errors", "stale_tasks_reaped",
	"stale_task_reaper_errors", "wasm_invocations", "wasm_errors", "signing_verified",
	"signing_invalid", "signing_unknown_signer", "signing_scope_denied",
	"signing_unsigned_rejected", "signing_unsigned_allowed", "replay_rejected",
}

// promActionCounters are exposed as acteon_actions_<name>_total.
var promActionCounters = map[string]bool{
	"dispatched": true, "executed": true, "deduplicated": true, "suppressed": true,
	"silenced": true, "muted": true, "rerouted": true, "throttled": true, "failed": true,
	"pending_approval": true, "scheduled": true,
}

// Metrics holds the gateway's process-local counters. Increments are one
// atomic add; Prometheus reads the same atomics at scrape time, so nothing
// is counted twice.
type Metrics struct {
	c     []atomic.Uint64
	index map[string]int

	ruleMu      sync.Mutex
	ruleMatches *prometheus.CounterVec
	ruleErrors  *prometheus.CounterVec
	// per-rule counters cached by rule pointer, rebuilt on rule swap.
	ruleCache atomic.Pointer[map[*rules.Rule]ruleCounters]
}

type ruleCounters struct {
	matches, errors prometheus.Counter
}

// Counter indexes into Metrics.c for the hot path.
const (
	cDispatched = iota
	cExecuted
	cDeduplicated
	cSuppressed
	cSilenced
	cMuted
	cRerouted
	cThrottled
	cFailed
)

var cCircuitOpen, cCircuitFallbacks, cPendingApproval, cScheduled, cChainsStarted int

func init() {
	for i, n := range counterNames {
		switch n {
		case "circuit_open":
			cCircuitOpen = i
		case "circuit_fallbacks":
			cCircuitFallbacks = i
		case "pending_approval":
			cPendingApproval = i
		case "scheduled":
			cScheduled = i
		case "chains_started":
			cChainsStarted = i
		}
	}
}

// NewMetrics builds the counters and registers them on reg (nil: not
// exported to Prometheus).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{c: make([]atomic.Uint64, len(counterNames)), index: map[string]int{}}
	for i, n := range counterNames {
		m.index[n] = i
	}
	m.ruleMatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_rule_matches_total", Help: "Dispatches decided by each rule.",
	}, []string{"rule"})
	m.ruleErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_rule_errors_total", Help: "Runtime errors while evaluating a rule's condition (treated as no match).",
	}, []string{"rule"})
	if reg != nil {
		for i, n := range counterNames {
			i := i
			name := "acteon_" + n + "_total"
			if promActionCounters[n] {
				name = "acteon_actions_" + n + "_total"
			}
			// recurring_active is a gauge elsewhere; circuit_transitions is
			// exported with provider and state labels by the breakers.
			if n == "recurring_active" || n == "circuit_transitions" {
				continue
			}
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: name, Help: "Gateway counter " + n + ".",
			}, func() float64 { return float64(m.c[i].Load()) }))
		}
		reg.MustRegister(m.ruleMatches, m.ruleErrors)
	}
	empty := map[*rules.Rule]ruleCounters{}
	m.ruleCache.Store(&empty)
	return m
}

func (m *Metrics) inc(i int) { m.c[i].Add(1) }

// Get returns one counter by its JSON name.
func (m *Metrics) Get(name string) uint64 {
	i, ok := m.index[name]
	if !ok {
		return 0
	}
	return m.c[i].Load()
}

// MarshalJSON renders the MetricsResponse of GET /metrics.
func (m *Metrics) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range counterNames {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(n)
		b.WriteString(`":`)
		b.WriteString(strconv.FormatUint(m.c[i].Load(), 10))
	}
	b.WriteString(`,"signing_enabled":false}`)
	return b.Bytes(), nil
}

// prepareRules pre-creates per-rule series at zero and caches them by rule
// pointer so the hot path does no label lookup.
func (m *Metrics) prepareRules(set *rules.Set) {
	m.ruleMu.Lock()
	defer m.ruleMu.Unlock()
	cache := make(map[*rules.Rule]ruleCounters, set.Len())
	for _, r := range set.Rules() {
		cache[r] = ruleCounters{
			matches: m.ruleMatches.WithLabelValues(r.Name),
			errors:  m.ruleErrors.WithLabelValues(r.Name),
		}
	}
	m.ruleCache.Store(&cache)
}

func (m *Metrics) ruleMatched(r *rules.Rule) {
	if rc, ok := (*m.ruleCache.Load())[r]; ok {
		rc.matches.Inc()
		return
	}
	m.ruleMatches.WithLabelValues(r.Name).Inc()
}

func (m *Metrics) ruleErrored(name string, r *rules.Set) {
	if rr := r.Lookup(name); rr != nil {
		if rc, ok := (*m.ruleCache.Load())[rr]; ok {
			rc.errors.Inc()
			return
		}
	}
	m.ruleErrors.WithLabelValues(name).Inc()
}

// countOutcome bumps the counter for an outcome kind.
func (m *Metrics) countOutcome(k action.OutcomeKind) {
	switch k {
	case action.OutcomeExecuted:
		m.inc(cExecuted)
	case action.OutcomeDeduplicated:
		m.inc(cDeduplicated)
	case action.OutcomeSuppressed:
		m.inc(cSuppressed)
	case action.OutcomeSilenced:
		m.inc(cSilenced)
	case action.OutcomeMuted:
		m.inc(cMuted)
	case action.OutcomeRerouted:
		m.inc(cRerouted)
	case action.OutcomeThrottled:
		m.inc(cThrottled)
	case action.OutcomeFailed:
		m.inc(cFailed)
	case action.OutcomeCircuitOpen:
		m.inc(cCircuitOpen)
	case action.OutcomePendingApproval:
		m.inc(cPendingApproval)
	case action.OutcomeScheduled:
		m.inc(cScheduled)
	case action.OutcomeChainStarted:
		m.inc(cChainsStarted)
	}
}
