package executor

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestAttemptCtxDeadlineFires(t *testing.T) {
	c := newAttemptCtx(t.Context(), time.Now().Add(10*time.Millisecond))
	defer c.release()
	if err := c.Err(); err != nil {
		t.Fatalf("Err before deadline = %v", err)
	}
	<-c.Done() // the timer must close it
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	if !c.expired(time.Now()) {
		t.Error("expired = false after the attempt deadline")
	}
}

func TestAttemptCtxErrSeesPassedDeadlineWithoutDone(t *testing.T) {
	c := newAttemptCtx(t.Context(), time.Now().Add(-time.Millisecond))
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed although Err reported the deadline")
	}
}

func TestAttemptCtxParentCancel(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
	c := newAttemptCtx(parent, time.Now().Add(time.Hour))
	done := c.Done()
	if got := c.Value(ctxKey{}); got != "v" {
		t.Errorf("Value = %v, want v", got)
	}
	cancel()
	<-done
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err = %v, want Canceled", err)
	}
	if c.expired(time.Now()) {
		t.Error("a parent cancel is not the attempt's timeout")
	}
}

func TestAttemptCtxParentAlreadyDone(t *testing.T) {
	parent, cancel := context.WithCancel(t.Context())
	cancel()
	c := newAttemptCtx(parent, time.Now().Add(time.Hour))
	<-c.Done()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err = %v", c.Err())
	}
}

func TestAttemptCtxChildrenPropagate(t *testing.T) {
	c := newAttemptCtx(t.Context(), time.Now().Add(10*time.Millisecond))
	child, cancel := context.WithCancel(c)
	defer cancel()
	<-child.Done()
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Errorf("child Err = %v, want DeadlineExceeded", child.Err())
	}
	c.release()
}

func TestAttemptCtxAfterFuncStop(t *testing.T) {
	c := newAttemptCtx(t.Context(), time.Now().Add(time.Hour))
	ran := make(chan struct{}, 2)
	stop := context.AfterFunc(c, func() { ran <- struct{}{} })
	if !stop() {
		t.Error("stop before cancel = false, want true")
	}
	context.AfterFunc(c, func() { ran <- struct{}{} })
	c.release()
	<-ran // the second one runs
	select {
	case <-ran:
		t.Error("a stopped AfterFunc ran")
	default:
	}
}

func TestAttemptCtxReleaseCancels(t *testing.T) {
	c := newAttemptCtx(t.Context(), time.Now().Add(time.Hour))
	d := c.Done()
	c.release()
	<-d
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err after release = %v", c.Err())
	}
	// Done asked for the first time after release is closed too.
	c2 := newAttemptCtx(t.Context(), time.Now().Add(time.Hour))
	c2.release()
	<-c2.Done()
}

func TestAttemptCtxDeadline(t *testing.T) {
	early := time.Now().Add(time.Minute)
	parent, cancel := context.WithDeadline(t.Context(), early)
	defer cancel()
	c := newAttemptCtx(parent, early.Add(time.Hour))
	if d, ok := c.Deadline(); !ok || !d.Equal(early) {
		t.Errorf("Deadline = %v, %v; want the parent's earlier %v", d, ok, early)
	}
	c2 := newAttemptCtx(t.Context(), early)
	if d, ok := c2.Deadline(); !ok || !d.Equal(early) {
		t.Errorf("Deadline = %v, %v; want %v", d, ok, early)
	}
}
