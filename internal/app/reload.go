package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/internal/api"
	"github.com/acteon/acteon-go/internal/filewatch"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/rules"
)

// Reloader loads rule directories and swaps the gateway's rule set
// atomically: the new set is built completely first; on any error the old
// set keeps running (D5, D8).
type Reloader struct {
	mu      sync.Mutex
	gw      *gateway.Gateway
	dir     string
	opts    rules.Options
	log     *slog.Logger
	success prometheus.Gauge
	last    prometheus.Gauge
}

func newReloader(gw *gateway.Gateway, dir string, opts rules.Options, log *slog.Logger, reg prometheus.Registerer) *Reloader {
	r := &Reloader{gw: gw, dir: dir, opts: opts, log: log}
	r.success = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "acteon_config_last_reload_successful", Help: "Whether the last rule reload succeeded (1) or kept the old rules (0).",
	})
	r.last = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "acteon_config_last_reload_success_timestamp_seconds", Help: "Time of the last successful rule load.",
	})
	if reg != nil {
		reg.MustRegister(r.success, r.last)
	}
	return r
}

// LoadRules loads a rules directory with the given options; "" yields an
// empty set.
func LoadRules(dir string, opts rules.Options) (*rules.Set, []rules.Warning, error) {
	if dir == "" {
		s, err := rules.NewSet(nil)
		return s, nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("rules directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("rules directory %s: not a directory", dir)
	}
	return rules.LoadDir(dir, opts)
}

// Reload implements api.RulesAdmin.
func (r *Reloader) Reload(dir string) (api.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir == "" {
		dir = r.dir
	}
	res := api.ReloadResult{Directory: dir}
	if dir == "" {
		return res, errors.New("no rules directory configured and none given in the request body")
	}
	set, warns, err := LoadRules(dir, r.opts)
	if err != nil {
		r.success.Set(0)
		r.log.Error("rule reload failed; previous rules stay active", "dir", dir, "err", err)
		return res, err
	}
	r.gw.SwapRules(set)
	r.success.Set(1)
	r.last.SetToCurrentTime()
	for _, w := range warns {
		res.Warnings = append(res.Warnings, w.String())
		r.log.Warn("rule warning", "warning", w.String())
	}
	res.Loaded = set.Len()
	r.log.Info("rules reloaded", "dir", dir, "rules", set.Len())
	return res, nil
}

// watch reloads the configured directory when files in it change, with a
// 500 ms debounce. It returns when ctx is done.
func (r *Reloader) watch(ctx context.Context) error {
	if r.dir == "" {
		return nil
	}
	return filewatch.Watch(ctx, filewatch.Options{
		Dir: r.dir, Match: relevant, Debounce: 500 * time.Millisecond,
		OnChange: func() { _, _ = r.Reload("") },
		Logger:   r.log, Name: "rules",
	})
}

func relevant(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".cel":
		return true
	}
	return false
}
