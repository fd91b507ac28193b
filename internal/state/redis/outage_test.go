package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/redis"
	"github.com/acteon/acteon-go/internal/testenv"
)

// outageOpTimeout is the OpTimeout of the stores behind the proxy. hangBound
// is how long an operation may take during an outage before the test calls
// it a hang: far above OpTimeout, so a slow machine does not fail the test,
// far below "forever".
const (
	outageOpTimeout = 500 * time.Millisecond
	hangBound       = 10 * outageOpTimeout
)

// ops are the operations the outage tests try; each must fail with
// ErrUnavailable while the server is away.
func outageOps(s *redis.Store, i int) map[string]func(context.Context) error {
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: fmt.Sprint("k", i)}
	return map[string]func(context.Context) error{
		"CheckAndSet": func(ctx context.Context) error { _, err := s.CheckAndSet(ctx, k, "1", time.Minute); return err },
		"IncrementWindow": func(ctx context.Context) error {
			_, _, err := s.IncrementWindow(ctx, k, time.Minute)
			return err
		},
		"Get":      func(ctx context.Context) error { _, err := s.Get(ctx, k); return err },
		"Delete":   func(ctx context.Context) error { _, err := s.Delete(ctx, k); return err },
		"Set":      func(ctx context.Context) error { return s.Set(ctx, k, "v", 0) },
		"ScanKeys": func(ctx context.Context) error { _, err := s.ScanKeys(ctx, "ns", "t", "dedup", ""); return err },
		"TryLock":  func(ctx context.Context) error { _, err := s.TryLock(ctx, k.ID, time.Minute); return err },
		"CheckSchema": func(ctx context.Context) error {
			return s.CheckSchema(ctx)
		},
	}
}

// wantUnavailable runs every op, sequentially and 20 at once, and checks
// each fails with ErrUnavailable without hanging.
func wantUnavailable(t *testing.T, s *redis.Store) {
	t.Helper()
	check := func(name string, op func(context.Context) error) error {
		start := time.Now()
		err := op(context.Background())
		took := time.Since(start)
		if !errors.Is(err, state.ErrUnavailable) {
			return fmt.Errorf("%s during the outage = %v, want ErrUnavailable", name, err)
		}
		if took > hangBound {
			return fmt.Errorf("%s took %s to fail (OpTimeout %s)", name, took, outageOpTimeout)
		}
		return nil
	}
	for name, op := range outageOps(s, 0) {
		if err := check(name, op); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			for name, op := range outageOps(s, i) {
				if err := check(name, op); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

// wantWorking checks the store serves requests again (waiting a little
// for the pool to reconnect) and that a CheckAndSet is exact.
func wantWorking(t *testing.T, s *redis.Store, id string) {
	t.Helper()
	k := state.Key{Namespace: "ns", Tenant: "t", Kind: state.KindDedup, ID: id}
	err := eventually(10*time.Second, func() error {
		_, err := s.Get(context.Background(), k)
		if errors.Is(err, state.ErrNotFound) {
			return nil
		}
		if err == nil {
			return errWrongResult
		}
		return err
	})
	if err != nil {
		t.Fatalf("store did not recover: %v", err)
	}
	for i, want := range []bool{true, false} {
		ok, err := s.CheckAndSet(context.Background(), k, "1", time.Minute)
		if err != nil || ok != want {
			t.Fatalf("CheckAndSet #%d after recovery = %v, %v; want %v", i+1, ok, err, want)
		}
	}
}

// TestServerGoesAway: a store behind a proxy that is cut fails every
// operation promptly with ErrUnavailable, and serves again, without being
// recreated, once the proxy is back.
func TestServerGoesAway(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	p := newProxy(t, url)
	s := open(t, redis.Config{URL: p.url(url), Prefix: prefix, OpTimeout: outageOpTimeout, DialTimeout: outageOpTimeout})
	wantWorking(t, s, "before")

	p.cut()
	wantUnavailable(t, s)

	p.start(t, false)
	wantWorking(t, s, "after")
}

// TestServerHangs: a server that accepts connections but never answers
// makes operations fail with ErrUnavailable after about OpTimeout, not
// hang; the store recovers when the server answers again.
func TestServerHangs(t *testing.T) {
	url := testenv.URL(t, testenv.Redis)
	prefix := testPrefix(t, url)
	p := newProxy(t, url)
	s := open(t, redis.Config{URL: p.url(url), Prefix: prefix, OpTimeout: outageOpTimeout, DialTimeout: outageOpTimeout})
	wantWorking(t, s, "before")

	p.cut()
	p.start(t, true)
	wantUnavailable(t, s)

	p.cut()
	p.start(t, false)
	wantWorking(t, s, "after")
}
