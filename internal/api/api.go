// Package api is the HTTP face of the gateway: it decodes requests, calls
// the gateway and the admin services, and encodes upstream-compatible JSON.
// It is the first stop of an action's path (decode → gateway.Dispatch →
// encode the Outcome).
//
// Every error body is JSON (decision D3) and carries both shapes clients
// parse: {"error":"…","code":"…","message":"…","retryable":false}. Errors
// are mapped to HTTP statuses in one place, writeGatewayError.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/httpjson"
	"github.com/acteon/acteon-go/internal/provider"
)

// RulesAdmin reloads rule files. The app's reloader satisfies it.
type RulesAdmin interface {
	// Reload loads dir ("" = the configured directory) and swaps the rule
	// set in atomically. On failure the old set stays and the error lists
	// every problem.
	Reload(dir string) (ReloadResult, error)
}

// ReloadResult describes a successful reload.
type ReloadResult struct {
	Loaded    int
	Directory string
	Warnings  []string
}

// Authenticator resolves callers. The auth package's authenticator
// satisfies it; nil means authentication is disabled.
type Authenticator interface {
	// Middleware authenticates each request (or answers 401 itself) and
	// stores the auth.Identity in the request context. Public routes pass
	// through anonymously.
	Middleware(next http.Handler) http.Handler
}

// Options configures the HTTP API.
type Options struct {
	Authenticator Authenticator
	// Register adds feature routes (groups, silences, …) to the same mux,
	// behind the same authentication and instrumentation.
	Register []func(mux *http.ServeMux)
	Gateway  *gateway.Gateway
	Rules    RulesAdmin
	// Audit is nil when audit is disabled.
	Audit audit.Store
	// DLQ is nil when the dead-letter queue is disabled.
	DLQ      *executor.DLQ
	Health   *provider.Health
	Breakers *executor.Breakers
	Gatherer prometheus.Gatherer
	// Registerer receives the API's own metrics (nil: none).
	Registerer   prometheus.Registerer
	MaxBodyBytes int64
	MaxBatchSize int
	// MaxConcurrentDispatch caps actions in flight across all dispatch
	// requests (a batch counts each action); beyond it requests get 429.
	// Zero means 5000.
	MaxConcurrentDispatch int
	// MaxPayloadDepth and MaxMetadataLabels limit each action (zero:
	// DefaultMaxPayloadDepth, DefaultMaxMetadataLabels); see limits.go.
	MaxPayloadDepth   int
	MaxMetadataLabels int
	// TenantLimiter applies per-tenant rate limits to dispatches (nil: none).
	TenantLimiter TenantLimiter
	Logger        *slog.Logger
}

// Server holds the handlers. Use Handler to get the routed http.Handler.
type Server struct {
	o        Options
	inflight atomic.Int64
	log      *slog.Logger
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New builds the API server.
func New(o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 2 << 20
	}
	if o.MaxBatchSize <= 0 {
		o.MaxBatchSize = 1000
	}
	if o.MaxConcurrentDispatch <= 0 {
		o.MaxConcurrentDispatch = 5000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: o.Logger.With("component", "api")}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "acteon_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
	}, []string{"route"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.requests, s.duration)
	}
	return s
}

// Handler returns the routed handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /metrics", s.metricsJSON)
	if s.o.Gatherer != nil {
		mux.Handle("GET /metrics/prometheus", promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("POST /v1/dispatch", s.dispatch)
	mux.HandleFunc("POST /v1/dispatch/batch", s.dispatchBatch)
	mux.HandleFunc("GET /v1/rules", s.listRules)
	mux.HandleFunc("POST /v1/rules/reload", s.reloadRules)
	mux.HandleFunc("PUT /v1/rules/{name}/enabled", s.setRuleEnabled)
	mux.HandleFunc("POST /v1/rules/evaluate", s.evaluateRules)
	mux.HandleFunc("GET /v1/audit", s.queryAudit)
	mux.HandleFunc("GET /v1/audit/{action_id}", s.getAudit)
	mux.HandleFunc("GET /v1/dlq/stats", s.dlqStats)
	mux.HandleFunc("POST /v1/dlq/drain", s.dlqDrain)
	mux.HandleFunc("GET /v1/providers/health", s.providersHealth)
	mux.HandleFunc("GET /admin/circuit-breakers", s.listBreakers)
	mux.HandleFunc("POST /admin/circuit-breakers/{provider}/trip", s.tripBreaker)
	mux.HandleFunc("POST /admin/circuit-breakers/{provider}/reset", s.resetBreaker)
	for _, reg := range s.o.Register {
		reg(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.instrument(mux, s.authenticate(mux))
}

// statusRecorder captures the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) instrument(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The route label is the matched pattern, looked up here because
		// the handlers below may see a copy of r.
		_, route := mux.Handler(r)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("handler panic", "route", route, "panic", fmt.Sprint(v))
				writeError(rec, http.StatusInternalServerError, "INTERNAL", "internal error")
			}
			if route == "" || route == "/" {
				route = "other"
			}
			s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			s.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

type errorBody = httpjson.ErrorBody

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }

func writeError(w http.ResponseWriter, status int, code, msg string) {
	httpjson.Error(w, status, code, msg, false)
}

func writeErrorRetry(w http.ResponseWriter, status int, code, msg string, retryable bool) {
	httpjson.Error(w, status, code, msg, retryable)
}

// gatewayErrorStatus maps a gateway error to HTTP: the only place that does.
func gatewayErrorStatus(err error) (int, string, bool) {
	switch {
	case errors.Is(err, gateway.ErrStateUnavailable):
		return http.StatusServiceUnavailable, "STATE_UNAVAILABLE", true
	case errors.Is(err, gateway.ErrAuditUnavailable):
		return http.StatusServiceUnavailable, "AUDIT_UNAVAILABLE", true
	case errors.Is(err, gateway.ErrShuttingDown):
		return http.StatusServiceUnavailable, "SHUTTING_DOWN", true
	case errors.Is(err, gateway.ErrNotImplemented):
		return http.StatusNotImplemented, "NOT_IMPLEMENTED", false
	case errors.Is(err, gateway.ErrProviderNotFound):
		return http.StatusInternalServerError, "PROVIDER_NOT_FOUND", false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "TIMEOUT", true
	}
	return http.StatusInternalServerError, "INTERNAL", false
}

func writeGatewayError(w http.ResponseWriter, err error) {
	status, code, retry := gatewayErrorStatus(err)
	writeErrorRetry(w, status, code, err.Error(), retry)
}

// readJSONBody enforces the content type and size limit; see
// httpjson.ReadBody.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, required bool) ([]byte, bool) {
	return httpjson.ReadBody(w, r, s.o.MaxBodyBytes, required)
}

func decodeBody(w http.ResponseWriter, body []byte, v any) bool { return httpjson.Decode(w, body, v) }

func decodeErrorStatus(err error) (int, string) {
	var de *action.DecodeError
	if errors.As(err, &de) && de.Syntax {
		return http.StatusBadRequest, "BAD_REQUEST"
	}
	return http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY"
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	m, _ := s.o.Gateway.Metrics().MarshalJSON()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok","metrics":`)
	_, _ = w.Write(m)
	_, _ = io.WriteString(w, "}")
}

func (s *Server) metricsJSON(w http.ResponseWriter, r *http.Request) {
	m, _ := s.o.Gateway.Metrics().MarshalJSON()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(m)
}

// admit takes n dispatch permits without waiting; when the gateway is at
// [server] max_concurrent_dispatch it answers 429 and returns false.
func (s *Server) admit(w http.ResponseWriter, n int) bool {
	if s.inflight.Add(int64(n)) > int64(s.o.MaxConcurrentDispatch) {
		s.inflight.Add(-int64(n))
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"error": "rate limit exceeded", "code": "RATE_LIMITED", "message": "too many dispatches in flight",
			"retryable": true, "retry_after": 1,
		})
		return false
	}
	return true
}

func (s *Server) release(n int) { s.inflight.Add(-int64(n)) }
