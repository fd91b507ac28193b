package postgres

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBatcherDeliversEveryResult runs many callers through a batcher whose
// statement is a fake that echoes the key: every caller gets exactly its own
// answer, no batch exceeds max or par in flight, and requests are coalesced.
func TestBatcherDeliversEveryResult(t *testing.T) {
	const callers, calls, par, maxN = 64, 200, 3, 16
	var inFlight, peak, batches, batched atomic.Int64
	exec := func(ctx context.Context, batch []*req) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if len(batch) > maxN {
			t.Errorf("batch of %d, max %d", len(batch), maxN)
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("batch context has no deadline")
		}
		batches.Add(1)
		batched.Add(int64(len(batch)))
		time.Sleep(50 * time.Microsecond) // a round trip
		for _, r := range batch {
			r.value = "echo:" + r.key
			r.ok = true
		}
	}
	b := newBatcher(par, maxN, exec)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range calls {
				r := getReq()
				r.key = strconv.Itoa(c) + "/" + strconv.Itoa(i)
				r.deadline = time.Now().Add(time.Minute)
				b.do(r)
				if !r.ok || r.value != "echo:"+r.key || r.err != nil {
					t.Errorf("caller %d call %d: got %+v", c, i, r)
				}
				putReq(r)
			}
		})
	}
	wg.Wait()
	if got := batched.Load(); got != callers*calls {
		t.Fatalf("%d requests executed, want %d", got, callers*calls)
	}
	if p := peak.Load(); p > par {
		t.Fatalf("%d batches in flight at once, want at most %d", p, par)
	}
	if batches.Load() == callers*calls {
		t.Fatalf("no request was coalesced (%d batches)", batches.Load())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running != 0 || len(b.queue) != 0 {
		t.Fatalf("batcher not idle after the run: running %d, queued %d", b.running, len(b.queue))
	}
	t.Logf("%d requests in %d batches", batched.Load(), batches.Load())
}

// TestBatcherExpiredMembers: a request whose deadline passed while queued
// fails with DeadlineExceeded and is not sent; the others are.
func TestBatcherExpiredMembers(t *testing.T) {
	var sent []string
	b := newBatcher(1, 8, func(_ context.Context, batch []*req) {
		for _, r := range batch {
			sent = append(sent, r.key)
		}
	})
	old := &req{key: "old", deadline: time.Now().Add(-time.Second), wake: make(chan struct{}, 1)}
	fresh := &req{key: "fresh", deadline: time.Now().Add(time.Minute), wake: make(chan struct{}, 1)}
	b.running = 1 // as do would have set it
	b.run([]*req{old, fresh}, fresh)
	if len(sent) != 1 || sent[0] != "fresh" {
		t.Fatalf("sent %v, want [fresh]", sent)
	}
	if old.err != context.DeadlineExceeded {
		t.Fatalf("expired member err = %v, want DeadlineExceeded", old.err)
	}
	select {
	case <-old.wake:
	default:
		t.Fatal("expired member was not woken")
	}
	select {
	case <-fresh.wake:
		t.Fatal("the running goroutine's own request was signalled")
	default:
	}
}
