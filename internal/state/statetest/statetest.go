package statetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/state"
)

// Harness tells the suite how to build a store and move its time.
type Harness struct {
	// New returns a ready store for one subtest. It registers its own
	// cleanup (closing the store) with t. It may be called from parallel
	// subtests.
	New func(t *testing.T) state.Store
	// Advance moves the time of the store that New returned for the same t
	// forward by d: a fake clock is advanced, a real backend sleeps.
	Advance func(t *testing.T, d time.Duration)
	// MaxParallel caps how many cases run at once (0: no cap). A slow,
	// single-threaded server such as dynalite needs a cap so that its
	// answers stay within the store's operation timeout.
	MaxParallel int
}

// ttl is the expiry the suite uses; it is short so that real backends,
// which sleep in Advance, stay quick.
const ttl = 2 * time.Second

// racers is the number of goroutines in the concurrency cases.
const racers = 50

// env is what one case runs against.
type env struct {
	t   *testing.T
	ctx context.Context
	s   state.Store
	h   Harness
	ns  string // random namespace owned by this case
}

func (e *env) key(kind, id string) state.Key {
	return state.Key{Namespace: e.ns, Tenant: "t1", Kind: kind, ID: id}
}

func (e *env) advance(d time.Duration) {
	e.t.Helper()
	e.h.Advance(e.t, d)
}

func (e *env) set(k state.Key, v string, ttl time.Duration) {
	e.t.Helper()
	if err := e.s.Set(e.ctx, k, v, ttl); err != nil {
		e.t.Fatalf("Set(%s): %v", k, err)
	}
}

// wantValue checks that Get returns v.
func (e *env) wantValue(k state.Key, v string) {
	e.t.Helper()
	got, err := e.s.Get(e.ctx, k)
	if err != nil {
		e.t.Fatalf("Get(%s): %v, want %q", k, err, v)
	}
	if got != v {
		e.t.Fatalf("Get(%s) = %q, want %q", k, got, v)
	}
}

// wantEntry checks that GetVersioned returns v at version ver.
func (e *env) wantEntry(k state.Key, v string, ver uint64) {
	e.t.Helper()
	got, err := e.s.GetVersioned(e.ctx, k)
	if err != nil {
		e.t.Fatalf("GetVersioned(%s): %v, want %q@%d", k, err, v, ver)
	}
	if want := (state.Entry{Value: v, Version: ver}); got != want {
		e.t.Fatalf("GetVersioned(%s) = %+v, want %+v", k, got, want)
	}
}

// wantMissing checks that Get and GetVersioned return ErrNotFound.
func (e *env) wantMissing(k state.Key) {
	e.t.Helper()
	if got, err := e.s.Get(e.ctx, k); !errors.Is(err, state.ErrNotFound) {
		e.t.Fatalf("Get(%s) = %q, %v; want ErrNotFound", k, got, err)
	}
	if got, err := e.s.GetVersioned(e.ctx, k); !errors.Is(err, state.ErrNotFound) {
		e.t.Fatalf("GetVersioned(%s) = %+v, %v; want ErrNotFound", k, got, err)
	}
}

func (e *env) checkAndSet(k state.Key, v string, ttl time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.CheckAndSet(e.ctx, k, v, ttl)
	if err != nil {
		e.t.Fatalf("CheckAndSet(%s): %v", k, err)
	}
	return ok
}

func (e *env) increment(k state.Key, delta int64, ttl time.Duration) int64 {
	e.t.Helper()
	n, err := e.s.Increment(e.ctx, k, delta, ttl)
	if err != nil {
		e.t.Fatalf("Increment(%s, %d): %v", k, delta, err)
	}
	return n
}

func (e *env) window(k state.Key, w time.Duration) (int64, time.Duration) {
	e.t.Helper()
	n, left, err := e.s.IncrementWindow(e.ctx, k, w)
	if err != nil {
		e.t.Fatalf("IncrementWindow(%s): %v", k, err)
	}
	return n, left
}

func (e *env) tryLock(name string, ttl time.Duration) state.Lock {
	e.t.Helper()
	l, err := e.s.TryLock(e.ctx, name, ttl)
	if err != nil {
		e.t.Fatalf("TryLock(%s): %v", name, err)
	}
	return l
}

func (e *env) wantLockHeldByOther(name string) {
	e.t.Helper()
	if l, err := e.s.TryLock(e.ctx, name, ttl); !errors.Is(err, state.ErrLockHeld) {
		e.t.Fatalf("TryLock(%s) on a held lock = %v, %v; want ErrLockHeld", name, l, err)
	}
}

func (e *env) wantHeld(l state.Lock, want bool) {
	e.t.Helper()
	got, err := l.Held(e.ctx)
	if err != nil {
		e.t.Fatalf("Held: %v", err)
	}
	if got != want {
		e.t.Fatalf("Held = %v, want %v", got, want)
	}
}

// due returns the keys of this case's namespace in the timeout index that
// are due at nowMs (the index is shared with whatever else uses the store).
func (e *env) due(nowMs int64) []string {
	e.t.Helper()
	keys, err := e.s.GetExpiredTimeouts(e.ctx, nowMs)
	if err != nil {
		e.t.Fatalf("GetExpiredTimeouts(%d): %v", nowMs, err)
	}
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, e.ns+":") {
			out = append(out, k)
		}
	}
	return out
}

func (e *env) scan(ns, tenant, kind, prefix string) []state.KV {
	e.t.Helper()
	kvs, err := e.s.ScanKeys(e.ctx, ns, tenant, kind, prefix)
	if err != nil {
		e.t.Fatalf("ScanKeys(%s, %s, %s, %q): %v", ns, tenant, kind, prefix, err)
	}
	return kvs
}

func (e *env) scanKind(kind string) []state.KV {
	e.t.Helper()
	kvs, err := e.s.ScanKeysByKind(e.ctx, kind)
	if err != nil {
		e.t.Fatalf("ScanKeysByKind(%s): %v", kind, err)
	}
	return kvs
}

// testCase is one rule of the contract.
type testCase struct {
	name string
	rule string
	run  func(e *env)
}

// Run runs the conformance suite against the stores h builds. Cases run as
// parallel subtests.
func Run(t *testing.T, h Harness) {
	t.Helper()
	var slots chan struct{}
	if h.MaxParallel > 0 {
		slots = make(chan struct{}, h.MaxParallel)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if slots != nil {
				slots <- struct{}{}
				t.Cleanup(func() { <-slots })
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("rule: %s", tc.rule)
				}
			})
			e := &env{t: t, ctx: t.Context(), s: h.New(t), h: h, ns: "st" + randomHex()}
			tc.run(e)
		})
	}
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var cases = []testCase{
	{
		name: "get_missing",
		rule: "Get and GetVersioned on a key that was never written return ErrNotFound",
		run: func(e *env) {
			e.wantMissing(e.key(state.KindState, "nope"))
		},
	},
	{
		name: "set_get_round_trip",
		rule: "Set then Get returns the value; a new key has version 1 and every Set adds 1",
		run: func(e *env) {
			k := e.key(state.KindState, "a")
			e.set(k, `{"x":1}`, 0)
			e.wantValue(k, `{"x":1}`)
			e.wantEntry(k, `{"x":1}`, 1)
			e.set(k, "second", 0)
			e.wantEntry(k, "second", 2)
			e.set(k, "", 0)
			e.wantEntry(k, "", 3)
		},
	},
	{
		name: "check_and_set_new",
		rule: "CheckAndSet on a missing key stores the value, returns true and starts at version 1",
		run: func(e *env) {
			k := e.key(state.KindDedup, "d1")
			if !e.checkAndSet(k, "1", 0) {
				e.t.Fatal("CheckAndSet on a missing key = false, want true")
			}
			e.wantEntry(k, "1", 1)
		},
	},
	{
		name: "check_and_set_existing",
		rule: "CheckAndSet on a live key returns false and leaves value and version alone",
		run: func(e *env) {
			k := e.key(state.KindDedup, "d1")
			e.set(k, "original", ttl)
			if e.checkAndSet(k, "other", 0) {
				e.t.Fatal("CheckAndSet on a live key = true, want false")
			}
			e.wantEntry(k, "original", 1)
		},
	},
	{
		name: "delete",
		rule: "Delete of a live entry returns true and removes it; a second Delete returns false",
		run: func(e *env) {
			k := e.key(state.KindState, "del")
			e.set(k, "v", 0)
			for i, want := range []bool{true, false} {
				got, err := e.s.Delete(e.ctx, k)
				if err != nil {
					e.t.Fatalf("Delete #%d: %v", i+1, err)
				}
				if got != want {
					e.t.Fatalf("Delete #%d = %v, want %v", i+1, got, want)
				}
			}
			e.wantMissing(k)
		},
	},
	{
		name: "delete_expired",
		rule: "Delete of an entry whose ttl has passed returns false",
		run: func(e *env) {
			k := e.key(state.KindState, "del")
			e.set(k, "v", ttl)
			e.advance(ttl)
			got, err := e.s.Delete(e.ctx, k)
			if err != nil || got {
				e.t.Fatalf("Delete of expired entry = %v, %v; want false, nil", got, err)
			}
		},
	},
	{
		name: "increment",
		rule: "Increment treats a missing key as 0 and returns the new value (1, +5 → 6, -2 → 4), adding 1 to the version each time; Get reads the same decimal value",
		run: func(e *env) {
			k := e.key(state.KindCounter, "c")
			for i, step := range []struct{ delta, want int64 }{{1, 1}, {5, 6}, {-2, 4}} {
				if got := e.increment(k, step.delta, 0); got != step.want {
					e.t.Fatalf("Increment #%d by %d = %d, want %d", i+1, step.delta, got, step.want)
				}
			}
			e.wantEntry(k, "4", 3)
		},
	},
	{
		name: "set_increment_coherent",
		rule: "Set, Increment and Get on one key agree on one representation (D14)",
		run: func(e *env) {
			k := e.key(state.KindCounter, "sync_version")
			e.set(k, "41", 0)
			if got := e.increment(k, 1, 0); got != 42 {
				e.t.Fatalf("Increment after Set(41) = %d, want 42", got)
			}
			e.wantValue(k, "42")
			e.set(k, "7", 0)
			if got := e.increment(k, 3, 0); got != 10 {
				e.t.Fatalf("Increment after Set(7) = %d, want 10", got)
			}
			e.wantEntry(k, "10", 4)
		},
	},
	{
		name: "increment_ttl",
		rule: "Increment with a ttl resets the expiry to now+ttl on every call; with zero ttl it keeps the expiry; an expired counter restarts from 0",
		run: func(e *env) {
			k := e.key(state.KindCounter, "sliding")
			e.increment(k, 1, ttl)
			e.advance(ttl / 2)
			e.increment(k, 1, ttl) // expiry is now ttl from here
			e.advance(ttl * 3 / 4)
			e.wantValue(k, "2")
			e.increment(k, 1, 0) // keeps the expiry set by the last call
			e.advance(ttl / 4)
			e.wantMissing(k)
			if got := e.increment(k, 5, 0); got != 5 {
				e.t.Fatalf("Increment of an expired counter = %d, want 5", got)
			}
			e.wantEntry(k, "5", 1)
		},
	},
	{
		name: "increment_window_counts",
		rule: "IncrementWindow creates a count of 1 with the whole window left, then counts up with the time left shrinking",
		run: func(e *env) {
			k := e.key(state.KindRateLimit, "rule")
			n, left := e.window(k, ttl)
			if n != 1 || left <= 0 || left > ttl {
				e.t.Fatalf("first IncrementWindow = %d, %s; want 1, (0, %s]", n, left, ttl)
			}
			e.advance(ttl / 2)
			n, left = e.window(k, ttl)
			if n != 2 || left <= 0 || left > ttl/2 {
				e.t.Fatalf("second IncrementWindow = %d, %s; want 2, (0, %s]", n, left, ttl/2)
			}
			e.wantValue(k, "2")
		},
	},
	{
		name: "increment_window_fixed",
		rule: "An IncrementWindow window is fixed at its first hit: later hits do not extend it, and the first hit after it ends starts a new window at 1 (D10)",
		run: func(e *env) {
			k := e.key(state.KindRateLimit, "rule")
			e.window(k, ttl)
			e.advance(ttl / 2)
			e.window(k, ttl)
			e.window(k, ttl)
			e.advance(ttl / 2)
			n, left := e.window(k, ttl)
			if n != 1 || left <= ttl/2 || left > ttl {
				e.t.Fatalf("IncrementWindow after the window ended = %d, %s; want 1, about %s", n, left, ttl)
			}
		},
	},
	{
		name: "compare_and_swap",
		rule: "CompareAndSwap with a stale version fails with ErrConflict and changes nothing; with the current version it writes and adds 1 to the version",
		run: func(e *env) {
			k := e.key(state.KindState, "sm")
			e.set(k, "v1", 0)
			if err := e.s.CompareAndSwap(e.ctx, k, 999, "bad", 0); !errors.Is(err, state.ErrConflict) {
				e.t.Fatalf("CompareAndSwap(version 999) = %v, want ErrConflict", err)
			}
			e.wantEntry(k, "v1", 1)
			if err := e.s.CompareAndSwap(e.ctx, k, 1, "v2", 0); err != nil {
				e.t.Fatalf("CompareAndSwap(version 1): %v", err)
			}
			e.wantEntry(k, "v2", 2)
			if err := e.s.CompareAndSwap(e.ctx, k, 1, "v3", 0); !errors.Is(err, state.ErrConflict) {
				e.t.Fatalf("second CompareAndSwap(version 1) = %v, want ErrConflict", err)
			}
		},
	},
	{
		name: "compare_and_swap_missing",
		rule: "CompareAndSwap on a missing key is a conflict whatever the expected version, and creates nothing",
		run: func(e *env) {
			k := e.key(state.KindState, "missing")
			for _, v := range []uint64{0, 1} {
				if err := e.s.CompareAndSwap(e.ctx, k, v, "x", 0); !errors.Is(err, state.ErrConflict) {
					e.t.Fatalf("CompareAndSwap(missing, version %d) = %v, want ErrConflict", v, err)
				}
			}
			e.wantMissing(k)
		},
	},
	{
		name: "compare_and_swap_keeps_expiry",
		rule: "CompareAndSwap with zero ttl keeps the entry's expiry; with a ttl it sets a new one",
		run: func(e *env) {
			k := e.key(state.KindState, "keep")
			e.set(k, "v1", ttl)
			if err := e.s.CompareAndSwap(e.ctx, k, 1, "v2", 0); err != nil {
				e.t.Fatalf("CompareAndSwap: %v", err)
			}
			k2 := e.key(state.KindState, "new")
			e.set(k2, "v1", 0)
			if err := e.s.CompareAndSwap(e.ctx, k2, 1, "v2", ttl); err != nil {
				e.t.Fatalf("CompareAndSwap with ttl: %v", err)
			}
			e.advance(ttl)
			e.wantMissing(k)
			e.wantMissing(k2)
		},
	},
	{
		name: "set_ttl_then_permanent",
		rule: "Set with a ttl followed by Set with zero ttl makes the entry permanent",
		run: func(e *env) {
			k := e.key(state.KindState, "perm")
			e.set(k, "temp", ttl)
			e.set(k, "perm", 0)
			e.advance(ttl + ttl/2)
			e.wantValue(k, "perm")
		},
	},
	{
		name: "ttl_expiry",
		rule: "Once its ttl has passed an entry is invisible to Get, GetVersioned, ScanKeys and ScanKeysByKind, and CheckAndSet replaces it as a new entry at version 1",
		run: func(e *env) {
			kind := "stk" + randomHex()
			k := e.key(kind, "x")
			e.set(k, "old", ttl)
			e.set(k, "old2", ttl) // version 2
			e.wantValue(k, "old2")
			e.advance(ttl)
			e.wantMissing(k)
			if kvs := e.scan(e.ns, "t1", kind, ""); len(kvs) != 0 {
				e.t.Fatalf("ScanKeys after expiry = %v, want none", kvs)
			}
			if kvs := e.scanKind(kind); len(kvs) != 0 {
				e.t.Fatalf("ScanKeysByKind after expiry = %v, want none", kvs)
			}
			if !e.checkAndSet(k, "new", 0) {
				e.t.Fatal("CheckAndSet on an expired key = false, want true")
			}
			e.wantEntry(k, "new", 1)
		},
	},
	{
		name: "scan_keys",
		rule: "ScanKeys returns the live entries under ns:tenant:kind:prefix with canonical, unprefixed keys sorted by key, and nothing of other tenants, kinds or prefixes",
		run: func(e *env) {
			put := func(tenant, kind, id, v string) {
				e.set(state.Key{Namespace: e.ns, Tenant: tenant, Kind: kind, ID: id}, v, 0)
			}
			put("t1", "group", "b:2", "B2")
			put("t1", "group", "a", "A")
			put("t1", "group", "b:1", "B1")
			put("t1", "groupx", "a", "other kind")
			put("t2", "group", "a", "other tenant")
			ok, err := e.s.CheckAndSet(e.ctx, state.Key{Namespace: e.ns, Tenant: "t1", Kind: "group", ID: "c"}, "C", 0)
			if err != nil || !ok {
				e.t.Fatalf("CheckAndSet: %v, %v", ok, err)
			}
			p := e.ns + ":t1:group:"
			want := []state.KV{kv(p+"a", "A"), kv(p+"b:1", "B1"), kv(p+"b:2", "B2"), kv(p+"c", "C")}
			if diff := cmp.Diff(want, e.scan(e.ns, "t1", "group", "")); diff != "" {
				e.t.Fatalf("ScanKeys(no prefix) (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want[1:3], e.scan(e.ns, "t1", "group", "b:")); diff != "" {
				e.t.Fatalf("ScanKeys(prefix b:) (-want +got):\n%s", diff)
			}
			if got := e.scan(e.ns, "t3", "group", ""); len(got) != 0 {
				e.t.Fatalf("ScanKeys(empty tenant) = %v, want none", got)
			}
		},
	},
	{
		name: "scan_keys_by_kind",
		rule: "ScanKeysByKind returns the live entries of one kind across namespaces and tenants, CheckAndSet entries included, sorted by canonical key",
		run: func(e *env) {
			kind := "stk" + randomHex()
			ns2 := e.ns + "b"
			keys := []state.Key{
				{Namespace: ns2, Tenant: "t1", Kind: kind, ID: "z"},
				{Namespace: e.ns, Tenant: "t2", Kind: kind, ID: "y"},
				{Namespace: e.ns, Tenant: "t1", Kind: kind, ID: "x"},
			}
			e.set(keys[0], "0", 0)
			e.set(keys[1], "1", ttl)
			if !e.checkAndSet(keys[2], "2", 0) {
				e.t.Fatal("CheckAndSet = false")
			}
			e.set(state.Key{Namespace: e.ns, Tenant: "t1", Kind: kind + "_other", ID: "w"}, "no", 0)
			want := []state.KV{kv(keys[2].String(), "2"), kv(keys[1].String(), "1"), kv(keys[0].String(), "0")}
			slices.SortFunc(want, func(a, b state.KV) int { return strings.Compare(a.Key, b.Key) })
			if diff := cmp.Diff(want, e.scanKind(kind)); diff != "" {
				e.t.Fatalf("ScanKeysByKind (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "colons_in_namespace_and_tenant",
		rule: "A namespace or tenant holding ':' or '%' is its own entry: ScanKeys, ScanKeysByKind and the timeout index return canonical keys that ParseKey splits back into the same namespace, tenant, kind and id",
		run: func(e *env) {
			kind := "stc" + randomHex()
			k := state.Key{Namespace: e.ns + ":a%", Tenant: "acme:prod", Kind: kind, ID: "x:1"}
			// What an unescaped key would confuse it with.
			decoy := state.Key{Namespace: e.ns, Tenant: "a%:acme", Kind: "prod", ID: kind + ":x:1"}
			e.set(k, "K", 0)
			e.set(decoy, "decoy", 0)
			if v, err := e.s.Get(e.ctx, k); err != nil || v != "K" {
				e.t.Fatalf("Get = %q, %v; want K", v, err)
			}
			check := func(what string, keys []string) {
				e.t.Helper()
				if len(keys) != 1 {
					e.t.Fatalf("%s = %v, want just %s", what, keys, k)
				}
				back, err := state.ParseKey(keys[0])
				if err != nil || back != k {
					e.t.Fatalf("%s: ParseKey(%q) = %#v, %v; want %#v", what, keys[0], back, err, k)
				}
			}
			keysOf := func(kvs []state.KV) []string {
				var out []string
				for _, kv := range kvs {
					out = append(out, kv.Key)
				}
				return out
			}
			check("ScanKeys", keysOf(e.scan(k.Namespace, k.Tenant, kind, "x:")))
			check("ScanKeysByKind", keysOf(e.scanKind(kind)))
			if err := e.s.IndexTimeout(e.ctx, k, 1000); err != nil {
				e.t.Fatalf("IndexTimeout: %v", err)
			}
			defer func() { _ = e.s.RemoveTimeoutIndex(e.ctx, k) }()
			all, err := e.s.GetExpiredTimeouts(e.ctx, 1000)
			if err != nil {
				e.t.Fatalf("GetExpiredTimeouts: %v", err)
			}
			var mine []string
			for _, s := range all {
				if strings.HasPrefix(s, state.Segment(k.Namespace)+":") {
					mine = append(mine, s)
				}
			}
			check("GetExpiredTimeouts", mine)
		},
	},
	{
		name: "timeout_index",
		rule: "IndexTimeout again replaces the deadline (1000 then 5000: not due at 2000, due once at 5000 and 6000 until removed); GetExpiredTimeouts does not remove; RemoveTimeoutIndex is idempotent",
		run: func(e *env) {
			k := e.key("event_timeout", "fp1")
			other := e.key("pending_scheduled", "a1")
			mustIndex := func(k state.Key, ms int64) {
				if err := e.s.IndexTimeout(e.ctx, k, ms); err != nil {
					e.t.Fatalf("IndexTimeout(%s, %d): %v", k, ms, err)
				}
			}
			mustIndex(k, 1000)
			mustIndex(k, 5000)
			mustIndex(other, 7000)
			if got := e.due(2000); len(got) != 0 {
				e.t.Fatalf("due at 2000 = %v, want none (deadline was replaced)", got)
			}
			for _, now := range []int64{5000, 6000} {
				if diff := cmp.Diff([]string{k.String()}, e.due(now)); diff != "" {
					e.t.Fatalf("due at %d (-want +got):\n%s", now, diff)
				}
			}
			if diff := cmp.Diff([]string{k.String(), other.String()}, e.due(8000)); diff != "" {
				e.t.Fatalf("due at 8000, ordered by deadline (-want +got):\n%s", diff)
			}
			for range 2 {
				if err := e.s.RemoveTimeoutIndex(e.ctx, k); err != nil {
					e.t.Fatalf("RemoveTimeoutIndex: %v", err)
				}
			}
			if diff := cmp.Diff([]string{other.String()}, e.due(8000)); diff != "" {
				e.t.Fatalf("due at 8000 after removal (-want +got):\n%s", diff)
			}
			mustIndex(k, 1000)
			if diff := cmp.Diff([]string{k.String()}, e.due(1000)); diff != "" {
				e.t.Fatalf("due at 1000 after re-adding (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "lock_exclusive",
		rule: "TryLock on a held name fails with ErrLockHeld; after Release the name can be taken again",
		run: func(e *env) {
			name := e.ns + ":job"
			l := e.tryLock(name, ttl)
			e.wantLockHeldByOther(name)
			if err := l.Release(e.ctx); err != nil {
				e.t.Fatalf("Release: %v", err)
			}
			e.tryLock(name, ttl)
		},
	},
	{
		name: "lock_held_and_release",
		rule: "Held is true after TryLock and false after Release; a second Release returns ErrLockNotHeld",
		run: func(e *env) {
			l := e.tryLock(e.ns+":job", ttl)
			e.wantHeld(l, true)
			if err := l.Release(e.ctx); err != nil {
				e.t.Fatalf("Release: %v", err)
			}
			e.wantHeld(l, false)
			if err := l.Release(e.ctx); !errors.Is(err, state.ErrLockNotHeld) {
				e.t.Fatalf("second Release = %v, want ErrLockNotHeld", err)
			}
		},
	},
	{
		name: "lock_extend",
		rule: "Extend by the owner pushes the expiry to now+ttl, so the lock outlives its first ttl and stays exclusive",
		run: func(e *env) {
			name := e.ns + ":job"
			l := e.tryLock(name, ttl)
			e.advance(ttl / 2)
			if err := l.Extend(e.ctx, ttl); err != nil {
				e.t.Fatalf("Extend: %v", err)
			}
			e.advance(ttl * 3 / 4) // past the first ttl, within the extension
			e.wantHeld(l, true)
			e.wantLockHeldByOther(name)
		},
	},
	{
		name: "lock_expired_taken_over",
		rule: "An expired lock can be taken by another owner; the old owner is then not Held and can neither Release nor Extend it (ErrLockNotHeld), and the new owner keeps it",
		run: func(e *env) {
			name := e.ns + ":job"
			old := e.tryLock(name, ttl)
			e.advance(ttl)
			e.wantHeld(old, false)
			cur := e.tryLock(name, ttl)
			if err := old.Release(e.ctx); !errors.Is(err, state.ErrLockNotHeld) {
				e.t.Fatalf("Release by the old owner = %v, want ErrLockNotHeld", err)
			}
			if err := old.Extend(e.ctx, ttl); !errors.Is(err, state.ErrLockNotHeld) {
				e.t.Fatalf("Extend by the old owner = %v, want ErrLockNotHeld", err)
			}
			e.wantHeld(cur, true)
			e.wantLockHeldByOther(name)
		},
	},
	{
		name: "race_check_and_set",
		rule: fmt.Sprintf("When %d goroutines race CheckAndSet on one key, exactly one wins", racers),
		run: func(e *env) {
			k := e.key(state.KindDedup, "race")
			wins := race(e, func(i int) (int64, error) {
				ok, err := e.s.CheckAndSet(e.ctx, k, fmt.Sprint(i), 0)
				if ok {
					return 1, err
				}
				return 0, err
			})
			if n := sum(wins); n != 1 {
				e.t.Fatalf("%d goroutines won CheckAndSet, want exactly 1", n)
			}
		},
	},
	{
		name: "race_increment",
		rule: fmt.Sprintf("Increment is atomic: %d goroutines adding 1 twenty times each give exactly %d", racers, racers*20),
		run: func(e *env) {
			k := e.key(state.KindCounter, "race")
			race(e, func(int) (int64, error) {
				for range 20 {
					if _, err := e.s.Increment(e.ctx, k, 1, 0); err != nil {
						return 0, err
					}
				}
				return 0, nil
			})
			e.wantValue(k, fmt.Sprint(racers*20))
		},
	},
	{
		name: "race_increment_window",
		rule: fmt.Sprintf("When %d goroutines hit one IncrementWindow, each count 1..%d is returned exactly once", racers, racers),
		run: func(e *env) {
			k := e.key(state.KindRateLimit, "race")
			counts := race(e, func(int) (int64, error) {
				n, _, err := e.s.IncrementWindow(e.ctx, k, time.Minute)
				return n, err
			})
			slices.Sort(counts)
			want := make([]int64, racers)
			for i := range want {
				want[i] = int64(i + 1)
			}
			if diff := cmp.Diff(want, counts); diff != "" {
				e.t.Fatalf("counts returned (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "race_compare_and_swap",
		rule: fmt.Sprintf("When %d goroutines CompareAndSwap from the same version, exactly one succeeds and the rest get ErrConflict", racers),
		run: func(e *env) {
			k := e.key(state.KindState, "race")
			e.set(k, "start", 0)
			wins := race(e, func(i int) (int64, error) {
				err := e.s.CompareAndSwap(e.ctx, k, 1, fmt.Sprint(i), 0)
				if errors.Is(err, state.ErrConflict) {
					return 0, nil
				}
				return 1, err
			})
			if n := sum(wins); n != 1 {
				e.t.Fatalf("%d goroutines won CompareAndSwap, want exactly 1", n)
			}
			got, err := e.s.GetVersioned(e.ctx, k)
			if err != nil || got.Version != 2 {
				e.t.Fatalf("GetVersioned after the race = %+v, %v; want version 2", got, err)
			}
		},
	},
}

// race runs f in racers goroutines released together and returns what each
// returned. Any error fails the test.
func race(e *env, f func(i int) (int64, error)) []int64 {
	e.t.Helper()
	out := make([]int64, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			out[i], errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func kv(k, v string) state.KV { return state.KV{Key: k, Value: v} }

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}
