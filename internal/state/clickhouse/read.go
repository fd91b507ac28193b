package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// Reads go straight to the server: after a write has returned, its INSERT
// has been acknowledged and a SELECT sees it.

// Get returns the live value or state.ErrNotFound.
func (s *Store) Get(ctx context.Context, key state.Key) (string, error) {
	e, err := s.get(ctx, "get", key)
	return e.Value, err
}

// GetVersioned returns the live value and its version or
// state.ErrNotFound.
func (s *Store) GetVersioned(ctx context.Context, key state.Key) (state.Entry, error) {
	return s.get(ctx, "get versioned", key)
}

func (s *Store) get(ctx context.Context, what string, key state.Key) (state.Entry, error) {
	k := key.String()
	q := make([]byte, 0, 160+len(k)+len(s.tState))
	q = append(q, "SELECT value, version, expires_at_ms, is_deleted FROM "...)
	q = append(q, s.tState...)
	q = append(q, " WHERE key = "...)
	q = appendQuoted(q, k)
	q = append(q, " ORDER BY ts DESC LIMIT 1 FORMAT RowBinary"...)
	out, err := s.cl.do(ctx, string(q), nil, true, bigQuery)
	if err != nil {
		return state.Entry{}, fmt.Errorf("state/clickhouse: %s %s: %w", what, k, err)
	}
	if len(out) == 0 {
		return state.Entry{}, state.ErrNotFound
	}
	r := reader{b: out}
	rw := row{value: r.string(), version: r.u64(), expMs: r.i64(), deleted: r.u8() != 0}
	if err := r.done(); err != nil {
		return state.Entry{}, fmt.Errorf("state/clickhouse: %s %s: %w", what, k, err)
	}
	if !rw.live(s.nowNs()) {
		return state.Entry{}, state.ErrNotFound
	}
	return state.Entry{Value: rw.value, Version: rw.version}, nil
}

// ScanKeys returns the live entries whose canonical key starts with
// "namespace:tenant:kind:" + prefix, sorted by key.
func (s *Store) ScanKeys(ctx context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	p := state.ScanPrefix(namespace, tenant, kind, prefix)
	cond := appendQuoted([]byte("key >= "), p)
	if end, ok := prefixEnd(p); ok {
		cond = append(cond, " AND key < "...)
		cond = appendQuoted(cond, end)
	}
	kvs, err := s.scan(ctx, string(cond))
	if err != nil {
		return nil, fmt.Errorf("state/clickhouse: scan %s: %w", p, err)
	}
	return kvs, nil
}

// ScanKeysByKind returns the live entries of one kind across every
// namespace and tenant, sorted by key: those whose key, after its second
// ':', starts with kind + ":".
func (s *Store) ScanKeysByKind(ctx context.Context, kind string) ([]state.KV, error) {
	want := kind + ":"
	// rest1 is the key after the first ':', rest2 after the second.
	const rest1 = "substring(key, position(key, ':') + 1)"
	const rest2 = "substring(" + rest1 + ", position(" + rest1 + ", ':') + 1"
	cond := fmt.Appendf(nil, "position(key, ':') > 0 AND position(%s, ':') > 0 AND substring(%s), 1, %d) = ", rest1, rest2, len(want))
	cond = appendQuoted(cond, want)
	kvs, err := s.scan(ctx, string(cond))
	if err != nil {
		return nil, fmt.Errorf("state/clickhouse: scan kind %s: %w", kind, err)
	}
	return kvs, nil
}

// scan returns the live entries whose key matches cond, sorted by key.
func (s *Store) scan(ctx context.Context, cond string) ([]state.KV, error) {
	nowMs := s.nowNs() / int64(time.Millisecond)
	q := fmt.Sprintf("SELECT key, argMax(value, ts) AS v_, argMax(is_deleted, ts) AS d_, argMax(expires_at_ms, ts) AS e_ FROM %s WHERE %s GROUP BY key HAVING d_ = 0 AND (e_ = 0 OR e_ > %d) ORDER BY key FORMAT RowBinary", s.tState, cond, nowMs)
	out, err := s.cl.do(ctx, q, nil, true, bigQuery+"&wait_end_of_query=1")
	if err != nil {
		return nil, err
	}
	var kvs []state.KV
	r := reader{b: out}
	for r.more() {
		kv := state.KV{Key: r.string(), Value: r.string()}
		r.u8()
		r.i64()
		if r.err == nil {
			kvs = append(kvs, kv)
		}
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return kvs, nil
}

// GetExpiredTimeouts returns the canonical keys whose deadline is <= nowMs,
// ordered by deadline then key, without removing them.
func (s *Store) GetExpiredTimeouts(ctx context.Context, nowMs int64) ([]string, error) {
	q := fmt.Sprintf("SELECT key, argMax(deadline_ms, ts) AS dl_, argMax(is_deleted, ts) AS d_ FROM %s GROUP BY key HAVING d_ = 0 AND dl_ <= %d ORDER BY dl_, key FORMAT RowBinary", s.tTimeo, nowMs)
	out, err := s.cl.do(ctx, q, nil, true, "wait_end_of_query=1")
	if err != nil {
		return nil, fmt.Errorf("state/clickhouse: expired timeouts: %w", err)
	}
	var keys []string
	r := reader{b: out}
	for r.more() {
		k := r.string()
		r.i64()
		r.u8()
		if r.err == nil {
			keys = append(keys, k)
		}
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("state/clickhouse: expired timeouts: %w", err)
	}
	return keys, nil
}
