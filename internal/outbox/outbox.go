// Package outbox makes a notification that a background job has committed
// to send survive the death of the node sending it.
//
// A job (group flush, state-machine timeout) first claims its work item,
// then commits the state change, then sends the notification. A node that
// dies between the commit and the send would lose that notification: the
// work item is gone and nobody else will send it. With an outbox the job
// Puts the notification before committing and marks it Done once it was
// dispatched; an entry still there After its Put (the node died, or every
// dispatch attempt failed) is due in the state store's timeout index, and
// whichever node sees it first Takes it (an atomic claim) and sends it
// again with the same action id. Delivery is at least once: a node that
// dies after sending but before Done causes one duplicate, never a loss.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/state"
)

// Defaults.
const (
	// DefaultAfter is how long after Put an entry not marked Done is
	// presumed orphaned: longer than a dispatch with all its retries.
	DefaultAfter = 5 * time.Minute
	// DefaultClaimTTL is the lifetime of the claim Take holds while it
	// sends.
	DefaultClaimTTL = 5 * time.Minute
	// retention bounds how long an entry is kept at all.
	retention = 7 * 24 * time.Hour
)

// Dispatcher sends a notification through the gateway.
type Dispatcher interface {
	Dispatch(ctx context.Context, a *action.Action, caller gateway.Caller) (action.Outcome, error)
}

// Send dispatches a background job's notification, trying again a few
// times (0.2, 0.4, 0.8 s apart) while the dispatch itself fails (state
// unavailable); a gateway that is shutting down is not retried, nor one
// that dispatched the notification but could not write its audit record
// (gateway.ErrAuditUnavailable, with [audit] sync = true: trying again
// would send it again). The outcome (Executed, Failed, …) is the gateway's
// business; use Delivered to tell whether an error means the notification
// did not go out.
func Send(ctx context.Context, d Dispatcher, a *action.Action, caller gateway.Caller) (action.Outcome, error) {
	if d == nil {
		return action.Outcome{}, errors.New("no dispatcher")
	}
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			if serr := clock.Sleep(ctx, time.Duration(100<<attempt)*time.Millisecond); serr != nil {
				return action.Outcome{}, serr
			}
		}
		var out action.Outcome
		if out, err = d.Dispatch(ctx, a.Clone(), caller); err == nil {
			return out, nil
		}
		if errors.Is(err, gateway.ErrAuditUnavailable) {
			return out, err
		}
		if errors.Is(err, gateway.ErrShuttingDown) {
			break
		}
	}
	return action.Outcome{}, err
}

// Delivered reports whether Send's error still means the notification was
// dispatched: none, or only its audit record is missing.
func Delivered(err error) bool {
	return err == nil || errors.Is(err, gateway.ErrAuditUnavailable)
}

// Outbox stores pending notifications of one kind of job.
type Outbox struct {
	// Kind is the state kind of the entries ("group_outbox", …); the
	// claims use Kind + "_claim".
	Kind     string
	State    state.Store
	Clock    clock.Clock
	After    time.Duration // 0 = DefaultAfter
	ClaimTTL time.Duration // 0 = DefaultClaimTTL
}

func (o *Outbox) now() time.Time {
	if o.Clock == nil {
		return time.Now()
	}
	return o.Clock.Now()
}

// Key is where the entry of (namespace, tenant, id) is stored.
func (o *Outbox) Key(namespace, tenant, id string) state.Key {
	return state.Key{Namespace: namespace, Tenant: tenant, Kind: o.Kind, ID: id}
}

// Put stores a as the pending notification of (namespace, tenant, id),
// replacing an earlier one, and indexes it for redelivery After from now.
func (o *Outbox) Put(ctx context.Context, namespace, tenant, id string, a *action.Action) error {
	data, err := a.MarshalJSON()
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", id, err)
	}
	k := o.Key(namespace, tenant, id)
	if err := o.State.Set(ctx, k, string(data), retention); err != nil {
		return fmt.Errorf("outbox: store %s: %w", k, err)
	}
	after := o.After
	if after <= 0 {
		after = DefaultAfter
	}
	if err := o.State.IndexTimeout(ctx, k, o.now().Add(after).UnixMilli()); err != nil {
		_, _ = o.State.Delete(ctx, k)
		return fmt.Errorf("outbox: index %s: %w", k, err)
	}
	return nil
}

// Done removes the entry: its notification was dispatched, or the commit
// it was put for did not happen.
func (o *Outbox) Done(ctx context.Context, k state.Key) error {
	return errors.Join(o.State.RemoveTimeoutIndex(ctx, k), deleteErr(o.State.Delete(ctx, k)))
}

func deleteErr(_ bool, err error) error { return err }

// Take claims a due entry (k from the timeout index, of this outbox's
// Kind) and returns its notification; ok is false when another node holds
// the claim or the entry is gone. The caller sends it and calls Done.
func (o *Outbox) Take(ctx context.Context, k state.Key) (a *action.Action, ok bool, err error) {
	ttl := o.ClaimTTL
	if ttl <= 0 {
		ttl = DefaultClaimTTL
	}
	claim := state.Key{Namespace: k.Namespace, Tenant: k.Tenant, Kind: o.Kind + "_claim", ID: k.ID}
	won, err := o.State.CheckAndSet(ctx, claim, "claimed", ttl)
	if err != nil || !won {
		return nil, false, err
	}
	v, err := o.State.Get(ctx, k)
	if errors.Is(err, state.ErrNotFound) {
		return nil, false, o.State.RemoveTimeoutIndex(ctx, k)
	}
	if err != nil {
		return nil, false, err
	}
	a, err = action.Decode([]byte(v))
	if err != nil {
		// Unreadable: drop it rather than fail on it forever.
		return nil, false, errors.Join(fmt.Errorf("outbox: decode %s: %w", k, err), o.Done(ctx, k))
	}
	return a, true, nil
}
