package statemachine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// State kinds.
const (
	KindEventState   = "event_state"
	KindEventTimeout = "event_timeout"
	KindActiveEvents = "active_events"
	KindTimeoutClaim = "event_timeout_claim"
	// KindOutbox holds a fired timeout's notification until it has been
	// dispatched (see internal/outbox).
	KindOutbox = "event_outbox"
)

// Notification action types.
const (
	NotificationType = "state_notification"
	TimeoutType      = "timeout_notification"
)

const maxAttempts = 1000

// Errors.
var (
	// ErrUnknownMachine: a verdict or record names a machine that is not
	// configured.
	ErrUnknownMachine = errors.New("configuration error: state machine not found")
	// ErrNotFound: no event has that fingerprint.
	ErrNotFound = errors.New("statemachine: event not found")
	// ErrContention: too many lost compare-and-swap races in a row.
	ErrContention = errors.New("statemachine: too much contention on one event")
)

// Dispatcher sends notifications. *gateway.Gateway satisfies it.
type Dispatcher interface {
	Dispatch(ctx context.Context, a *action.Action, caller gateway.Caller) (action.Outcome, error)
	Execute(ctx context.Context, a *action.Action) action.Outcome
}

// Caller is how state notifications appear in the audit trail.
var Caller = gateway.Caller{ID: "background:state_machine", AuthMethod: "system"}

// Options configures an Engine.
type Options struct {
	Machines   map[string]*Machine
	State      state.Store
	Clock      clock.Clock
	Logger     *slog.Logger
	Dispatcher Dispatcher
	// BatchSize caps the timeouts one FireDue run handles (0 = 1000).
	BatchSize int
	// ClaimTTL is the timeout claim's lifetime (0 = 60 s).
	ClaimTTL time.Duration
	// RedeliverAfter is how long a fired timeout's notification may stay
	// unsent before any node sends it again (0 = outbox.DefaultAfter).
	RedeliverAfter time.Duration
}

// Engine is the state_machine verdict handler, the timeout worker and the
// events API. It is safe for concurrent use.
type Engine struct {
	machines map[string]*Machine
	st       state.Store
	clock    clock.Clock
	log      *slog.Logger
	batch    int
	claim    time.Duration
	out      *outbox.Outbox

	dmu  sync.RWMutex
	disp Dispatcher

	locks *keylock.Striped
}

// New builds an Engine.
func New(o Options) (*Engine, error) {
	if o.State == nil {
		return nil, errors.New("statemachine: state store is required")
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
	if o.Machines == nil {
		o.Machines = map[string]*Machine{}
	}
	return &Engine{machines: o.Machines, st: o.State, clock: o.Clock, log: o.Logger.With("component", "statemachine"),
		batch: o.BatchSize, claim: o.ClaimTTL, disp: o.Dispatcher, locks: keylock.New(),
		out: &outbox.Outbox{Kind: KindOutbox, State: o.State, Clock: o.Clock, After: o.RedeliverAfter}}, nil
}

// SetDispatcher sets where notifications go.
func (e *Engine) SetDispatcher(d Dispatcher) {
	e.dmu.Lock()
	e.disp = d
	e.dmu.Unlock()
}

func (e *Engine) dispatcher() Dispatcher {
	e.dmu.RLock()
	defer e.dmu.RUnlock()
	return e.disp
}

// Machine returns a configured machine.
func (e *Engine) Machine(name string) (*Machine, bool) {
	m, ok := e.machines[name]
	return m, ok
}

// Has reports whether a machine is configured (rules.Options.HasStateMachine).
func (e *Engine) Has(name string) bool { _, ok := e.machines[name]; return ok }

func (e *Engine) stripe(fp string) *sync.Mutex {
	return e.locks.For(fp)
}

// armed is a timeout stored with the event's state.
type armed struct {
	TransitionTo string `json:"transition_to"`
	ExpiresAt    int64  `json:"expires_at"` // epoch ms
	CreatedAt    int64  `json:"created_at"`
}

// Record is the stored state of one event.
type Record struct {
	State          string  `json:"state"`
	Fingerprint    string  `json:"fingerprint"`
	UpdatedAt      string  `json:"updated_at"`
	ActionType     *string `json:"action_type"`
	StateMachine   string  `json:"state_machine,omitempty"`
	Provider       string  `json:"provider,omitempty"`
	TransitionedBy string  `json:"transitioned_by,omitempty"`
	Timeout        *armed  `json:"timeout,omitempty"`
}

// Fingerprint computes an event's fingerprint (spec 02 §3.8):
// action.fingerprint when set, else lowercase hex SHA-256 over
// "field=value;" for each field in order, a missing field giving "".
func Fingerprint(a *action.Action, fields []string) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	h := sha256.New()
	for _, f := range fields {
		v, _ := rules.FieldValue(a, f)
		h.Write([]byte(f))
		h.Write([]byte{'='})
		h.Write([]byte(v))
		h.Write([]byte{';'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func stateKey(ns, tenant, fp string) state.Key {
	return state.Key{Namespace: ns, Tenant: tenant, Kind: KindEventState, ID: fp}
}

func timeoutKey(ns, tenant, fp string) state.Key {
	return state.Key{Namespace: ns, Tenant: tenant, Kind: KindEventTimeout, ID: fp}
}

// IsNotification reports whether a is a state or timeout notification
// (payload _state_notification = true).
func IsNotification(a *action.Action) bool {
	p, ok := a.Payload.(map[string]any)
	if !ok {
		return false
	}
	b, _ := p["_state_notification"].(bool)
	return b
}

// change is the result of one committed move.
type change struct {
	fp, prev, next string
	tr             *Transition
	rec            Record
	// skipped: decide chose not to write.
	skipped bool
}

// Handle applies the event to its state machine (gateway.VerdictHandler).
func (e *Engine) Handle(ctx context.Context, a *action.Action, res rules.Result, now time.Time) (action.Outcome, error) {
	if IsNotification(a) {
		d := e.dispatcher()
		if d == nil {
			return action.Outcome{Kind: action.OutcomeFailed, Error: &action.ActionError{Code: "CONFIGURATION", Message: "invalid configuration: state notifications have no dispatcher"}}, nil
		}
		return d.Execute(ctx, a), nil
	}
	m, ok := e.machines[res.Verdict.StateMachine]
	if !ok {
		return action.Outcome{}, fmt.Errorf("%w: %s", ErrUnknownMachine, res.Verdict.StateMachine)
	}
	fp := Fingerprint(a, res.Verdict.FingerprintFields)
	c, err := e.apply(ctx, m, a.Namespace, a.Tenant, fp, now, func(rec *Record, _ bool) decision {
		cur := rec.State
		target := a.Status
		if target == "" || target == cur {
			return decision{next: cur, write: true}
		}
		if tr := m.Transition(cur, target); tr != nil {
			return decision{next: target, tr: tr, write: true}
		}
		// A transition the machine does not allow keeps the state, with no
		// error (spec 02 §3.8).
		return decision{next: cur, write: true}
	}, func(r *Record) {
		at := a.ActionType
		r.ActionType = &at
		r.Provider = a.Provider
		r.TransitionedBy = ""
	})
	if err != nil {
		return action.Outcome{}, fmt.Errorf("%w: %v", gateway.ErrStateUnavailable, err)
	}
	// active_events is informational (last writer wins per action type).
	ae, _ := json.Marshal(map[string]string{"state": c.next, "fingerprint": fp})
	if err := e.st.Set(ctx, state.Key{Namespace: a.Namespace, Tenant: a.Tenant, Kind: KindActiveEvents, ID: a.ActionType}, string(ae), 0); err != nil {
		e.log.Warn("active_events write failed", "action_id", a.ID, "err", err)
	}
	notify := c.tr != nil && c.tr.Notify
	if notify {
		e.notify(ctx, m, c, a, "event", now, nil)
	}
	return action.Outcome{Kind: action.OutcomeStateChanged, Fingerprint: fp, PreviousState: c.prev, NewState: c.next, Notify: notify}, nil
}

// decision is what one read-modify-write does.
type decision struct {
	next  string
	tr    *Transition
	write bool
	// rearm re-arms the timeout even when the state does not change.
	rearm bool
}

// apply runs one read-modify-write of an event's state. decide gets the
// current record (state = initial when the event is new) and says what to
// do; patch fills event-specific fields. A state that is entered gets its
// timeout armed (or none).
func (e *Engine) apply(ctx context.Context, m *Machine, ns, tenant, fp string, now time.Time,
	decide func(rec *Record, exists bool) decision, patch func(*Record)) (change, error) {
	k := stateKey(ns, tenant, fp)
	mu := e.stripe(fp)
	mu.Lock()
	defer mu.Unlock()
	nowMs := now.UnixMilli()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := state.ConflictBackoff(ctx, attempt); err != nil {
				return change{}, err
			}
		}
		ent, err := e.st.GetVersioned(ctx, k)
		exists := true
		var rec Record
		switch {
		case errors.Is(err, state.ErrNotFound):
			exists = false
			rec = Record{State: m.InitialState, Fingerprint: fp}
		case err != nil:
			return change{}, fmt.Errorf("statemachine: read %s: %w", k, err)
		default:
			if jerr := json.Unmarshal([]byte(ent.Value), &rec); jerr != nil {
				e.log.Error("replacing unreadable event state", "key", k.String(), "err", jerr)
				rec = Record{State: m.InitialState, Fingerprint: fp}
			}
		}
		cur := rec.State
		d := decide(&rec, exists)
		next, tr := d.next, d.tr
		if !d.write {
			return change{fp: fp, prev: cur, next: cur, rec: rec, skipped: true}, nil
		}
		entering := !exists || next != cur || d.rearm
		rec.State = next
		rec.Fingerprint = fp
		rec.UpdatedAt = action.FormatTimeOffset(now)
		rec.StateMachine = m.Name
		patch(&rec)
		oldTimeout := rec.Timeout
		if entering {
			rec.Timeout = nil
			if to, ok := m.TimeoutIn(next); ok {
				rec.Timeout = &armed{TransitionTo: to.TransitionTo, ExpiresAt: nowMs + to.After.Milliseconds(), CreatedAt: nowMs}
			}
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return change{}, fmt.Errorf("statemachine: encode %s: %w", k, err)
		}
		if !exists {
			ok, err := e.st.CheckAndSet(ctx, k, string(b), 0)
			if err != nil {
				return change{}, fmt.Errorf("statemachine: create %s: %w", k, err)
			}
			if !ok {
				continue
			}
		} else {
			err := e.st.CompareAndSwap(ctx, k, ent.Version, string(b), 0)
			if errors.Is(err, state.ErrConflict) {
				continue
			}
			if err != nil {
				return change{}, fmt.Errorf("statemachine: update %s: %w", k, err)
			}
		}
		if entering && (oldTimeout != nil || rec.Timeout != nil) {
			e.syncIndex(ctx, ns, tenant, fp)
		}
		return change{fp: fp, prev: cur, next: next, tr: tr, rec: rec}, nil
	}
	return change{}, fmt.Errorf("%w: %s", ErrContention, k)
}

// syncIndex makes the timeout index agree with the stored record, and
// repeats when the record changed meanwhile (see group.syncIndex).
func (e *Engine) syncIndex(ctx context.Context, ns, tenant, fp string) {
	k, tk := stateKey(ns, tenant, fp), timeoutKey(ns, tenant, fp)
	var lastVer uint64
	for i := 0; i < 8; i++ {
		ent, err := e.st.GetVersioned(ctx, k)
		var ver uint64
		var deadline int64 = -1
		switch {
		case errors.Is(err, state.ErrNotFound):
		case err != nil:
			e.log.Warn("timeout index sync: read failed", "key", k.String(), "err", err)
			return
		default:
			ver = ent.Version
			var rec Record
			if json.Unmarshal([]byte(ent.Value), &rec) == nil && rec.Timeout != nil {
				deadline = rec.Timeout.ExpiresAt
			}
		}
		if i > 0 && ver == lastVer {
			return
		}
		lastVer = ver
		if deadline >= 0 {
			err = e.st.IndexTimeout(ctx, tk, deadline)
		} else {
			err = e.st.RemoveTimeoutIndex(ctx, tk)
		}
		if err != nil {
			e.log.Warn("timeout index sync failed", "key", tk.String(), "err", err)
			return
		}
	}
}

// notify dispatches the notification of a committed change through the
// gateway. Failures are logged: the state change stands.
func (e *Engine) notify(ctx context.Context, m *Machine, c change, ev *action.Action, by string, now time.Time, extra map[string]any) {
	n := e.notification(m, c, ev, by, now, extra)
	if err := e.send(ctx, n); err != nil {
		e.log.Error("state notification lost: dispatch failed", "fingerprint", c.fp, "action_id", n.ID, "err", err)
	}
}

// notification builds the notification of a change.
func (e *Engine) notification(m *Machine, c change, ev *action.Action, by string, now time.Time, extra map[string]any) *action.Action {
	typ := NotificationType
	if by == "timeout" {
		typ = TimeoutType
	}
	p := map[string]any{
		"fingerprint": c.fp, "state_machine": m.Name, "previous_state": c.prev, "new_state": c.next,
		"transitioned_by": by, "_state_notification": true,
	}
	n := &action.Action{ID: action.UUIDv4(), ActionType: typ, CreatedAt: now.UTC(), Payload: p}
	for k, v := range extra {
		p[k] = v
	}
	if ev != nil {
		n.Namespace, n.Tenant, n.Provider = ev.Namespace, ev.Tenant, ev.Provider
		p["action_type"] = ev.ActionType
		if ev.ID != "" {
			p["action_id"] = ev.ID
			p["payload"] = action.CloneJSON(ev.Payload)
		}
		if ev.Metadata != nil {
			n.Metadata = make(map[string]string, len(ev.Metadata))
			for k, v := range ev.Metadata {
				n.Metadata[k] = v
			}
		}
	}
	if c.tr != nil {
		if len(c.tr.Metadata) > 0 {
			md := make(map[string]any, len(c.tr.Metadata))
			for k, v := range c.tr.Metadata {
				md[k] = v
			}
			p["metadata"] = md
		}
		if c.tr.WebhookURL != "" {
			p["webhook_url"] = c.tr.WebhookURL
		}
	}
	return n
}

// send dispatches a notification through the gateway (outbox.Send).
func (e *Engine) send(ctx context.Context, n *action.Action) error {
	_, err := outbox.Send(ctx, e.dispatcher(), n, Caller)
	return err
}
