package memory_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
	"github.com/acteon/acteon-go/internal/state/statetest"
)

var epoch = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	clocks := map[*testing.T]*clock.Fake{}
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			c := clock.NewFake(epoch)
			mu.Lock()
			clocks[t] = c
			mu.Unlock()
			s := memory.New(memory.Options{Clock: c})
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		Advance: func(t *testing.T, d time.Duration) {
			mu.Lock()
			c := clocks[t]
			mu.Unlock()
			c.Advance(d)
		},
	})
}

// TestExpiryInclusive pins the boundary the conformance suite can only
// approach with a real clock: an entry written at t with ttl d is present
// one nanosecond before t+d and gone at exactly t+d.
func TestExpiryInclusive(t *testing.T) {
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: "dedup", ID: "x"}
	if err := s.Set(ctx, k, "v", time.Second); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second - time.Nanosecond)
	if _, err := s.Get(ctx, k); err != nil {
		t.Fatalf("Get 1ns before expiry: %v, want the value", err)
	}
	c.Advance(time.Nanosecond)
	if _, err := s.Get(ctx, k); err == nil {
		t.Fatal("Get at exactly t+ttl found the entry, want ErrNotFound")
	}

	// The same boundary for a fixed window's remaining time.
	w := state.Key{Namespace: "ns", Tenant: "t", Kind: "rate_limit", ID: "r"}
	if _, left, _ := s.IncrementWindow(ctx, w, time.Minute); left != time.Minute {
		t.Fatalf("remaining of a new window = %s, want 1m", left)
	}
	c.Advance(59 * time.Second)
	if n, left, _ := s.IncrementWindow(ctx, w, time.Minute); n != 2 || left != time.Second {
		t.Fatalf("IncrementWindow 59s in = %d, %s; want 2, 1s", n, left)
	}
}

func TestSweep(t *testing.T) {
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	ctx := t.Context()
	for i := range 10 {
		ttl := time.Duration(0)
		if i%2 == 0 {
			ttl = time.Second
		}
		if err := s.Set(ctx, state.Key{Namespace: "ns", Tenant: "t", Kind: "k", ID: fmt.Sprint(i)}, "v", ttl); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.TryLock(ctx, "job", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Sweep(); n != 0 {
		t.Fatalf("Sweep before expiry removed %d, want 0", n)
	}
	c.Advance(time.Second)
	if n := s.Sweep(); n != 5 {
		t.Fatalf("Sweep after expiry removed %d, want 5", n)
	}
	kvs, _ := s.ScanKeysByKind(ctx, "k")
	if len(kvs) != 5 {
		t.Fatalf("%d entries left, want the 5 permanent ones", len(kvs))
	}
	if held, _ := l.Held(ctx); held {
		t.Fatal("expired lock still held after sweep")
	}
	if _, err := s.TryLock(ctx, "job", time.Second); err != nil {
		t.Fatalf("TryLock after sweep: %v", err)
	}
}

func TestStartClose(t *testing.T) {
	s := memory.New(memory.Options{SweepInterval: time.Millisecond})
	s.Start(t.Context())
	s.Start(t.Context()) // second call is a no-op
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Close without Start, and Start after Close, must not block or panic.
	s2 := memory.New(memory.Options{SweepInterval: time.Millisecond})
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s2.Start(t.Context())

	// A cancelled context stops the sweeper too; Close still returns.
	ctx, cancel := context.WithCancel(t.Context())
	s3 := memory.New(memory.Options{SweepInterval: time.Millisecond})
	s3.Start(ctx)
	cancel()
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLongKeys(t *testing.T) {
	s := memory.New(memory.Options{})
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: "dedup", ID: strings.Repeat("x", 1000)}
	if ok, err := s.CheckAndSet(ctx, k, "1", 0); !ok || err != nil {
		t.Fatalf("CheckAndSet(long key) = %v, %v", ok, err)
	}
	if v, err := s.Get(ctx, k); v != "1" || err != nil {
		t.Fatalf("Get(long key) = %q, %v", v, err)
	}
	kvs, _ := s.ScanKeys(ctx, "ns", "t", "dedup", "xxx")
	if len(kvs) != 1 || kvs[0].Key != k.String() {
		t.Fatalf("ScanKeys(long key) = %v", kvs)
	}
}

func TestBadInput(t *testing.T) {
	s := memory.New(memory.Options{})
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: "counter", ID: "c"}
	if err := s.Set(ctx, k, "not a number", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, k, 1, 0); err == nil {
		t.Error("Increment of a non-integer value succeeded, want an error")
	}
	if _, _, err := s.IncrementWindow(ctx, k, time.Second); err == nil {
		t.Error("IncrementWindow of a non-integer value succeeded, want an error")
	}
	if _, _, err := s.IncrementWindow(ctx, state.Key{ID: "w"}, 0); err == nil {
		t.Error("IncrementWindow with a zero window succeeded, want an error")
	}
	if v, _ := s.Get(ctx, k); v != "not a number" {
		t.Errorf("failed increments changed the value to %q", v)
	}
}

// TestTimeoutIndexReindex re-indexes every key five times, later each
// round, and removes half of them: each key is due once, at its last
// deadline, and removed keys never.
func TestTimeoutIndexReindex(t *testing.T) {
	s := memory.New(memory.Options{})
	ctx := t.Context()
	key := func(i int) state.Key {
		return state.Key{Namespace: "ns", Tenant: "t", Kind: "event_timeout", ID: fmt.Sprintf("%04d", i)}
	}
	for round := range 5 {
		for i := range 200 {
			if err := s.IndexTimeout(ctx, key(i), int64(1000*round+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 200 {
		if i%2 == 1 {
			_ = s.RemoveTimeoutIndex(ctx, key(i))
		}
	}
	got, _ := s.GetExpiredTimeouts(ctx, 4000+99)
	if len(got) != 50 {
		t.Fatalf("due = %d keys, want 50", len(got))
	}
	for j, k := range got {
		if want := key(2 * j).String(); k != want {
			t.Fatalf("due[%d] = %s, want %s", j, k, want)
		}
	}
	if got, _ := s.GetExpiredTimeouts(ctx, 3999); len(got) != 0 {
		t.Fatalf("due before the last deadlines = %v, want none", got)
	}
	// Earlier deadlines move keys forward again.
	for i := range 200 {
		_ = s.IndexTimeout(ctx, key(i), int64(200-i))
	}
	got, _ = s.GetExpiredTimeouts(ctx, 200)
	if len(got) != 200 || got[0] != key(199).String() || got[199] != key(0).String() {
		t.Fatalf("after moving every deadline earlier: %d due, first %v", len(got), got[:min(len(got), 3)])
	}
}

// TestManyPrefixes stores one key in each of 20,000 tenants, so that every
// shard numbers more than 128 prefixes (two-byte handles), then frees and
// reuses the numbers: deleting, expiring and writing new tenants must leave
// each key readable under its own name.
func TestManyPrefixes(t *testing.T) {
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	ctx := t.Context()
	const n = 20000
	key := func(tenant, i int) state.Key {
		return state.Key{Namespace: "ns", Tenant: fmt.Sprintf("t%05d", tenant), Kind: state.KindDedup, ID: fmt.Sprint(i)}
	}
	for i := range n {
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = time.Second
		}
		if err := s.Set(ctx, key(i, i), fmt.Sprint("v", i), ttl); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 3 {
		if i%2 == 0 {
			if ok, _ := s.Delete(ctx, key(i+1, i+1)); !ok {
				t.Fatalf("Delete %v found nothing", key(i+1, i+1))
			}
		}
	}
	c.Advance(time.Second)
	s.Sweep()
	// New tenants take the freed numbers.
	for i := n; i < n+n/2; i++ {
		if ok, _ := s.CheckAndSet(ctx, key(i, i), fmt.Sprint("v", i), 0); !ok {
			t.Fatalf("CheckAndSet %v = false", key(i, i))
		}
	}
	want := 0
	for i := range n + n/2 {
		gone := i < n && (i%3 == 0 || (i%3 == 1 && (i-1)%2 == 0))
		v, err := s.Get(ctx, key(i, i))
		if gone {
			if err == nil {
				t.Fatalf("%v = %q, want it gone", key(i, i), v)
			}
			continue
		}
		want++
		if err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("%v = %q, %v; want v%d", key(i, i), v, err, i)
		}
		if i%1000 == 2 {
			if kvs, _ := s.ScanKeys(ctx, "ns", fmt.Sprintf("t%05d", i), state.KindDedup, ""); len(kvs) != 1 || kvs[0].Key != key(i, i).String() {
				t.Fatalf("ScanKeys of tenant %d = %v", i, kvs)
			}
		}
	}
	if kvs, _ := s.ScanKeysByKind(ctx, state.KindDedup); len(kvs) != want {
		t.Fatalf("ScanKeysByKind found %d keys, want %d", len(kvs), want)
	}
}
