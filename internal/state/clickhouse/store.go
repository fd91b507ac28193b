package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// CheckAndSet stores value if key has no live entry and reports whether it
// did; the new entry has version 1. One round trip for a key this Store
// has not seen (a conditional INSERT), none when it knows the key is live.
func (s *Store) CheckAndSet(ctx context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	o := &op{kind: opCheckAndSet, key: key.String(), value: value, ttl: ttl}
	if err := s.submit(ctx, o); err != nil {
		return false, err
	}
	return o.ok, nil
}

// Set upserts value; the version grows by one (or starts at 1) and the
// expiry becomes now+ttl, or none when ttl is zero.
func (s *Store) Set(ctx context.Context, key state.Key, value string, ttl time.Duration) error {
	return s.submit(ctx, &op{kind: opSet, key: key.String(), value: value, ttl: ttl})
}

// Delete removes the entry and reports whether a live one existed.
func (s *Store) Delete(ctx context.Context, key state.Key) (bool, error) {
	o := &op{kind: opDelete, key: key.String()}
	if err := s.submit(ctx, o); err != nil {
		return false, err
	}
	return o.ok, nil
}

// Increment adds delta to the decimal value (missing or expired counts as
// 0) and returns the result. A non-zero ttl resets the expiry to now+ttl;
// zero keeps it.
func (s *Store) Increment(ctx context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	o := &op{kind: opIncrement, key: key.String(), n: delta, ttl: ttl}
	if err := s.submit(ctx, o); err != nil {
		return 0, err
	}
	return o.num, nil
}

// IncrementWindow counts one hit in a fixed window starting at the first
// hit (D10) and returns the count and the time left. window must be > 0.
func (s *Store) IncrementWindow(ctx context.Context, key state.Key, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("state/clickhouse: increment window %s: window must be > 0, got %s", key, window)
	}
	o := &op{kind: opIncrementWindow, key: key.String(), ttl: window}
	if err := s.submit(ctx, o); err != nil {
		return 0, 0, err
	}
	return o.num, o.left, nil
}

// CompareAndSwap writes value if the live entry's version equals expected,
// else returns an error wrapping state.ErrConflict (also for a missing
// key). A zero ttl keeps the old expiry.
func (s *Store) CompareAndSwap(ctx context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	o := &op{kind: opCAS, key: key.String(), value: value, ttl: ttl, expected: expected}
	if err := s.submit(ctx, o); err != nil {
		return err
	}
	switch {
	case o.missing:
		return fmt.Errorf("state/clickhouse: compare-and-swap %s: expected version %d, key missing: %w", o.key, expected, state.ErrConflict)
	case !o.ok:
		return fmt.Errorf("state/clickhouse: compare-and-swap %s: expected version %d, found %d: %w", o.key, expected, o.found, state.ErrConflict)
	}
	return nil
}

// IndexTimeout puts key in the timeout index with a deadline in epoch ms,
// replacing an earlier one.
func (s *Store) IndexTimeout(ctx context.Context, key state.Key, deadlineMs int64) error {
	return s.submit(ctx, &op{kind: opIndexTimeout, key: key.String(), n: deadlineMs})
}

// RemoveTimeoutIndex removes key from the timeout index (idempotent).
func (s *Store) RemoveTimeoutIndex(ctx context.Context, key state.Key) error {
	return s.submit(ctx, &op{kind: opRemoveTimeout, key: key.String()})
}

// TryLock takes the named lock for ttl (zero: until released) if nobody
// holds it, else returns an error wrapping state.ErrLockHeld.
func (s *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (state.Lock, error) {
	o := &op{kind: opLockTry, key: name, value: newToken(), ttl: ttl}
	if err := s.submit(ctx, o); err != nil {
		return nil, err
	}
	if !o.ok {
		return nil, fmt.Errorf("state/clickhouse: lock %s: %w", name, state.ErrLockHeld)
	}
	return &lock{s: s, name: name, owner: o.value}, nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}

// lock is a held lock; owner is its random token.
type lock struct {
	s     *Store
	name  string
	owner string
}

// Extend pushes the expiry to now+ttl (zero: no expiry) or returns
// state.ErrLockNotHeld.
func (l *lock) Extend(ctx context.Context, ttl time.Duration) error {
	o := &op{kind: opLockExtend, key: l.name, value: l.owner, ttl: ttl}
	if err := l.s.submit(ctx, o); err != nil {
		return err
	}
	if !o.ok {
		return fmt.Errorf("state/clickhouse: extend lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

// Release frees the lock or returns state.ErrLockNotHeld.
func (l *lock) Release(ctx context.Context) error {
	o := &op{kind: opLockRelease, key: l.name, value: l.owner}
	if err := l.s.submit(ctx, o); err != nil {
		return err
	}
	if !o.ok {
		return fmt.Errorf("state/clickhouse: release lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

// Held reports whether this owner still holds the lock.
func (l *lock) Held(ctx context.Context) (bool, error) {
	o := &op{kind: opLockHeld, key: l.name, value: l.owner}
	if err := l.s.submit(ctx, o); err != nil {
		return false, err
	}
	return o.ok, nil
}
