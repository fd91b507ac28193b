package memory

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

// numShards is the number of independent (mutex, map) pairs. A power of two
// so that picking one is a mask.
const numShards = 64

// keyBufSize is the stack buffer used to build canonical keys for lookups;
// longer keys still work, they just allocate.
const keyBufSize = 192

// Options configures a Store.
type Options struct {
	// Clock tells the time used for every expiry; nil means clock.Real.
	Clock clock.Clock
	// SweepInterval is how often the background sweeper started by Start
	// removes expired entries and locks. Zero disables the sweeper (expired
	// entries are still invisible; they are only removed when overwritten,
	// deleted or swept by an explicit Sweep call).
	SweepInterval time.Duration
}

// Store is the memory state backend. The zero value is not usable; call New.
// It is safe for concurrent use.
type Store struct {
	clock clock.Clock
	seed  maphash.Seed

	shards [numShards]shard

	tmu      sync.Mutex
	timeouts timeoutIndex

	lmu   sync.Mutex
	locks map[string]lockEntry

	sweepEvery time.Duration
	startOnce  sync.Once
	closeOnce  sync.Once
	stop       chan struct{}
	done       chan struct{}
	started    bool
}

var _ state.Store = (*Store)(nil)

// entry is one stored value. It carries its own canonical key so that an
// update can write the map slot back without allocating a new key string.
type entry struct {
	key     string
	value   string
	version uint64
	expires int64 // Unix nanoseconds; 0 means never
}

func (e *entry) live(now int64) bool { return e.expires == 0 || now < e.expires }

type shard struct {
	mu sync.Mutex
	m  map[string]entry
	_  [48]byte // keep neighbouring shards' mutexes off one cache line
}

type lockEntry struct {
	owner   string
	expires int64 // 0 means never
}

// New returns an empty store. Call Start to run the sweeper and Close to
// stop it.
func New(opts Options) *Store {
	c := opts.Clock
	if c == nil {
		c = clock.Real{}
	}
	s := &Store{
		clock:      c,
		seed:       maphash.MakeSeed(),
		locks:      make(map[string]lockEntry),
		sweepEvery: opts.SweepInterval,
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	s.timeouts.init()
	for i := range s.shards {
		s.shards[i].m = make(map[string]entry)
	}
	return s
}

// Start runs the background sweeper until ctx is done or Close is called.
// The first sweep happens one interval after Start. It does nothing when
// SweepInterval is zero, and only the first call has an effect.
func (s *Store) Start(ctx context.Context) {
	if s.sweepEvery <= 0 {
		return
	}
	s.startOnce.Do(func() {
		s.started = true
		go s.sweepLoop(ctx)
	})
}

func (s *Store) sweepLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Close stops the sweeper and waits for it to return. The store stays usable
// afterwards (there is nothing to release). Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// startOnce also guards s.started: after this Do nobody can start
		// the sweeper any more.
		s.startOnce.Do(func() {})
		close(s.stop)
		if s.started {
			<-s.done
		}
	})
	return nil
}

// Sweep removes expired entries and expired locks now and returns how many
// entries (not locks) it removed. The sweeper calls it; tests may too.
func (s *Store) Sweep() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if !e.live(now) {
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	s.lmu.Lock()
	for name, l := range s.locks {
		if l.expires != 0 && now >= l.expires {
			delete(s.locks, name)
		}
	}
	s.lmu.Unlock()
	return n
}

func (s *Store) now() int64 { return s.clock.Now().UnixNano() }

func deadline(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now + int64(ttl)
}

// appendKey writes the canonical form of k to b.
func appendKey(b []byte, k state.Key) []byte {
	b = append(b, k.Namespace...)
	b = append(b, ':')
	b = append(b, k.Tenant...)
	b = append(b, ':')
	b = append(b, k.Kind...)
	b = append(b, ':')
	return append(b, k.ID...)
}

func (s *Store) shardOf(b []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, b)&(numShards-1)]
}

// CheckAndSet stores value if key has no live entry and reports whether it
// did. The new entry has version 1.
func (s *Store) CheckAndSet(_ context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	// Reading the clock costs as much as the rest of the operation, so it
	// is skipped when neither the new ttl nor the old entry needs it.
	var now int64
	if ttl > 0 {
		now = s.now()
	}
	sh.mu.Lock()
	e, ok := sh.m[string(b)]
	if ok && e.expires != 0 && ttl <= 0 {
		now = s.now()
	}
	if ok && e.live(now) {
		sh.mu.Unlock()
		return false, nil
	}
	k := e.key
	if !ok {
		k = string(b)
	}
	sh.m[k] = entry{key: k, value: value, version: 1, expires: deadline(now, ttl)}
	sh.mu.Unlock()
	return true, nil
}

// Get returns the live value or state.ErrNotFound.
func (s *Store) Get(_ context.Context, key state.Key) (string, error) {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	sh.mu.Lock()
	e, ok := sh.m[string(b)]
	sh.mu.Unlock()
	if !ok || (e.expires != 0 && !e.live(s.now())) {
		return "", state.ErrNotFound
	}
	return e.value, nil
}

// GetVersioned returns the live value and its version or state.ErrNotFound.
func (s *Store) GetVersioned(_ context.Context, key state.Key) (state.Entry, error) {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	sh.mu.Lock()
	e, ok := sh.m[string(b)]
	sh.mu.Unlock()
	if !ok || (e.expires != 0 && !e.live(s.now())) {
		return state.Entry{}, state.ErrNotFound
	}
	return state.Entry{Value: e.value, Version: e.version}, nil
}

// Set upserts value. The version grows by one (or starts at 1); the expiry
// becomes now+ttl, or none when ttl is zero.
func (s *Store) Set(_ context.Context, key state.Key, value string, ttl time.Duration) error {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	e, ok := sh.m[string(b)]
	if !ok {
		e.key = string(b)
	}
	if !ok || !e.live(now) {
		e.version = 0
	}
	e.value = value
	e.version++
	e.expires = deadline(now, ttl)
	sh.m[e.key] = e
	sh.mu.Unlock()
	return nil
}

// Delete removes the entry and reports whether a live one existed.
func (s *Store) Delete(_ context.Context, key state.Key) (bool, error) {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	e, ok := sh.m[string(b)]
	if ok {
		delete(sh.m, e.key)
	}
	sh.mu.Unlock()
	return ok && e.live(now), nil
}

// Increment adds delta to the decimal value (missing or expired counts as 0)
// and returns the result. A non-zero ttl resets the expiry to now+ttl; zero
// keeps the existing expiry (a new counter is then permanent). It fails if
// the live value is not a decimal integer.
func (s *Store) Increment(_ context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[string(b)]
	var n int64
	if ok && e.live(now) {
		var err error
		if n, err = strconv.ParseInt(e.value, 10, 64); err != nil {
			return 0, fmt.Errorf("state/memory: increment %s: value is not an integer", e.key)
		}
	} else {
		if !ok {
			e.key = string(b)
		}
		e.version, e.expires = 0, 0
	}
	n += delta
	e.value = strconv.FormatInt(n, 10)
	e.version++
	if ttl > 0 {
		e.expires = now + int64(ttl)
	}
	sh.m[e.key] = e
	return n, nil
}

// IncrementWindow counts one hit in a fixed window that starts at the first
// hit (D10): a missing or expired key becomes 1 expiring after window; a live
// one grows by one and keeps its expiry. It returns the count and the time
// left in the window (zero if the entry never expires). window must be > 0.
func (s *Store) IncrementWindow(_ context.Context, key state.Key, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("state/memory: increment window %s: window must be > 0, got %s", key, window)
	}
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[string(b)]
	if ok && e.live(now) {
		n, err := strconv.ParseInt(e.value, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("state/memory: increment window %s: value is not an integer", e.key)
		}
		n++
		e.value = strconv.FormatInt(n, 10)
		e.version++
		sh.m[e.key] = e
		var left time.Duration
		if e.expires != 0 {
			left = time.Duration(e.expires - now)
		}
		return n, left, nil
	}
	if !ok {
		e.key = string(b)
	}
	sh.m[e.key] = entry{key: e.key, value: "1", version: 1, expires: now + int64(window)}
	return 1, window, nil
}

// CompareAndSwap writes value if the live entry's version equals expected.
// A missing or expired key, or another version, is an error wrapping
// state.ErrConflict. A zero ttl keeps the old expiry.
func (s *Store) CompareAndSwap(_ context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	e, ok := sh.m[string(b)]
	if !ok || !e.live(now) {
		sh.mu.Unlock()
		return fmt.Errorf("state/memory: compare-and-swap %s: expected version %d, key missing: %w", key, expected, state.ErrConflict)
	}
	if e.version != expected {
		found := e.version
		sh.mu.Unlock()
		return fmt.Errorf("state/memory: compare-and-swap %s: expected version %d, found %d: %w", key, expected, found, state.ErrConflict)
	}
	e.value = value
	e.version++
	if ttl > 0 {
		e.expires = now + int64(ttl)
	}
	sh.m[e.key] = e
	sh.mu.Unlock()
	return nil
}

// ScanKeys returns the live entries whose canonical key starts with
// "namespace:tenant:kind:" + prefix, sorted by key.
func (s *Store) ScanKeys(_ context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	p := namespace + ":" + tenant + ":" + kind + ":" + prefix
	return s.scan(func(k string) bool { return strings.HasPrefix(k, p) }), nil
}

// ScanKeysByKind returns the live entries of one kind across every namespace
// and tenant, sorted by key: those whose canonical key, after its second
// ':', starts with kind + ":". (Since kinds may contain ':' this is the
// prefix rule ScanKeys uses, applied to every namespace and tenant.)
func (s *Store) ScanKeysByKind(_ context.Context, kind string) ([]state.KV, error) {
	want := kind + ":"
	return s.scan(func(k string) bool {
		i := strings.IndexByte(k, ':')
		if i < 0 {
			return false
		}
		j := strings.IndexByte(k[i+1:], ':')
		if j < 0 {
			return false
		}
		return strings.HasPrefix(k[i+1+j+1:], want)
	}), nil
}

func (s *Store) scan(match func(string) bool) []state.KV {
	now := s.now()
	var out []state.KV
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.live(now) && match(k) {
				out = append(out, state.KV{Key: k, Value: e.value})
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b state.KV) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// IndexTimeout puts the canonical key in the timeout index with a deadline
// in epoch milliseconds, replacing any earlier deadline.
func (s *Store) IndexTimeout(_ context.Context, key state.Key, deadlineMs int64) error {
	k := key.String()
	s.tmu.Lock()
	s.timeouts.put(k, deadlineMs)
	s.tmu.Unlock()
	return nil
}

// RemoveTimeoutIndex removes the key from the timeout index (idempotent).
func (s *Store) RemoveTimeoutIndex(_ context.Context, key state.Key) error {
	var buf [keyBufSize]byte
	b := appendKey(buf[:0], key)
	s.tmu.Lock()
	s.timeouts.remove(b)
	s.tmu.Unlock()
	return nil
}

// GetExpiredTimeouts returns the canonical keys whose deadline is <= nowMs,
// ordered by deadline then key, without removing them.
func (s *Store) GetExpiredTimeouts(_ context.Context, nowMs int64) ([]string, error) {
	s.tmu.Lock()
	out := s.timeouts.due(nowMs)
	s.tmu.Unlock()
	return out, nil
}

// TryLock takes the named lock for ttl (zero: until released) if nobody
// holds it; otherwise it returns an error wrapping state.ErrLockHeld. An
// expired lock counts as free.
func (s *Store) TryLock(_ context.Context, name string, ttl time.Duration) (state.Lock, error) {
	now := s.now()
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if l, ok := s.locks[name]; ok && (l.expires == 0 || now < l.expires) {
		return nil, fmt.Errorf("state/memory: lock %s: %w", name, state.ErrLockHeld)
	}
	owner := newToken()
	s.locks[name] = lockEntry{owner: owner, expires: deadline(now, ttl)}
	return &lock{s: s, name: name, owner: owner}, nil
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

// owned reports whether l still holds the lock at now; the caller holds lmu.
func (l *lock) owned(now int64) (lockEntry, bool) {
	e, ok := l.s.locks[l.name]
	return e, ok && e.owner == l.owner && (e.expires == 0 || now < e.expires)
}

func (l *lock) Extend(_ context.Context, ttl time.Duration) error {
	now := l.s.now()
	l.s.lmu.Lock()
	defer l.s.lmu.Unlock()
	e, ok := l.owned(now)
	if !ok {
		return fmt.Errorf("state/memory: extend lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	e.expires = deadline(now, ttl)
	l.s.locks[l.name] = e
	return nil
}

func (l *lock) Release(_ context.Context) error {
	now := l.s.now()
	l.s.lmu.Lock()
	defer l.s.lmu.Unlock()
	if _, ok := l.owned(now); !ok {
		// Our own expired entry is garbage; someone else's is not ours to touch.
		if e, found := l.s.locks[l.name]; found && e.owner == l.owner {
			delete(l.s.locks, l.name)
		}
		return fmt.Errorf("state/memory: release lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	delete(l.s.locks, l.name)
	return nil
}

func (l *lock) Held(_ context.Context) (bool, error) {
	now := l.s.now()
	l.s.lmu.Lock()
	_, ok := l.owned(now)
	l.s.lmu.Unlock()
	return ok, nil
}

// timeoutIndex maps canonical keys to deadlines and keeps a min-heap of
// (deadline, key) for cheap "what is due" queries. Re-indexing or removing a
// key leaves its old heap item behind; items are valid only while their
// generation matches the map, and stale ones are dropped when they reach the
// top or when they outnumber the live ones.
type timeoutIndex struct {
	deadlines map[string]tdl
	heap      []titem
	gen       uint64
}

type tdl struct {
	ms  int64
	gen uint64
}

type titem struct {
	ms  int64
	gen uint64
	key string
}

func (x *timeoutIndex) init() { x.deadlines = make(map[string]tdl) }

func (x *timeoutIndex) valid(it titem) bool {
	d, ok := x.deadlines[it.key]
	return ok && d.gen == it.gen
}

func (x *timeoutIndex) put(key string, ms int64) {
	x.gen++
	x.deadlines[key] = tdl{ms: ms, gen: x.gen}
	x.heap = append(x.heap, titem{ms: ms, gen: x.gen, key: key})
	x.up(len(x.heap) - 1)
	x.compact()
}

func (x *timeoutIndex) remove(key []byte) {
	if _, ok := x.deadlines[string(key)]; !ok {
		return
	}
	delete(x.deadlines, string(key))
	x.compact()
}

// compact drops stale items at the top and rebuilds the heap when stale
// items outnumber live ones.
func (x *timeoutIndex) compact() {
	for len(x.heap) > 0 && !x.valid(x.heap[0]) {
		x.pop()
	}
	if len(x.heap) <= 2*len(x.deadlines)+64 {
		return
	}
	h := x.heap[:0]
	for _, it := range x.heap {
		if x.valid(it) {
			h = append(h, it)
		}
	}
	clear(x.heap[len(h):])
	x.heap = h
	for i := len(h)/2 - 1; i >= 0; i-- {
		x.down(i)
	}
}

func (x *timeoutIndex) due(nowMs int64) []string {
	var items []titem
	var walk func(i int)
	walk = func(i int) {
		if i >= len(x.heap) || x.heap[i].ms > nowMs {
			return
		}
		if x.valid(x.heap[i]) {
			items = append(items, x.heap[i])
		}
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
	if len(items) == 0 {
		return nil
	}
	slices.SortFunc(items, func(a, b titem) int {
		return cmp.Or(cmp.Compare(a.ms, b.ms), strings.Compare(a.key, b.key))
	})
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.key
	}
	return out
}

func (x *timeoutIndex) less(i, j int) bool {
	a, b := x.heap[i], x.heap[j]
	return a.ms < b.ms || (a.ms == b.ms && a.gen < b.gen)
}

func (x *timeoutIndex) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !x.less(i, p) {
			return
		}
		x.heap[i], x.heap[p] = x.heap[p], x.heap[i]
		i = p
	}
}

func (x *timeoutIndex) down(i int) {
	n := len(x.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && x.less(r, l) {
			m = r
		}
		if !x.less(m, i) {
			return
		}
		x.heap[i], x.heap[m] = x.heap[m], x.heap[i]
		i = m
	}
}

func (x *timeoutIndex) pop() {
	n := len(x.heap) - 1
	x.heap[0] = x.heap[n]
	x.heap[n] = titem{}
	x.heap = x.heap[:n]
	if n > 0 {
		x.down(0)
	}
}
