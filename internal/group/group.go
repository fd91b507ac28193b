package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/keylock"
	"github.com/acteon/acteon-go/internal/outbox"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
)

// State kinds used by groups.
const (
	KindGroup      = "group"
	KindPending    = "pending_groups"
	KindFlushClaim = "group_flush_claim"
	// KindOutbox holds a committed flush's notification until it has been
	// dispatched (see internal/outbox).
	KindOutbox = "group_outbox"
)

const (
	// retainFor keeps a group entry this long past its notify_at, so that
	// groups nobody flushes (background processing off) do not live
	// forever. Every write refreshes it.
	retainFor = 7 * 24 * time.Hour
	// tombstoneTTL is how long a flushed group's tombstone stays.
	tombstoneTTL = time.Hour
	// maxAttempts bounds compare-and-swap retries of one add.
	maxAttempts = 1000
)

// ErrContention: an add or flush lost compare-and-swap races too many
// times in a row (HTTP 503 through gateway.ErrStateUnavailable).
var ErrContention = errors.New("group: too much contention on one group")

// ErrNotFound: no live group has that key.
var ErrNotFound = errors.New("group: not found")

// Dispatcher sends the consolidated notification. *gateway.Gateway
// satisfies it.
type Dispatcher interface {
	Dispatch(ctx context.Context, a *action.Action, caller gateway.Caller) (action.Outcome, error)
	Execute(ctx context.Context, a *action.Action) action.Outcome
}

// Options configures a Manager.
type Options struct {
	State  state.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Dispatcher may be set after New with SetDispatcher (the gateway is
	// built after its verdict handlers).
	Dispatcher Dispatcher
	// BatchSize caps the groups one FlushDue run handles (0 = 1000).
	BatchSize int
	// ClaimTTL is the flush claim's lifetime (0 = 60 s).
	ClaimTTL time.Duration
	// RedeliverAfter is how long a committed flush's notification may stay
	// unsent before any node sends it again (0 = outbox.DefaultAfter).
	RedeliverAfter time.Duration
}

// Manager is the group verdict handler, the flusher and the groups API. It
// is safe for concurrent use.
type Manager struct {
	st    state.Store
	clock clock.Clock
	log   *slog.Logger
	batch int
	claim time.Duration
	out   *outbox.Outbox

	dmu  sync.RWMutex
	disp Dispatcher

	locks *keylock.Striped
}

// New builds a Manager.
func New(o Options) (*Manager, error) {
	if o.State == nil {
		return nil, errors.New("group: state store is required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = 60 * time.Second
	}
	return &Manager{st: o.State, clock: o.Clock, log: o.Logger.With("component", "group"),
		batch: o.BatchSize, claim: o.ClaimTTL, disp: o.Dispatcher, locks: keylock.New(),
		out: &outbox.Outbox{Kind: KindOutbox, State: o.State, Clock: o.Clock, After: o.RedeliverAfter}}, nil
}

// SetDispatcher sets where notifications go.
func (m *Manager) SetDispatcher(d Dispatcher) {
	m.dmu.Lock()
	m.disp = d
	m.dmu.Unlock()
}

func (m *Manager) dispatcher() Dispatcher {
	m.dmu.RLock()
	defer m.dmu.RUnlock()
	return m.disp
}

// stripe serialises work on one group inside this process, so that
// compare-and-swap retries only come from other nodes.
func (m *Manager) stripe(k state.Key) *sync.Mutex {
	return m.locks.For(k.ID)
}

func groupKey(ns, tenant, key string) state.Key {
	return state.Key{Namespace: ns, Tenant: tenant, Kind: KindGroup, ID: key}
}

func pendingKey(ns, tenant, key string) state.Key {
	return state.Key{Namespace: ns, Tenant: tenant, Kind: KindPending, ID: key}
}

func liveTTL(notifyAt int64, now time.Time) time.Duration {
	return max(time.Duration(notifyAt-now.UnixMilli())*time.Millisecond, 0) + retainFor
}

// IsGroupDispatch reports whether a is a group notification (payload
// _group_dispatch = true).
func IsGroupDispatch(a *action.Action) bool {
	p, ok := a.Payload.(map[string]any)
	if !ok {
		return false
	}
	b, _ := p["_group_dispatch"].(bool)
	return b
}

// Handle adds a to its group (gateway.VerdictHandler).
func (m *Manager) Handle(ctx context.Context, a *action.Action, res rules.Result, now time.Time) (action.Outcome, error) {
	if IsGroupDispatch(a) {
		// Loop guard: a group notification that matches a group rule is
		// delivered, not grouped again.
		return m.deliver(ctx, a), nil
	}
	out, err := m.Add(ctx, a, res.Verdict, now)
	if err != nil {
		return action.Outcome{}, fmt.Errorf("%w: %v", gateway.ErrStateUnavailable, err)
	}
	return out, nil
}

func (m *Manager) deliver(ctx context.Context, a *action.Action) action.Outcome {
	d := m.dispatcher()
	if d == nil {
		return action.Outcome{Kind: action.OutcomeFailed, Error: &action.ActionError{Code: "CONFIGURATION", Message: "invalid configuration: group notifications have no dispatcher"}}
	}
	return d.Execute(ctx, a)
}

// Add puts a into the group its verdict selects and returns the Grouped
// outcome.
func (m *Manager) Add(ctx context.Context, a *action.Action, v rules.Verdict, now time.Time) (action.Outcome, error) {
	key, labels := Key(a, v.GroupBy)
	gk := groupKey(a.Namespace, a.Tenant, key)
	ev, err := encodeEvent(a)
	if err != nil {
		return action.Outcome{}, err
	}
	nowMs := now.UnixMilli()
	mu := m.stripe(gk)
	mu.Lock()
	defer mu.Unlock()

	fresh := func() *header {
		h := &header{
			GroupID: action.UUIDv4(), GroupKey: key, Namespace: a.Namespace, Tenant: a.Tenant,
			Provider: a.Provider, State: StatePending, GroupBy: v.GroupBy, Labels: labels,
			NotifyAt: nowMs + int64(v.GroupWaitSeconds)*1000, CreatedAt: nowMs,
			GroupInterval: v.GroupIntervalSeconds, MaxSize: v.MaxGroupSize, Count: 1,
		}
		if v.RepeatIntervalSeconds != nil {
			r := *v.RepeatIntervalSeconds
			h.Repeat = &r
		}
		return h
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := state.ConflictBackoff(ctx, attempt); err != nil {
				return action.Outcome{}, err
			}
		}
		e, err := m.st.GetVersioned(ctx, gk)
		if errors.Is(err, state.ErrNotFound) {
			h := fresh()
			val, err := encodeRecord(h, ev)
			if err != nil {
				return action.Outcome{}, err
			}
			ok, err := m.st.CheckAndSet(ctx, gk, val, liveTTL(h.NotifyAt, now))
			if err != nil {
				return action.Outcome{}, fmt.Errorf("group: create %s: %w", gk, err)
			}
			if !ok {
				continue
			}
			m.syncIndex(ctx, gk)
			return grouped(h), nil
		}
		if err != nil {
			return action.Outcome{}, fmt.Errorf("group: read %s: %w", gk, err)
		}
		h, events, perr := parseHeader(gk, e.Value)
		reindex := false
		switch {
		case perr != nil || h.State == StateFlushed:
			// A tombstone (or an unreadable entry): open a new group.
			if perr != nil {
				m.log.Error("replacing unreadable group", "key", gk.String(), "err", perr)
			}
			h, events, reindex = fresh(), "", true
		default:
			if h.State == StateNotified {
				// A new event on a notified persistent group.
				h.State = StatePending
				h.NotifyAt = nowMs + int64(h.GroupInterval)*1000
				h.IdleFlushes = 0
				reindex = true
			}
			if h.MaxSize > 0 {
				for uint64(h.Count) >= h.MaxSize && h.Count > 0 {
					events = dropOldest(events)
					h.Count--
				}
			}
			h.Count++
		}
		val, err := encodeRecord(h, events, ev)
		if err != nil {
			return action.Outcome{}, err
		}
		err = m.st.CompareAndSwap(ctx, gk, e.Version, val, liveTTL(h.NotifyAt, now))
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err != nil {
			return action.Outcome{}, fmt.Errorf("group: update %s: %w", gk, err)
		}
		if reindex {
			m.syncIndex(ctx, gk)
		}
		return grouped(h), nil
	}
	return action.Outcome{}, fmt.Errorf("%w: %s", ErrContention, gk)
}

func grouped(h *header) action.Outcome {
	return action.Outcome{Kind: action.OutcomeGrouped, GroupID: h.GroupID, GroupSize: h.Count, NotifyAt: msTime(h.NotifyAt)}
}

// syncIndex makes the timeout index agree with the stored group: indexed at
// notify_at while the group lives, absent otherwise. It re-reads the group
// after touching the index and repeats if the group changed meanwhile, so
// that the last writer of a group always leaves the index right. Errors are
// logged: the repair job and the flusher re-sync stale entries.
func (m *Manager) syncIndex(ctx context.Context, gk state.Key) {
	pk := pendingKey(gk.Namespace, gk.Tenant, gk.ID)
	var lastVer uint64
	for i := 0; i < 8; i++ {
		e, err := m.st.GetVersioned(ctx, gk)
		var ver uint64
		live := false
		var notifyAt int64
		switch {
		case errors.Is(err, state.ErrNotFound):
		case err != nil:
			m.log.Warn("group index sync: read failed", "key", gk.String(), "err", err)
			return
		default:
			ver = e.Version
			if h, _, perr := parseHeader(gk, e.Value); perr == nil && h.State != StateFlushed {
				live, notifyAt = true, h.NotifyAt
			}
		}
		if i > 0 && ver == lastVer {
			return
		}
		lastVer = ver
		if live {
			err = m.st.IndexTimeout(ctx, pk, notifyAt)
		} else {
			err = m.st.RemoveTimeoutIndex(ctx, pk)
		}
		if err != nil {
			m.log.Warn("group index sync failed", "key", gk.String(), "err", err)
			return
		}
	}
}
