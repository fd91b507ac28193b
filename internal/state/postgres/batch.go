package postgres

import (
	"context"
	"sync"
	"time"
)

// maxBatch caps the rows of one batched statement.
const maxBatch = 512

// req is one queued call of a batched operation (CheckAndSet or
// IncrementWindow).
type req struct {
	// inputs
	key      string
	value    string // CheckAndSet
	us       int64  // ttl or window, microseconds
	deadline time.Time

	// outputs
	ok     bool
	count  int64
	remain int64 // microseconds
	err    error

	// lead is set when the request's goroutine must run batch; wake is
	// signalled when the request is done or must lead.
	lead  bool
	batch []*req
	wake  chan struct{}
}

var reqPool = sync.Pool{New: func() any { return &req{wake: make(chan struct{}, 1)} }}

func getReq() *req { return reqPool.Get().(*req) }

func putReq(r *req) {
	*r = req{wake: r.wake}
	reqPool.Put(r)
}

// batcher coalesces concurrent calls into multi-row statements without ever
// waiting on a timer.
//
// A caller that finds fewer than par batches in flight runs a batch itself
// at once (alone, if nobody is queued: the sequential case costs no
// goroutine switch). Otherwise it queues and sleeps. A goroutine that
// finishes a batch hands the whole queue to the first queued caller, which
// wakes and runs it as the next batch; so under load each statement carries
// everything that arrived during the previous round trip, and no goroutine
// ever runs more than the batch its own request is in.
type batcher struct {
	par  int
	max  int
	exec func(ctx context.Context, batch []*req)

	mu      sync.Mutex
	queue   []*req
	running int
}

func newBatcher(par, max int, exec func(context.Context, []*req)) *batcher {
	return &batcher{par: par, max: max, exec: exec}
}

// do runs r (alone or with others) and returns when r's outputs are set.
func (b *batcher) do(r *req) {
	b.mu.Lock()
	if b.running < b.par {
		b.running++
		var batch []*req
		if len(b.queue) == 0 {
			batch = []*req{r}
		} else {
			batch = append(b.take(), r)
		}
		b.mu.Unlock()
		b.run(batch, r)
		return
	}
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	<-r.wake
	if r.lead {
		b.run(r.batch, r)
	}
}

// take removes up to max requests from the queue; the caller holds mu.
func (b *batcher) take() []*req {
	n := min(len(b.queue), b.max)
	batch := make([]*req, n)
	copy(batch, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return batch
}

// run executes batch, which contains self (the request of the calling
// goroutine), passes the queue on and wakes the other members.
func (b *batcher) run(batch []*req, self *req) {
	// Members whose deadline has passed while queued fail on their own;
	// the statement gets the latest deadline of the others, so that one
	// caller in a hurry cannot fail the rest.
	now := time.Now()
	live := batch
	var deadline time.Time
	for i, r := range batch {
		if !r.deadline.After(now) {
			if len(live) == len(batch) {
				live = append([]*req(nil), batch[:i]...)
			}
			r.err = context.DeadlineExceeded
			continue
		}
		if len(live) != len(batch) {
			live = append(live, r)
		}
		if r.deadline.After(deadline) {
			deadline = r.deadline
		}
	}
	if len(live) > 0 {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		b.exec(ctx, live)
		cancel()
	}

	b.mu.Lock()
	var next []*req
	if len(b.queue) > 0 {
		next = b.take()
	} else {
		b.running--
	}
	b.mu.Unlock()
	if next != nil {
		next[0].lead = true
		next[0].batch = next
		next[0].wake <- struct{}{}
	}
	for _, r := range batch {
		if r != self {
			r.wake <- struct{}{}
		}
	}
}
