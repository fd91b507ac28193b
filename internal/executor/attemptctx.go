package executor

import (
	"context"
	"sync"
	"time"
)

// attemptCtx is the context one provider attempt runs under: its parent plus
// a deadline, with the cause errAttemptTimeout when the deadline fires.
//
// It behaves like context.WithTimeoutCause, but arms its timer (and its
// parent watch) lazily, on the first call to Done or AfterFunc. A provider
// that answers without ever selecting on ctx.Done() — the in-process log
// provider, a cache, a fake — costs one small allocation and no timer;
// context.WithTimeoutCause costs a timer, four allocations and several
// hundred nanoseconds on every call. Err checks the deadline itself, so a
// provider that only polls ctx.Err() sees the timeout too.
//
// context.WithCancel and friends derived from an attemptCtx use its
// AfterFunc method (the context package's afterFuncer hook), so they need no
// extra goroutine.
type attemptCtx struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	done   chan struct{} // nil until first asked for
	err    error
	timer  *time.Timer
	stopP  func() bool // stops the parent watch
	afters []*afterFunc
}

type afterFunc struct{ f func() }

// closedChan is handed out by Done when the context ended before anyone
// asked for the channel.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func newAttemptCtx(parent context.Context, deadline time.Time) *attemptCtx {
	return &attemptCtx{parent: parent, deadline: deadline}
}

// Deadline returns the earlier of the attempt deadline and the parent's.
func (c *attemptCtx) Deadline() (time.Time, bool) {
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

// Value delegates to the parent.
func (c *attemptCtx) Value(key any) any { return c.parent.Value(key) }

// Done returns a channel closed when the attempt times out, the parent ends
// or the attempt is released.
func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked()
	return c.done
}

// Err returns nil while the attempt runs, context.DeadlineExceeded once the
// deadline passed (whether or not the timer has fired yet), the parent's
// error once the parent ended, and context.Canceled after release.
func (c *attemptCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		if perr := c.parent.Err(); perr != nil {
			c.cancelLocked(perr)
		} else if !time.Now().Before(c.deadline) {
			c.cancelLocked(context.DeadlineExceeded)
		}
	}
	return c.err
}

// AfterFunc arranges for f to run in its own goroutine once the context
// ends; stop unregisters it and reports whether it did so before f started.
// The context package uses this to propagate cancellation to children.
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.afters = append(c.afters, a)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afters {
			if x == a {
				c.afters = append(c.afters[:i], c.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// armLocked creates the done channel and starts watching the deadline and
// the parent, once.
func (c *attemptCtx) armLocked() {
	if c.done != nil {
		return
	}
	if c.err != nil {
		c.done = closedChan
		return
	}
	if perr := c.parent.Err(); perr != nil {
		c.done = closedChan
		c.err = perr
		return
	}
	d := time.Until(c.deadline)
	if d <= 0 {
		c.done = closedChan
		c.err = context.DeadlineExceeded
		return
	}
	c.done = make(chan struct{})
	c.timer = time.AfterFunc(d, func() { c.cancel(context.DeadlineExceeded) })
	if c.parent.Done() != nil {
		p := c.parent
		c.stopP = context.AfterFunc(p, func() { c.cancel(p.Err()) })
	}
}

func (c *attemptCtx) cancel(err error) {
	c.mu.Lock()
	c.cancelLocked(err)
	c.mu.Unlock()
}

func (c *attemptCtx) cancelLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil && c.done != closedChan {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.stopP != nil {
		c.stopP()
		c.stopP = nil
	}
	for _, a := range c.afters {
		go a.f()
	}
	c.afters = nil
}

// expired reports whether the attempt's own deadline had passed at now (or
// fired), as opposed to the parent ending. Call it before release.
func (c *attemptCtx) expired(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err == context.DeadlineExceeded && c.parent.Err() == nil
	}
	return !now.Before(c.deadline) && c.parent.Err() == nil
}

// release ends the attempt: anything still holding the context sees
// context.Canceled, and the timer and parent watch are freed.
func (c *attemptCtx) release() {
	c.mu.Lock()
	c.cancelLocked(context.Canceled)
	c.mu.Unlock()
}

func (c *attemptCtx) String() string { return "executor.attemptCtx" }
