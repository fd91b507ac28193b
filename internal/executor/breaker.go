package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/acteon/acteon-go/internal/clock"
)

// Circuit breaker states, as reported by State and the admin API.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half_open"
)

// Breaker defaults (spec 03 §5.2).
const (
	DefaultFailureThreshold = 5
	DefaultSuccessThreshold = 2
	DefaultRecoveryTimeout  = 60 * time.Second
	// ProbeTimeout is how long a half-open probe holds its slot; an older
	// probe is presumed lost and the slot can be taken again.
	ProbeTimeout = 30 * time.Second
)

// BreakerConfig configures the circuit breakers. Zero thresholds and a zero
// RecoveryTimeout take the defaults; use a per-provider override to set a
// recovery timeout of exactly 0.
type BreakerConfig struct {
	FailureThreshold int
	SuccessThreshold int
	RecoveryTimeout  time.Duration
	PerProvider      map[string]BreakerOverride
}

// BreakerOverride overrides the defaults for one provider; nil fields
// inherit them.
type BreakerOverride struct {
	FailureThreshold *int
	SuccessThreshold *int
	RecoveryTimeout  *time.Duration
	// FallbackProvider receives the provider's actions while its breaker is
	// open.
	FallbackProvider string
}

// Validate checks thresholds (≥ 1 when set) and recovery timeouts (≥ 0).
func (c BreakerConfig) Validate() error {
	var errs []error
	if c.FailureThreshold < 0 {
		errs = append(errs, fmt.Errorf("failure_threshold: must be >= 1, got %d", c.FailureThreshold))
	}
	if c.SuccessThreshold < 0 {
		errs = append(errs, fmt.Errorf("success_threshold: must be >= 1, got %d", c.SuccessThreshold))
	}
	if c.RecoveryTimeout < 0 {
		errs = append(errs, fmt.Errorf("recovery_timeout: must be >= 0, got %s", c.RecoveryTimeout))
	}
	names := make([]string, 0, len(c.PerProvider))
	for n := range c.PerProvider {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		o := c.PerProvider[n]
		if o.FailureThreshold != nil && *o.FailureThreshold < 1 {
			errs = append(errs, fmt.Errorf("providers.%s.failure_threshold: must be >= 1, got %d", n, *o.FailureThreshold))
		}
		if o.SuccessThreshold != nil && *o.SuccessThreshold < 1 {
			errs = append(errs, fmt.Errorf("providers.%s.success_threshold: must be >= 1, got %d", n, *o.SuccessThreshold))
		}
		if o.RecoveryTimeout != nil && *o.RecoveryTimeout < 0 {
			errs = append(errs, fmt.Errorf("providers.%s.recovery_timeout: must be >= 0, got %s", n, *o.RecoveryTimeout))
		}
		if o.FallbackProvider == n {
			errs = append(errs, fmt.Errorf("providers.%s.fallback_provider: must not name the provider itself", n))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("executor: circuit breaker: %w", err)
	}
	return nil
}

// BreakerInfo is one breaker as listed by GET /admin/circuit-breakers.
type BreakerInfo struct {
	Provider               string `json:"provider"`
	State                  string `json:"state"`
	FailureThreshold       int    `json:"failure_threshold"`
	SuccessThreshold       int    `json:"success_threshold"`
	RecoveryTimeoutSeconds uint64 `json:"recovery_timeout_seconds"`
	FallbackProvider       string `json:"fallback_provider,omitempty"`
}

// Breakers holds one circuit breaker per configured provider.
//
// Decisions are made in-process, without a state round trip (D15). With
// several gateway nodes, BreakerSync shares the breakers through the state
// store: a node that opens or closes a breaker (or trips or resets it by
// the admin API) publishes it at once, off the dispatch path, and every
// node adopts the newer open/closed state of its peers every sync
// interval. Half-open probing stays per node.
//
// A breaker is Closed (everything passes; consecutive retryable failures
// are counted and FailureThreshold of them open it), Open (nothing passes
// until RecoveryTimeout after the last failure, then one probe is let
// through and the breaker is HalfOpen), or HalfOpen (one probe at a time;
// SuccessThreshold consecutive successes close it, any failure re-opens
// it). A probe that never reports back frees its slot after ProbeTimeout.
//
// Providers without a breaker always pass. All methods are safe for
// concurrent use, and a nil *Breakers allows everything.
type Breakers struct {
	clock       clock.Clock
	log         *slog.Logger
	byName      map[string]*breaker
	names       []string
	transitions *prometheus.CounterVec
	// changed is signalled (never blocking) when a breaker has a change
	// to publish.
	changed chan struct{}
}

type breaker struct {
	name             string
	failureThreshold int
	successThreshold int
	recovery         time.Duration
	fallback         string

	mu           sync.Mutex
	state        string
	failures     int
	successes    int
	lastFailure  time.Time
	probeStarted time.Time // zero: no probe in flight
	// changedAt is when the breaker last became open or closed, here or
	// (adopted) on another node; dirty says a local change is waiting to
	// be published (see BreakerSync).
	changedAt  time.Time
	dirty      bool
	toOpen     prometheus.Counter
	toClosed   prometheus.Counter
	toHalfOpen prometheus.Counter
}

// BreakerOption configures Breakers.
type BreakerOption func(*breakerOpts)

type breakerOpts struct {
	reg prometheus.Registerer
	log *slog.Logger
}

// WithBreakerRegisterer registers acteon_circuit_transitions_total{provider,to}.
func WithBreakerRegisterer(r prometheus.Registerer) BreakerOption {
	return func(o *breakerOpts) { o.reg = r }
}

// WithBreakerLogger logs state transitions (Info when a breaker closes,
// Warn when it opens).
func WithBreakerLogger(l *slog.Logger) BreakerOption {
	return func(o *breakerOpts) { o.log = l }
}

// NewBreakers builds a breaker for each named provider. cfg should have
// passed Validate; invalid thresholds fall back to the defaults. A nil
// clock means the wall clock.
func NewBreakers(cfg BreakerConfig, providers []string, c clock.Clock, opts ...BreakerOption) *Breakers {
	var o breakerOpts
	for _, f := range opts {
		f(&o)
	}
	if c == nil {
		c = clock.Real{}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	b := &Breakers{
		clock:   c,
		log:     o.log.With("component", "circuit_breaker"),
		byName:  make(map[string]*breaker, len(providers)),
		changed: make(chan struct{}, 1),
		transitions: promauto.With(o.reg).NewCounterVec(prometheus.CounterOpts{
			Name: "acteon_circuit_transitions_total",
			Help: "Circuit breaker state transitions, by provider and target state.",
		}, []string{"provider", "to"}),
	}
	ft := positiveOr(cfg.FailureThreshold, DefaultFailureThreshold)
	st := positiveOr(cfg.SuccessThreshold, DefaultSuccessThreshold)
	rt := cfg.RecoveryTimeout
	if rt <= 0 {
		rt = DefaultRecoveryTimeout
	}
	for _, name := range providers {
		if _, dup := b.byName[name]; dup {
			continue
		}
		br := &breaker{name: name, failureThreshold: ft, successThreshold: st, recovery: rt, state: StateClosed}
		if ov, ok := cfg.PerProvider[name]; ok {
			if ov.FailureThreshold != nil {
				br.failureThreshold = positiveOr(*ov.FailureThreshold, ft)
			}
			if ov.SuccessThreshold != nil {
				br.successThreshold = positiveOr(*ov.SuccessThreshold, st)
			}
			if ov.RecoveryTimeout != nil && *ov.RecoveryTimeout >= 0 {
				br.recovery = *ov.RecoveryTimeout
			}
			br.fallback = ov.FallbackProvider
		}
		br.toOpen = b.transitions.WithLabelValues(name, StateOpen)
		br.toClosed = b.transitions.WithLabelValues(name, StateClosed)
		br.toHalfOpen = b.transitions.WithLabelValues(name, StateHalfOpen)
		b.byName[name] = br
		b.names = append(b.names, name)
	}
	slices.Sort(b.names)
	return b
}

func positiveOr(v, def int) int {
	if v >= 1 {
		return v
	}
	return def
}

func (b *Breakers) get(name string) *breaker {
	if b == nil {
		return nil
	}
	return b.byName[name]
}

// Has reports whether provider has a breaker.
func (b *Breakers) Has(provider string) bool { return b.get(provider) != nil }

// Allow reports whether an action may be sent to provider now. In HalfOpen
// it hands out the single probe slot; the caller must then report the
// outcome with Record (or Release when the outcome says nothing about the
// provider).
func (b *Breakers) Allow(provider string) bool {
	br := b.get(provider)
	if br == nil {
		return true
	}
	now := b.clock.Now()
	br.mu.Lock()
	defer br.mu.Unlock()
	switch br.state {
	case StateClosed:
		return true
	case StateOpen:
		if now.Sub(br.lastFailure) < br.recovery {
			return false
		}
		b.transitionLocked(br, StateHalfOpen)
		br.successes = 0
		br.probeStarted = now
		return true
	default: // half-open
		if !br.probeStarted.IsZero() && now.Sub(br.probeStarted) < ProbeTimeout {
			return false
		}
		br.probeStarted = now
		return true
	}
}

// Record feeds one delivery outcome: success, or a retryable failure
// (non-retryable failures say nothing about the provider's health and are
// not recorded; call Release for them instead).
func (b *Breakers) Record(provider string, success bool) {
	br := b.get(provider)
	if br == nil {
		return
	}
	now := b.clock.Now()
	br.mu.Lock()
	defer br.mu.Unlock()
	switch br.state {
	case StateClosed:
		if success {
			br.failures = 0
			return
		}
		br.failures++
		br.lastFailure = now
		if br.failures >= br.failureThreshold {
			b.transitionLocked(br, StateOpen)
		}
	case StateHalfOpen:
		br.probeStarted = time.Time{}
		if success {
			br.successes++
			if br.successes >= br.successThreshold {
				br.failures, br.successes = 0, 0
				b.transitionLocked(br, StateClosed)
			}
			return
		}
		br.lastFailure = now
		br.successes = 0
		b.transitionLocked(br, StateOpen)
	case StateOpen:
		// An action let through before the breaker opened: a failure
		// pushes the recovery window out, a success changes nothing.
		if !success {
			br.lastFailure = now
		}
	}
}

// Release frees a half-open probe slot without counting an outcome, for a
// delivery that ended in a way that does not reflect the provider's health
// (non-retryable error, caller cancelled).
func (b *Breakers) Release(provider string) {
	br := b.get(provider)
	if br == nil {
		return
	}
	br.mu.Lock()
	if br.state == StateHalfOpen {
		br.probeStarted = time.Time{}
	}
	br.mu.Unlock()
}

// State returns "closed", "open" or "half_open", or "" when provider has
// no breaker. An open breaker whose recovery timeout has passed still reads
// "open" until the next Allow turns it half-open.
func (b *Breakers) State(provider string) string {
	br := b.get(provider)
	if br == nil {
		return ""
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.state
}

// Trip forces provider's breaker open (failures = threshold, last failure =
// now). It reports false when provider has no breaker.
func (b *Breakers) Trip(provider string) bool {
	br := b.get(provider)
	if br == nil {
		return false
	}
	now := b.clock.Now()
	br.mu.Lock()
	defer br.mu.Unlock()
	br.failures = br.failureThreshold
	br.successes = 0
	br.lastFailure = now
	br.probeStarted = time.Time{}
	if br.state != StateOpen {
		b.transitionLocked(br, StateOpen)
	} else {
		b.markChangedLocked(br)
	}
	return true
}

// Reset forces provider's breaker closed with clean counters. It reports
// false when provider has no breaker.
func (b *Breakers) Reset(provider string) bool {
	br := b.get(provider)
	if br == nil {
		return false
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	br.failures, br.successes = 0, 0
	br.probeStarted = time.Time{}
	if br.state != StateClosed {
		b.transitionLocked(br, StateClosed)
	} else {
		b.markChangedLocked(br)
	}
	return true
}

// Fallback returns provider's configured fallback_provider, or "".
func (b *Breakers) Fallback(provider string) string {
	br := b.get(provider)
	if br == nil {
		return ""
	}
	return br.fallback
}

// Snapshot lists every breaker, sorted by provider.
func (b *Breakers) Snapshot() []BreakerInfo {
	if b == nil {
		return nil
	}
	out := make([]BreakerInfo, 0, len(b.names))
	for _, n := range b.names {
		br := b.byName[n]
		br.mu.Lock()
		st := br.state
		br.mu.Unlock()
		out = append(out, BreakerInfo{
			Provider:               n,
			State:                  st,
			FailureThreshold:       br.failureThreshold,
			SuccessThreshold:       br.successThreshold,
			RecoveryTimeoutSeconds: uint64(br.recovery / time.Second),
			FallbackProvider:       br.fallback,
		})
	}
	return out
}

// FallbackChain finds where an action for provider (whose breaker is open)
// can go instead. It follows fallback_provider links from provider,
// visiting each name at most once; a name that is not registered ends the
// walk, a name whose breaker refuses (Allow is false) is skipped onward. It
// returns the first name that is registered and allowed (its probe slot,
// if half-open, is taken), the names visited (registered ones, in order,
// including target) and ok; or ok=false with the names tried.
func (b *Breakers) FallbackChain(provider string, registered func(string) bool) (target string, chain []string, ok bool) {
	seen := map[string]bool{provider: true}
	for cur := b.Fallback(provider); cur != "" && !seen[cur]; cur = b.Fallback(cur) {
		seen[cur] = true
		if registered == nil || !registered(cur) {
			break
		}
		chain = append(chain, cur)
		if b.Allow(cur) {
			return cur, chain, true
		}
	}
	return "", chain, false
}

func (b *Breakers) transitionLocked(br *breaker, to string) {
	from := br.state
	br.state = to
	switch to {
	case StateOpen:
		br.toOpen.Inc()
		b.markChangedLocked(br)
		b.log.Warn("circuit breaker opened", "provider", br.name, "from", from, "failures", br.failures)
	case StateClosed:
		br.toClosed.Inc()
		b.markChangedLocked(br)
		b.log.Info("circuit breaker closed", "provider", br.name, "from", from)
	case StateHalfOpen:
		br.toHalfOpen.Inc()
		b.log.Info("circuit breaker half-open, probing", "provider", br.name)
	}
}
