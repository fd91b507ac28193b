package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acteon/acteon-go/internal/state"
)

// micros converts a ttl to the bigint microseconds the statements take; 0
// (no expiry) for ttl <= 0, and at least 1 for a positive ttl.
func micros(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(d.Microseconds(), 1)
}

// newReq prepares a batched request; its deadline is the earlier of the
// caller's and now+OpTimeout.
func (s *Store) newReq(ctx context.Context, key string) *req {
	r := getReq()
	r.key = key
	r.deadline = time.Now().Add(s.opTO)
	if d, ok := ctx.Deadline(); ok && d.Before(r.deadline) {
		r.deadline = d
	}
	return r
}

// CheckAndSet stores value if key has no live entry and reports whether it
// did; an expired row is replaced atomically. Concurrent calls are coalesced
// into one multi-row statement.
func (s *Store) CheckAndSet(ctx context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("state/postgres: check-and-set %s: %w", key, err)
	}
	r := s.newReq(ctx, key.String())
	r.value = value
	r.us = micros(ttl)
	s.cas.do(r)
	ok, err := r.ok, r.err
	putReq(r)
	if err != nil {
		return false, s.wrap(ctx, "check-and-set "+key.String(), err)
	}
	return ok, nil
}

// execCheckAndSet runs one CheckAndSet batch.
func (s *Store) execCheckAndSet(ctx context.Context, batch []*req) {
	if len(batch) == 1 {
		r := batch[0]
		var ok bool
		err := s.pool.QueryRow(ctx, s.q.checkAndSet, r.key, r.value, r.us).Scan(&ok)
		if errors.Is(err, pgx.ErrNoRows) {
			ok, err = false, nil
		}
		r.ok, r.err = ok, err
		return
	}
	// Sort by key: concurrent batches then take row locks in one order and
	// cannot deadlock. A key twice in one batch is sent once (ON CONFLICT
	// cannot touch a row twice in one statement); its other requests lose,
	// as they would have against the first one.
	sorted := slices.Clone(batch)
	slices.SortStableFunc(sorted, func(a, b *req) int { return strings.Compare(a.key, b.key) })
	keys := make([]string, 0, len(sorted))
	vals := make([]string, 0, len(sorted))
	ttls := make([]int64, 0, len(sorted))
	for i, r := range sorted {
		if i > 0 && sorted[i-1].key == r.key {
			continue
		}
		keys = append(keys, r.key)
		vals = append(vals, r.value)
		ttls = append(ttls, r.us)
	}
	won := make(map[string]bool, len(keys))
	rows, err := s.pool.Query(ctx, s.q.checkAndSetBatch, keys, vals, ttls)
	if err == nil {
		var k string
		for rows.Next() {
			if err = rows.Scan(&k); err != nil {
				break
			}
			won[k] = true
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	for i, r := range sorted {
		r.err = err
		r.ok = err == nil && won[r.key] && (i == 0 || sorted[i-1].key != r.key)
	}
}

// Get returns the live value or an error wrapping state.ErrNotFound.
func (s *Store) Get(ctx context.Context, key state.Key) (string, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	var v string
	err := s.pool.QueryRow(c, s.q.get, key.String()).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", state.ErrNotFound
	}
	if err != nil {
		return "", s.wrap(ctx, "get "+key.String(), err)
	}
	return v, nil
}

// GetVersioned returns the live value and its version, or an error wrapping
// state.ErrNotFound.
func (s *Store) GetVersioned(ctx context.Context, key state.Key) (state.Entry, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	var e state.Entry
	var ver int64
	err := s.pool.QueryRow(c, s.q.getVersioned, key.String()).Scan(&e.Value, &ver)
	if errors.Is(err, pgx.ErrNoRows) {
		return state.Entry{}, state.ErrNotFound
	}
	if err != nil {
		return state.Entry{}, s.wrap(ctx, "get "+key.String(), err)
	}
	e.Version = uint64(ver)
	return e, nil
}

// Set upserts value: the version grows by one (or starts at 1 when the key
// had no live entry) and the expiry becomes now+ttl, or none for zero ttl.
func (s *Store) Set(ctx context.Context, key state.Key, value string, ttl time.Duration) error {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.pool.Exec(c, s.q.set, key.String(), value, micros(ttl))
	return s.wrap(ctx, "set "+key.String(), err)
}

// Delete removes the entry and reports whether a live one existed.
func (s *Store) Delete(ctx context.Context, key state.Key) (bool, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	var live bool
	err := s.pool.QueryRow(c, s.q.del, key.String()).Scan(&live)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.wrap(ctx, "delete "+key.String(), err)
	}
	return live, nil
}

// Increment adds delta (a missing or expired entry counts as 0) and returns
// the new value. A non-zero ttl resets the expiry to now+ttl; zero keeps the
// existing one (a new counter is then permanent). A live value that is not a
// decimal integer is an error.
func (s *Store) Increment(ctx context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	var n int64
	err := s.pool.QueryRow(c, s.q.increment, key.String(), delta, micros(ttl)).Scan(&n)
	if err != nil {
		return 0, s.wrap(ctx, "increment "+key.String(), err)
	}
	return n, nil
}

// IncrementWindow counts one hit in a fixed window (D10): a missing or
// expired key becomes 1 with a new window, a live one grows by one and keeps
// its expiry. It returns the count and the time left in the window (zero for
// an entry without expiry). Concurrent calls are coalesced: n hits on one key
// in a batch add n at once and get the n consecutive counts.
func (s *Store) IncrementWindow(ctx context.Context, key state.Key, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("state/postgres: increment window %s: window must be > 0, got %s", key, window)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("state/postgres: increment window %s: %w", key, err)
	}
	r := s.newReq(ctx, key.String())
	r.us = micros(window)
	s.win.do(r)
	n, left, err := r.count, time.Duration(r.remain)*time.Microsecond, r.err
	putReq(r)
	if err != nil {
		return 0, 0, s.wrap(ctx, "increment window "+key.String(), err)
	}
	// now() is the time the statement started: one that waited on the row
	// lock behind the statement that opened the window sees an expiry up
	// to that wait beyond now()+window. No window has more than its length
	// left.
	return n, min(max(left, 0), window), nil
}

// execIncrementWindow runs one IncrementWindow batch.
func (s *Store) execIncrementWindow(ctx context.Context, batch []*req) {
	if len(batch) == 1 {
		r := batch[0]
		r.err = s.pool.QueryRow(ctx, s.q.window, r.key, r.us).Scan(&r.count, &r.remain)
		return
	}
	sorted := slices.Clone(batch)
	slices.SortStableFunc(sorted, func(a, b *req) int { return strings.Compare(a.key, b.key) })
	keys := make([]string, 0, len(sorted))
	hits := make([]int64, 0, len(sorted))
	wins := make([]int64, 0, len(sorted))
	for i, r := range sorted {
		if i > 0 && sorted[i-1].key == r.key {
			hits[len(hits)-1]++
			continue
		}
		keys = append(keys, r.key)
		hits = append(hits, 1)
		wins = append(wins, r.us)
	}
	type result struct{ count, remain int64 }
	res := make(map[string]result, len(keys))
	rows, err := s.pool.Query(ctx, s.q.windowBatch, keys, hits, wins)
	if err == nil {
		var k string
		var x result
		for rows.Next() {
			if err = rows.Scan(&k, &x.count, &x.remain); err != nil {
				break
			}
			res[k] = x
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err == nil && len(res) != len(keys) {
		err = fmt.Errorf("batched increment returned %d rows for %d keys", len(res), len(keys))
	}
	// The i-th of n requests on a key gets final-n+1+i.
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j].key == sorted[i].key {
			j++
		}
		x := res[sorted[i].key]
		for k := i; k < j; k++ {
			r := sorted[k]
			r.err = err
			r.count = x.count - int64(j-1-k)
			r.remain = x.remain
		}
		i = j
	}
}

// CompareAndSwap writes value if the live entry's version equals expected;
// otherwise (another version, or no live entry) it returns an error wrapping
// state.ErrConflict. A zero ttl keeps the old expiry.
func (s *Store) CompareAndSwap(ctx context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	if expected > math.MaxInt64 {
		return fmt.Errorf("state/postgres: compare-and-swap %s: expected version %d out of range: %w", key, expected, state.ErrConflict)
	}
	c, cancel := s.opCtx(ctx)
	defer cancel()
	var swapped bool
	var found *int64
	err := s.pool.QueryRow(c, s.q.cas, key.String(), int64(expected), value, micros(ttl)).Scan(&swapped, &found)
	if err != nil {
		return s.wrap(ctx, "compare-and-swap "+key.String(), err)
	}
	if swapped {
		return nil
	}
	if found == nil {
		return fmt.Errorf("state/postgres: compare-and-swap %s: expected version %d, key missing: %w", key, expected, state.ErrConflict)
	}
	return fmt.Errorf("state/postgres: compare-and-swap %s: expected version %d, found %d: %w", key, expected, *found, state.ErrConflict)
}

// ScanKeys returns the live entries whose canonical key starts with
// "namespace:tenant:kind:" + prefix, sorted by key (byte order).
func (s *Store) ScanKeys(ctx context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	pattern := likeEscape(state.ScanPrefix(namespace, tenant, kind, prefix)) + "%"
	return s.scan(ctx, "scan "+namespace+":"+tenant+":"+kind, s.q.scan, pattern)
}

// ScanKeysByKind returns the live entries of one kind across every
// namespace and tenant, sorted by key. It reads the whole table.
func (s *Store) ScanKeysByKind(ctx context.Context, kind string) ([]state.KV, error) {
	return s.scan(ctx, "scan kind "+kind, s.q.scanKind, kind+":")
}

func (s *Store) scan(ctx context.Context, op, q, arg string) ([]state.KV, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	// Exec mode sends an unnamed statement, which the server plans with the
	// actual pattern, so LIKE 'prefix%' becomes a range scan of the primary
	// key (a cached generic plan could not use the index).
	rows, err := s.pool.Query(c, q, pgx.QueryExecModeExec, arg)
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	var out []state.KV
	for rows.Next() {
		var kv state.KV
		if err := rows.Scan(&kv.Key, &kv.Value); err != nil {
			rows.Close()
			return nil, s.wrap(ctx, op, err)
		}
		out = append(out, kv)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	return out, nil
}

// IndexTimeout puts the canonical key in the timeout index with a deadline
// in epoch milliseconds, replacing any earlier deadline.
func (s *Store) IndexTimeout(ctx context.Context, key state.Key, deadlineMs int64) error {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.pool.Exec(c, s.q.indexTimeout, key.String(), deadlineMs)
	return s.wrap(ctx, "index timeout "+key.String(), err)
}

// RemoveTimeoutIndex removes the key from the timeout index (idempotent).
func (s *Store) RemoveTimeoutIndex(ctx context.Context, key state.Key) error {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.pool.Exec(c, s.q.removeTimeout, key.String())
	return s.wrap(ctx, "remove timeout "+key.String(), err)
}

// GetExpiredTimeouts returns the canonical keys whose deadline is <= nowMs,
// ordered by deadline then key, without removing them.
func (s *Store) GetExpiredTimeouts(ctx context.Context, nowMs int64) ([]string, error) {
	c, cancel := s.opCtx(ctx)
	defer cancel()
	rows, err := s.pool.Query(c, s.q.dueTimeouts, nowMs)
	if err != nil {
		return nil, s.wrap(ctx, "expired timeouts", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap(ctx, "expired timeouts", err)
	}
	return keys, nil
}
