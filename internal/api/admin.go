package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/auth"
)

func (s *Server) queryAudit(w http.ResponseWriter, r *http.Request) {
	if s.o.Audit == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "audit is not enabled")
		return
	}
	if !requirePerm(w, r, auth.PermAuditRead) {
		return
	}
	q, err := parseAuditQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "invalid query string: "+err.Error())
		return
	}
	if q.Tenant != "" && !requireScope(w, r, q.Tenant, q.Namespace) {
		return
	}
	// A list never shows another tenant's records.
	q.TenantScope = identity(r).TenantScope()
	page, err := s.o.Audit.Query(r.Context(), q)
	if err != nil {
		if errors.Is(err, audit.ErrBadCursor) {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
			return
		}
		writeErrorRetry(w, http.StatusServiceUnavailable, "AUDIT_UNAVAILABLE", "audit query failed: "+err.Error(), true)
		return
	}
	if page.Records == nil {
		page.Records = []audit.Record{}
	}
	writeJSON(w, http.StatusOK, page)
}

func parseAuditQuery(r *http.Request) (audit.Query, error) {
	v := r.URL.Query()
	q := audit.Query{
		Namespace: v.Get("namespace"), Tenant: v.Get("tenant"), Provider: v.Get("provider"),
		ActionType: v.Get("action_type"), Outcome: v.Get("outcome"), Verdict: v.Get("verdict"),
		MatchedRule: v.Get("matched_rule"), CallerID: v.Get("caller_id"), ChainID: v.Get("chain_id"),
		SignerID: v.Get("signer_id"), Kid: v.Get("kid"), Cursor: v.Get("cursor"),
	}
	for _, f := range []struct {
		name string
		dst  **time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, errors.New(f.name + ": want an RFC 3339 timestamp, got " + strconv.Quote(s))
			}
			*f.dst = &t
		}
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"limit", &q.Limit}, {"offset", &q.Offset}} {
		if s := v.Get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return q, errors.New(f.name + ": want a non-negative integer, got " + strconv.Quote(s))
			}
			*f.dst = n
		}
	}
	if s := v.Get("limit"); s == "0" {
		q.Limit = 1
	}
	q.Limit = audit.ClampLimit(q.Limit)
	if s := v.Get("sort_by_sequence_asc"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, errors.New("sort_by_sequence_asc: want true or false")
		}
		q.SortBySequenceAsc = b
	}
	return q, nil
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	if s.o.Audit == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "audit is not enabled")
		return
	}
	if !requirePerm(w, r, auth.PermAuditRead) {
		return
	}
	id := r.PathValue("action_id")
	rec, err := s.o.Audit.GetByActionID(r.Context(), id)
	if err != nil {
		if errors.Is(err, audit.ErrNotFound) {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "no audit record found for action: "+id)
			return
		}
		writeErrorRetry(w, http.StatusServiceUnavailable, "AUDIT_UNAVAILABLE", "audit lookup failed: "+err.Error(), true)
		return
	}
	if !identity(r).Allows(rec.Tenant, rec.Namespace, rec.Provider, rec.ActionType) {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "no grant covers this audit record")
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) dlqStats(w http.ResponseWriter, r *http.Request) {
	if !requireUnrestricted(w, r, "dead-letter queue") {
		return
	}
	if s.o.DLQ == nil {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "count": 0})
		return
	}
	n, err := s.o.DLQ.Count(r.Context())
	if err != nil {
		writeErrorRetry(w, http.StatusServiceUnavailable, "STATE_UNAVAILABLE", "dead-letter queue unavailable: "+err.Error(), true)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "count": n})
}

func (s *Server) dlqDrain(w http.ResponseWriter, r *http.Request) {
	if !requirePerm(w, r, auth.PermDispatch) || !requireUnrestricted(w, r, "dead-letter queue") {
		return
	}
	if s.o.DLQ == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "dead-letter queue is not enabled")
		return
	}
	entries, err := s.o.DLQ.Drain(r.Context())
	if err != nil {
		writeErrorRetry(w, http.StatusServiceUnavailable, "STATE_UNAVAILABLE", "dead-letter queue unavailable: "+err.Error(), true)
		return
	}
	if entries == nil {
		writeJSON(w, http.StatusOK, map[string]any{"entries": []any{}, "count": 0})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "count": len(entries)})
}

// providerHealth is one entry of GET /v1/providers/health.
type providerHealth struct {
	Provider            string  `json:"provider"`
	Healthy             bool    `json:"healthy"`
	HealthCheckError    *string `json:"health_check_error,omitempty"`
	CircuitBreakerState *string `json:"circuit_breaker_state,omitempty"`
	TotalRequests       uint64  `json:"total_requests"`
	Successes           uint64  `json:"successes"`
	Failures            uint64  `json:"failures"`
	SuccessRate         float64 `json:"success_rate"`
	AvgLatencyMs        float64 `json:"avg_latency_ms"`
	P50LatencyMs        float64 `json:"p50_latency_ms"`
	P95LatencyMs        float64 `json:"p95_latency_ms"`
	P99LatencyMs        float64 `json:"p99_latency_ms"`
	LastRequestAt       *int64  `json:"last_request_at,omitempty"`
	LastError           *string `json:"last_error,omitempty"`
}

func (s *Server) providersHealth(w http.ResponseWriter, r *http.Request) {
	reg := s.o.Gateway.Providers()
	out := make([]providerHealth, 0, len(reg.Names()))
	for _, name := range reg.Names() {
		p, _ := reg.Get(name)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		herr := p.HealthCheck(ctx)
		cancel()
		ph := providerHealth{Provider: name, Healthy: herr == nil}
		if herr != nil {
			e := herr.Error()
			ph.HealthCheckError = &e
		}
		if s.o.Breakers != nil {
			st := s.o.Breakers.State(name)
			ph.CircuitBreakerState = &st
		}
		if s.o.Health != nil {
			st := s.o.Health.Snapshot(name)
			ph.TotalRequests, ph.Successes, ph.Failures = st.TotalRequests, st.Successes, st.Failures
			ph.SuccessRate, ph.AvgLatencyMs = st.SuccessRate, st.AvgLatencyMs
			ph.P50LatencyMs, ph.P95LatencyMs, ph.P99LatencyMs = st.P50LatencyMs, st.P95LatencyMs, st.P99LatencyMs
			ph.LastRequestAt = st.LastRequestAt
			if st.LastError != "" {
				e := st.LastError
				ph.LastError = &e
			}
		}
		out = append(out, ph)
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

func (s *Server) listBreakers(w http.ResponseWriter, r *http.Request) {
	if s.o.Breakers == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "circuit breakers are not enabled")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"circuit_breakers": s.o.Breakers.Snapshot()})
}

func (s *Server) tripBreaker(w http.ResponseWriter, r *http.Request) {
	s.changeBreaker(w, r, true)
}

func (s *Server) resetBreaker(w http.ResponseWriter, r *http.Request) {
	s.changeBreaker(w, r, false)
}

func (s *Server) changeBreaker(w http.ResponseWriter, r *http.Request, trip bool) {
	if !requirePerm(w, r, auth.PermCircuitBreakerManage) {
		return
	}
	if s.o.Breakers == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "circuit breakers are not enabled")
		return
	}
	name := r.PathValue("provider")
	if !s.o.Gateway.Providers().Has(name) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "provider not found: "+name)
		return
	}
	if trip {
		s.o.Breakers.Trip(name)
		writeJSON(w, http.StatusOK, map[string]any{"provider": name, "state": "open", "message": "circuit breaker tripped"})
		return
	}
	s.o.Breakers.Reset(name)
	writeJSON(w, http.StatusOK, map[string]any{"provider": name, "state": "closed", "message": "circuit breaker reset"})
}
