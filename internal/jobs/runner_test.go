package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/jobs"
	"github.com/acteon/acteon-go/internal/state/memory"
)

func TestRunnerMetricsAndErrors(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	boom := errors.New("boom")
	r, err := jobs.New(jobs.Options{Clock: clock.NewFake(t0), Registerer: reg},
		jobs.Job{Name: "ok", Every: time.Hour, Run: func(context.Context, time.Time) (int, error) { return 3, nil }},
		jobs.Job{Name: "bad", Every: time.Hour, Run: func(context.Context, time.Time) (int, error) { return 1, boom }},
		jobs.Job{Name: "panics", Every: time.Hour, Run: func(context.Context, time.Time) (int, error) { panic("x") }},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunAll(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("RunAll = %v, want boom joined", err)
	}
	if _, err := r.RunOnce(context.Background(), "nope"); !errors.Is(err, jobs.ErrUnknownJob) {
		t.Fatalf("unknown job: %v", err)
	}
	m, _ := reg.Gather()
	if len(m) != 4 {
		t.Fatalf("%d metric families", len(m))
	}
	for _, tc := range []struct {
		name, job string
		want      float64
	}{
		{"acteon_background_job_runs_total", "ok", 1},
		{"acteon_background_job_items_total", "ok", 3},
		{"acteon_background_job_errors_total", "ok", 0},
		{"acteon_background_job_errors_total", "bad", 1},
		{"acteon_background_job_errors_total", "panics", 1},
	} {
		var got float64
		for _, f := range m {
			if f.GetName() != tc.name {
				continue
			}
			for _, s := range f.GetMetric() {
				if s.GetLabel()[0].GetValue() == tc.job {
					got = s.GetCounter().GetValue()
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s{job=%q} = %v, want %v", tc.name, tc.job, got, tc.want)
		}
	}
}

func TestRunnerRejectsBadJobs(t *testing.T) {
	f := func(context.Context, time.Time) (int, error) { return 0, nil }
	for name, js := range map[string][]jobs.Job{
		"no interval": {{Name: "a", Run: f}},
		"no func":     {{Name: "a", Every: time.Second}},
		"duplicate":   {{Name: "a", Every: time.Second, Run: f}, {Name: "a", Every: time.Second, Run: f}},
	} {
		if _, err := jobs.New(jobs.Options{}, js...); !errors.Is(err, jobs.ErrInvalidJob) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Stop waits for a run in progress instead of abandoning it.
func TestStopWaitsForRunInProgress(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	r, err := jobs.New(jobs.Options{}, jobs.Job{Name: "slow", Every: time.Hour, Run: func(ctx context.Context, _ time.Time) (int, error) {
		close(started)
		<-release
		finished.Store(true)
		return 1, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	<-started
	go func() { time.Sleep(10 * time.Millisecond); close(release) }()
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Stop returned before the run finished")
	}
}

// One node per window wins ClaimWindow; the next window is free again.
func TestClaimWindow(t *testing.T) {
	clk := clock.NewFake(t0)
	st := memory.New(memory.Options{Clock: clk})
	ctx := context.Background()
	won := 0
	for i := 0; i < 3; i++ {
		if ok, err := jobs.ClaimWindow(ctx, st, "purge", time.Minute, clk.Now()); err != nil {
			t.Fatal(err)
		} else if ok {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d winners in one window", won)
	}
	clk.Advance(time.Minute)
	if ok, _ := jobs.ClaimWindow(ctx, st, "purge", time.Minute, clk.Now()); !ok {
		t.Fatal("next window not claimable")
	}
}
