// Package app wires the gateway together from a *config.Config: it builds
// the state and audit backends, the providers, the executor, the gateway and
// the HTTP API, starts them in order and stops them in reverse order under
// one deadline. Only cmd/acteon and the simulation harness import it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/acteon/acteon-go/internal/api"
	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
)

// Options are the parts of an App that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// ExtraProviders are registered beside the configured ones (tests and
	// the simulation harness use recording providers).
	ExtraProviders []provider.Provider
	// Registry receives every metric; nil creates a fresh one.
	Registry *prometheus.Registry
	// State, when set, is used instead of building the configured state
	// backend (the simulation harness shares one store between nodes). The
	// App does not close it.
	State state.Store
	// WrapState, when set, wraps the state store (e.g. a counting decorator
	// for benchmarks).
	WrapState func(state.Store) state.Store
}

// App is a built gateway with its API. Create it with Build; run it with
// Serve or use Gateway and Handler directly.
type App struct {
	Config   *config.Config
	Gateway  *gateway.Gateway
	Reloader *Reloader
	Registry *prometheus.Registry

	log      *slog.Logger
	clock    clock.Clock
	state    state.Store
	memState *statemem.Store
	// sharedState is true when the store came from Options.State.
	sharedState bool
	auditSt     audit.Store
	writer      *audit.Writer
	handler     http.Handler
	warnings    []rules.Warning
	auth        *authWiring
	// breakerSync shares circuit breakers between nodes (nil when
	// breakers are off or sync_interval_seconds = 0); breakerSyncDone is
	// closed when it has stopped.
	breakerSync       *executor.BreakerSync
	breakerSyncDone   chan struct{}
	breakerSyncCancel context.CancelFunc
	mute              *muteWiring // silences, time intervals, inhibition (wire_mute.go)
	events            *eventsPart // groups, state machines, background jobs (wire_events.go)
}

// Build constructs every component from cfg. It loads and compiles the
// rules; a bad rule file is an error listing every problem.
func Build(cfg *config.Config, o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	a := &App{Config: cfg, Registry: reg, log: o.Logger, clock: o.Clock}
	var cleanup []func()
	fail := func(err error) (*App, error) {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		return nil, err
	}

	// Connecting and preparing schemas is bounded so that an unreachable
	// backend is a prompt, clear start-up error.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// State.
	if o.State != nil {
		a.state, a.sharedState = o.State, true
	} else {
		st, err := openState(ctx, cfg.State, o.Clock, o.Logger)
		if err != nil {
			return fail(fmt.Errorf("state backend %s: %w", backendName(cfg.State.Backend), err))
		}
		a.state = st
		if ms, ok := st.(*statemem.Store); ok {
			a.memState = ms
		}
		cleanup = append(cleanup, func() { _ = st.Close() })
		if err := prepareSchema(ctx, "state backend "+cfg.State.Backend, st, cfg.State.AutoMigrate); err != nil {
			return fail(err)
		}
	}
	if o.WrapState != nil {
		a.state = o.WrapState(a.state)
	}

	// Providers.
	provs, err := buildProviders(cfg, o.Logger)
	if err != nil {
		return fail(err)
	}
	provs = append(provs, o.ExtraProviders...)
	registry, err := provider.NewRegistry(provs...)
	if err != nil {
		return fail(err)
	}

	// Executor, breakers, DLQ, health.
	health := provider.NewHealth()
	reg.MustRegister(newHealthCollector(health, registry.Names))
	var breakers *executor.Breakers
	if cfg.CircuitBreaker.Enabled {
		breakers = executor.NewBreakers(breakerConfig(cfg), registry.Names(), o.Clock,
			executor.WithBreakerRegisterer(reg), executor.WithBreakerLogger(o.Logger))
		if every := cfg.CircuitBreaker.SyncIntervalSeconds; every > 0 {
			a.breakerSync = &executor.BreakerSync{Breakers: breakers, Store: a.state,
				Interval: time.Duration(every) * time.Second, OpTimeout: ms(cfg.State.OpTimeoutMs), Logger: o.Logger}
		}
	}
	var dlq *executor.DLQ
	if cfg.Executor.DLQEnabled {
		dlq = executor.NewDLQ(a.state, o.Clock)
	}
	exec, err := executor.New(executor.Options{
		MaxConcurrent: int(cfg.Executor.MaxConcurrent),
		MaxRetries:    int(cfg.Executor.MaxRetries),
		NoRetries:     cfg.Executor.MaxRetries == 0,
		Timeout:       time.Duration(cfg.Executor.TimeoutSeconds) * time.Second,
		DLQ:           dlq,
		Health:        health,
		Breakers:      breakers,
		Logger:        o.Logger,
		Registerer:    reg,
	})
	if err != nil {
		return fail(err)
	}

	// Audit.
	var auditW gateway.AuditWriter
	var auditTTL time.Duration
	if cfg.Audit.Enabled {
		as, err := openAudit(ctx, cfg.Audit, o.Clock)
		if err != nil {
			return fail(fmt.Errorf("audit backend %s: %w", backendName(cfg.Audit.Backend), err))
		}
		a.auditSt = as
		cleanup = append(cleanup, func() { _ = as.Close() })
		if err := prepareSchema(ctx, "audit backend "+cfg.Audit.Backend, as, cfg.Audit.AutoMigrate); err != nil {
			return fail(err)
		}
		store := a.auditSt
		if cfg.Audit.Redact.Enabled && len(cfg.Audit.Redact.Fields) > 0 {
			store = audit.NewRedacting(store, cfg.Audit.Redact.Fields, cfg.Audit.Redact.Placeholder)
		}
		batch := int(cfg.Audit.BatchSize)
		if batch == 0 {
			switch cfg.Audit.Backend {
			case "postgres":
				batch = 2000
			case "clickhouse":
				batch = 5000
			default:
				batch = 500
			}
		}
		a.writer = audit.NewWriter(store, audit.WriterOptions{
			QueueSize:     int(cfg.Audit.QueueSize),
			BatchSize:     batch,
			Concurrency:   int(cfg.Audit.WriteConcurrency),
			FlushInterval: time.Duration(cfg.Audit.FlushIntervalMs) * time.Millisecond,
			Sync:          cfg.Audit.Sync,
			Logger:        o.Logger,
			Registerer:    reg,
		})
		auditW = a.writer
		if cfg.Audit.TTLSeconds != nil {
			auditTTL = time.Duration(*cfg.Audit.TTLSeconds) * time.Second
		}
	}

	// Silences, time intervals, inhibition (before the rules: D25 checks
	// interval names).
	if a.mute, err = a.wireMute(ctx, cfg, o); err != nil {
		return fail(err)
	}

	// Rules.
	ropts := rules.Options{
		DefaultTimezone: cfg.Rules.DefaultTimezone,
		HasProvider:     registry.Has,
		HasStateMachine: func(name string) bool {
			for _, sm := range cfg.StateMachines {
				if sm.Name == name {
					return true
				}
			}
			return false
		},
		HasChain:        func(string) bool { return false },
		HasTimeInterval: a.mute.hasTimeInterval,
	}
	set, warns, err := LoadRules(cfg.Rules.Directory, ropts)
	if err != nil {
		return fail(err)
	}
	a.warnings = warns

	metrics := gateway.NewMetrics(reg)
	var gwBreakers gateway.Breakers
	if breakers != nil {
		gwBreakers = breakers
	}
	gw, err := gateway.New(gateway.Options{
		State: a.state, Providers: registry, Executor: exec, Breakers: gwBreakers,
		Audit: auditW, AuditTTL: auditTTL, StorePayload: cfg.Audit.StorePayload,
		Rules: set, Clock: o.Clock, Logger: o.Logger, Metrics: metrics,
	})
	if err != nil {
		return fail(err)
	}
	a.Gateway = gw
	a.mute.attach(gw)
	if err := a.wireEvents(gw); err != nil {
		return fail(err)
	}
	a.Reloader = newReloader(gw, cfg.Rules.Directory, ropts, o.Logger.With("component", "rules"), reg)

	aw, err := a.wireAuth(cfg, o)
	if err != nil {
		return fail(err)
	}
	srv := api.New(aw.apply(api.Options{
		Gateway: gw, Rules: a.Reloader, Audit: a.auditSt, DLQ: dlq, Health: health, Breakers: breakers,
		Gatherer: reg, Registerer: reg, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		MaxBatchSize: int(cfg.Server.MaxBatchSize), MaxConcurrentDispatch: int(cfg.Server.MaxConcurrentDispatch),
		Logger:   o.Logger,
		Register: []func(*http.ServeMux){a.mute.register, a.events.register},
	}))
	a.handler = srv.Handler()
	return a, nil
}

// RuleWarnings returns the warnings of the initial rule load.
func (a *App) RuleWarnings() []rules.Warning { return a.warnings }

// Handler returns the HTTP API handler.
func (a *App) Handler() http.Handler { return a.handler }

// Start starts background parts (memory sweeper, rules watcher). They stop
// when ctx is done.
func (a *App) Start(ctx context.Context) error {
	if a.memState != nil {
		a.memState.Start(ctx)
	}
	a.mute.start(ctx)
	a.events.start(ctx)
	if a.breakerSync != nil && a.breakerSyncDone == nil {
		sctx, cancel := context.WithCancel(ctx)
		a.breakerSyncDone, a.breakerSyncCancel = make(chan struct{}), cancel
		go func() {
			defer close(a.breakerSyncDone)
			a.breakerSync.Run(sctx)
		}()
	}
	if err := a.startAuth(ctx); err != nil {
		return err
	}
	if a.Config.Rules.WatchEnabled() {
		if err := a.Reloader.watch(ctx); err != nil {
			return err
		}
	}
	if a.auditSt != nil && a.Config.Audit.CleanupIntervalSeconds > 0 {
		go a.auditCleanup(ctx, time.Duration(a.Config.Audit.CleanupIntervalSeconds)*time.Second)
	}
	return nil
}

// auditCleanup deletes expired audit records every interval (the first tick
// is one interval after start). Every node may run it: deletes are
// idempotent.
func (a *App) auditCleanup(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.auditSt.CleanupExpired(ctx, a.clock.Now())
			if err != nil {
				a.log.Warn("audit cleanup failed", "err", err)
				continue
			}
			if n > 0 {
				a.log.Info("audit cleanup", "deleted", n)
			}
		}
	}
}

// Serve listens on the configured address and serves until ctx is done,
// then shuts down in order: stop intake, drain dispatches, flush audit,
// close stores. ready, if non-nil, receives the bound address.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", a.Config.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.ListenAddr(), err)
	}
	ln = a.listenTLS(ln)
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	if err := a.Start(bg); err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	a.applyServerLimits(hs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	a.log.Info("acteon listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		stopBG()
		_ = a.Close(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	timeout := time.Duration(a.Config.Server.ShutdownTimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	// 1. Stop intake; in-flight requests finish.
	if err := hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	stopBG()
	// 2-5. Drain the gateway, flush audit, close stores.
	if err := a.Close(sctx); err != nil {
		errs = append(errs, err)
	}
	a.log.Info("stopped")
	return errors.Join(errs...)
}

// Close drains in-flight dispatches, flushes the audit trail and closes the
// stores. It is idempotent enough to call after a failed start.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	// Background jobs dispatch through the gateway: stop them (finishing
	// claimed items) before draining it.
	if err := a.events.stop(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.Gateway != nil {
		if err := a.Gateway.Drain(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.writer != nil {
		if err := a.writer.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("audit flush: %w", err))
		}
	}
	if a.auditSt != nil {
		if err := a.auditSt.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if a.breakerSyncDone != nil {
		// It publishes what is pending as it stops; the store must still
		// be open for that.
		a.breakerSyncCancel()
		select {
		case <-a.breakerSyncDone:
		case <-ctx.Done():
		}
	}
	if a.state != nil && !a.sharedState {
		if err := a.state.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FlushAudit waits until every audit record written so far is stored.
func (a *App) FlushAudit(ctx context.Context) error {
	if a.writer == nil {
		return nil
	}
	return a.writer.Flush(ctx)
}

// AuditStore returns the audit store (nil when audit is disabled).
func (a *App) AuditStore() audit.Store { return a.auditSt }

// State returns the state store.
func (a *App) State() state.Store { return a.state }

func breakerConfig(cfg *config.Config) executor.BreakerConfig {
	cb := cfg.CircuitBreaker
	bc := executor.BreakerConfig{
		FailureThreshold: int(cb.FailureThreshold),
		SuccessThreshold: int(cb.SuccessThreshold),
		RecoveryTimeout:  time.Duration(cb.RecoveryTimeoutSeconds) * time.Second,
		PerProvider:      map[string]executor.BreakerOverride{},
	}
	for name := range cb.Providers {
		s := cb.For(name)
		ft, st := int(s.FailureThreshold), int(s.SuccessThreshold)
		rt := time.Duration(s.RecoveryTimeoutSeconds) * time.Second
		bc.PerProvider[name] = executor.BreakerOverride{
			FailureThreshold: &ft, SuccessThreshold: &st, RecoveryTimeout: &rt, FallbackProvider: s.FallbackProvider,
		}
	}
	return bc
}

// describeRuleErrors renders a rule load error as one problem per line.
func describeRuleErrors(err error) string {
	var b strings.Builder
	for _, e := range flatten(err) {
		b.WriteString("  - ")
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// DescribeError renders any load error (config or rules) one problem per
// line, for the CLI.
func DescribeError(err error) string { return describeRuleErrors(err) }
