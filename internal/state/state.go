// Package state is the contract every state backend implements: a keyed,
// versioned, expiring string store with the few atomic operations the
// gateway's stateful verdicts need (set-if-absent for dedup, a fixed-window
// counter for throttle, compare-and-swap, locks with owner tokens).
//
// In an action's path it sits under the gateway: rules decide, the gateway
// applies the stateful part of the verdict here, then the executor delivers.
// The memory backend defines the reference semantics (decision D14) and
// every backend passes the conformance suite in statetest.
//
// All methods are safe for concurrent use. A TTL of zero means "no expiry".
// Expired entries are invisible to every operation.
package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
)

// Sentinel errors. Backends translate driver errors into these; callers use
// errors.Is.
var (
	// ErrNotFound: the key has no live entry.
	ErrNotFound = errors.New("state: not found")
	// ErrConflict: a compare-and-swap saw another version.
	ErrConflict = errors.New("state: version conflict")
	// ErrLockHeld: the lock is held by someone else.
	ErrLockHeld = errors.New("state: lock held")
	// ErrLockNotHeld: the caller no longer owns the lock (expired or taken).
	ErrLockNotHeld = errors.New("state: lock not held")
	// ErrUnavailable: the backend cannot be reached.
	ErrUnavailable = errors.New("state: backend unavailable")
)

// Key addresses one entry: (namespace, tenant, kind, id). Its canonical
// string is "namespace:tenant:kind:id", with any ':' or '%' in the
// namespace or tenant written as "%3A" / "%25" so that the string splits
// back into the same four parts (ParseKey). Kinds never contain ':'; the
// id may contain anything and is written as is.
type Key struct {
	Namespace, Tenant, Kind, ID string
}

// String returns the canonical form.
func (k Key) String() string {
	if plainSegment(k.Namespace) && plainSegment(k.Tenant) {
		return k.Namespace + ":" + k.Tenant + ":" + k.Kind + ":" + k.ID
	}
	return string(AppendKey(make([]byte, 0, len(k.Namespace)+len(k.Tenant)+len(k.Kind)+len(k.ID)+12), k))
}

// AppendKey appends k's canonical form to b.
func AppendKey(b []byte, k Key) []byte {
	b = AppendSegment(b, k.Namespace)
	b = append(b, ':')
	b = AppendSegment(b, k.Tenant)
	b = append(b, ':')
	b = append(b, k.Kind...)
	b = append(b, ':')
	return append(b, k.ID...)
}

// ScanPrefix is the canonical form every key under (namespace, tenant,
// kind) with an id starting with idPrefix begins with.
func ScanPrefix(namespace, tenant, kind, idPrefix string) string {
	return Key{Namespace: namespace, Tenant: tenant, Kind: kind, ID: idPrefix}.String()
}

// Segment returns a namespace or tenant as written in a canonical key.
func Segment(s string) string {
	if plainSegment(s) {
		return s
	}
	return string(AppendSegment(nil, s))
}

// AppendSegment appends a namespace or tenant as written in a canonical
// key: ':' as "%3A" and '%' as "%25", everything else as is.
func AppendSegment(b []byte, s string) []byte {
	if plainSegment(s) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			b = append(b, "%3A"...)
		case '%':
			b = append(b, "%25"...)
		default:
			b = append(b, s[i])
		}
	}
	return b
}

func plainSegment(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' || s[i] == '%' {
			return false
		}
	}
	return true
}

// unescapeSegment reverses AppendSegment; ok is false for a '%' that does
// not start "%3A" or "%25".
func unescapeSegment(s string) (string, bool) {
	if indexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		switch {
		case i+2 < len(s) && s[i+1] == '3' && (s[i+2] == 'A' || s[i+2] == 'a'):
			b = append(b, ':')
		case i+2 < len(s) && s[i+1] == '2' && s[i+2] == '5':
			b = append(b, '%')
		default:
			return "", false
		}
		i += 2
	}
	return string(b), true
}

// ParseKey splits a canonical key into its four parts: three ':' end the
// namespace, tenant and kind; the rest is the id (which may contain
// colons).
func ParseKey(s string) (Key, error) {
	var parts [3]string
	rest := s
	for i := 0; i < 3; i++ {
		j := indexByte(rest, ':')
		if j < 0 {
			return Key{}, fmt.Errorf("state: malformed key %q", s)
		}
		parts[i] = rest[:j]
		rest = rest[j+1:]
	}
	ns, ok1 := unescapeSegment(parts[0])
	tenant, ok2 := unescapeSegment(parts[1])
	if !ok1 || !ok2 {
		return Key{}, fmt.Errorf("state: malformed key %q: bad %%-escape in namespace or tenant", s)
	}
	return Key{ns, tenant, parts[2], rest}, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// Well-known kinds.
const (
	KindDedup     = "dedup"
	KindRateLimit = "rate_limit"
	KindCounter   = "counter"
	KindState     = "state"
	KindDLQ       = "dlq"
)

// Entry is a live value with its version. Versions start at 1 and grow by
// one on every write.
type Entry struct {
	Value   string
	Version uint64
}

// KV is one scan result; Key is the canonical key without any backend prefix.
type KV struct {
	Key   string
	Value string
}

// Store is the whole method set of a state backend.
type Store interface {
	// CheckAndSet atomically stores value if the key has no live entry and
	// reports whether it did. An expired entry counts as absent.
	CheckAndSet(ctx context.Context, key Key, value string, ttl time.Duration) (bool, error)
	// Get returns the live value or ErrNotFound.
	Get(ctx context.Context, key Key) (string, error)
	// GetVersioned returns the live value and its version, or ErrNotFound.
	GetVersioned(ctx context.Context, key Key) (Entry, error)
	// Set upserts the value. A zero ttl makes the entry permanent even if it
	// had an expiry before.
	Set(ctx context.Context, key Key, value string, ttl time.Duration) error
	// Delete removes the entry and reports whether a live one existed.
	Delete(ctx context.Context, key Key) (bool, error)
	// Increment adds delta (a missing entry counts as 0) and returns the new
	// value. A non-zero ttl resets the expiry to now+ttl on every call; a
	// zero ttl keeps the existing expiry.
	Increment(ctx context.Context, key Key, delta int64, ttl time.Duration) (int64, error)
	// IncrementWindow counts one hit in a fixed window (decision D10): when
	// the key has no live entry it is created with count 1 expiring after
	// window; otherwise the count grows and the expiry is left alone. It
	// returns the new count and the time left in the window.
	IncrementWindow(ctx context.Context, key Key, window time.Duration) (count int64, remaining time.Duration, err error)
	// CompareAndSwap writes value if the live entry's version equals
	// expected; otherwise it returns an error wrapping ErrConflict. A missing
	// key is a conflict, whatever expected is. A zero ttl keeps the old
	// expiry.
	CompareAndSwap(ctx context.Context, key Key, expected uint64, value string, ttl time.Duration) error
	// ScanKeys returns live entries whose canonical key starts with
	// "ns:tenant:kind:" + prefix, sorted by key.
	ScanKeys(ctx context.Context, namespace, tenant, kind, prefix string) ([]KV, error)
	// ScanKeysByKind returns live entries of one kind across all namespaces
	// and tenants, sorted by key.
	ScanKeysByKind(ctx context.Context, kind string) ([]KV, error)
	// IndexTimeout puts the canonical key in the timeout index with a
	// deadline in epoch milliseconds, replacing any earlier deadline.
	IndexTimeout(ctx context.Context, key Key, deadlineMs int64) error
	// RemoveTimeoutIndex removes the key from the index (idempotent).
	RemoveTimeoutIndex(ctx context.Context, key Key) error
	// GetExpiredTimeouts returns canonical keys whose deadline is <= nowMs,
	// without removing them.
	GetExpiredTimeouts(ctx context.Context, nowMs int64) ([]string, error)
	// TryLock takes the named lock for ttl if nobody holds it, else returns
	// ErrLockHeld.
	TryLock(ctx context.Context, name string, ttl time.Duration) (Lock, error)
	// Close releases the backend's resources.
	Close() error
}

// Lock is a held lock with an owner token. Only the owner can extend or
// release it.
type Lock interface {
	// Extend pushes the expiry to now+ttl, or returns ErrLockNotHeld.
	Extend(ctx context.Context, ttl time.Duration) error
	// Release frees the lock, or returns ErrLockNotHeld if it expired or was
	// taken over.
	Release(ctx context.Context) error
	// Held reports whether the caller still owns the lock.
	Held(ctx context.Context) (bool, error)
}

// AcquireLock polls TryLock every 50 ms (or less) until it succeeds, ctx is
// done, or wait has passed.
func AcquireLock(ctx context.Context, s Store, name string, ttl, wait time.Duration) (Lock, error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := s.TryLock(ctx, name, ttl)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLockHeld) {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("state: acquire lock %s: timed out after %s: %w", name, wait, ErrLockHeld)
		}
		sleep := min(50*time.Millisecond, left)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// ConflictBackoff waits a short, jittered, growing delay before retry
// number attempt of a read-modify-write that lost a CompareAndSwap race, so
// that writers contending for one key spread out. It returns early with
// ctx's error.
func ConflictBackoff(ctx context.Context, attempt int) error {
	return clock.Sleep(ctx, time.Duration(rand.Int64N(int64(50*time.Microsecond)<<min(attempt, 6)))+10*time.Microsecond)
}
