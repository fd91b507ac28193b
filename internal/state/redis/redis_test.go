package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/redis"
	"github.com/acteon/acteon-go/internal/state/statetest"
	"github.com/acteon/acteon-go/internal/testenv"
)

func TestConformance(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			return open(t, redis.Config{URL: url, Prefix: prefix})
		},
		Advance: func(t *testing.T, d time.Duration) { time.Sleep(d) },
	})
}

// TestTwoNodesCheckAndSet: 20 goroutines split over two stores (two
// gateway nodes) race CheckAndSet on one key; exactly one wins, and the
// stored value is the winner's.
func TestTwoNodesCheckAndSet(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	nodes := []*redis.Store{open(t, redis.Config{URL: url, Prefix: prefix}), open(t, redis.Config{URL: url, Prefix: prefix})}
	key := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "race"}
	const racers = 20
	won := make([]bool, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			won[i], errs[i] = nodes[i%2].CheckAndSet(t.Context(), key, fmt.Sprint(i), time.Minute)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	winner := -1
	for i, w := range won {
		if w {
			if winner >= 0 {
				t.Fatalf("racers %d and %d both won CheckAndSet", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no racer won CheckAndSet")
	}
	for _, n := range nodes {
		got, err := n.GetVersioned(t.Context(), key)
		if err != nil || got != (state.Entry{Value: fmt.Sprint(winner), Version: 1}) {
			t.Fatalf("GetVersioned = %+v, %v; want the winner's value %d at version 1", got, err, winner)
		}
	}
}

// TestTwoNodesIncrementWindow: hits spread over two stores are counted
// exactly: every count 1..N is returned once.
func TestTwoNodesIncrementWindow(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	nodes := []*redis.Store{open(t, redis.Config{URL: url, Prefix: prefix}), open(t, redis.Config{URL: url, Prefix: prefix})}
	key := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "rule"}
	const workers, hits = 16, 25
	counts := make([][]int64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for range hits {
				n, _, err := nodes[i%2].IncrementWindow(t.Context(), key, time.Minute)
				if err != nil {
					errs[i] = err
					return
				}
				counts[i] = append(counts[i], n)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got := slices.Concat(counts...)
	slices.Sort(got)
	want := make([]int64, workers*hits)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("counts returned (-want +got):\n%s", diff)
	}
	v, err := nodes[0].Get(t.Context(), key)
	if err != nil || v != fmt.Sprint(workers*hits) {
		t.Fatalf("Get = %q, %v; want %d", v, err, workers*hits)
	}
}

// TestPhysicalLayout: the layout doc.go describes is what is stored: an
// entry is one string "<version>:<value>" at "<prefix>:<canonical>" with a
// native expiry, whichever operation wrote it, a lock is a string at "<prefix>|lock:<name>", the timeout index
// a sorted set at "<prefix>:timeout_index".
func TestPhysicalLayout(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	s := open(t, redis.Config{URL: url, Prefix: prefix})
	raw := rawClient(t, url)
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindCounter, ID: "a:b"}
	if err := s.Set(ctx, k, "41", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, k, 1, 0); err != nil {
		t.Fatal(err)
	}
	phys := prefix + ":ns:t:counter:a:b"
	if got, err := raw.Get(ctx, phys).Result(); err != nil || got != "2:42" {
		t.Fatalf("GET %s = %q, %v; want 2:42", phys, got, err)
	}
	if ttl := raw.PTTL(ctx, phys).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("PTTL %s = %s, want (0, 1h]", phys, ttl)
	}
	dk := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "x:y"}
	if ok, err := s.CheckAndSet(ctx, dk, "v:w", time.Minute); err != nil || !ok {
		t.Fatalf("CheckAndSet = %v, %v", ok, err)
	}
	if got, err := raw.Get(ctx, prefix+":ns:t:dedup:x:y").Result(); err != nil || got != "1:v:w" {
		t.Fatalf("GET after CheckAndSet = %q, %v; want 1:v:w", got, err)
	}
	l, err := s.TryLock(ctx, "job:x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if typ := raw.Type(ctx, prefix+"|lock:job:x").Val(); typ != "string" {
		t.Fatalf("TYPE %s|lock:job:x = %q, want string", prefix, typ)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexTimeout(ctx, k, 1234); err != nil {
		t.Fatal(err)
	}
	if score := raw.ZScore(ctx, prefix+":timeout_index", k.String()).Val(); score != 1234 {
		t.Fatalf("ZSCORE timeout_index = %v, want 1234", score)
	}
}

// TestLockDoesNotCollideWithEntries: a lock named like the rest of an
// entry key in namespace "lock" and that entry live side by side.
func TestLockDoesNotCollideWithEntries(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s := open(t, redis.Config{URL: url, Prefix: testPrefix(t, url)})
	ctx := t.Context()
	k := state.Key{Namespace: "lock", Tenant: "t", Kind: "k", ID: "id"}
	if err := s.Set(ctx, k, "v", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TryLock(ctx, "t:k:id", time.Minute); err != nil {
		t.Fatalf("TryLock next to an entry: %v", err)
	}
	if v, err := s.Get(ctx, k); err != nil || v != "v" {
		t.Fatalf("Get = %q, %v; want v", v, err)
	}
}

// TestScanGlobCharacters: glob characters in the scanned parts match
// themselves only, and a kind scan does not pick up ids that contain
// ":<kind>:".
func TestScanGlobCharacters(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s := open(t, redis.Config{URL: url, Prefix: testPrefix(t, url)})
	ctx := t.Context()
	set := func(k state.Key) {
		if err := s.Set(ctx, k, k.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	kind := "k" + randomHex()
	set(state.Key{Namespace: "n*", Tenant: "t?", Kind: kind, ID: "[a]"})
	set(state.Key{Namespace: "nx", Tenant: "tx", Kind: kind, ID: "b"})
	set(state.Key{Namespace: "n", Tenant: "t", Kind: "other", ID: "x:" + kind + ":y"})
	got, err := s.ScanKeys(ctx, "n*", "t?", kind, "[")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]state.KV{{Key: "n*:t?:" + kind + ":[a]", Value: "[a]"}}, got); diff != "" {
		t.Fatalf("ScanKeys (-want +got):\n%s", diff)
	}
	got, err = s.ScanKeysByKind(ctx, kind)
	if err != nil {
		t.Fatal(err)
	}
	want := []state.KV{{Key: "n*:t?:" + kind + ":[a]", Value: "[a]"}, {Key: "nx:tx:" + kind + ":b", Value: "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ScanKeysByKind (-want +got):\n%s", diff)
	}
}

// TestNoScriptFallback: after SCRIPT FLUSH (a restarted server) the
// scripted operations still work, falling back to EVAL.
func TestNoScriptFallback(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s := open(t, redis.Config{URL: url, Prefix: testPrefix(t, url)})
	raw := rawClient(t, url)
	ctx := t.Context()
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "x"}
	ok, err := s.CheckAndSet(ctx, k, "1", time.Minute)
	if err != nil || !ok {
		t.Fatalf("CheckAndSet after SCRIPT FLUSH = %v, %v; want true", ok, err)
	}
	// Concurrent calls after another flush go through pipelines.
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = s.IncrementWindow(ctx, state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "w"}, time.Minute)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "w"}); err != nil || v != "32" {
		t.Fatalf("Get = %q, %v; want 32", v, err)
	}
}

// TestIncrementRange: Increment and IncrementWindow on a value that is
// not an integer, or would leave the exactly representable range
// ±(2^53-1), fail without ErrUnavailable and leave the entry alone; within
// the range they are exact.
func TestIncrementRange(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s := open(t, redis.Config{URL: url, Prefix: testPrefix(t, url)})
	ctx := t.Context()
	cases := []struct {
		name, value string
		delta       int64
		want        int64 // 0: must fail
	}{
		{"not an integer", "abc", 1, 0},
		{"float", "1.5", 1, 0},
		{"empty", "", 1, 0},
		{"too large", "9007199254740992", 1, 0},
		{"result too large", "9007199254740990", 2, 0},
		{"largest exact", "9007199254740989", 2, 9007199254740991},
		{"most negative exact", "-9007199254740990", -1, -9007199254740991},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindCounter, ID: fmt.Sprint(i)}
			if err := s.Set(ctx, k, tc.value, 0); err != nil {
				t.Fatal(err)
			}
			got, err := s.Increment(ctx, k, tc.delta, 0)
			if tc.want != 0 {
				if err != nil || got != tc.want {
					t.Fatalf("Increment(%s, %d) = %d, %v; want %d", tc.value, tc.delta, got, err, tc.want)
				}
				return
			}
			if err == nil || errors.Is(err, state.ErrUnavailable) {
				t.Fatalf("Increment(%q) = %d, %v; want a non-unavailable error", tc.value, got, err)
			}
			if tc.delta == 1 {
				if _, _, err := s.IncrementWindow(ctx, k, time.Minute); err == nil || errors.Is(err, state.ErrUnavailable) {
					t.Fatalf("IncrementWindow(%q) = %v; want a non-unavailable error", tc.value, err)
				}
			}
			e, err := s.GetVersioned(ctx, k)
			if err != nil || e != (state.Entry{Value: tc.value, Version: 1}) {
				t.Fatalf("GetVersioned = %+v, %v; want %q@1", e, err, tc.value)
			}
		})
	}
}

// TestForeignValue: a key under the prefix holding something the store
// did not write is an error for Get, skipped by scans, never a panic or a
// wrong value.
func TestForeignValue(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	s := open(t, redis.Config{URL: url, Prefix: prefix})
	raw := rawClient(t, url)
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: "state", ID: "foreign"}
	if err := raw.Set(ctx, prefix+":ns:t:state:foreign", "no-version", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.HSet(ctx, prefix+":ns:t:state:hash", "v", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k); err == nil || errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Get of a foreign value = %v, want a plain error", err)
	}
	if err := s.Set(ctx, state.Key{Namespace: "ns", Tenant: "t", Kind: "state", ID: "ours"}, "v", 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.ScanKeys(ctx, "ns", "t", "state", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]state.KV{{Key: "ns:t:state:ours", Value: "v"}}, got); diff != "" {
		t.Fatalf("ScanKeys (-want +got):\n%s", diff)
	}
}

// TestCanceledContext: a call whose context has ended is not sent and
// returns the context's error, not ErrUnavailable.
func TestCanceledContext(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s := open(t, redis.Config{URL: url, Prefix: testPrefix(t, url)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "x"}
	_, err := s.CheckAndSet(ctx, k, "1", time.Minute)
	if !errors.Is(err, context.Canceled) || errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("CheckAndSet with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.Get(t.Context(), k); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get after the canceled CheckAndSet = %v, want ErrNotFound", err)
	}
}

// TestClosed: operations after Close fail with ErrUnavailable; Close is
// idempotent.
func TestClosed(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s, err := redis.New(t.Context(), redis.Config{URL: url, Prefix: testPrefix(t, url)})
	if err != nil {
		testenv.Unreachable(t, testenv.Redis, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Get(t.Context(), state.Key{Namespace: "ns", Tenant: "t", Kind: "k", ID: "x"})
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Get after Close = %v, want ErrUnavailable", err)
	}
}

// TestMigrateAndCheckSchema: Redis has no schema: Migrate is a no-op and
// CheckSchema only checks the server answers.
func TestMigrateAndCheckSchema(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	s := open(t, redis.Config{URL: url, Prefix: testPrefix(t, url)})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema: %v", err)
	}
}

// TestNewUnreachable: New on an address nobody listens on fails with an
// error that names redis and the address, wraps ErrUnavailable and never
// shows the URL's password.
func TestNewUnreachable(t *testing.T) {
	_, err := redis.New(t.Context(), redis.Config{URL: "redis://:secret@127.0.0.1:1", DialTimeout: time.Second})
	if err == nil {
		t.Fatal("New on 127.0.0.1:1 succeeded")
	}
	if !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("error %q does not wrap ErrUnavailable", err)
	}
	msg := err.Error()
	for _, want := range []string{"redis", "127.0.0.1:1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error %q shows the password", msg)
	}
}

// TestConfigErrorsHidePassword: a bad URL or setting is reported without
// the password, even when url.Parse itself fails.
func TestConfigErrorsHidePassword(t *testing.T) {
	cases := []struct {
		name string
		cfg  redis.Config
		want string // part of the message
	}{
		{"unparsable", redis.Config{URL: "redis://:secret@127.0.0.1:6379/%zz"}, "invalid url"},
		{"bad port", redis.Config{URL: "redis://:secret@127.0.0.1:port"}, "invalid url"},
		{"wrong scheme", redis.Config{URL: "http://:secret@127.0.0.1:6379"}, "scheme"},
		{"bad db", redis.Config{URL: "redis://:secret@127.0.0.1:6379/notanumber"}, "invalid url"},
		{"negative pool", redis.Config{URL: "redis://:secret@127.0.0.1:6379", PoolSize: -1}, "pool_size"},
		{"negative timeout", redis.Config{URL: "redis://:secret@127.0.0.1:6379", OpTimeout: -time.Second}, "op_timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redis.New(t.Context(), tc.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if errors.Is(err, state.ErrUnavailable) {
				t.Errorf("config error %q wraps ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
