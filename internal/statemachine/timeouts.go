package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/outbox"
	"github.com/acteon/acteon-go/internal/state"
)

// FireDue fires every armed timeout whose deadline is at or before now (up
// to the batch size) and returns how many this node fired. Each timeout is
// claimed first, so with several nodes it fires on exactly one.
func (e *Engine) FireDue(ctx context.Context, now time.Time) (int, error) {
	keys, err := e.st.GetExpiredTimeouts(ctx, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("statemachine: due timeouts: %w", err)
	}
	n := 0
	var errs []error
	for _, s := range keys {
		if n >= e.batch || ctx.Err() != nil {
			break
		}
		k, err := state.ParseKey(s)
		if err == nil && k.Kind == KindOutbox {
			sent, err := e.redeliver(ctx, k)
			if err != nil {
				errs = append(errs, err)
			}
			if sent {
				n++
			}
			continue
		}
		if err != nil || k.Kind != KindEventTimeout {
			continue
		}
		fired, err := e.fire(ctx, k.Namespace, k.Tenant, k.ID, now)
		if err != nil {
			errs = append(errs, err)
		}
		if fired {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (e *Engine) fire(ctx context.Context, ns, tenant, fp string, now time.Time) (bool, error) {
	k := stateKey(ns, tenant, fp)
	ent, err := e.st.GetVersioned(ctx, k)
	if errors.Is(err, state.ErrNotFound) {
		e.syncIndex(ctx, ns, tenant, fp)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statemachine: read %s: %w", k, err)
	}
	var rec Record
	if err := json.Unmarshal([]byte(ent.Value), &rec); err != nil || rec.Timeout == nil || rec.Timeout.ExpiresAt > now.UnixMilli() {
		// Stale index entry: the event moved on.
		e.syncIndex(ctx, ns, tenant, fp)
		return false, nil
	}
	deadline := rec.Timeout.ExpiresAt
	ck := state.Key{Namespace: ns, Tenant: tenant, Kind: KindTimeoutClaim, ID: fp + ":" + strconv.FormatInt(deadline, 10)}
	won, err := e.st.CheckAndSet(ctx, ck, "claimed", e.claim)
	if err != nil {
		return false, fmt.Errorf("statemachine: claim %s: %w", ck, err)
	}
	if !won {
		return false, nil
	}
	m, ok := e.machines[rec.StateMachine]
	if !ok {
		// The machine was removed from the config: fire the transition it
		// armed anyway, arming nothing new.
		m = &Machine{Name: rec.StateMachine, InitialState: rec.State}
	}
	// The notification goes into the outbox before the commit and out of
	// it once dispatched, so a node that dies in between leaves it to
	// another (internal/outbox). It is built from the record read above:
	// the commit below only happens while that same timeout is armed, so
	// the change is the one it describes.
	ev := &action.Action{Namespace: ns, Tenant: tenant, Provider: rec.Provider}
	if ev.Provider == "" {
		ev.Provider = "webhook"
	}
	if rec.ActionType != nil {
		ev.ActionType = *rec.ActionType
	}
	extra := map[string]any{"expires_at": action.FormatTime(time.UnixMilli(deadline))}
	n := e.notification(m, change{fp: fp, prev: rec.State, next: rec.Timeout.TransitionTo}, ev, "timeout", now, extra)
	outID := fp + ":" + strconv.FormatInt(deadline, 10)
	outKey := e.out.Key(ns, tenant, outID)
	if err := e.out.Put(ctx, ns, tenant, outID, n); err != nil {
		return false, fmt.Errorf("statemachine: fire %s: %w", k, err)
	}
	var fired armed
	c, err := e.apply(ctx, m, ns, tenant, fp, now, func(r *Record, exists bool) decision {
		if !exists || r.Timeout == nil || r.Timeout.ExpiresAt != deadline {
			// The event moved on since we read it.
			return decision{}
		}
		fired = *r.Timeout
		// No transition validation (spec 02 §3.8): the timeout is part of
		// the machine.
		return decision{next: r.Timeout.TransitionTo, write: true, rearm: true}
	}, func(r *Record) { r.TransitionedBy = "timeout" })
	if err != nil || c.skipped {
		_ = e.out.Done(context.WithoutCancel(ctx), outKey)
		if err != nil {
			return false, err
		}
		e.syncIndex(ctx, ns, tenant, fp)
		return false, nil
	}
	if c.prev != rec.State || c.next != rec.Timeout.TransitionTo || fired.ExpiresAt != deadline {
		// Not expected (the commit checks the same armed timeout); send
		// what was committed.
		n = e.notification(m, c, ev, "timeout", now, extra)
		if err := e.out.Put(ctx, ns, tenant, outID, n); err != nil {
			e.log.Warn("timeout notification not in the outbox", "fingerprint", fp, "err", err)
		}
	}
	if err := e.send(ctx, n); !outbox.Delivered(err) {
		e.log.Error("timeout notification not dispatched; it stays in the outbox and will be sent again", "fingerprint", fp, "action_id", n.ID, "err", err)
		return true, nil
	}
	if err := e.out.Done(context.WithoutCancel(ctx), outKey); err != nil {
		e.log.Warn("timeout notification sent but still in the outbox; it may be sent again", "action_id", n.ID, "err", err)
	}
	return true, nil
}

// redeliver sends a notification a fired timeout left in the outbox (its
// node died or could not dispatch it), once this node holds its claim.
func (e *Engine) redeliver(ctx context.Context, k state.Key) (bool, error) {
	a, ok, err := e.out.Take(ctx, k)
	if err != nil || !ok {
		return false, err
	}
	if err := e.send(ctx, a); !outbox.Delivered(err) {
		return false, err
	}
	e.log.Warn("timeout notification redelivered from the outbox", "action_id", a.ID, "key", k.String())
	return true, e.out.Done(ctx, k)
}

// Repair re-indexes the armed timeout of every stored event: a safety net
// for a node that died between writing a state and indexing it. Run it
// rarely, on one node per interval (it scans the kind).
func (e *Engine) Repair(ctx context.Context, _ time.Time) (int, error) {
	kvs, err := e.st.ScanKeysByKind(ctx, KindEventState)
	if err != nil {
		return 0, fmt.Errorf("statemachine: repair: %w", err)
	}
	n := 0
	for _, kv := range kvs {
		if ctx.Err() != nil {
			break
		}
		var rec Record
		if json.Unmarshal([]byte(kv.Value), &rec) != nil || rec.Timeout == nil {
			continue
		}
		k, err := state.ParseKey(kv.Key)
		if err != nil {
			continue
		}
		e.syncIndex(ctx, k.Namespace, k.Tenant, k.ID)
		n++
	}
	return n, nil
}
