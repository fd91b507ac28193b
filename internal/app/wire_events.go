package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/group"
	"github.com/acteon/acteon-go/internal/jobs"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/statemachine"
)

// Background job names (the "job" label of the acteon_background_job_*
// metrics).
const (
	JobGroupFlush    = "group_flush"
	JobStateTimeouts = "state_timeouts"
	JobStateCleanup  = "state_cleanup"
	JobDLQRetention  = "dlq_retention"
	JobIndexRepair   = "index_repair"
)

// eventsPart is the grouping, state-machine and background-processing part
// of an App (wireEvents).
type eventsPart struct {
	groups *group.Manager
	sm     *statemachine.Engine
	// runner is nil when [background] enabled = false.
	runner *jobs.Runner
}

// wireEvents builds the group and state_machine verdict handlers, their
// HTTP routes and the background processor, and installs the handlers on
// gw.
func (a *App) wireEvents(gw *gateway.Gateway) error {
	cfg := a.Config
	bg := cfg.Background
	batch := int(bg.BatchSize)
	gm, err := group.New(group.Options{State: a.state, Clock: a.clock, Logger: a.log, Dispatcher: gw, BatchSize: batch})
	if err != nil {
		return err
	}
	machines, err := statemachine.Compile(cfg.StateMachines)
	if err != nil {
		return err
	}
	sm, err := statemachine.New(statemachine.Options{Machines: machines, State: a.state, Clock: a.clock, Logger: a.log, Dispatcher: gw, BatchSize: batch})
	if err != nil {
		return err
	}
	gw.SetVerdictHandler(action.VerdictGroup, gm)
	gw.SetVerdictHandler(action.VerdictStateMachine, sm)
	ev := &eventsPart{groups: gm, sm: sm}
	a.events = ev
	if !bg.Enabled {
		return nil
	}
	secs := func(n uint64, def time.Duration) time.Duration {
		if n == 0 {
			return def
		}
		return time.Duration(n) * time.Second
	}
	var js []jobs.Job
	if bg.EnableGroupFlush {
		js = append(js, jobs.Job{Name: JobGroupFlush, Every: secs(bg.GroupFlushIntervalSeconds, 5*time.Second), Run: gm.FlushDue})
	}
	if bg.EnableTimeoutProcessing {
		js = append(js, jobs.Job{Name: JobStateTimeouts, Every: secs(bg.TimeoutCheckIntervalSeconds, 10*time.Second), Run: sm.FireDue})
	}
	cleanupEvery := secs(bg.CleanupIntervalSeconds, time.Minute)
	if p := purgerOf(a.state); p != nil {
		js = append(js, jobs.Job{Name: JobStateCleanup, Every: cleanupEvery, Run: a.once(JobStateCleanup, cleanupEvery, p)})
	}
	if cfg.Executor.DLQEnabled && bg.DLQRetentionSeconds > 0 {
		dlq := executor.NewDLQ(a.state, a.clock)
		keep := time.Duration(bg.DLQRetentionSeconds) * time.Second
		js = append(js, jobs.Job{Name: JobDLQRetention, Every: cleanupEvery, Run: a.once(JobDLQRetention, cleanupEvery,
			func(ctx context.Context, now time.Time) (int, error) { return retainDLQ(ctx, dlq, now.Add(-keep)) })})
	}
	repairEvery := cleanupEvery
	if bg.EnableGroupSync {
		repairEvery = secs(bg.GroupSyncIntervalSeconds, 30*time.Second)
	}
	js = append(js, jobs.Job{Name: JobIndexRepair, Every: repairEvery, Run: a.once(JobIndexRepair, repairEvery,
		func(ctx context.Context, now time.Time) (int, error) {
			n, err := gm.Repair(ctx, now)
			m, err2 := sm.Repair(ctx, now)
			if err == nil {
				err = err2
			}
			return n + m, err
		})})
	r, err := jobs.New(jobs.Options{Clock: a.clock, Logger: a.log, Registerer: a.Registry}, js...)
	if err != nil {
		return err
	}
	ev.runner = r
	return nil
}

// once wraps a job that should run on one node per interval: it claims
// the interval window first and does nothing when another node has it.
func (a *App) once(name string, every time.Duration, run jobs.Func) jobs.Func {
	return func(ctx context.Context, now time.Time) (int, error) {
		ok, err := jobs.ClaimWindow(ctx, a.state, name, every, now)
		if err != nil || !ok {
			return 0, err
		}
		return run(ctx, now)
	}
}

// purgerOf finds the backend's own expired-entry purge, looking through
// decorators that expose Unwrap. Redis expires entries itself and the
// memory store sweeps on its own timer, so only PostgreSQL and DynamoDB
// (which filter expired rows on read) need it.
func purgerOf(st state.Store) jobs.Func {
	for st != nil {
		switch p := st.(type) {
		case interface {
			Purge(context.Context) (int64, error)
		}:
			return func(ctx context.Context, _ time.Time) (int, error) {
				n, err := p.Purge(ctx)
				return int(n), err
			}
		case interface {
			Purge(context.Context) (int, error)
		}:
			return func(ctx context.Context, _ time.Time) (int, error) { return p.Purge(ctx) }
		}
		u, ok := st.(interface{ Unwrap() state.Store })
		if !ok {
			return nil
		}
		st = u.Unwrap()
	}
	return nil
}

// retainDLQ deletes dead-letter entries pushed before cutoff.
func retainDLQ(ctx context.Context, dlq *executor.DLQ, cutoff time.Time) (int, error) {
	entries, err := dlq.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Timestamp >= cutoff.Unix() {
			continue
		}
		ok, err := dlq.Delete(ctx, e.ID)
		if err != nil {
			return n, fmt.Errorf("dlq retention: %w", err)
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func (e *eventsPart) register(mux *http.ServeMux) {
	if e == nil {
		return
	}
	e.groups.Register(mux)
	e.sm.Register(mux)
}

func (e *eventsPart) start(ctx context.Context) {
	if e != nil && e.runner != nil {
		e.runner.Start(ctx)
	}
}

func (e *eventsPart) stop(ctx context.Context) error {
	if e == nil || e.runner == nil {
		return nil
	}
	return e.runner.Stop(ctx)
}

// Groups returns the group manager (group verdicts, flushes, /v1/groups).
func (a *App) Groups() *group.Manager {
	if a.events == nil {
		return nil
	}
	return a.events.groups
}

// StateMachines returns the state-machine engine (/v1/events, timeouts).
func (a *App) StateMachines() *statemachine.Engine {
	if a.events == nil {
		return nil
	}
	return a.events.sm
}

// Jobs returns the background processor, nil when [background] enabled is
// false.
func (a *App) Jobs() *jobs.Runner {
	if a.events == nil {
		return nil
	}
	return a.events.runner
}
