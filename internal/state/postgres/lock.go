package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acteon/acteon-go/internal/state"
)

// TryLock takes the named lock for ttl (zero: until released) if nobody
// holds it, else it returns an error wrapping state.ErrLockHeld. Locks are
// rows with a random owner token (not advisory locks, which belong to one
// session); an expired row is taken over atomically.
func (s *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (state.Lock, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	owner := uuid.NewString()
	var ok bool
	err := s.pool.QueryRow(c, s.q.tryLock, name, owner, micros(ttl)).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("state/postgres: lock %s: %w", name, state.ErrLockHeld)
	}
	if err != nil {
		return nil, s.wrap(ctx, "lock "+name, err)
	}
	return &lock{s: s, name: name, owner: owner}, nil
}

// lock is a held lock; owner is its token.
type lock struct {
	s     *Store
	name  string
	owner string
}

// Extend pushes the expiry to now+ttl (zero: no expiry) if the lock is still
// owned and live, else it returns an error wrapping state.ErrLockNotHeld.
func (l *lock) Extend(ctx context.Context, ttl time.Duration) error {
	c, cancel := l.s.opCtx(ctx)
	defer cancel()
	tag, err := l.s.pool.Exec(c, l.s.q.extendLock, l.name, l.owner, micros(ttl))
	if err != nil {
		return l.s.wrap(ctx, "extend lock "+l.name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("state/postgres: extend lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

// Release frees the lock, or returns an error wrapping state.ErrLockNotHeld
// if it expired or was taken over (an own expired row is removed anyway).
func (l *lock) Release(ctx context.Context) error {
	c, cancel := l.s.opCtx(ctx)
	defer cancel()
	var live bool
	err := l.s.pool.QueryRow(c, l.s.q.releaseLock, l.name, l.owner).Scan(&live)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return l.s.wrap(ctx, "release lock "+l.name, err)
	}
	if !live {
		return fmt.Errorf("state/postgres: release lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

// Held reports whether the caller still owns the lock and it has not expired.
func (l *lock) Held(ctx context.Context) (bool, error) {
	c, cancel := l.s.opCtx(ctx)
	defer cancel()
	var held bool
	if err := l.s.pool.QueryRow(c, l.s.q.heldLock, l.name, l.owner).Scan(&held); err != nil {
		return false, l.s.wrap(ctx, "lock held "+l.name, err)
	}
	return held, nil
}
