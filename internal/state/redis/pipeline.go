package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The pipeliner coalesces concurrent single-command operations into
// pipelines (auto-pipelining) without ever waiting for a timer:
//
//   - A caller that finds fewer than max batches in flight becomes an
//     executor itself: it takes whatever other callers have queued, appends
//     its own command, sends them as one pipeline (or as a plain command
//     when alone), hands every other caller its reply and returns. Under no
//     load that is exactly one direct round trip on the caller's goroutine,
//     with no goroutine hand-off.
//   - A caller that finds max batches in flight appends its command to the
//     queue and waits. Batching thus happens while round trips are in
//     flight: whatever queued up during one round trip leaves in the next.
//   - An executor that finishes while commands are queued keeps its slot
//     and passes it to a fresh goroutine that drains the queue, batch after
//     batch, until it is empty; the caller that was executing returns at
//     once with its own reply.
//
// Timeouts: every command has a deadline of its enqueue time + opTimeout. A
// batch is sent with the deadline of its oldest command (go-redis applies
// it to the socket through ContextTimeoutEnabled), and a command whose
// deadline has passed before it is sent fails without being sent. So no
// call waits much longer than opTimeout, whatever the server does.
//
// Cancellation: a caller whose ctx ends while its command is still queued
// withdraws it (it is never sent) and returns ctx's error. Once the
// command is on the wire the caller waits for its reply (bounded by the
// deadline), so the caller never has to guess whether a write happened.
type pipeliner struct {
	client    *goredis.Client
	opTimeout time.Duration
	max       int // batches in flight at most
	maxBatch  int // commands per batch at most

	mu       sync.Mutex
	queue    []*call
	inflight int
	closed   bool
	wg       sync.WaitGroup // one per batch slot in use

	batches, sent atomic.Int64 // round trips made, commands sent
}

// call is one queued command. Calls are pooled; a call whose caller gave
// up is never returned to the pool (its executor may still touch it).
type call struct {
	cmd   *goredis.Cmd
	sc    *script // non-nil: cmd is an EVALSHA of sc, retried as EVAL on NOSCRIPT
	enq   time.Time
	state atomic.Int32
	done  chan struct{} // buffered(1): the executor never blocks on it
	dctx  deadlineCtx   // the batch context when this call is a batch's oldest
}

const (
	stateQueued int32 = iota
	stateTaken
	stateAbandoned
)

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall() *call { return callPool.Get().(*call) }

func putCall(c *call) {
	c.cmd, c.sc = nil, nil
	callPool.Put(c)
}

// errClosed is returned for calls made after Close.
var errClosed = errors.New("store is closed")

// errOpTimeout is set on a command whose deadline passed before it could
// be sent.
var errOpTimeout = errors.New("operation timed out before it could be sent")

// deadlineCtx is a context with a deadline but no cancellation and no
// timer: go-redis only reads Deadline to set socket deadlines, so a timer
// per batch (context.WithDeadline) would be wasted work.
type deadlineCtx struct{ d time.Time }

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.d, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return nil }
func (c *deadlineCtx) Err() error                  { return nil }
func (c *deadlineCtx) Value(any) any               { return nil }

// do sends c.cmd and waits for its reply, which is then in c.cmd (errors
// included). It returns an error only when the command was never sent:
// the store is closed, or ctx ended first (ctx's error). After an error
// the caller must not return c to the pool.
func (p *pipeliner) do(ctx context.Context, c *call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.enq = time.Now()
	c.state.Store(stateQueued)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errClosed
	}
	if p.inflight < p.max {
		p.inflight++
		p.wg.Add(1)
		var one [1]*call
		batch := p.takeLocked(one[:0], c)
		p.mu.Unlock()
		p.exec(batch, c, c.enq)
		p.handOff()
		return nil
	}
	p.queue = append(p.queue, c)
	p.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		if c.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return ctx.Err()
		}
		<-c.done // already on the wire: wait for the real reply
		return nil
	}
}

// takeLocked moves up to maxBatch queued calls (oldest first) into batch,
// then appends self if not nil. p.mu must be held.
func (p *pipeliner) takeLocked(batch []*call, self *call) []*call {
	room := p.maxBatch
	if self != nil {
		room--
	}
	n := min(len(p.queue), room)
	if n > 0 {
		if cap(batch)-len(batch) < n+1 {
			batch = make([]*call, 0, n+1)
		}
		batch = append(batch, p.queue[:n]...)
		rest := copy(p.queue, p.queue[n:])
		clear(p.queue[rest:])
		p.queue = p.queue[:rest]
	}
	if self != nil {
		batch = append(batch, self)
	}
	return batch
}

// handOff is called by a caller that executed a batch: if commands are
// queued it passes its slot to a draining goroutine, else frees the slot.
func (p *pipeliner) handOff() {
	p.mu.Lock()
	if len(p.queue) == 0 {
		p.inflight--
		p.mu.Unlock()
		p.wg.Done()
		return
	}
	batch := p.takeLocked(nil, nil)
	p.mu.Unlock()
	go p.drain(batch)
}

// drain executes batches until the queue is empty, then frees its slot.
func (p *pipeliner) drain(batch []*call) {
	for {
		p.exec(batch, nil, time.Now())
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.inflight--
			p.mu.Unlock()
			p.wg.Done()
			return
		}
		batch = p.takeLocked(batch[:0], nil)
		p.mu.Unlock()
	}
}

// exec sends the batch's commands in one round trip and signals every call
// but self. Abandoned calls are dropped, expired ones (enqueued an
// opTimeout or more before now) failed unsent.
func (p *pipeliner) exec(batch []*call, self *call, now time.Time) {
	live := batch[:0]
	for _, c := range batch {
		if c != self && !c.state.CompareAndSwap(stateQueued, stateTaken) {
			continue // abandoned by its caller
		}
		if now.Sub(c.enq) >= p.opTimeout {
			c.cmd.SetErr(errOpTimeout)
			if c != self {
				c.done <- struct{}{}
			}
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx := &live[0].dctx
	ctx.d = live[0].enq.Add(p.opTimeout)
	p.send(ctx, live, false)
	p.batches.Add(1)
	p.sent.Add(int64(len(live)))
	retry := 0
	for _, c := range live {
		if c.sc != nil && goredis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			c.cmd = evalFallback(c.cmd, c.sc)
			retry++
		}
	}
	if retry > 0 {
		p.send(ctx, live, true)
	}
	for _, c := range live {
		if c != self {
			c.done <- struct{}{}
		}
	}
}

// send writes the calls' commands: one plain command, or a pipeline. With
// onlyEval it sends only the commands rewritten to EVAL.
func (p *pipeliner) send(ctx context.Context, calls []*call, onlyEval bool) {
	if len(calls) == 1 {
		if !onlyEval || isEval(calls[0].cmd) {
			_ = p.client.Process(ctx, calls[0].cmd)
		}
		return
	}
	pipe := p.client.Pipeline()
	for _, c := range calls {
		if !onlyEval || isEval(c.cmd) {
			_ = pipe.Process(ctx, c.cmd)
		}
	}
	_, _ = pipe.Exec(ctx)
}

func isEval(cmd *goredis.Cmd) bool {
	a := cmd.Args()
	return len(a) > 0 && a[0] == "eval"
}

// evalFallback turns EVALSHA sha n keys... args... into EVAL src n ...
func evalFallback(cmd *goredis.Cmd, sc *script) *goredis.Cmd {
	a := cmd.Args()
	args := make([]any, len(a))
	copy(args, a)
	args[0], args[1] = "eval", sc.src
	return goredis.NewCmd(context.Background(), args...)
}

// close stops accepting calls and waits until every batch in flight and
// every queued call has been answered.
func (p *pipeliner) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}
