package sim

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// Op names one state.Store (or state.Lock) operation counted by a
// CountingStore.
type Op int

// Counted operations.
const (
	OpCheckAndSet Op = iota
	OpGet
	OpGetVersioned
	OpSet
	OpDelete
	OpIncrement
	OpIncrementWindow
	OpCompareAndSwap
	OpScanKeys
	OpScanKeysByKind
	OpIndexTimeout
	OpRemoveTimeoutIndex
	OpGetExpiredTimeouts
	OpTryLock
	OpLockExtend
	OpLockRelease
	OpLockHeld
	numOps
)

var opNames = [numOps]string{
	"CheckAndSet", "Get", "GetVersioned", "Set", "Delete", "Increment", "IncrementWindow",
	"CompareAndSwap", "ScanKeys", "ScanKeysByKind", "IndexTimeout", "RemoveTimeoutIndex",
	"GetExpiredTimeouts", "TryLock", "Lock.Extend", "Lock.Release", "Lock.Held",
}

// String returns the method name.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "Op(?)"
	}
	return opNames[o]
}

// CountingStore is a state.Store decorator that counts the operations it
// forwards. Every backend does one round trip per operation (a batching
// backend may carry several concurrent operations in one), so the count is
// the number of state round trips the gateway asked for. Close is not
// counted. Safe for concurrent use.
type CountingStore struct {
	next state.Store
	ops  [numOps]atomic.Int64
}

// NewCountingStore wraps next.
func NewCountingStore(next state.Store) *CountingStore { return &CountingStore{next: next} }

// Unwrap returns the wrapped store.
func (c *CountingStore) Unwrap() state.Store { return c.next }

// Total returns the number of operations counted since the last Reset.
func (c *CountingStore) Total() int64 {
	var n int64
	for i := range c.ops {
		n += c.ops[i].Load()
	}
	return n
}

// Count returns the count of one operation.
func (c *CountingStore) Count(op Op) int64 {
	if op < 0 || op >= numOps {
		return 0
	}
	return c.ops[op].Load()
}

// Counts returns the non-zero counts by operation name.
func (c *CountingStore) Counts() map[string]int64 {
	m := map[string]int64{}
	for i := range c.ops {
		if n := c.ops[i].Load(); n != 0 {
			m[Op(i).String()] = n
		}
	}
	return m
}

// Reset sets every count to zero.
func (c *CountingStore) Reset() {
	for i := range c.ops {
		c.ops[i].Store(0)
	}
}

func (c *CountingStore) inc(op Op) { c.ops[op].Add(1) }

// CheckAndSet implements state.Store.
func (c *CountingStore) CheckAndSet(ctx context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	c.inc(OpCheckAndSet)
	return c.next.CheckAndSet(ctx, key, value, ttl)
}

// Get implements state.Store.
func (c *CountingStore) Get(ctx context.Context, key state.Key) (string, error) {
	c.inc(OpGet)
	return c.next.Get(ctx, key)
}

// GetVersioned implements state.Store.
func (c *CountingStore) GetVersioned(ctx context.Context, key state.Key) (state.Entry, error) {
	c.inc(OpGetVersioned)
	return c.next.GetVersioned(ctx, key)
}

// Set implements state.Store.
func (c *CountingStore) Set(ctx context.Context, key state.Key, value string, ttl time.Duration) error {
	c.inc(OpSet)
	return c.next.Set(ctx, key, value, ttl)
}

// Delete implements state.Store.
func (c *CountingStore) Delete(ctx context.Context, key state.Key) (bool, error) {
	c.inc(OpDelete)
	return c.next.Delete(ctx, key)
}

// Increment implements state.Store.
func (c *CountingStore) Increment(ctx context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	c.inc(OpIncrement)
	return c.next.Increment(ctx, key, delta, ttl)
}

// IncrementWindow implements state.Store.
func (c *CountingStore) IncrementWindow(ctx context.Context, key state.Key, window time.Duration) (int64, time.Duration, error) {
	c.inc(OpIncrementWindow)
	return c.next.IncrementWindow(ctx, key, window)
}

// CompareAndSwap implements state.Store.
func (c *CountingStore) CompareAndSwap(ctx context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	c.inc(OpCompareAndSwap)
	return c.next.CompareAndSwap(ctx, key, expected, value, ttl)
}

// ScanKeys implements state.Store.
func (c *CountingStore) ScanKeys(ctx context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	c.inc(OpScanKeys)
	return c.next.ScanKeys(ctx, namespace, tenant, kind, prefix)
}

// ScanKeysByKind implements state.Store.
func (c *CountingStore) ScanKeysByKind(ctx context.Context, kind string) ([]state.KV, error) {
	c.inc(OpScanKeysByKind)
	return c.next.ScanKeysByKind(ctx, kind)
}

// IndexTimeout implements state.Store.
func (c *CountingStore) IndexTimeout(ctx context.Context, key state.Key, deadlineMs int64) error {
	c.inc(OpIndexTimeout)
	return c.next.IndexTimeout(ctx, key, deadlineMs)
}

// RemoveTimeoutIndex implements state.Store.
func (c *CountingStore) RemoveTimeoutIndex(ctx context.Context, key state.Key) error {
	c.inc(OpRemoveTimeoutIndex)
	return c.next.RemoveTimeoutIndex(ctx, key)
}

// GetExpiredTimeouts implements state.Store.
func (c *CountingStore) GetExpiredTimeouts(ctx context.Context, nowMs int64) ([]string, error) {
	c.inc(OpGetExpiredTimeouts)
	return c.next.GetExpiredTimeouts(ctx, nowMs)
}

// TryLock implements state.Store; the returned lock's operations are
// counted too.
func (c *CountingStore) TryLock(ctx context.Context, name string, ttl time.Duration) (state.Lock, error) {
	c.inc(OpTryLock)
	l, err := c.next.TryLock(ctx, name, ttl)
	if err != nil {
		return nil, err
	}
	return &countingLock{c: c, next: l}, nil
}

// Close closes the wrapped store.
func (c *CountingStore) Close() error { return c.next.Close() }

type countingLock struct {
	c    *CountingStore
	next state.Lock
}

func (l *countingLock) Extend(ctx context.Context, ttl time.Duration) error {
	l.c.inc(OpLockExtend)
	return l.next.Extend(ctx, ttl)
}

func (l *countingLock) Release(ctx context.Context) error {
	l.c.inc(OpLockRelease)
	return l.next.Release(ctx)
}

func (l *countingLock) Held(ctx context.Context) (bool, error) {
	l.c.inc(OpLockHeld)
	return l.next.Held(ctx)
}

var (
	_ state.Store = (*CountingStore)(nil)
	_ state.Lock  = (*countingLock)(nil)
)
