package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/inhibit"
	"github.com/acteon/acteon-go/internal/silence"
	"github.com/acteon/acteon-go/internal/timeinterval"
)

// MutePollInterval is how often each node checks the silence and
// time-interval change counters; a change made on one node applies on
// every node within this period plus one state round trip.
const MutePollInterval = 250 * time.Millisecond

// muteWiring holds silences, time intervals and inhibition for one App.
type muteWiring struct {
	silences  *silence.Store
	intervals *timeinterval.Store
	clock     clock.Clock
	log       *slog.Logger
	maxBody   int64
	dir       string // rules directory ("" = none)
	gw        *gateway.Gateway
}

// wireMute builds the silence and time-interval stores over the App's
// state, fills their caches, and writes the intervals defined in the rules
// directory (`time_intervals:` in any .yaml/.yml file there) to the store,
// so that the rule loader can check interval names (D25). It runs before
// the rules load.
func (a *App) wireMute(ctx context.Context, cfg *config.Config, o Options) (*muteWiring, error) {
	log := o.Logger.With("component", "mute")
	m := &muteWiring{
		silences:  silence.NewStore(a.state, o.Clock, log),
		intervals: timeinterval.NewStore(a.state, o.Clock, log),
		clock:     o.Clock, log: log, maxBody: cfg.Server.MaxBodyBytes, dir: cfg.Rules.Directory,
	}
	if err := m.silences.Reload(ctx); err != nil {
		return nil, fmt.Errorf("loading silences: %w", err)
	}
	if cfg.Rules.Directory != "" {
		ivs, err := timeinterval.LoadDir(cfg.Rules.Directory)
		if err != nil {
			return nil, fmt.Errorf("time intervals in %s:\n%s", cfg.Rules.Directory, describeRuleErrors(err))
		}
		for _, iv := range ivs {
			if _, err := m.intervals.Put(ctx, iv); err != nil {
				return nil, fmt.Errorf("storing time interval %s/%s/%s: %w", iv.Namespace, iv.Tenant, iv.Name, err)
			}
		}
	}
	if err := m.intervals.Reload(ctx); err != nil {
		return nil, fmt.Errorf("loading time intervals: %w", err)
	}
	return m, nil
}

// hasTimeInterval is rules.Options.HasTimeInterval: a rule may name an
// interval defined in any namespace and tenant. On a miss it re-reads the
// rules directory's interval files and stores the intervals that do not
// exist yet, so that a rule reload picks up an interval just added to
// time-intervals.yaml (an interval that already exists is left as it is:
// after start-up the API owns it).
func (m *muteWiring) hasTimeInterval(name string) bool {
	if m.intervals.HasName(name) {
		return true
	}
	if m.dir == "" {
		return false
	}
	ivs, err := timeinterval.LoadDir(m.dir)
	if err != nil {
		m.log.Warn("re-reading time intervals from the rules directory failed", "dir", m.dir, "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, iv := range ivs {
		if iv.Name != name {
			continue
		}
		if _, err := m.intervals.Create(ctx, iv); err != nil && !errors.Is(err, timeinterval.ErrExists) {
			m.log.Warn("storing a time interval from the rules directory failed", "interval", iv.Name, "err", err)
		}
	}
	return m.intervals.HasName(name)
}

// attach installs the gates in pipeline order: inhibition sources are
// recorded first (a silenced source still inhibits), then silences (spec
// 02 §4.3 step 7), time intervals (step 8), and inhibited targets last.
func (m *muteWiring) attach(gw *gateway.Gateway) {
	m.gw = gw
	tr := inhibit.New(gw.State(), gw.Rules)
	gw.AddGate(inhibit.RecorderGate{T: tr})
	gw.AddGate(silence.NewGate(m.silences))
	gw.AddGate(timeinterval.NewGate(m.intervals, m.log))
	gw.AddGate(inhibit.TargetGate{T: tr})
}

// register adds /v1/silences and /v1/time-intervals.
func (m *muteWiring) register(mux *http.ServeMux) {
	silence.NewAPI(m.silences, m.clock, m.maxBody).Register(mux)
	timeinterval.NewAPI(m.intervals, m.gw.Rules, m.clock, m.maxBody).Register(mux)
}

// start polls the change counters every MutePollInterval until ctx is
// done, so silences and intervals written on other nodes reach this one.
func (m *muteWiring) start(ctx context.Context) {
	go func() {
		t := time.NewTicker(MutePollInterval)
		defer t.Stop()
		var failing bool
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, err1 := m.silences.Refresh(ctx)
			_, err2 := m.intervals.Refresh(ctx)
			switch {
			case (err1 != nil || err2 != nil) && !failing && ctx.Err() == nil:
				failing = true
				m.log.Warn("refreshing silences/time intervals failed; using the last known ones", "silences_err", err1, "time_intervals_err", err2)
			case err1 == nil && err2 == nil && failing:
				failing = false
				m.log.Info("silences/time intervals refresh recovered")
			}
		}
	}()
}

// Silences returns the App's silence store (tests, tools).
func (a *App) Silences() *silence.Store { return a.mute.silences }

// TimeIntervals returns the App's time-interval store (tests, tools).
func (a *App) TimeIntervals() *timeinterval.Store { return a.mute.intervals }
