package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

// Errors.
var (
	// ErrUnknownJob: RunOnce named a job the runner does not have.
	ErrUnknownJob = errors.New("jobs: unknown job")
	// ErrInvalidJob: a job has no name, no function or no interval, or its
	// name is taken.
	ErrInvalidJob = errors.New("jobs: invalid job")
)

// Func is one run of a job at now. It reports how many work items it
// handled. It must stop early when ctx is done.
type Func func(ctx context.Context, now time.Time) (items int, err error)

// Job is a named periodic task.
type Job struct {
	// Name is the metric label; it must be unique in a Runner.
	Name string
	// Every is the interval between runs (> 0).
	Every time.Duration
	// Run does the work.
	Run Func
}

// Options configures a Runner.
type Options struct {
	// Clock gives each run its now; nil means the wall clock. Ticks come
	// from real timers whatever the clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// Registerer receives the per-job metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Runner runs jobs periodically. Create it with New.
type Runner struct {
	clock clock.Clock
	log   *slog.Logger
	jobs  []Job
	byKey map[string]int
	// mu serialises runs of the same job (ticks and RunOnce).
	mu []sync.Mutex

	runs, items, errs *prometheus.CounterVec
	dur               *prometheus.HistogramVec

	lifeMu  sync.Mutex
	cancel  context.CancelFunc
	runCtx  context.Context
	stopRun context.CancelFunc
	wg      sync.WaitGroup
}

// New validates the jobs and builds a Runner. Nothing runs until Start.
func New(o Options, jobs ...Job) (*Runner, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{clock: o.Clock, log: o.Logger.With("component", "jobs"), byKey: map[string]int{}}
	for _, j := range jobs {
		if j.Name == "" || j.Run == nil || j.Every <= 0 {
			return nil, fmt.Errorf("%w: %q (name, run and a positive interval are required)", ErrInvalidJob, j.Name)
		}
		if _, dup := r.byKey[j.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate name %q", ErrInvalidJob, j.Name)
		}
		r.byKey[j.Name] = len(r.jobs)
		r.jobs = append(r.jobs, j)
	}
	r.mu = make([]sync.Mutex, len(r.jobs))
	r.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_background_job_runs_total", Help: "Background job runs by job.",
	}, []string{"job"})
	r.items = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_background_job_items_total", Help: "Work items handled by background jobs (groups flushed, timeouts fired, entries removed).",
	}, []string{"job"})
	r.errs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acteon_background_job_errors_total", Help: "Background job runs that ended with an error.",
	}, []string{"job"})
	r.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "acteon_background_job_duration_seconds", Help: "Duration of background job runs.",
		Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
	}, []string{"job"})
	for _, j := range r.jobs {
		r.runs.WithLabelValues(j.Name)
		r.items.WithLabelValues(j.Name)
		r.errs.WithLabelValues(j.Name)
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{r.runs, r.items, r.errs, r.dur} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("jobs: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Names lists the jobs in the order given to New.
func (r *Runner) Names() []string {
	out := make([]string, len(r.jobs))
	for i, j := range r.jobs {
		out[i] = j.Name
	}
	return out
}

// Start runs every job now and then every interval until Stop is called or
// ctx is done. Calling Start twice has no effect.
func (r *Runner) Start(ctx context.Context) {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.cancel != nil {
		return
	}
	tickCtx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	// Runs get their own context: cancelling ticking (Stop) lets a run in
	// progress finish its claimed items; only Stop's deadline cuts it.
	r.runCtx, r.stopRun = context.WithCancel(context.WithoutCancel(ctx))
	for i := range r.jobs {
		r.wg.Add(1)
		go r.loop(tickCtx, i)
	}
}

func (r *Runner) loop(ctx context.Context, i int) {
	defer r.wg.Done()
	t := time.NewTicker(r.jobs[i].Every)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		_, _ = r.run(r.runCtx, i)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop stops ticking and waits for runs in progress until ctx is done; then
// it cancels them. It is idempotent and safe to call without Start.
func (r *Runner) Stop(ctx context.Context) error {
	r.lifeMu.Lock()
	cancel, stopRun := r.cancel, r.stopRun
	r.lifeMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		stopRun()
		return nil
	case <-ctx.Done():
		stopRun()
		<-done
		return fmt.Errorf("jobs: stop: %w", ctx.Err())
	}
}

// RunOnce runs the named job now (tests and admin tools), serialised with
// its periodic runs.
func (r *Runner) RunOnce(ctx context.Context, name string) (int, error) {
	i, ok := r.byKey[name]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownJob, name)
	}
	return r.run(ctx, i)
}

// RunAll runs every job once, in order, and joins their errors.
func (r *Runner) RunAll(ctx context.Context) error {
	var errs []error
	for i := range r.jobs {
		if _, err := r.run(ctx, i); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runner) run(ctx context.Context, i int) (n int, err error) {
	j := r.jobs[i]
	r.mu[i].Lock()
	defer r.mu[i].Unlock()
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("jobs: %s panicked: %v", j.Name, v)
		}
		r.runs.WithLabelValues(j.Name).Inc()
		r.items.WithLabelValues(j.Name).Add(float64(n))
		r.dur.WithLabelValues(j.Name).Observe(time.Since(start).Seconds())
		if err != nil {
			r.errs.WithLabelValues(j.Name).Inc()
			r.log.Warn("background job failed", "job", j.Name, "items", n, "err", err)
		} else if n > 0 {
			r.log.Debug("background job ran", "job", j.Name, "items", n)
		}
	}()
	return j.Run(ctx, r.clock.Now())
}

// ClaimTTL is the default lifetime of a work-item claim (D18; upstream uses
// 60 s for group flushes and scheduled actions).
const ClaimTTL = 60 * time.Second

// Claim atomically takes the work item named by key for ttl and reports
// whether this caller won it. A claim is never released: it expires, which
// is what hands the item of a dead node to another one, and what keeps an
// item that was finished (and whose key therefore names a past deadline)
// from being taken again while the claim lives.
func Claim(ctx context.Context, st state.Store, key state.Key, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		ttl = ClaimTTL
	}
	ok, err := st.CheckAndSet(ctx, key, "claimed:"+action.UUIDv4(), ttl)
	if err != nil {
		return false, fmt.Errorf("jobs: claim %s: %w", key, err)
	}
	return ok, nil
}

// ClaimWindow claims one run of a job that should happen once per interval
// across all nodes: the key is _system:_global:job_claim:<job>:<window>,
// where window is now truncated to the interval, and the claim lives for
// the interval.
func ClaimWindow(ctx context.Context, st state.Store, job string, every time.Duration, now time.Time) (bool, error) {
	if every <= 0 {
		every = time.Minute
	}
	win := now.UnixMilli() / every.Milliseconds()
	key := state.Key{Namespace: "_system", Tenant: "_global", Kind: "job_claim", ID: job + ":" + strconv.FormatInt(win, 10)}
	return Claim(ctx, st, key, every)
}
