package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/httpjson"
	"github.com/acteon/acteon-go/internal/state"
)

// OnError values.
const (
	OnErrorAllow = "allow"
	OnErrorDeny  = "deny"
)

// Options configures a Limiter.
type Options struct {
	Config *Config
	State  state.Store
	// OnError is "allow" (default) or "deny".
	OnError    string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Limiter checks requests against the configured limits. Safe for
// concurrent use; Swap replaces the limits atomically.
type Limiter struct {
	cfg      atomic.Pointer[Config]
	st       state.Store
	deny     bool
	log      *slog.Logger
	rejected *prometheus.CounterVec
	errs     prometheus.Counter
}

// Decision is the answer for one bucket.
type Decision struct {
	Allowed bool
	Limit   int64
	// Remaining is what is left in the window after this request.
	Remaining int64
	// Reset is the time left in the window.
	Reset time.Duration
	// RetryAfter is set when the request is rejected.
	RetryAfter time.Duration
}

// New returns a Limiter.
func New(o Options) (*Limiter, error) {
	if o.Config == nil || o.State == nil {
		return nil, errors.New("ratelimit: Config and State are required")
	}
	switch o.OnError {
	case "", OnErrorAllow, OnErrorDeny:
	default:
		return nil, errors.New(`ratelimit: on_error must be "allow" or "deny"`)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{st: o.State, deny: o.OnError == OnErrorDeny, log: o.Logger.With("component", "ratelimit")}
	l.cfg.Store(o.Config)
	l.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_rate_limit_rejected_total", Help: "Requests rejected by a rate limit, by scope (caller or tenant).",
	}, []string{"scope"})
	l.rejected.WithLabelValues("caller")
	l.rejected.WithLabelValues("tenant")
	l.errs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "acteon_rate_limit_backend_errors_total", Help: "Rate-limit checks that could not reach the state backend (on_error decided).",
	})
	if o.Registerer != nil {
		o.Registerer.MustRegister(l.rejected, l.errs)
	}
	return l, nil
}

// Config returns the current limits.
func (l *Limiter) Config() *Config { return l.cfg.Load() }

// Swap replaces the limits (hot reload).
func (l *Limiter) Swap(c *Config) { l.cfg.Store(c) }

// Key returns the state key of a bucket's counter. The window length is
// part of the key so that a changed window starts a fresh counter.
func Key(bucket string, window time.Duration) state.Key {
	return state.Key{Namespace: "_system", Tenant: "_ratelimit", Kind: state.KindRateLimit,
		ID: bucket + ":" + strconv.FormatInt(int64(window/time.Second), 10)}
}

// Check counts one request against the bucket: one atomic IncrementWindow.
func (l *Limiter) Check(ctx context.Context, bucket string, lim Limit) Decision {
	n, left, err := l.st.IncrementWindow(ctx, Key(bucket, lim.Window), lim.Window)
	if err != nil {
		l.errs.Inc()
		l.log.Warn("rate limit check failed", "bucket", bucket, "on_error", l.onError(), "err", err)
		if l.deny {
			return Decision{Limit: lim.Requests, RetryAfter: 60 * time.Second, Reset: 60 * time.Second}
		}
		return Decision{Allowed: true, Limit: lim.Requests, Remaining: lim.Requests, Reset: lim.Window}
	}
	if left <= 0 {
		left = time.Second
	}
	d := Decision{Limit: lim.Requests, Reset: left}
	if n > lim.Requests {
		d.RetryAfter = left
		return d
	}
	d.Allowed = true
	d.Remaining = lim.Requests - n
	return d
}

func (l *Limiter) onError() string {
	if l.deny {
		return OnErrorDeny
	}
	return OnErrorAllow
}

// ceilSeconds rounds a duration up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// Middleware applies the caller limit to every protected route (after
// authentication, which put the caller in the context). Allowed responses
// carry X-RateLimit-Limit, -Remaining and -Reset; a rejection is 429 with
// Retry-After and {"error":"rate limit exceeded","retry_after":N,"limit":L}.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.IsPublic(r.Method, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		bucket, lim := l.cfg.Load().Caller(auth.IdentityFrom(r.Context()).CallerID)
		d := l.Check(r.Context(), bucket, lim)
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.FormatInt(d.Limit, 10))
		h.Set("X-RateLimit-Remaining", strconv.FormatInt(d.Remaining, 10))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
		if !d.Allowed {
			l.rejected.WithLabelValues("caller").Inc()
			WriteRejection(w, d, true)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckTenants applies the tenant limit once per distinct tenant (when
// [tenants] enabled = true) and returns the first rejection, or an allowed
// decision.
func (l *Limiter) CheckTenants(ctx context.Context, tenants []string) Decision {
	c := l.cfg.Load()
	if !c.TenantsEnabled {
		return Decision{Allowed: true}
	}
	var seen map[string]bool
	for i, t := range tenants {
		if i > 0 {
			if seen == nil {
				seen = map[string]bool{tenants[0]: true}
			}
			if seen[t] {
				continue
			}
			seen[t] = true
		}
		bucket, lim := c.Tenant(t)
		if d := l.Check(ctx, bucket, lim); !d.Allowed {
			l.rejected.WithLabelValues("tenant").Inc()
			return d
		}
	}
	return Decision{Allowed: true}
}

// WriteRejection answers 429 with Retry-After. withLimit adds "limit" to
// the body and X-RateLimit-Remaining: 0 (the caller limit does; the tenant
// limit does not, as upstream).
func WriteRejection(w http.ResponseWriter, d Decision, withLimit bool) {
	ra := ceilSeconds(d.RetryAfter)
	w.Header().Set("Retry-After", strconv.FormatInt(ra, 10))
	body := map[string]any{
		"error": "rate limit exceeded", "code": "RATE_LIMITED", "message": "rate limit exceeded",
		"retryable": true, "retry_after": ra,
	}
	if withLimit {
		w.Header().Set("X-RateLimit-Limit", strconv.FormatInt(d.Limit, 10))
		w.Header().Set("X-RateLimit-Remaining", "0")
		body["limit"] = d.Limit
	}
	httpjson.Write(w, http.StatusTooManyRequests, body)
}

// AllowTenants applies CheckTenants to a dispatch request and answers 429
// itself when a tenant is over its limit (api.TenantLimiter).
func (l *Limiter) AllowTenants(w http.ResponseWriter, r *http.Request, tenants []string) bool {
	d := l.CheckTenants(r.Context(), tenants)
	if d.Allowed {
		return true
	}
	WriteRejection(w, d, false)
	return false
}
