package dynamodb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/statetest"
	"github.com/acteon/acteon-go/internal/testenv"
)

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const testOpTimeout = 30 * time.Second

// newTable creates a table with a unique name on the test server, drops it
// when the test ends, and returns a Config for it.
func newTable(tb testing.TB) Config {
	tb.Helper()
	url := testenv.URL(tb, testenv.DynamoDB)
	// The shared emulator is single-threaded and the machine is busy: a
	// generous operation timeout keeps the tests about behaviour, not speed.
	cfg := Config{URL: url, TableName: "acteon_test_" + randomHex(), OpTimeout: testOpTimeout}
	s, err := New(context.Background(), cfg)
	if err != nil {
		testenv.Unreachable(tb, testenv.DynamoDB, err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.DropTable(context.Background()); err != nil {
			tb.Errorf("DropTable: %v", err)
		}
		s.Close()
	})
	return cfg
}

func open(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the shared suite against real time: Advance sleeps.
func TestConformance(t *testing.T) {
	cfg := newTable(t)
	statetest.Run(t, statetest.Harness{
		New:     func(t *testing.T) state.Store { return open(t, cfg) },
		Advance: func(_ *testing.T, d time.Duration) { time.Sleep(d) },
		// dynalite serves one request at a time.
		MaxParallel: 3,
	})
}

// TestConformanceFakeClock runs the suite again with a fake clock per
// subtest: every expiry condition is evaluated against the client's now, so
// moving that clock is all it takes, and expiry boundaries are exact.
func TestConformanceFakeClock(t *testing.T) {
	cfg := newTable(t)
	var clocks sync.Map // *testing.T → *clock.Fake
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			c := clock.NewFake(time.Now())
			clocks.Store(t, c)
			cfg := cfg
			cfg.Clock = c
			return open(t, cfg)
		},
		Advance: func(t *testing.T, d time.Duration) {
			c, _ := clocks.Load(t)
			c.(*clock.Fake).Advance(d)
		},
		MaxParallel: 3,
	})
}

func TestCheckAndSetRaceTwoStores(t *testing.T) {
	cfg := newTable(t)
	stores := []*Store{open(t, cfg), open(t, cfg)}
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "race-" + randomHex()}
	const racers = 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		errs  []error
		start = make(chan struct{})
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			ok, err := stores[i%2].CheckAndSet(t.Context(), k, fmt.Sprint(i), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				wins++
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if wins != 1 {
		t.Fatalf("%d of %d CheckAndSet calls through two stores won, want exactly 1", wins, racers)
	}
}

func TestIncrementWindowTwoStores(t *testing.T) {
	cfg := newTable(t)
	stores := []*Store{open(t, cfg), open(t, cfg)}
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "rule-" + randomHex()}
	const goroutines, hits = 16, 10
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts []int64
		errs   []error
	)
	for i := range goroutines {
		wg.Go(func() {
			for range hits {
				n, left, err := stores[i%2].IncrementWindow(t.Context(), k, time.Minute)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if left <= 0 || left > time.Minute {
					errs = append(errs, fmt.Errorf("remaining %s outside (0, 1m]", left))
				}
				counts = append(counts, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(counts)
	want := make([]int64, goroutines*hits)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Fatalf("counts returned across two stores (-want +got):\n%s", diff)
	}
}

func TestNewUnreachable(t *testing.T) {
	_, err := New(t.Context(), Config{URL: "http://127.0.0.1:1", OpTimeout: time.Second})
	if err == nil {
		t.Fatal("New against a closed port succeeded")
	}
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("New error %v does not wrap state.ErrUnavailable", err)
	}
	for _, want := range []string{"dynamodb", "http://127.0.0.1:1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New error %q does not name %q", err, want)
		}
	}
}

func TestNewRedactsUserInfo(t *testing.T) {
	_, err := New(t.Context(), Config{URL: "http://user:s3cret@127.0.0.1:1", OpTimeout: time.Second})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("New error = %v; want an error without the password", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; empty means valid
	}{
		{"zero", Config{}, ""},
		{"local", Config{URL: "http://127.0.0.1:4567", TableName: "t_1.x-y"}, ""},
		{"bad url", Config{URL: "127.0.0.1:4567"}, "url"},
		{"prefix colon", Config{Prefix: "a:b"}, "prefix"},
		{"short table", Config{TableName: "ab"}, "table_name"},
		{"bad table", Config{TableName: "a b c"}, "table_name"},
		{"negative timeout", Config{OpTimeout: -time.Second}, "op_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestCheckSchemaAndMigrate(t *testing.T) {
	url := testenv.URL(t, testenv.DynamoDB)
	cfg := Config{URL: url, TableName: "acteon_test_" + randomHex()}
	s, err := New(t.Context(), cfg)
	if err != nil {
		testenv.Unreachable(t, testenv.DynamoDB, err)
	}
	defer s.Close()
	err = s.CheckSchema(t.Context())
	if err == nil || !strings.Contains(err.Error(), cfg.TableName) {
		t.Fatalf("CheckSchema before Migrate = %v, want an error naming table %s", err, cfg.TableName)
	}
	// An operation on the missing table is an error, not ErrUnavailable.
	if _, err := s.Get(t.Context(), state.Key{Namespace: "n", Tenant: "t", Kind: "k", ID: "i"}); err == nil || errors.Is(err, state.ErrUnavailable) || errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get on a missing table = %v, want a schema error", err)
	}
	t.Cleanup(func() { _ = s.DropTable(context.Background()) })
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
}

// TestRepresentation checks the rules that keep Set, Get and Increment
// coherent on one key whatever wrote it last.
func TestRepresentation(t *testing.T) {
	s := open(t, newTable(t))
	ctx := t.Context()
	key := func(id string) state.Key {
		return state.Key{Namespace: "ns" + randomHex(), Tenant: "t", Kind: state.KindCounter, ID: id}
	}
	t.Run("non-canonical decimal", func(t *testing.T) {
		k := key("a")
		mustSet(t, s, k, "007", 0)
		if n, err := s.Increment(ctx, k, 1, 0); err != nil || n != 8 {
			t.Fatalf("Increment after Set(007) = %d, %v; want 8", n, err)
		}
		wantGet(t, s, k, "8", 2)
	})
	t.Run("not an integer", func(t *testing.T) {
		k := key("b")
		mustSet(t, s, k, "abc", 0)
		if _, err := s.Increment(ctx, k, 1, 0); err == nil || !strings.Contains(err.Error(), "not an integer") {
			t.Fatalf("Increment of abc = %v, want a not-an-integer error", err)
		}
		wantGet(t, s, k, "abc", 1)
	})
	t.Run("set after increment", func(t *testing.T) {
		k := key("c")
		if _, err := s.Increment(ctx, k, 5, 0); err != nil {
			t.Fatal(err)
		}
		mustSet(t, s, k, "text", 0)
		wantGet(t, s, k, "text", 2)
		kvs, err := s.ScanKeys(ctx, k.Namespace, k.Tenant, k.Kind, "")
		if err != nil || len(kvs) != 1 || kvs[0].Value != "text" {
			t.Fatalf("ScanKeys = %v, %v; want the string value", kvs, err)
		}
	})
	t.Run("window on a permanent counter", func(t *testing.T) {
		k := key("d")
		mustSet(t, s, k, "5", 0)
		n, left, err := s.IncrementWindow(ctx, k, time.Minute)
		if err != nil || n != 6 || left != 0 {
			t.Fatalf("IncrementWindow on permanent 5 = %d, %s, %v; want 6, 0", n, left, err)
		}
		n, left, err = s.IncrementWindow(ctx, k, time.Minute)
		if err != nil || n != 7 || left != 0 {
			t.Fatalf("second IncrementWindow = %d, %s, %v; want 7, 0", n, left, err)
		}
		wantGet(t, s, k, "7", 3)
	})
	t.Run("empty value", func(t *testing.T) {
		k := key("e")
		if ok, err := s.CheckAndSet(ctx, k, "", 0); err != nil || !ok {
			t.Fatalf("CheckAndSet(empty) = %v, %v", ok, err)
		}
		wantGet(t, s, k, "", 1)
	})
}

func mustSet(t *testing.T, s *Store, k state.Key, v string, ttl time.Duration) {
	t.Helper()
	if err := s.Set(t.Context(), k, v, ttl); err != nil {
		t.Fatalf("Set(%s, %q): %v", k, v, err)
	}
}

func wantGet(t *testing.T, s *Store, k state.Key, v string, ver uint64) {
	t.Helper()
	got, err := s.GetVersioned(t.Context(), k)
	if err != nil || got != (state.Entry{Value: v, Version: ver}) {
		t.Fatalf("GetVersioned(%s) = %+v, %v; want %q@%d", k, got, err, v, ver)
	}
}

// TestMillisecondExpiry checks that expiry has millisecond granularity:
// an entry with a 1.5 s ttl is there 1499 ms later and gone at 1500 ms.
func TestMillisecondExpiry(t *testing.T) {
	cfg := newTable(t)
	c := clock.NewFake(time.UnixMilli(1_700_000_000_000))
	cfg.Clock = c
	s := open(t, cfg)
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: "k", ID: "ms"}
	mustSet(t, s, k, "v", 1500*time.Millisecond)
	c.Advance(1499 * time.Millisecond)
	if _, err := s.Get(t.Context(), k); err != nil {
		t.Fatalf("Get at 1499 ms: %v", err)
	}
	if ok, _ := s.CheckAndSet(t.Context(), k, "w", 0); ok {
		t.Fatal("CheckAndSet at 1499 ms replaced a live entry")
	}
	c.Advance(time.Millisecond)
	if _, err := s.Get(t.Context(), k); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get at 1500 ms = %v, want ErrNotFound", err)
	}
	if ok, err := s.CheckAndSet(t.Context(), k, "w", 0); err != nil || !ok {
		t.Fatalf("CheckAndSet at 1500 ms = %v, %v; want true", ok, err)
	}
}

// TestPurge checks that Purge deletes expired entries, expired locks and
// unreferenced timeout-index items older than a minute, and nothing live.
func TestPurge(t *testing.T) {
	cfg := newTable(t)
	c := clock.NewFake(time.Now())
	cfg.Clock = c
	s := open(t, cfg)
	ctx := t.Context()
	k := func(id string) state.Key { return state.Key{Namespace: "ns", Tenant: "t", Kind: "k", ID: id} }
	mustSet(t, s, k("short1"), "v", time.Second)
	mustSet(t, s, k("short2"), "v", time.Second)
	mustSet(t, s, k("long"), "v", time.Hour)
	mustSet(t, s, k("forever"), "v", 0)
	if _, err := s.TryLock(ctx, "job", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexTimeout(ctx, k("due"), 1000); err != nil {
		t.Fatal(err)
	}
	// A crashed IndexTimeout: the index item was written, its pointer not.
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: map[string]types.AttributeValue{
		attrPK: str(s.pkIndex), attrSK: str(indexSK(500, k("orphan").String())),
		attrKey: str(k("orphan").String()), attrTok: str("x"), attrDeadline: num(500), attrWritten: num(s.nowMs()),
	}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetExpiredTimeouts(ctx, 2000); err != nil || !slices.Equal(got, []string{k("due").String()}) {
		t.Fatalf("GetExpiredTimeouts = %v, %v; want only the indexed key, not the orphan", got, err)
	}
	c.Advance(2 * time.Minute)
	n, err := s.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 { // two entries, one lock, one orphan index item
		t.Fatalf("Purge removed %d items, want 4", n)
	}
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: s.table})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, m := range out.Items {
		left = append(left, sOf(m, attrPK)+" "+sOf(m, attrSK))
	}
	slices.Sort(left)
	want := []string{
		"acteon:ns:t k:forever",
		"acteon:ns:t k:long",
		"acteon:timeout_index " + indexSK(1000, k("due").String()),
		"acteon:timeout_keys " + k("due").String(),
	}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Fatalf("items after Purge (-want +got):\n%s", diff)
	}
}

// proxy is a TCP proxy to target that can be cut (listener closed, every
// connection reset) and restored on the same address.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.cut(); p.wg.Wait() })
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
	})
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestOutage cuts the connection to the server under a live Store: every
// kind of operation fails with ErrUnavailable, and once the server is back
// the same Store works again without being rebuilt.
func TestOutage(t *testing.T) {
	cfg := newTable(t)
	target := strings.TrimPrefix(cfg.URL, "http://")
	p := startProxy(t, target)
	cfg.URL = "http://" + p.addr
	cfg.OpTimeout = time.Second
	s := open(t, cfg)
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "outage"}
	if ok, err := s.CheckAndSet(ctx, k, "1", time.Minute); err != nil || !ok {
		t.Fatalf("CheckAndSet before the outage = %v, %v", ok, err)
	}

	p.cut()
	ops := map[string]func() error{
		"CheckAndSet": func() error { _, err := s.CheckAndSet(ctx, k, "1", time.Minute); return err },
		"Get":         func() error { _, err := s.Get(ctx, k); return err },
		"Delete":      func() error { _, err := s.Delete(ctx, k); return err },
		"IncrementWindow": func() error {
			_, _, err := s.IncrementWindow(ctx, k, time.Minute)
			return err
		},
		"ScanKeys": func() error { _, err := s.ScanKeys(ctx, "ns", "t", "dedup", ""); return err },
		"TryLock":  func() error { _, err := s.TryLock(ctx, "l", time.Minute); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s during the outage = %v, want ErrUnavailable", name, err)
		}
	}

	p.restore(t)
	if ok, err := s.CheckAndSet(ctx, k, "1", time.Minute); err != nil || ok {
		t.Fatalf("CheckAndSet after the outage = %v, %v; want false (the marker survived), nil", ok, err)
	}
	if v, err := s.Get(ctx, k); err != nil || v != "1" {
		t.Fatalf("Get after the outage = %q, %v", v, err)
	}
}

// TestHungServer points a Store at a listener that accepts connections and
// never answers: operations fail with ErrUnavailable once OpTimeout passes
// instead of hanging.
func TestHungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	_, err = New(t.Context(), Config{URL: "http://" + ln.Addr().String(), OpTimeout: 200 * time.Millisecond})
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("New against a hung server = %v, want ErrUnavailable", err)
	}
}

// TestCallerCancel checks that the caller's own cancellation is reported as
// such, not as an outage.
func TestCallerCancel(t *testing.T) {
	s := open(t, newTable(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Get(ctx, state.Key{Namespace: "n", Tenant: "t", Kind: "k", ID: "i"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Get with a cancelled context = %v, want context.Canceled and not ErrUnavailable", err)
	}
}

// race runs f in n goroutines released together and returns the joined
// errors.
func race(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errors.Join(errs...)
}

// TestWindowRestartRace lets 20 goroutines on two stores hit a window that
// has just ended: exactly one starts the new window, and the counts 1..20
// are each returned once.
func TestWindowRestartRace(t *testing.T) {
	cfg := newTable(t)
	c := clock.NewFake(time.Now())
	cfg.Clock = c
	stores := []*Store{open(t, cfg), open(t, cfg)}
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "restart"}
	for range 3 {
		if _, _, err := stores[0].IncrementWindow(t.Context(), k, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(time.Second)
	const n = 20
	counts := make([]int64, n)
	err := race(n, func(i int) error {
		var err error
		counts[i], _, err = stores[i%2].IncrementWindow(t.Context(), k, time.Second)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(counts)
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Fatalf("counts after the window ended (-want +got):\n%s", diff)
	}
}

// TestIncrementConvertRace races Increment on a value written by Set as a
// string: every increment counts exactly once while the entry is converted
// to a counter.
func TestIncrementConvertRace(t *testing.T) {
	cfg := newTable(t)
	stores := []*Store{open(t, cfg), open(t, cfg)}
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindCounter, ID: "convert"}
	mustSet(t, stores[0], k, "41", 0)
	const n = 20
	err := race(n, func(i int) error {
		_, err := stores[i%2].Increment(t.Context(), k, 2, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantGet(t, stores[0], k, fmt.Sprint(41+2*n), 1+n)
}

// TestIndexTimeoutRace re-indexes one key concurrently with different
// deadlines: afterwards the key is due exactly once, at one of them.
func TestIndexTimeoutRace(t *testing.T) {
	cfg := newTable(t)
	stores := []*Store{open(t, cfg), open(t, cfg)}
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: "event_timeout", ID: "fp"}
	const n = 10
	err := race(n, func(i int) error {
		return stores[i%2].IndexTimeout(t.Context(), k, int64(1000+i))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := stores[0].GetExpiredTimeouts(t.Context(), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{k.String()}) {
		t.Fatalf("GetExpiredTimeouts after concurrent re-indexing = %v, want the key once", got)
	}
	if err := stores[1].RemoveTimeoutIndex(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	if got, err := stores[0].GetExpiredTimeouts(t.Context(), 5000); err != nil || len(got) != 0 {
		t.Fatalf("GetExpiredTimeouts after removal = %v, %v; want none", got, err)
	}
}

// lossyProxy forwards requests to the server and, while drop > 0 for the
// request's X-Amz-Target, lets the server apply it but cuts the connection
// instead of passing the answer back: the client cannot know whether its
// write happened.
type lossyProxy struct {
	mu     sync.Mutex
	drop   map[string]int // target suffix ("PutItem") → answers still to lose
	target string
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.Path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:]
	p.mu.Lock()
	lose := p.drop[op] > 0
	if lose {
		p.drop[op]--
	}
	p.mu.Unlock()
	if lose {
		io.Copy(io.Discard, resp.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// TestLostAnswer checks that a write applied by the server whose answer
// never arrives gives the right result: CheckAndSet and TryLock retry and
// recognise their own write (so the only caller is not told it is a
// duplicate of itself), and IncrementWindow reports the failure instead of
// counting twice.
func TestLostAnswer(t *testing.T) {
	cfg := newTable(t)
	p := &lossyProxy{target: cfg.URL, drop: map[string]int{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	direct := open(t, cfg)
	lossyCfg := cfg
	lossyCfg.URL = srv.URL
	s := open(t, lossyCfg)
	ctx := t.Context()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: "lost"}

	p.mu.Lock()
	p.drop["PutItem"] = 1
	p.mu.Unlock()
	if ok, err := s.CheckAndSet(ctx, k, "1", time.Minute); err != nil || !ok {
		t.Fatalf("CheckAndSet whose first answer was lost = %v, %v; want true (its own write)", ok, err)
	}
	if ok, err := direct.CheckAndSet(ctx, k, "1", time.Minute); err != nil || ok {
		t.Fatalf("second CheckAndSet = %v, %v; want false", ok, err)
	}

	p.mu.Lock()
	p.drop["PutItem"] = 1
	p.mu.Unlock()
	l, err := s.TryLock(ctx, "lost-lock", time.Minute)
	if err != nil {
		t.Fatalf("TryLock whose first answer was lost: %v; want the lock", err)
	}
	if held, err := l.Held(ctx); err != nil || !held {
		t.Fatalf("Held = %v, %v; want true", held, err)
	}

	w := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindRateLimit, ID: "lost"}
	p.mu.Lock()
	p.drop["UpdateItem"] = 1
	p.mu.Unlock()
	if _, _, err := s.IncrementWindow(ctx, w, time.Minute); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("IncrementWindow whose answer was lost = %v, want ErrUnavailable", err)
	}
	if n, _, err := s.IncrementWindow(ctx, w, time.Minute); err != nil || n != 2 {
		t.Fatalf("next IncrementWindow = %d, %v; want 2 (the lost hit counted once)", n, err)
	}
}
