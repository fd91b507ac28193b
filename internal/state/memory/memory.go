package memory

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
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

// shard is one mutex and the entries whose canonical key hashes to it.
//
// A canonical key "ns:tenant:kind:id" is split after its third ':' into a
// prefix ("ns:tenant:kind:") and the id. The shard gives each prefix in use
// a small number, its handle, and keys its map by the handle (as a uvarint,
// one byte for the first 128 prefixes) followed by the id. Most keys share a
// handful of prefixes, so an entry costs its id's bytes rather than the
// whole key's, and a prefix costs one string and a map slot per shard
// however many keys it has. A handle lives while entries carry it.
type shard struct {
	mu      sync.Mutex
	m       map[string]*entry // by packed key: handle, then id
	handles map[string]uint32 // by prefix
	uses    []int             // by handle: how many entries of m carry it
	free    []uint32          // handles of no prefix, to reuse
	// last is the newest prefix and lastH its handle: looking it up costs
	// a comparison instead of hashing.
	last  string
	lastH uint32
	_     [32]byte // keep neighbouring shards' mutexes off one cache line
}

// entry is one stored value. The map holds pointers so that an update
// changes the entry in place: writing a map slot back would need the key
// string again, and the map keeps the only copy.
type entry struct {
	val     *string // nil means ""; see setValue
	version uint64
	expires int64 // Unix nanoseconds; 0 means never
}

func (e *entry) live(now int64) bool { return e.expires == 0 || now < e.expires }

func (e *entry) value() string {
	if e.val == nil {
		return ""
	}
	return *e.val
}

// smallValues are the shared values "0" to "99": a dedup marker ("1") or a
// small count costs no allocation of its own.
var smallValues = func() (a [100]string) {
	for i := range a {
		a[i] = strconv.Itoa(i)
	}
	return a
}()

// smallIndex returns i if v is smallValues[i], else -1.
func smallIndex(v string) int {
	switch len(v) {
	case 1:
		if c := v[0]; '0' <= c && c <= '9' {
			return int(c - '0')
		}
	case 2:
		if c, d := v[0], v[1]; '1' <= c && c <= '9' && '0' <= d && d <= '9' {
			return int(c-'0')*10 + int(d-'0')
		}
	}
	return -1
}

// setValue makes v the entry's value. The empty string is a nil pointer and
// a small decimal points into smallValues; anything else lives in a string
// header of the entry's own, allocated once and then overwritten in place
// (never one in smallValues, which are shared).
func (e *entry) setValue(v string) {
	if p := e.val; p != nil {
		if i := smallIndex(*p); i < 0 || p != &smallValues[i] {
			*p = v
			return
		}
	}
	switch i := smallIndex(v); {
	case v == "":
		e.val = nil
	case i >= 0:
		e.val = &smallValues[i]
	default:
		p := new(string)
		*p = v
		e.val = p
	}
}

func newEntry(value string, expires int64) *entry {
	e := &entry{version: 1, expires: expires}
	e.setValue(value)
	return e
}

// find returns the packed key of the canonical key b, built in dst, the
// length of b's prefix and b's entry. pl is appendKey's guess at the
// prefix's length. The key is nil if the prefix has no handle (so neither b
// nor anything else with its prefix is stored); the entry is nil if b is not
// stored. The caller holds sh.mu.
func (sh *shard) find(dst, b []byte, pl int) ([]byte, int, *entry) {
	var h uint32
	var ok bool
	if string(b[:pl]) == sh.last {
		h, ok = sh.lastH, true
	} else {
		h, ok = sh.handles[string(b[:pl])]
	}
	if !ok {
		// A prefix with a handle ends at its third ':', so finding b[:pl]
		// proved the guess; otherwise check it.
		if n := prefixLen(b); n != pl {
			pl = n
			h, ok = sh.handles[string(b[:pl])]
		}
		if !ok {
			return nil, pl, nil
		}
	}
	k := packKey(dst, h, b[pl:])
	return k, pl, sh.m[string(k)]
}

// add stores e under the canonical key b; k is find's answer for b, built
// in dst. The caller holds sh.mu.
func (sh *shard) add(dst, k, b []byte, pl int, e *entry) {
	var h uint32
	if k == nil {
		h = sh.newHandle(string(b[:pl]))
		k = packKey(dst, h, b[pl:])
	} else {
		h, _ = handleOf(k)
	}
	sh.uses[h]++
	sh.m[string(k)] = e
}

func (sh *shard) newHandle(prefix string) uint32 {
	var h uint32
	if n := len(sh.free); n > 0 {
		h = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		h = uint32(len(sh.uses))
		sh.uses = append(sh.uses, 0)
	}
	sh.handles[prefix] = h
	sh.last, sh.lastH = prefix, h
	return h
}

// release counts one entry with handle h gone and reports whether it was
// the last one; then the caller must call freeHandle. The caller holds
// sh.mu.
func (sh *shard) release(h uint32) bool {
	sh.uses[h]--
	return sh.uses[h] == 0
}

// freeHandle forgets the handle h of prefix, which no entry carries.
func (sh *shard) freeHandle(h uint32, prefix string) {
	delete(sh.handles, prefix)
	if prefix == sh.last {
		sh.last = ""
	}
	sh.free = append(sh.free, h)
}

// prefixes returns the prefix of every handle in use ("" for free ones).
// The caller holds sh.mu.
func (sh *shard) prefixes() []string {
	out := make([]string, len(sh.uses))
	for p, h := range sh.handles {
		out[h] = p
	}
	return out
}

// packKey appends the map key of handle h and id to dst.
func packKey(dst []byte, h uint32, id []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(h)), id...)
}

// handleOf decodes the handle at the start of a packed key and returns it
// with its length in bytes.
func handleOf[K string | []byte](k K) (uint32, int) {
	var h uint32
	for i := 0; i < len(k); i++ {
		c := k[i]
		h |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return h, i + 1
		}
	}
	panic("state/memory: malformed packed key")
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
		s.shards[i].m = make(map[string]*entry)
		s.shards[i].handles = make(map[string]uint32)
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
		var prefixes []string // made when a handle is to be freed
		for k, e := range sh.m {
			if e.live(now) {
				continue
			}
			delete(sh.m, k)
			n++
			if h, _ := handleOf(k); sh.release(h) {
				if prefixes == nil {
					prefixes = sh.prefixes()
				}
				sh.freeHandle(h, prefixes[h])
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

// appendKey writes the canonical form of k to b and returns it with a guess
// at the length of its prefix: up to the ':' after Kind. The prefix ends at
// the third ':', which is that one unless Namespace, Tenant or Kind contain
// one; find checks the guess when it matters. (Splitting the canonical
// string rather than the fields keeps keys that have the same canonical
// form one entry, as they are in every backend.)
func appendKey(b []byte, k state.Key) ([]byte, int) {
	b = state.AppendSegment(b, k.Namespace)
	b = append(b, ':')
	b = state.AppendSegment(b, k.Tenant)
	b = append(b, ':')
	b = append(b, k.Kind...)
	b = append(b, ':')
	pl := len(b)
	return append(b, k.ID...), pl
}

// prefixLen returns the length of the canonical key b's prefix, which ends
// at its third ':'.
func prefixLen(b []byte) int {
	pl := 0
	for range 3 {
		pl += bytes.IndexByte(b[pl:], ':') + 1
	}
	return pl
}

func (s *Store) shardOf(b []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, b)&(numShards-1)]
}

// CheckAndSet stores value if key has no live entry and reports whether it
// did. The new entry has version 1.
func (s *Store) CheckAndSet(_ context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	// Reading the clock costs as much as the rest of the operation, so it
	// is skipped when neither the new ttl nor the old entry needs it.
	var now int64
	if ttl > 0 {
		now = s.now()
	}
	sh.mu.Lock()
	k, pl, e := sh.find(kbuf[:0], b, pl)
	if e != nil && e.expires != 0 && ttl <= 0 {
		now = s.now()
	}
	if e != nil && e.live(now) {
		sh.mu.Unlock()
		return false, nil
	}
	if e != nil {
		e.setValue(value)
		e.version, e.expires = 1, deadline(now, ttl)
	} else {
		sh.add(kbuf[:0], k, b, pl, newEntry(value, deadline(now, ttl)))
	}
	sh.mu.Unlock()
	return true, nil
}

// Get returns the live value or state.ErrNotFound.
func (s *Store) Get(_ context.Context, key state.Key) (string, error) {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	sh.mu.Lock()
	_, _, e := sh.find(kbuf[:0], b, pl)
	if e == nil {
		sh.mu.Unlock()
		return "", state.ErrNotFound
	}
	v, expires := e.value(), e.expires
	sh.mu.Unlock()
	if expires != 0 && s.now() >= expires {
		return "", state.ErrNotFound
	}
	return v, nil
}

// GetVersioned returns the live value and its version or state.ErrNotFound.
func (s *Store) GetVersioned(_ context.Context, key state.Key) (state.Entry, error) {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	sh.mu.Lock()
	_, _, e := sh.find(kbuf[:0], b, pl)
	if e == nil {
		sh.mu.Unlock()
		return state.Entry{}, state.ErrNotFound
	}
	v, version, expires := e.value(), e.version, e.expires
	sh.mu.Unlock()
	if expires != 0 && s.now() >= expires {
		return state.Entry{}, state.ErrNotFound
	}
	return state.Entry{Value: v, Version: version}, nil
}

// Set upserts value. The version grows by one (or starts at 1); the expiry
// becomes now+ttl, or none when ttl is zero.
func (s *Store) Set(_ context.Context, key state.Key, value string, ttl time.Duration) error {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	k, pl, e := sh.find(kbuf[:0], b, pl)
	if e == nil {
		sh.add(kbuf[:0], k, b, pl, newEntry(value, deadline(now, ttl)))
		sh.mu.Unlock()
		return nil
	}
	if !e.live(now) {
		e.version = 0
	}
	e.setValue(value)
	e.version++
	e.expires = deadline(now, ttl)
	sh.mu.Unlock()
	return nil
}

// Delete removes the entry and reports whether a live one existed.
func (s *Store) Delete(_ context.Context, key state.Key) (bool, error) {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	k, pl, e := sh.find(kbuf[:0], b, pl)
	live := e != nil && e.live(now)
	if e != nil {
		delete(sh.m, string(k))
		if h, _ := handleOf(k); sh.release(h) {
			sh.freeHandle(h, string(b[:pl]))
		}
	}
	sh.mu.Unlock()
	return live, nil
}

// Increment adds delta to the decimal value (missing or expired counts as 0)
// and returns the result. A non-zero ttl resets the expiry to now+ttl; zero
// keeps the existing expiry (a new counter is then permanent). It fails if
// the live value is not a decimal integer.
func (s *Store) Increment(_ context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k, pl, e := sh.find(kbuf[:0], b, pl)
	var n int64
	switch {
	case e == nil:
		e = &entry{}
		sh.add(kbuf[:0], k, b, pl, e)
	case e.live(now):
		var err error
		if n, err = strconv.ParseInt(e.value(), 10, 64); err != nil {
			return 0, fmt.Errorf("state/memory: increment %s: value is not an integer", key)
		}
	default:
		e.version, e.expires = 0, 0
	}
	n += delta
	e.setValue(strconv.FormatInt(n, 10))
	e.version++
	if ttl > 0 {
		e.expires = now + int64(ttl)
	}
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
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k, pl, e := sh.find(kbuf[:0], b, pl)
	if e != nil && e.live(now) {
		n, err := strconv.ParseInt(e.value(), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("state/memory: increment window %s: value is not an integer", key)
		}
		n++
		e.setValue(strconv.FormatInt(n, 10))
		e.version++
		var left time.Duration
		if e.expires != 0 {
			left = time.Duration(e.expires - now)
		}
		return n, left, nil
	}
	if e == nil {
		sh.add(kbuf[:0], k, b, pl, newEntry("1", now+int64(window)))
	} else {
		e.setValue("1")
		e.version, e.expires = 1, now+int64(window)
	}
	return 1, window, nil
}

// CompareAndSwap writes value if the live entry's version equals expected.
// A missing or expired key, or another version, is an error wrapping
// state.ErrConflict. A zero ttl keeps the old expiry.
func (s *Store) CompareAndSwap(_ context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	var buf, kbuf [keyBufSize]byte
	b, pl := appendKey(buf[:0], key)
	sh := s.shardOf(b)
	now := s.now()
	sh.mu.Lock()
	_, _, e := sh.find(kbuf[:0], b, pl)
	if e == nil || !e.live(now) {
		sh.mu.Unlock()
		return fmt.Errorf("state/memory: compare-and-swap %s: expected version %d, key missing: %w", key, expected, state.ErrConflict)
	}
	if e.version != expected {
		found := e.version
		sh.mu.Unlock()
		return fmt.Errorf("state/memory: compare-and-swap %s: expected version %d, found %d: %w", key, expected, found, state.ErrConflict)
	}
	e.setValue(value)
	e.version++
	if ttl > 0 {
		e.expires = now + int64(ttl)
	}
	sh.mu.Unlock()
	return nil
}

// ScanKeys returns the live entries whose canonical key starts with
// "namespace:tenant:kind:" + prefix, sorted by key.
func (s *Store) ScanKeys(_ context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	p := state.ScanPrefix(namespace, tenant, kind, prefix)
	return s.scan(func(kp string) (string, bool) { return within(kp, p) }), nil
}

// ScanKeysByKind returns the live entries of one kind across every namespace
// and tenant, sorted by key: those whose canonical key, after its second
// ':', starts with kind + ":". (Since kinds may contain ':' this is the
// prefix rule ScanKeys uses, applied to every namespace and tenant.)
func (s *Store) ScanKeysByKind(_ context.Context, kind string) ([]state.KV, error) {
	want := kind + ":"
	return s.scan(func(kp string) (string, bool) {
		// A key's prefix holds its first three ':'.
		i := strings.IndexByte(kp, ':') + 1
		i += strings.IndexByte(kp[i:], ':') + 1
		return within(kp[i:], want)
	}), nil
}

// within tells which keys prefix+id start with p: none (ok false), or
// those whose id starts with rest.
func within(prefix, p string) (rest string, ok bool) {
	if len(prefix) >= len(p) {
		return "", strings.HasPrefix(prefix, p)
	}
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	return p[len(prefix):], true
}

// scan returns the live entries whose prefix match accepts and whose id
// starts with the rest match returns for that prefix, sorted by canonical
// key.
func (s *Store) scan(match func(prefix string) (rest string, ok bool)) []state.KV {
	now := s.now()
	var out []state.KV
	var rests []string // by handle, in the shard at hand
	var oks []bool
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		prefixes := sh.prefixes()
		rests, oks = rests[:0], oks[:0]
		for _, p := range prefixes { // free handles ("") are carried by no entry
			r, ok := match(p)
			rests, oks = append(rests, r), append(oks, ok)
		}
		for k, e := range sh.m {
			h, n := handleOf(k)
			if id := k[n:]; oks[h] && e.live(now) && strings.HasPrefix(id, rests[h]) {
				out = append(out, state.KV{Key: prefixes[h] + id, Value: e.value()})
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
	var buf, kbuf [keyBufSize]byte
	b := state.AppendKey(buf[:0], key)
	s.tmu.Lock()
	s.timeouts.put(kbuf[:0], b, deadlineMs)
	s.tmu.Unlock()
	return nil
}

// RemoveTimeoutIndex removes the key from the timeout index (idempotent).
func (s *Store) RemoveTimeoutIndex(_ context.Context, key state.Key) error {
	var buf, kbuf [keyBufSize]byte
	b := state.AppendKey(buf[:0], key)
	s.tmu.Lock()
	s.timeouts.remove(kbuf[:0], b)
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

// timeoutIndex is a min-heap of (deadline, key) that knows where each key
// sits in it: re-indexing a key moves its one item, removing a key takes
// its item out, so the heap holds exactly the indexed keys.
//
// As in the shards, a key is stored packed: the handle of its prefix (the
// canonical key up to its third ':') and its id. The map's key and the
// item's key are one such string, allocated when the key is first indexed;
// due puts the canonical keys back together.
type timeoutIndex struct {
	pos  map[string]int32 // by packed key: the index of its item in heap
	heap []titem          // ordered by ms alone; due sorts ties by key

	handles map[string]uint32 // by prefix
	prefix  []string          // by handle; "" when free
	uses    []int32           // by handle: how many indexed keys carry it
	free    []uint32          // handles of no prefix, to reuse
}

type titem struct {
	ms  int64
	key string // packed
}

func (x *timeoutIndex) init() {
	x.pos = make(map[string]int32)
	x.handles = make(map[string]uint32)
}

// find returns the packed key of the canonical key b, built in dst, and
// b's prefix length; the key is nil if no indexed key has b's prefix.
func (x *timeoutIndex) find(dst, b []byte) ([]byte, int) {
	pl := prefixLen(b)
	h, ok := x.handles[string(b[:pl])]
	if !ok {
		return nil, pl
	}
	return packKey(dst, h, b[pl:]), pl
}

// put indexes the canonical key b at ms; dst is room to pack it in. Only a
// key not indexed yet costs allocations: its packed key, a prefix that no
// indexed key has, and the map's and the heap's growth.
func (x *timeoutIndex) put(dst, b []byte, ms int64) {
	k, pl := x.find(dst, b)
	var h uint32
	if k == nil {
		h = x.newHandle(string(b[:pl]))
		k = packKey(dst, h, b[pl:])
	} else if i, ok := x.pos[string(k)]; ok {
		if x.heap[i].ms != ms {
			x.heap[i].ms = ms
			x.fix(int(i))
		}
		return
	} else {
		h, _ = handleOf(k)
	}
	x.uses[h]++
	// An int32 position bounds the index at 2^31-1 keys, far beyond the
	// ~200 GiB they would take.
	x.heap = append(x.heap, titem{ms: ms, key: string(k)})
	x.up(len(x.heap) - 1) // records the position
}

func (x *timeoutIndex) newHandle(prefix string) uint32 {
	var h uint32
	if n := len(x.free); n > 0 {
		h = x.free[n-1]
		x.free = x.free[:n-1]
		x.prefix[h] = prefix
	} else {
		h = uint32(len(x.prefix))
		x.prefix = append(x.prefix, prefix)
		x.uses = append(x.uses, 0)
	}
	x.handles[prefix] = h
	return h
}

// remove takes the canonical key b out of the index; dst is room to pack
// it in.
func (x *timeoutIndex) remove(dst, b []byte) {
	k, _ := x.find(dst, b)
	if k == nil {
		return
	}
	i, ok := x.pos[string(k)]
	if !ok {
		return
	}
	delete(x.pos, string(k))
	h, _ := handleOf(k)
	if x.uses[h]--; x.uses[h] == 0 {
		delete(x.handles, x.prefix[h])
		x.prefix[h] = ""
		x.free = append(x.free, h)
	}
	n := len(x.heap) - 1
	last := x.heap[n]
	x.heap[n] = titem{} // drop the key string
	x.heap = x.heap[:n]
	if int(i) < n {
		// The last item fills the hole and moves to where it belongs.
		x.heap[i] = last
		x.pos[last.key] = i
		x.fix(int(i))
	}
}

// arity is the number of children of a heap item. Every item a sift
// passes has its position written to the map, which means hashing its key;
// four children halve the levels a sift passes against two, for a few more
// comparisons of adjacent deadlines.
const arity = 4

// due returns the keys with a deadline <= nowMs, ordered by deadline then
// key. It visits only those items and their children: below an item that
// is not due nothing is. The keys are substrings of one string.
func (x *timeoutIndex) due(nowMs int64) []string {
	if len(x.heap) == 0 || x.heap[0].ms > nowMs {
		return nil
	}
	var items []titem
	var n int        // bytes of their canonical keys
	todo := []int{0} // due items whose children are to be visited
	for len(todo) > 0 {
		i := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		it := x.heap[i]
		items = append(items, it)
		h, hl := handleOf(it.key)
		n += len(x.prefix[h]) + len(it.key) - hl
		for c := arity*i + 1; c <= arity*i+arity && c < len(x.heap); c++ {
			if x.heap[c].ms <= nowMs {
				todo = append(todo, c)
			}
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, it := range items {
		h, hl := handleOf(it.key)
		sb.WriteString(x.prefix[h])
		sb.WriteString(it.key[hl:])
	}
	all := sb.String()
	for i, it := range items {
		h, hl := handleOf(it.key)
		l := len(x.prefix[h]) + len(it.key) - hl
		items[i].key, all = all[:l], all[l:]
	}
	slices.SortFunc(items, func(a, b titem) int {
		if c := cmp.Compare(a.ms, b.ms); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.key
	}
	return out
}

// fix restores the heap order after the deadline of the item at i
// changed.
func (x *timeoutIndex) fix(i int) {
	if !x.down(i) {
		x.up(i)
	}
}

// up moves the item at i towards the root while its parent is due later.
// The items it passes move down one level each; every item that moves has
// its position written once.
func (x *timeoutIndex) up(i int) {
	it := x.heap[i]
	for i > 0 {
		p := (i - 1) / arity
		if x.heap[p].ms <= it.ms {
			break
		}
		x.heap[i] = x.heap[p]
		x.pos[x.heap[i].key] = int32(i)
		i = p
	}
	x.heap[i] = it
	x.pos[it.key] = int32(i)
}

// down moves the item at i towards the leaves while a child is due sooner,
// and reports whether it moved.
func (x *timeoutIndex) down(i int) bool {
	it, i0, n := x.heap[i], i, len(x.heap)
	for {
		first := arity*i + 1
		if first >= n {
			break
		}
		c := first
		for j := first + 1; j < min(first+arity, n); j++ {
			if x.heap[j].ms < x.heap[c].ms {
				c = j
			}
		}
		if it.ms <= x.heap[c].ms {
			break
		}
		x.heap[i] = x.heap[c]
		x.pos[x.heap[i].key] = int32(i)
		i = c
	}
	if i == i0 {
		return false
	}
	x.heap[i] = it
	x.pos[it.key] = int32(i)
	return true
}
