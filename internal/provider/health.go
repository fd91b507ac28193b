package provider

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
)

// Health tracking limits (spec 03 §5.3).
const (
	// HealthSamples is how many recent latency samples each provider keeps
	// for percentiles.
	HealthSamples = 1000
	// HealthMaxProviders bounds how many providers are tracked; records for
	// further providers are silently dropped.
	HealthMaxProviders = 1000
	// HealthMaxErrorLen bounds last_error, in characters.
	HealthMaxErrorLen = 500
)

// Health keeps in-process delivery statistics per provider: request counts,
// latency (a ring buffer of the last HealthSamples samples) and the last
// error. It is reset on restart and never shared between nodes.
//
// Health is safe for concurrent use. Record takes one mutex per provider and
// does not allocate on success; the nil *Health ignores Record and reports
// empty snapshots.
type Health struct {
	clock clock.Clock
	m     sync.Map // provider name -> *providerHealth
	n     atomic.Int64
}

type providerHealth struct {
	mu           sync.Mutex
	total        uint64
	successes    uint64
	failures     uint64
	totalMicros  uint64
	samples      [HealthSamples]int64 // microseconds
	next         int                  // ring position
	filled       int                  // valid samples (≤ HealthSamples)
	lastRequest  int64                // unix ms, 0 = never
	lastErr      string
	lastErrValid bool
}

// HealthOption configures a Health.
type HealthOption func(*Health)

// WithHealthClock sets the clock used for last_request_at (default: the
// wall clock).
func WithHealthClock(c clock.Clock) HealthOption {
	return func(h *Health) {
		if c != nil {
			h.clock = c
		}
	}
}

// NewHealth returns an empty tracker.
func NewHealth(opts ...HealthOption) *Health {
	h := &Health{clock: clock.Real{}}
	for _, o := range opts {
		o(h)
	}
	return h
}

// HealthStats is one provider's statistics, in the field names of
// GET /v1/providers/health (spec 01 §2.5). Latencies are milliseconds.
type HealthStats struct {
	Provider      string  `json:"provider"`
	TotalRequests uint64  `json:"total_requests"`
	Successes     uint64  `json:"successes"`
	Failures      uint64  `json:"failures"`
	SuccessRate   float64 `json:"success_rate"`
	AvgLatencyMs  float64 `json:"avg_latency_ms"`
	P50LatencyMs  float64 `json:"p50_latency_ms"`
	P95LatencyMs  float64 `json:"p95_latency_ms"`
	P99LatencyMs  float64 `json:"p99_latency_ms"`
	// LastRequestAt is unix milliseconds; nil before the first request.
	LastRequestAt *int64 `json:"last_request_at,omitempty"`
	// LastError is the most recent failure, at most HealthMaxErrorLen
	// characters; empty when the provider never failed.
	LastError string `json:"last_error,omitempty"`
}

func (h *Health) entry(name string) *providerHealth {
	if v, ok := h.m.Load(name); ok {
		return v.(*providerHealth)
	}
	if h.n.Load() >= HealthMaxProviders {
		return nil
	}
	v, loaded := h.m.LoadOrStore(name, &providerHealth{})
	if !loaded {
		if h.n.Add(1) > HealthMaxProviders {
			// Lost a race past the bound: untrack again.
			h.m.Delete(name)
			h.n.Add(-1)
			return nil
		}
	}
	return v.(*providerHealth)
}

// Record counts one request to provider: its latency and its error (nil
// means success).
func (h *Health) Record(provider string, latency time.Duration, err error) {
	if h == nil {
		return
	}
	h.RecordAt(provider, h.clock.Now(), latency, err)
}

// RecordAt is Record with the request's end time supplied by the caller,
// which saves a clock read when the caller already has one.
func (h *Health) RecordAt(provider string, at time.Time, latency time.Duration, err error) {
	if h == nil {
		return
	}
	e := h.entry(provider)
	if e == nil {
		return
	}
	var msg string
	if err != nil {
		msg = truncateRunes(err.Error(), HealthMaxErrorLen)
	}
	us := latency.Microseconds()
	if us < 0 {
		us = 0
	}
	now := at.UnixMilli()
	e.mu.Lock()
	e.total++
	if err == nil {
		e.successes++
	} else {
		e.failures++
		e.lastErr = msg
		e.lastErrValid = true
	}
	e.totalMicros += uint64(us)
	e.samples[e.next] = us
	e.next++
	if e.next == HealthSamples {
		e.next = 0
	}
	if e.filled < HealthSamples {
		e.filled++
	}
	e.lastRequest = now
	e.mu.Unlock()
}

// Snapshot returns provider's statistics; an unknown provider has all
// zeros.
func (h *Health) Snapshot(provider string) HealthStats {
	st := HealthStats{Provider: provider}
	if h == nil {
		return st
	}
	v, ok := h.m.Load(provider)
	if !ok {
		return st
	}
	e := v.(*providerHealth)
	var buf [HealthSamples]int64
	e.mu.Lock()
	st.TotalRequests = e.total
	st.Successes = e.successes
	st.Failures = e.failures
	n := e.filled
	copy(buf[:n], e.samples[:n])
	totalMicros := e.totalMicros
	if e.lastRequest != 0 {
		ms := e.lastRequest
		st.LastRequestAt = &ms
	}
	if e.lastErrValid {
		st.LastError = e.lastErr
	}
	e.mu.Unlock()

	if st.TotalRequests > 0 {
		st.SuccessRate = float64(st.Successes) / float64(st.TotalRequests) * 100
		st.AvgLatencyMs = float64(totalMicros) / float64(st.TotalRequests) / 1000
	}
	s := buf[:n]
	slices.Sort(s)
	st.P50LatencyMs = percentileMs(s, 50)
	st.P95LatencyMs = percentileMs(s, 95)
	st.P99LatencyMs = percentileMs(s, 99)
	return st
}

// Providers returns the tracked provider names, sorted.
func (h *Health) Providers() []string {
	if h == nil {
		return nil
	}
	var names []string
	h.m.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	slices.Sort(names)
	return names
}

// percentileMs is the nearest-rank percentile of sorted microsecond
// samples: index round(p/100·(n−1)), reported in milliseconds.
func percentileMs(sorted []int64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	idx := int(p/100*float64(n-1) + 0.5)
	if idx >= n {
		idx = n - 1
	}
	return float64(sorted[idx]) / 1000
}

// truncateRunes cuts s to at most max characters without splitting a
// UTF-8 sequence.
func truncateRunes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	count := 0
	for i := range s {
		if count == max {
			return s[:i]
		}
		count++
	}
	return s
}
