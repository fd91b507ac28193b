package executor

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// KindCircuitBreaker is the state kind of shared breaker records.
const KindCircuitBreaker = "circuit_breaker"

// BreakerKey is where provider's breaker is shared:
// _system:_global:circuit_breaker:{provider} (spec 03 §5.2).
func BreakerKey(provider string) state.Key {
	return state.Key{Namespace: "_system", Tenant: "_global", Kind: KindCircuitBreaker, ID: provider}
}

// BreakerRecord is a breaker as stored under BreakerKey: the JSON shape of
// spec 03 §5.2, plus changed_at_ms, when it last became open or closed
// (what decides which of two nodes' records is newer).
type BreakerRecord struct {
	State                string `json:"state"`
	ConsecutiveFailures  int    `json:"consecutive_failures"`
	ConsecutiveSuccesses int    `json:"consecutive_successes"`
	LastFailureTimeMs    *int64 `json:"last_failure_time_ms"`
	ProbeStartedAtMs     *int64 `json:"probe_started_at_ms"`
	ChangedAtMs          int64  `json:"changed_at_ms"`
}

func msPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// markChangedLocked stamps a local open/closed change and queues it for
// publication. br.mu is held.
func (b *Breakers) markChangedLocked(br *breaker) {
	br.changedAt = b.clock.Now()
	br.dirty = true
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// takeDirty returns the records of the breakers changed locally since the
// last call, and clears their marks.
func (b *Breakers) takeDirty() map[string]BreakerRecord {
	var out map[string]BreakerRecord
	for _, n := range b.names {
		br := b.byName[n]
		br.mu.Lock()
		if br.dirty {
			br.dirty = false
			if out == nil {
				out = make(map[string]BreakerRecord)
			}
			out[n] = BreakerRecord{
				State: br.state, ConsecutiveFailures: br.failures, ConsecutiveSuccesses: br.successes,
				LastFailureTimeMs: msPtr(br.lastFailure), ProbeStartedAtMs: msPtr(br.probeStarted),
				ChangedAtMs: br.changedAt.UnixMilli(),
			}
		}
		br.mu.Unlock()
	}
	return out
}

// markDirty re-queues a record whose publication failed, unless the
// breaker changed again meanwhile (then the newer change is queued).
func (b *Breakers) markDirty(provider string) {
	if br := b.get(provider); br != nil {
		br.mu.Lock()
		br.dirty = true
		br.mu.Unlock()
	}
}

// adopt applies a peer's record when it is newer than this node's last
// open/closed change: an open record opens the breaker (with the peer's
// last failure, so recovery is timed from it), a closed one closes it with
// clean counters. Half-open records are not shared. It reports whether the
// breaker changed.
func (b *Breakers) adopt(provider string, r BreakerRecord) bool {
	br := b.get(provider)
	if br == nil || (r.State != StateOpen && r.State != StateClosed) {
		return false
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if r.ChangedAtMs <= br.changedAt.UnixMilli() || br.dirty {
		return false
	}
	br.changedAt = time.UnixMilli(r.ChangedAtMs)
	if r.State == StateOpen {
		if r.LastFailureTimeMs != nil {
			br.lastFailure = time.UnixMilli(*r.LastFailureTimeMs)
		} else {
			br.lastFailure = br.changedAt
		}
		br.failures = max(r.ConsecutiveFailures, br.failureThreshold)
		br.successes = 0
		br.probeStarted = time.Time{}
	} else {
		br.failures, br.successes = 0, 0
		br.probeStarted = time.Time{}
	}
	if br.state == r.State {
		return false
	}
	from := br.state
	br.state = r.State
	if r.State == StateOpen {
		br.toOpen.Inc()
		b.log.Warn("circuit breaker opened by another node", "provider", provider, "from", from)
	} else {
		br.toClosed.Inc()
		b.log.Info("circuit breaker closed by another node", "provider", provider, "from", from)
	}
	return true
}

// BreakerSync shares Breakers between gateway nodes through the state
// store (see Breakers). Run it once per node.
type BreakerSync struct {
	Breakers *Breakers
	Store    state.Store
	// Interval is how often peers' records are read (default 2 s). Local
	// changes are written as soon as they happen.
	Interval time.Duration
	// OpTimeout bounds one store call (default 2 s).
	OpTimeout time.Duration
	Logger    *slog.Logger
}

// Run publishes local changes and adopts peers' until ctx is done, then
// publishes what is still pending. Store errors are logged and retried on
// the next round; a breaker keeps deciding locally meanwhile.
func (s *BreakerSync) Run(ctx context.Context) {
	if s.Breakers == nil || s.Store == nil {
		return
	}
	every := s.Interval
	if every <= 0 {
		every = 2 * time.Second
	}
	if s.OpTimeout <= 0 {
		s.OpTimeout = 2 * time.Second
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	log := s.Logger.With("component", "circuit_breaker")
	s.Pull(ctx, log)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.OpTimeout)
			s.Publish(fctx, log)
			cancel()
			return
		case <-s.Breakers.changed:
			s.Publish(ctx, log)
		case <-t.C:
			s.Publish(ctx, log)
			s.Pull(ctx, log)
		}
	}
}

// Publish writes every locally changed breaker.
func (s *BreakerSync) Publish(ctx context.Context, log *slog.Logger) {
	for name, rec := range s.Breakers.takeDirty() {
		data, err := json.Marshal(rec)
		if err == nil {
			octx, cancel := context.WithTimeout(ctx, s.OpTimeout)
			err = s.Store.Set(octx, BreakerKey(name), string(data), 0)
			cancel()
		}
		if err != nil {
			s.Breakers.markDirty(name)
			if ctx.Err() == nil {
				log.Warn("publishing circuit breaker state failed; retrying on the next round", "provider", name, "err", err)
			}
		}
	}
}

// Pull reads every breaker's shared record and adopts the newer ones.
func (s *BreakerSync) Pull(ctx context.Context, log *slog.Logger) {
	for _, name := range s.Breakers.names {
		octx, cancel := context.WithTimeout(ctx, s.OpTimeout)
		v, err := s.Store.Get(octx, BreakerKey(name))
		cancel()
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading shared circuit breaker state failed", "provider", name, "err", err)
			}
			return
		}
		var rec BreakerRecord
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			log.Warn("ignoring an unreadable shared circuit breaker record", "provider", name, "err", err)
			continue
		}
		s.Breakers.adopt(name, rec)
	}
}
