package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/outbox"
	"github.com/acteon/acteon-go/internal/state"
)

// maxIdleFlushes: a persistent group is evicted after the flush on which
// its idle_flushes reaches this (spec 02 §3.7).
const maxIdleFlushes = 3

// ActionType is the action type of a consolidated group notification.
const ActionType = "group_notification"

// Caller is how group notifications appear in the audit trail.
var Caller = gateway.Caller{ID: "background:group_flush", AuthMethod: "system"}

// FlushResult describes one flush.
type FlushResult struct {
	GroupID    string
	GroupKey   string
	EventCount int
	// Evicted: the group is gone after this flush (ephemeral, or idle
	// persistent).
	Evicted bool
	// Outcome of dispatching the notification; Err is set when the
	// dispatch itself failed.
	Outcome action.Outcome
	Err     error
}

// FlushDue flushes every group whose notify_at is at or before now (up to
// the batch size) and returns how many this node flushed. Groups claimed by
// another node are skipped.
func (m *Manager) FlushDue(ctx context.Context, now time.Time) (int, error) {
	keys, err := m.st.GetExpiredTimeouts(ctx, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("group: due groups: %w", err)
	}
	n := 0
	var errs []error
	for _, s := range keys {
		if n >= m.batch || ctx.Err() != nil {
			break
		}
		k, err := state.ParseKey(s)
		if err == nil && k.Kind == KindOutbox {
			sent, err := m.redeliver(ctx, k)
			if err != nil {
				errs = append(errs, err)
			}
			if sent {
				n++
			}
			continue
		}
		if err != nil || k.Kind != KindPending {
			continue
		}
		res, ok, err := m.flush(ctx, groupKey(k.Namespace, k.Tenant, k.ID), now, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			n++
			if res.Err != nil {
				errs = append(errs, res.Err)
			}
		}
	}
	return n, errors.Join(errs...)
}

// Flush flushes the group now, whatever its notify_at (DELETE
// /v1/groups/{key}). It returns ErrNotFound when no live group has the
// key, and ok=false when another node holds the flush claim.
func (m *Manager) Flush(ctx context.Context, ns, tenant, key string) (FlushResult, bool, error) {
	return m.flush(ctx, groupKey(ns, tenant, key), m.clock.Now(), true)
}

func (m *Manager) flush(ctx context.Context, gk state.Key, now time.Time, force bool) (FlushResult, bool, error) {
	mu := m.stripe(gk)
	mu.Lock()
	locked := true
	unlock := func() {
		if locked {
			mu.Unlock()
			locked = false
		}
	}
	defer unlock()

	e, err := m.st.GetVersioned(ctx, gk)
	if errors.Is(err, state.ErrNotFound) {
		m.syncIndex(ctx, gk)
		return FlushResult{}, false, notFoundIf(force)
	}
	if err != nil {
		return FlushResult{}, false, fmt.Errorf("group: read %s: %w", gk, err)
	}
	h, _, err := parseHeader(gk, e.Value)
	if err != nil || h.State == StateFlushed {
		m.syncIndex(ctx, gk)
		return FlushResult{}, false, notFoundIf(force)
	}
	if !force && h.NotifyAt > now.UnixMilli() {
		// A stale index entry: the group moved on.
		m.syncIndex(ctx, gk)
		return FlushResult{}, false, nil
	}
	claimed := h.NotifyAt
	ck := state.Key{Namespace: gk.Namespace, Tenant: gk.Tenant, Kind: KindFlushClaim, ID: gk.ID + ":" + action.FormatTime(msTime(claimed))}
	won, err := m.st.CheckAndSet(ctx, ck, "claimed", m.claim)
	if err != nil {
		return FlushResult{}, false, fmt.Errorf("group: claim %s: %w", ck, err)
	}
	if !won {
		return FlushResult{}, false, nil
	}

	nowMs := now.UnixMilli()
	var snap *header
	var evicted bool
	// The notification is put in the outbox before the commit and taken
	// out once dispatched: a node that dies in between leaves it to be
	// sent by another (internal/outbox).
	var notif *action.Action
	var buildErr error
	outID := gk.ID + ":" + action.FormatTime(msTime(claimed))
	outKey := m.out.Key(gk.Namespace, gk.Tenant, outID)
	queued := false
	for attempt := 0; ; attempt++ {
		if attempt >= maxAttempts {
			return FlushResult{}, false, fmt.Errorf("%w: flush %s", ErrContention, gk)
		}
		if attempt > 0 {
			if err := state.ConflictBackoff(ctx, attempt); err != nil {
				return FlushResult{}, false, err
			}
			e, err = m.st.GetVersioned(ctx, gk)
			if errors.Is(err, state.ErrNotFound) {
				return FlushResult{}, false, nil
			}
			if err != nil {
				return FlushResult{}, false, fmt.Errorf("group: read %s: %w", gk, err)
			}
		}
		var events string
		h, events, err = parseHeader(gk, e.Value)
		if err != nil || h.State == StateFlushed || h.NotifyAt != claimed {
			// Someone else flushed this notify_at (our claim must have
			// expired); nothing left to do.
			m.syncIndex(ctx, gk)
			return FlushResult{}, false, nil
		}
		s := *h
		snap = &s
		notif, buildErr = m.notification(snap, events, now)
		if buildErr == nil {
			if err := m.out.Put(ctx, gk.Namespace, gk.Tenant, outID, notif); err != nil {
				return FlushResult{}, false, fmt.Errorf("group: flush %s: %w", gk, err)
			}
			queued = true
		}
		next := *h
		var val string
		var ttl time.Duration
		evicted = false
		if !h.persistent() {
			evicted = true
		} else {
			if h.State == StateNotified {
				next.IdleFlushes++
			}
			next.State = StateNotified
			next.NotifyAt = nowMs + int64(*h.Repeat)*1000
			evicted = next.IdleFlushes >= maxIdleFlushes
		}
		if evicted {
			tomb := next
			tomb.State, tomb.Count = StateFlushed, 0
			val, err = encodeRecord(&tomb, "")
			ttl = tombstoneTTL
		} else {
			val, err = encodeRecord(&next, events)
			ttl = liveTTL(next.NotifyAt, now)
		}
		if err != nil {
			return FlushResult{}, false, err
		}
		err = m.st.CompareAndSwap(ctx, gk, e.Version, val, ttl)
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err != nil {
			if queued {
				_ = m.out.Done(ctx, outKey)
			}
			return FlushResult{}, false, fmt.Errorf("group: commit flush of %s: %w", gk, err)
		}
		break
	}
	m.syncIndex(ctx, gk)
	// The commit is done; other adds may proceed while we send.
	unlock()

	res := FlushResult{GroupID: snap.GroupID, GroupKey: snap.GroupKey, EventCount: snap.Count, Evicted: evicted}
	if buildErr != nil {
		res.Err = buildErr
		m.log.Error("group notification lost: cannot build it", "group_id", snap.GroupID, "err", buildErr)
		return res, true, nil
	}
	res.Outcome, res.Err = m.send(ctx, notif)
	if outbox.Delivered(res.Err) {
		if err := m.out.Done(context.WithoutCancel(ctx), outKey); err != nil {
			m.log.Warn("group notification sent but still in the outbox; it may be sent again", "action_id", notif.ID, "err", err)
		}
	} else {
		m.log.Error("group notification not dispatched; it stays in the outbox and will be sent again", "action_id", notif.ID, "err", res.Err)
	}
	return res, true, nil
}

// redeliver sends a notification a flush left in the outbox (its node died
// or could not dispatch it), once this node holds its claim.
func (m *Manager) redeliver(ctx context.Context, k state.Key) (bool, error) {
	a, ok, err := m.out.Take(ctx, k)
	if err != nil || !ok {
		return false, err
	}
	if _, err := m.send(ctx, a); !outbox.Delivered(err) {
		return false, err
	}
	m.log.Warn("group notification redelivered from the outbox", "action_id", a.ID, "key", k.String())
	return true, m.out.Done(ctx, k)
}

// notFoundIf returns ErrNotFound when force is set (an API flush of an
// unknown group), else nil (a stale index entry is not an error).
func notFoundIf(force bool) error {
	if force {
		return ErrNotFound
	}
	return nil
}

// send dispatches the notification through the gateway (outbox.Send).
func (m *Manager) send(ctx context.Context, a *action.Action) (action.Outcome, error) {
	out, err := outbox.Send(ctx, m.dispatcher(), a, Caller)
	if err != nil {
		return out, fmt.Errorf("group: dispatch notification %s: %w", a.ID, err)
	}
	return out, nil
}

// notification builds the consolidated action for a flushed snapshot.
func (m *Manager) notification(h *header, events string, now time.Time) (*action.Action, error) {
	payloads := make([]any, 0, h.Count)
	for _, line := range eventLines(events) {
		_, p, err := decodeEventLine(line)
		if err != nil {
			return nil, err
		}
		payloads = append(payloads, p)
	}
	labels := make(map[string]any, len(h.Labels))
	var meta map[string]string
	for k, v := range h.Labels {
		labels[k] = v
		if mk, ok := strings.CutPrefix(k, "metadata."); ok {
			if meta == nil {
				meta = map[string]string{}
			}
			meta[mk] = v
		}
	}
	ns, tenant, prov := h.Namespace, h.Tenant, h.Provider
	if v := h.Labels["namespace"]; v != "" {
		ns = v
	}
	if v := h.Labels["tenant"]; v != "" {
		tenant = v
	}
	if v := h.Labels["provider"]; v != "" {
		prov = v
	}
	if prov == "" {
		prov = "webhook"
	}
	return &action.Action{
		ID: action.UUIDv4(), Namespace: ns, Tenant: tenant, Provider: prov, ActionType: ActionType,
		Metadata: meta, CreatedAt: now.UTC(),
		Payload: map[string]any{
			"group_id":        h.GroupID,
			"group_key":       h.GroupKey,
			"event_count":     json.Number(fmt.Sprint(len(payloads))),
			"events":          payloads,
			"labels":          labels,
			"flushed_at":      action.FormatTime(now),
			"_group_dispatch": true,
		},
	}, nil
}

// Repair re-indexes every stored group: a safety net for a node that died
// between writing a group and indexing it. It returns how many groups it
// looked at. Run it rarely, on one node per interval (it scans the kind).
func (m *Manager) Repair(ctx context.Context, _ time.Time) (int, error) {
	kvs, err := m.st.ScanKeysByKind(ctx, KindGroup)
	if err != nil {
		return 0, fmt.Errorf("group: repair: %w", err)
	}
	n := 0
	for _, kv := range kvs {
		if ctx.Err() != nil {
			break
		}
		h, _, err := parseStored(kv.Key, kv.Value)
		if err != nil || h.State == StateFlushed {
			continue
		}
		m.syncIndex(ctx, groupKey(h.Namespace, h.Tenant, h.GroupKey))
		n++
	}
	return n, nil
}
