package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// table identifies one of the store's tables.
type table uint8

const (
	tblState table = iota
	tblLocks
	tblTimeouts
	numTables
)

// opKind is one write operation handled by a worker.
type opKind uint8

const (
	opCheckAndSet opKind = iota
	opSet
	opDelete
	opIncrement
	opIncrementWindow
	opCAS
	opIndexTimeout
	opRemoveTimeout
	opLockTry
	opLockExtend
	opLockRelease
	opLockHeld
)

func (k opKind) table() table {
	switch k {
	case opIndexTimeout, opRemoveTimeout:
		return tblTimeouts
	case opLockTry, opLockExtend, opLockRelease, opLockHeld:
		return tblLocks
	}
	return tblState
}

// blind ops write without reading the current row.
func (k opKind) blind() bool { return k == opIndexTimeout || k == opRemoveTimeout }

// op is one queued operation and, once done is closed, its result.
type op struct {
	kind     opKind
	key      string // canonical key or lock name
	value    string // value, or lock owner
	n        int64  // delta, or deadline in ms for the timeout index
	ttl      time.Duration
	expected uint64

	abandoned atomic.Bool // the caller stopped waiting before the op ran

	// results
	ok      bool
	num     int64
	left    time.Duration
	found   uint64 // version seen by a failed CompareAndSwap
	missing bool   // CompareAndSwap found no live entry
	err     error
	done    chan struct{}
}

// row is the latest stored row of a key. An absent key is a deleted row
// with ts 0. For locks, value is the owner token; for the timeout index,
// expMs is the deadline.
type row struct {
	value   string
	version uint64
	expMs   int64 // epoch ms, 0 = never
	deleted bool
	ts      uint64
}

var absent = row{deleted: true}

func (r *row) live(nowNs int64) bool {
	return !r.deleted && (r.expMs == 0 || nowNs < r.expMs*int64(time.Millisecond))
}

// expiry converts a ttl into an epoch-ms deadline (0 for no ttl). It rounds
// down so the time left never exceeds ttl, but never into the past.
func expiry(nowNs int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	ms := (nowNs + int64(ttl)) / int64(time.Millisecond)
	if ms*int64(time.Millisecond) <= nowNs {
		ms = nowNs/int64(time.Millisecond) + 1
	}
	return ms
}

type ckey struct {
	t   table
	key string
}

// wrow is a row being worked on within one batch.
type wrow struct {
	row
	dirty   bool // must be written
	guessed bool // not read: assumed absent (speculative check-and-set)
}

// worker owns a share of the keys (by hash): it runs their operations one
// batch at a time, so operations on one key never overlap, and it keeps
// the latest row of the keys it wrote or read. Under the one-node
// assumption (see doc.go) that copy is exact.
type worker struct {
	s        *Store
	in       chan *op
	stopped  chan struct{}
	cache    map[ckey]row
	maxCache int

	batch []*op
	work  map[ckey]*wrow
	order []ckey // keys of work in first-seen order
}

func newWorker(s *Store, maxCache int) *worker {
	return &worker{
		s:        s,
		in:       make(chan *op, s.cfg.MaxBatch),
		stopped:  make(chan struct{}),
		cache:    make(map[ckey]row),
		maxCache: maxCache,
		work:     make(map[ckey]*wrow),
	}
}

var errClosed = fmt.Errorf("state/clickhouse: store closed: %w", state.ErrUnavailable)

func (w *worker) run() {
	defer close(w.stopped)
	for {
		select {
		case <-w.s.closed:
			for {
				select {
				case o := <-w.in:
					o.err = errClosed
					close(o.done)
				default:
					return
				}
			}
		case o := <-w.in:
			w.batch = append(w.batch[:0], o)
		fill:
			for len(w.batch) < w.s.cfg.MaxBatch {
				select {
				case o := <-w.in:
					w.batch = append(w.batch, o)
				default:
					break fill
				}
			}
			w.process(w.batch)
			clear(w.batch)
		}
	}
}

// submit queues o on its worker and waits for the result.
func (s *Store) submit(ctx context.Context, o *op) error {
	o.done = make(chan struct{})
	w := s.workers[hashKey(o.key, o.kind.table())%uint64(len(s.workers))]
	select {
	case w.in <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errClosed
	}
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		o.abandoned.Store(true)
		return ctx.Err()
	case <-w.stopped:
		select {
		case <-o.done:
			return o.err
		default:
			return errClosed
		}
	}
}

// hashKey is FNV-1a over the table and key.
func hashKey(k string, t table) uint64 {
	h := uint64(14695981039346656037) ^ uint64(t)
	for i := 0; i < len(k); i++ {
		h ^= uint64(k[i])
		h *= 1099511628211
	}
	return h
}

// maxAttempts bounds how often a batch is redone after its conditional
// INSERT found the server's rows different from what the batch assumed
// (only possible when something else writes the same keys).
const maxAttempts = 3

// process runs one batch. Every row an operation needs is taken from the
// cache, guessed absent (the first operation on an unseen key is a
// CheckAndSet: a new dedup marker, the common case) or read in one SELECT
// per table. The operations are applied in order, client side, and the
// final row of every changed key is written in one INSERT … SELECT per
// table that is conditional on the server still holding exactly the rows
// the batch assumed; if it does not (another writer, or a wrong guess),
// the server raises throwIf's exception, nothing is written, and the batch
// is redone from a fresh read. Operations that change nothing (a duplicate
// CheckAndSet, a failed CompareAndSwap) are answered without writing.
func (w *worker) process(batch []*op) {
	ctx := context.Background()
	live := batch[:0:0]
	for _, o := range batch {
		if o.abandoned.Load() {
			o.err = context.Canceled
			close(o.done)
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	defer func() {
		clear(w.work)
		w.order = w.order[:0]
	}()
	for attempt := range maxAttempts {
		var unknown [numTables][]string
		for _, o := range live {
			ck := ckey{o.kind.table(), o.key}
			if _, ok := w.work[ck]; ok {
				continue
			}
			wr := &wrow{row: absent}
			w.work[ck] = wr
			w.order = append(w.order, ck)
			switch {
			case o.kind.blind():
			case ck.t == tblState && attempt == 0 && w.cached(ck, wr):
			case ck.t == tblState && attempt == 0 && o.kind == opCheckAndSet:
				wr.guessed = true
			default:
				// Locks are always read: a lock held elsewhere must become
				// free here as soon as it is released.
				unknown[ck.t] = append(unknown[ck.t], o.key)
			}
		}
		for t := range numTables {
			if len(unknown[t]) == 0 {
				continue
			}
			if err := w.load(ctx, table(t), unknown[t]); err != nil {
				w.finish(live, allErr(err))
				return
			}
		}
		nowNs := w.s.nowNs()
		w.applyAll(live, nowNs)
		errs := w.write(ctx, nowNs)
		if !errors.Is(errs[tblState], errStale) && !errors.Is(errs[tblLocks], errStale) {
			w.finish(live, errs)
			return
		}
		// Start again from the server's rows.
		for _, ck := range w.order {
			delete(w.cache, ck)
		}
		clear(w.work)
		w.order = w.order[:0]
	}
	w.finish(live, allErr(errContention))
}

// cached fills wr from the cache and reports whether it could.
func (w *worker) cached(ck ckey, wr *wrow) bool {
	r, ok := w.cache[ck]
	if ok {
		wr.row = r
	}
	return ok
}

// tableErrs is the outcome of a batch per table.
type tableErrs [numTables]error

func allErr(err error) (e tableErrs) {
	for i := range e {
		e[i] = err
	}
	return e
}

var (
	// errStale: a conditional INSERT found the server's rows different
	// from the batch's assumptions; nothing was written.
	errStale = errors.New("rows changed underneath")
	// errContention: a batch stayed stale after maxAttempts reads.
	errContention = errors.New("rows keep changing underneath (another writer on the same keys)")
)

// load reads the latest row of each key into the work set.
func (w *worker) load(ctx context.Context, t table, keys []string) error {
	var q []byte
	switch t {
	case tblState:
		q = append(q, "SELECT key, value, version, expires_at_ms, is_deleted, ts FROM "...)
		q = append(q, w.s.tState...)
		q = append(q, " WHERE key IN ("...)
	case tblLocks:
		q = append(q, "SELECT name, owner, toUInt64(0), expires_at_ms, is_deleted, ts FROM "...)
		q = append(q, w.s.tLocks...)
		q = append(q, " WHERE name IN ("...)
	default:
		return nil
	}
	q = appendList(q, keys)
	if t == tblState {
		q = append(q, ") ORDER BY key, ts DESC LIMIT 1 BY key FORMAT RowBinary"...)
	} else {
		q = append(q, ") ORDER BY name, ts DESC LIMIT 1 BY name FORMAT RowBinary"...)
	}
	out, err := w.s.cl.do(ctx, string(q), nil, true, bigQuery)
	if err != nil {
		return err
	}
	r := reader{b: out}
	for r.more() {
		k := r.string()
		row := row{value: r.string(), version: r.u64(), expMs: r.i64(), deleted: r.u8() != 0, ts: r.u64()}
		if r.err != nil {
			break
		}
		if wr, ok := w.work[ckey{t, k}]; ok {
			wr.row = row
		}
	}
	return r.done()
}

func appendList(q []byte, keys []string) []byte {
	for i, k := range keys {
		if i > 0 {
			q = append(q, ',')
		}
		q = appendQuoted(q, k)
	}
	return q
}

// bigQuery lets statements with many keys or values exceed ClickHouse's
// default 256 KiB query size.
const bigQuery = "max_query_size=268435456"

func (w *worker) applyAll(ops []*op, nowNs int64) {
	for _, o := range ops {
		o.err = nil
		o.ok, o.missing, o.found = false, false, 0
		w.apply(o, w.work[ckey{o.kind.table(), o.key}], nowNs)
	}
}

// apply runs one operation against its row, exactly as the memory backend
// does, and records the result in o.
func (w *worker) apply(o *op, wr *wrow, nowNs int64) {
	r := &wr.row
	isLive := r.live(nowNs)
	switch o.kind {
	case opCheckAndSet:
		o.ok = !isLive
		if o.ok {
			*r = row{value: o.value, version: 1, expMs: expiry(nowNs, o.ttl), ts: r.ts}
			wr.dirty = true
		}
	case opSet:
		ver := uint64(1)
		if isLive {
			ver = r.version + 1
		}
		*r = row{value: o.value, version: ver, expMs: expiry(nowNs, o.ttl), ts: r.ts}
		wr.dirty = true
	case opDelete:
		o.ok = isLive
		if isLive {
			r.deleted = true
			wr.dirty = true
		}
	case opIncrement:
		var n int64
		if isLive {
			v, err := strconv.ParseInt(r.value, 10, 64)
			if err != nil {
				o.err = fmt.Errorf("state/clickhouse: increment %s: value is not an integer", o.key)
				return
			}
			n = v
		} else {
			*r = row{ts: r.ts}
		}
		n += o.n
		r.value = strconv.FormatInt(n, 10)
		r.version++
		if o.ttl > 0 {
			r.expMs = expiry(nowNs, o.ttl)
		}
		o.num = n
		wr.dirty = true
	case opIncrementWindow:
		if !isLive {
			*r = row{value: "1", version: 1, expMs: expiry(nowNs, o.ttl), ts: r.ts}
			o.num, o.left = 1, o.ttl
			wr.dirty = true
			return
		}
		v, err := strconv.ParseInt(r.value, 10, 64)
		if err != nil {
			o.err = fmt.Errorf("state/clickhouse: increment window %s: value is not an integer", o.key)
			return
		}
		v++
		r.value = strconv.FormatInt(v, 10)
		r.version++
		o.num, o.left = v, 0
		if r.expMs != 0 {
			o.left = max(time.Duration(r.expMs*int64(time.Millisecond)-nowNs), 0)
		}
		wr.dirty = true
	case opCAS:
		switch {
		case !isLive:
			o.missing = true
		case r.version != o.expected:
			o.found = r.version
		default:
			o.ok = true
			r.value = o.value
			r.version++
			if o.ttl > 0 {
				r.expMs = expiry(nowNs, o.ttl)
			}
			wr.dirty = true
		}
	case opIndexTimeout:
		*r = row{expMs: o.n, ts: r.ts}
		wr.dirty = true
	case opRemoveTimeout:
		*r = row{deleted: true, ts: r.ts}
		wr.dirty = true
	case opLockTry:
		o.ok = !isLive
		if o.ok {
			*r = row{value: o.value, expMs: expiry(nowNs, o.ttl), ts: r.ts}
			wr.dirty = true
		}
	case opLockExtend:
		o.ok = isLive && r.value == o.value
		if o.ok {
			r.expMs = expiry(nowNs, o.ttl)
			wr.dirty = true
		}
	case opLockRelease:
		o.ok = isLive && r.value == o.value
		if o.ok {
			r.deleted = true
			wr.dirty = true
		}
	case opLockHeld:
		o.ok = isLive && r.value == o.value
	}
}

// write sends the changed rows of each table and returns each table's
// outcome. State and lock rows go in an INSERT … SELECT that raises (and
// writes nothing, errStale) unless every key of the batch in that table
// still has the row the batch started from: a guessed key must have no
// live row, any other key must have the same latest ts (0: no row at all).
// The timeout index is written blind, in RowBinary.
func (w *worker) write(ctx context.Context, nowNs int64) tableErrs {
	var errs tableErrs
	var dirty [numTables]bool
	for _, ck := range w.order {
		if w.work[ck].dirty {
			dirty[ck.t] = true
		}
	}
	for _, t := range []table{tblState, tblLocks} {
		if !dirty[t] {
			continue
		}
		if errs[t] = w.conditionalInsert(ctx, t, nowNs); errors.Is(errs[t], errStale) {
			return errs // redo everything
		}
	}
	if dirty[tblTimeouts] {
		var b []byte
		for _, ck := range w.order {
			wr := w.work[ck]
			if ck.t != tblTimeouts || !wr.dirty {
				continue
			}
			b = appendString(b, ck.key)
			b = appendI64(b, wr.expMs)
			b = appendBool(b, wr.deleted)
			b = appendU64(b, w.s.nextTS(0))
		}
		_, errs[tblTimeouts] = w.s.cl.do(ctx, "INSERT INTO "+w.s.tTimeo+" (key, deadline_ms, is_deleted, ts) FORMAT RowBinary", b, false, "")
	}
	return errs
}

// conditionalInsert writes the dirty rows of t (see write).
func (w *worker) conditionalInsert(ctx context.Context, t table, nowNs int64) error {
	name, cols, keyCol := w.s.tState, "key, value, version, expires_at_ms, is_deleted, ts", "key"
	sel := "r.1, r.2, r.3, r.4, r.5, r.6"
	if t == tblLocks {
		name, cols, keyCol = w.s.tLocks, "name, owner, expires_at_ms, is_deleted, ts", "name"
		sel = "r.1, r.2, r.3, r.4, r.5"
	}
	q := make([]byte, 0, 1024)
	q = append(q, "INSERT INTO "...)
	q = append(q, name...)
	q = append(q, " ("...)
	q = append(q, cols...)
	q = append(q, ") SELECT "...)
	q = append(q, sel...)
	q = append(q, " FROM (SELECT arrayJoin(["...)
	var all, guessed, exact []string
	var exactTS []uint64
	n := 0
	for _, ck := range w.order {
		if ck.t != t {
			continue
		}
		wr := w.work[ck]
		all = append(all, ck.key)
		if wr.guessed {
			guessed = append(guessed, ck.key)
		} else {
			exact = append(exact, ck.key)
			exactTS = append(exactTS, wr.ts)
		}
		if !wr.dirty {
			continue
		}
		if n > 0 {
			q = append(q, ',')
		}
		n++
		q = append(q, '(')
		q = appendQuoted(q, ck.key)
		q = append(q, ',')
		q = appendQuoted(q, wr.value)
		// Plain numeric literals keep the array a constant that 18.16
		// parses quickly (function calls such as toUInt64(…) in it cost
		// about 1 ms per row); INSERT … SELECT casts to the column types.
		// None of these numbers is negative.
		if t == tblState {
			q = fmt.Appendf(q, ",%d", wr.version)
		}
		wr.ts = w.s.nextTS(wr.ts) // the validation above used the old ts
		q = fmt.Appendf(q, ",%d,%d,%d)", max(wr.expMs, 0), b2i(wr.deleted), wr.ts)
	}
	q = append(q, "]) AS r) WHERE throwIf((SELECT count() FROM (SELECT "...)
	q = append(q, keyCol...)
	q = append(q, " AS k_, argMax(is_deleted, ts) AS d_, argMax(expires_at_ms, ts) AS e_, max(ts) AS m_ FROM "...)
	q = append(q, name...)
	q = append(q, " WHERE "...)
	q = append(q, keyCol...)
	q = append(q, " IN ("...)
	q = appendList(q, all)
	q = append(q, ") GROUP BY "...)
	q = append(q, keyCol...)
	q = append(q, " HAVING "...)
	if len(guessed) > 0 {
		q = append(q, "(has(["...)
		q = appendList(q, guessed)
		q = fmt.Appendf(q, "], k_) AND d_ = 0 AND (e_ = 0 OR e_ > %d))", nowNs/int64(time.Millisecond))
	}
	if len(exact) > 0 {
		if len(guessed) > 0 {
			q = append(q, " OR "...)
		}
		q = append(q, "(has(["...)
		q = appendList(q, exact)
		q = append(q, "], k_) AND m_ != transform(k_, ["...)
		q = appendList(q, exact)
		q = append(q, "], ["...)
		for i, ts := range exactTS {
			if i > 0 {
				q = append(q, ',')
			}
			q = strconv.AppendUint(q, ts, 10)
		}
		q = append(q, "], toUInt64(0)))"...) // a key absent from the batch's view must have no row
	}
	q = append(q, ")) > 0) = 0"...)
	_, err := w.s.cl.do(ctx, string(q), nil, false, bigQuery)
	var ce *chError
	if errors.As(err, &ce) && ce.code == codeThrowIfNonZero {
		return errStale
	}
	if err == nil {
		for _, ck := range w.order {
			if wr := w.work[ck]; ck.t == t && wr.dirty {
				wr.guessed = false // we wrote it: its row is known exactly
			}
		}
	}
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// finish answers every op and updates the cache. An op fails when its
// table's read or write failed; the cache then forgets that table's keys of
// the batch, since a failed INSERT may or may not have landed.
func (w *worker) finish(ops []*op, errs tableErrs) {
	for _, o := range ops {
		if err := errs[o.kind.table()]; err != nil {
			o.err = fmt.Errorf("state/clickhouse: %s %s: %w", o.kind, o.key, err)
		}
		close(o.done) // o belongs to its caller from here on
	}
	for _, ck := range w.order {
		wr := w.work[ck]
		switch {
		case ck.t != tblState:
		case errs[ck.t] != nil || wr.guessed:
			delete(w.cache, ck)
		default:
			w.cache[ck] = wr.row
		}
	}
	w.trimCache()
}

// trimCache keeps the cache within its bound: dead rows go first, then
// arbitrary ones (a dropped row is simply read again when needed).
func (w *worker) trimCache() {
	if len(w.cache) <= w.maxCache {
		return
	}
	now := w.s.nowNs()
	for k, r := range w.cache {
		if !r.live(now) {
			delete(w.cache, k)
		}
	}
	for k := range w.cache {
		if len(w.cache) <= w.maxCache*3/4 {
			break
		}
		delete(w.cache, k)
	}
}

func (k opKind) String() string {
	switch k {
	case opCheckAndSet:
		return "check-and-set"
	case opSet:
		return "set"
	case opDelete:
		return "delete"
	case opIncrement:
		return "increment"
	case opIncrementWindow:
		return "increment window"
	case opCAS:
		return "compare-and-swap"
	case opIndexTimeout:
		return "index timeout"
	case opRemoveTimeout:
		return "remove timeout index"
	case opLockTry:
		return "lock"
	case opLockExtend:
		return "extend lock"
	case opLockRelease:
		return "release lock"
	case opLockHeld:
		return "lock held"
	}
	return "op"
}
