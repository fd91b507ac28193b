package executor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

// DLQ key space: every entry lives at
// _system:_global:dlq:<20-digit unix nanos>-<uuid v7>, so a key scan
// returns entries oldest first.
const (
	dlqNamespace = "_system"
	dlqTenant    = "_global"
)

// Entry is one dead-lettered action. Its JSON is the element of the
// POST /v1/dlq/drain body (spec 01 §2.5) plus the full action, so that it
// can be replayed.
type Entry struct {
	// ID identifies the entry for Delete; it is not part of the JSON.
	ID         string `json:"-"`
	ActionID   string `json:"action_id"`
	Namespace  string `json:"namespace"`
	Tenant     string `json:"tenant"`
	Provider   string `json:"provider"`
	ActionType string `json:"action_type"`
	Error      string `json:"error"`
	Attempts   int    `json:"attempts"`
	// Timestamp is when the entry was pushed, in unix seconds.
	Timestamp int64          `json:"timestamp"`
	Action    *action.Action `json:"action,omitempty"`
}

// DLQ is the dead-letter queue (decision D19): actions whose retryable
// failures exhausted their retries. It lives in the state backend, so it
// survives restarts and is shared by every node on that backend.
//
// DLQ is safe for concurrent use, also across nodes: Drain only returns
// entries its own delete removed, so two nodes draining at once never both
// return the same entry. Entries that cannot be decoded are skipped by List
// and removed (without being returned) by Drain.
type DLQ struct {
	store state.Store
	clock clock.Clock
}

// NewDLQ returns a DLQ stored in store. A nil clock means the wall clock.
func NewDLQ(store state.Store, c clock.Clock) *DLQ {
	if c == nil {
		c = clock.Real{}
	}
	return &DLQ{store: store, clock: c}
}

func dlqKey(id string) state.Key {
	return state.Key{Namespace: dlqNamespace, Tenant: dlqTenant, Kind: state.KindDLQ, ID: id}
}

// Push appends e. A zero Timestamp is set to now. The entry's ID is
// assigned here (any value in e.ID is ignored).
func (d *DLQ) Push(ctx context.Context, e Entry) error {
	now := d.clock.Now()
	if e.Timestamp == 0 {
		e.Timestamp = now.Unix()
	}
	id := fmt.Sprintf("%020d-%s", max(now.UnixNano(), 0), action.UUIDv7())
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("executor: dlq push %s: encode: %w", e.ActionID, err)
	}
	if err := d.store.Set(ctx, dlqKey(id), string(b), 0); err != nil {
		return fmt.Errorf("executor: dlq push %s: %w", e.ActionID, err)
	}
	return nil
}

func (d *DLQ) scan(ctx context.Context) ([]state.KV, error) {
	kvs, err := d.store.ScanKeys(ctx, dlqNamespace, dlqTenant, state.KindDLQ, "")
	if err != nil {
		return nil, fmt.Errorf("executor: dlq scan: %w", err)
	}
	return kvs, nil
}

// Count returns how many entries are queued.
func (d *DLQ) Count(ctx context.Context) (int, error) {
	kvs, err := d.scan(ctx)
	return len(kvs), err
}

// List returns every entry, oldest first, without removing any.
func (d *DLQ) List(ctx context.Context) ([]Entry, error) {
	kvs, err := d.scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(kvs))
	for _, kv := range kvs {
		if e, ok := decodeEntry(kv); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// Drain removes every entry and returns those this call deleted, oldest
// first. If a delete fails, Drain returns the entries removed so far with
// the error.
func (d *DLQ) Drain(ctx context.Context) ([]Entry, error) {
	kvs, err := d.scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(kvs))
	for _, kv := range kvs {
		e, ok := decodeEntry(kv)
		deleted, err := d.store.Delete(ctx, dlqKey(idOf(kv.Key)))
		if err != nil {
			return out, fmt.Errorf("executor: dlq drain: %w", err)
		}
		if deleted && ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// Delete removes one entry by ID (for replaying it) and reports whether
// this call removed it.
func (d *DLQ) Delete(ctx context.Context, id string) (bool, error) {
	ok, err := d.store.Delete(ctx, dlqKey(id))
	if err != nil {
		return false, fmt.Errorf("executor: dlq delete %s: %w", id, err)
	}
	return ok, nil
}

// idOf extracts the id from a canonical key "ns:tenant:kind:id".
func idOf(canonical string) string {
	k, err := state.ParseKey(canonical)
	if err != nil {
		// Not canonical: the backend handed back the bare id.
		return canonical
	}
	return k.ID
}

func decodeEntry(kv state.KV) (Entry, bool) {
	var e Entry
	if err := json.Unmarshal([]byte(kv.Value), &e); err != nil {
		return Entry{}, false
	}
	e.ID = idOf(kv.Key)
	return e, true
}
