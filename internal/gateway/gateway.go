package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/executor"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
)

// Errors a dispatch can return instead of an outcome. The API maps them to
// HTTP statuses in one place.
var (
	// ErrStateUnavailable: the state backend failed during a stateful
	// verdict; nothing was delivered (HTTP 503).
	ErrStateUnavailable = errors.New("state backend unavailable")
	// ErrNotImplemented: the verdict parses and validates but this build
	// cannot act on it yet (HTTP 501).
	ErrNotImplemented = errors.New("verdict not implemented")
	// ErrProviderNotFound: a reroute target is not registered (HTTP 500).
	ErrProviderNotFound = errors.New("provider not found")
	// ErrShuttingDown: the gateway is draining and takes no new work.
	ErrShuttingDown = errors.New("gateway is shutting down")
	// ErrAuditUnavailable: with [audit] sync = true, the record of a
	// decided dispatch could not be stored (HTTP 503).
	ErrAuditUnavailable = errors.New("audit record could not be written")
)

// AuditWriter receives one record per decided dispatch. audit.Writer
// satisfies it.
type AuditWriter interface {
	Write(ctx context.Context, rec audit.Record) error
}

// Executor delivers an action through a provider. executor.Executor
// satisfies it.
type Executor interface {
	Execute(ctx context.Context, p provider.Provider, a *action.Action) executor.Result
}

// Breakers is the circuit-breaker view the gateway needs.
type Breakers interface {
	Allow(provider string) bool
	FallbackChain(provider string, registered func(string) bool) (target string, chain []string, ok bool)
}

// Gate runs after the rules and before the verdict is carried out (silences,
// time intervals). A non-nil outcome ends the dispatch with it; the outcome
// is counted and audited like any other. Gates are skipped in dry runs.
type Gate interface {
	Check(ctx context.Context, a *action.Action, res rules.Result, now time.Time) (*action.Outcome, error)
}

// VerdictHandler carries out a verdict the core pipeline does not (group,
// state_machine, request_approval, chain, schedule). Errors follow the
// Err* conventions above.
type VerdictHandler interface {
	Handle(ctx context.Context, a *action.Action, res rules.Result, now time.Time) (action.Outcome, error)
}

// Options configures a Gateway.
type Options struct {
	State     state.Store
	Providers *provider.Registry
	Executor  Executor
	// Breakers is nil when circuit breakers are disabled.
	Breakers Breakers
	// Audit is nil when audit is disabled.
	Audit        AuditWriter
	AuditTTL     time.Duration // 0 = records never expire
	StorePayload bool
	Rules        *rules.Set
	Clock        clock.Clock
	Logger       *slog.Logger
	Metrics      *Metrics
	// Gates run in order after the rules; see Gate.
	Gates []Gate
	// Verdicts carry out verdicts beyond the core ones; see VerdictHandler.
	Verdicts map[action.VerdictKind]VerdictHandler
}

// Gateway runs dispatches. Create it with New.
type Gateway struct {
	rules     atomic.Pointer[rules.Set]
	state     state.Store
	providers *provider.Registry
	exec      Executor
	breakers  Breakers
	audit     AuditWriter
	auditTTL  time.Duration
	storePay  bool
	clock     clock.Clock
	log       *slog.Logger
	metrics   *Metrics

	gates    []Gate
	verdicts map[action.VerdictKind]VerdictHandler

	// inflight counts running dispatches; closing refuses new ones. A
	// dispatch increments before it checks closing, so Drain never misses
	// one that got past the check.
	inflight atomic.Int64
	closing  atomic.Bool
}

// New builds a Gateway.
func New(o Options) (*Gateway, error) {
	if o.State == nil || o.Executor == nil {
		return nil, errors.New("gateway: state and executor are required")
	}
	if o.Providers == nil {
		o.Providers, _ = provider.NewRegistry()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	g := &Gateway{
		state: o.State, providers: o.Providers, exec: o.Executor, breakers: o.Breakers,
		audit: o.Audit, auditTTL: o.AuditTTL, storePay: o.StorePayload, clock: o.Clock,
		log: o.Logger.With("component", "gateway"), metrics: o.Metrics,
		gates: o.Gates, verdicts: map[action.VerdictKind]VerdictHandler{},
	}
	for k, h := range o.Verdicts {
		g.verdicts[k] = h
	}
	set := o.Rules
	if set == nil {
		set, _ = rules.NewSet(nil)
	}
	g.SwapRules(set)
	return g, nil
}

// AddGate appends a gate. Call it while wiring, before dispatching starts.
func (g *Gateway) AddGate(gt Gate) { g.gates = append(g.gates, gt) }

// SetVerdictHandler installs the handler for a verdict kind. Call it while
// wiring, before dispatching starts.
func (g *Gateway) SetVerdictHandler(k action.VerdictKind, h VerdictHandler) { g.verdicts[k] = h }

// Execute delivers a on its own provider through the circuit breaker and the
// executor, bypassing the rules (verdict handlers use it for notifications).
func (g *Gateway) Execute(ctx context.Context, a *action.Action) action.Outcome {
	out, _, _ := g.execute(ctx, a)
	return out
}

// SwapRules installs a new rule set atomically.
func (g *Gateway) SwapRules(s *rules.Set) {
	g.metrics.prepareRules(s)
	g.rules.Store(s)
}

// Rules returns the current rule set.
func (g *Gateway) Rules() *rules.Set { return g.rules.Load() }

// Providers returns the provider registry.
func (g *Gateway) Providers() *provider.Registry { return g.providers }

// Metrics returns the gateway counters.
func (g *Gateway) Metrics() *Metrics { return g.metrics }

// State returns the state store (used by the playground for live reads).
func (g *Gateway) State() state.Store { return g.state }

// Now returns the gateway clock's time.
func (g *Gateway) Now() time.Time { return g.clock.Now() }

// Caller identifies who asked for a dispatch, for the audit record.
type Caller struct {
	ID         string
	AuthMethod string // "anonymous", "api_key", "jwt"
}

// Drain stops taking new dispatches and waits for in-flight ones until ctx
// is done.
func (g *Gateway) Drain(ctx context.Context) error {
	g.closing.Store(true)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for g.inflight.Load() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("gateway: drain: %d dispatches still running: %w", g.inflight.Load(), ctx.Err())
		}
	}
	return nil
}

// DryRun evaluates the rules for a and reports what would happen, without
// touching state, providers or the audit trail.
func (g *Gateway) DryRun(ctx context.Context, a *action.Action) action.Outcome {
	g.metrics.inc(cDispatched)
	set := g.rules.Load()
	res := set.Evaluate(ctx, rules.Input{Action: a, Now: g.clock.Now(), State: g.state})
	g.countRuleErrors(set, res)
	out := action.Outcome{Kind: action.OutcomeDryRun, Verdict: string(res.Verdict.Kind), WouldBeProvider: a.Provider}
	if res.Rule != nil && res.Verdict.Kind != action.VerdictAllow {
		out.MatchedRule = res.Rule.Name
	}
	if res.Verdict.Kind == action.VerdictReroute {
		out.WouldBeProvider = res.Verdict.TargetProvider
	}
	return out
}

// Dispatch runs a through the pipeline and returns its outcome. An error
// means no decision could be taken (see the Err* values); nothing was
// delivered and no audit record was written.
func (g *Gateway) Dispatch(ctx context.Context, a *action.Action, caller Caller) (action.Outcome, error) {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	if g.closing.Load() {
		return action.Outcome{}, ErrShuttingDown
	}

	g.metrics.inc(cDispatched)
	start := g.clock.Now()
	set := g.rules.Load()
	res := set.Evaluate(ctx, rules.Input{Action: a, Now: start, State: g.state})
	g.countRuleErrors(set, res)
	if res.Rule != nil {
		g.metrics.ruleMatched(res.Rule)
	}

	var out action.Outcome
	var attempts int
	var err error
	gated := false
	for _, gt := range g.gates {
		o, gerr := gt.Check(ctx, a, res, start)
		if gerr != nil {
			err = gerr
			break
		}
		if o != nil {
			out, gated = *o, true
			break
		}
	}
	if err == nil && !gated {
		out, attempts, err = g.apply(ctx, a, res, start)
	}
	if err != nil {
		g.log.Warn("dispatch failed", "action_id", a.ID, "verdict", res.Verdict.Kind, "err", err)
		return action.Outcome{}, err
	}
	g.metrics.countOutcome(out.Kind)
	if g.audit != nil {
		rec := g.record(a, res, &out, start, attempts, caller)
		// The record outlives the request: a client that disconnects must
		// not erase the trail.
		if werr := g.audit.Write(context.WithoutCancel(ctx), rec); werr != nil {
			return out, fmt.Errorf("%w (outcome was %s): %v", ErrAuditUnavailable, out.Kind, werr)
		}
	}
	return out, nil
}

func (g *Gateway) countRuleErrors(set *rules.Set, res rules.Result) {
	for _, e := range res.Errors {
		g.metrics.ruleErrored(e.Rule, set)
	}
}

// apply carries out the verdict. attempts is the executor's attempt count
// (0 when nothing was executed).
func (g *Gateway) apply(ctx context.Context, a *action.Action, res rules.Result, now time.Time) (action.Outcome, int, error) {
	v := &res.Verdict
	switch v.Kind {
	case action.VerdictAllow:
		return g.execute(ctx, a)

	case action.VerdictDeny, action.VerdictSuppress:
		return action.Outcome{Kind: action.OutcomeSuppressed, Rule: res.Rule.Name}, 0, nil

	case action.VerdictModify:
		mod := *a
		mod.Payload = rules.MergePatch(a.Payload, v.Changes)
		return g.execute(ctx, &mod)

	case action.VerdictDeduplicate:
		key := state.Key{Namespace: a.Namespace, Tenant: a.Tenant, Kind: state.KindDedup, ID: a.EffectiveDedupKey()}
		ttl := time.Duration(v.TTLSeconds) * time.Second
		fresh, err := g.state.CheckAndSet(ctx, key, "1", ttl)
		if err != nil {
			return action.Outcome{}, 0, fmt.Errorf("%w: deduplicate %s: %v", ErrStateUnavailable, key, err)
		}
		if !fresh {
			return action.Outcome{Kind: action.OutcomeDeduplicated}, 0, nil
		}
		out, attempts, err := g.execute(ctx, a)
		if !v.KeepOnFailure && (err != nil || out.Kind == action.OutcomeFailed || out.Kind == action.OutcomeCircuitOpen) {
			// D9: nothing was delivered, so release the marker and let the
			// client's retry run.
			if _, derr := g.state.Delete(context.WithoutCancel(ctx), key); derr != nil {
				g.log.Warn("releasing dedup marker failed", "action_id", a.ID, "err", derr)
			}
		}
		return out, attempts, err

	case action.VerdictThrottle:
		key := state.Key{Namespace: a.Namespace, Tenant: a.Tenant, Kind: state.KindRateLimit, ID: throttleID(res.Rule.Name, v.KeyFields, a)}
		window := time.Duration(v.WindowSeconds) * time.Second
		if window <= 0 {
			// A zero window never throttles (spec 02 §3.4).
			return g.execute(ctx, a)
		}
		count, remaining, err := g.state.IncrementWindow(ctx, key, window)
		if err != nil {
			// Upstream fails open here; we answer 503 instead, like
			// deduplicate: delivering past a limit nobody could count is a
			// wrong outcome, and the client can retry.
			return action.Outcome{}, 0, fmt.Errorf("%w: throttle %s: %v", ErrStateUnavailable, key, err)
		}
		if uint64(count) <= v.MaxCount {
			return g.execute(ctx, a)
		}
		return action.Outcome{Kind: action.OutcomeThrottled, RetryAfter: ceilSecond(remaining)}, 0, nil

	case action.VerdictReroute:
		p, ok := g.providers.Get(v.TargetProvider)
		if !ok {
			return action.Outcome{}, 0, fmt.Errorf("%w: %s", ErrProviderNotFound, v.TargetProvider)
		}
		r := g.exec.Execute(ctx, p, a)
		if r.Err != nil {
			return action.Outcome{Kind: action.OutcomeFailed, Error: r.Err}, r.Attempts, nil
		}
		return action.Outcome{Kind: action.OutcomeRerouted, OriginalProvider: a.Provider, NewProvider: v.TargetProvider, Response: r.Response}, r.Attempts, nil
	}
	if h, ok := g.verdicts[v.Kind]; ok {
		out, err := h.Handle(ctx, a, res, now)
		return out, 0, err
	}
	return action.Outcome{}, 0, fmt.Errorf("%w: %s (rule %q) is accepted by the rule loader but not carried out by this version", ErrNotImplemented, v.Kind, res.Rule.Name)
}

// ceilSecond rounds a remaining window up to whole seconds, as clients get
// retry_after in seconds; it never reports zero for a throttled action.
func ceilSecond(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return (d + time.Second - 1) / time.Second * time.Second
}

func throttleID(rule string, keyFields []string, a *action.Action) string {
	if len(keyFields) == 0 {
		return rule
	}
	var b strings.Builder
	b.WriteString(rule)
	for _, f := range keyFields {
		v, _ := rules.FieldValue(a, f)
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// execute delivers a on its own provider, through its circuit breaker.
func (g *Gateway) execute(ctx context.Context, a *action.Action) (action.Outcome, int, error) {
	p, ok := g.providers.Get(a.Provider)
	if !ok {
		return failedNotFound(a.Provider), 0, nil
	}
	if g.breakers != nil && !g.breakers.Allow(a.Provider) {
		target, chain, ok := g.breakers.FallbackChain(a.Provider, g.providers.Has)
		if !ok {
			return action.Outcome{Kind: action.OutcomeCircuitOpen, Provider: a.Provider, FallbackChain: chain}, 0, nil
		}
		fp, _ := g.providers.Get(target)
		g.metrics.inc(cCircuitFallbacks)
		r := g.exec.Execute(ctx, fp, a)
		if r.Err != nil {
			return action.Outcome{Kind: action.OutcomeFailed, Error: r.Err}, r.Attempts, nil
		}
		return action.Outcome{Kind: action.OutcomeRerouted, OriginalProvider: a.Provider, NewProvider: target, Response: r.Response}, r.Attempts, nil
	}
	r := g.exec.Execute(ctx, p, a)
	if r.Err != nil {
		return action.Outcome{Kind: action.OutcomeFailed, Error: r.Err}, r.Attempts, nil
	}
	return action.Outcome{Kind: action.OutcomeExecuted, Response: r.Response}, r.Attempts, nil
}

func failedNotFound(name string) action.Outcome {
	return action.Outcome{Kind: action.OutcomeFailed, Error: &action.ActionError{
		Code: "PROVIDER_NOT_FOUND", Message: "provider not found: " + name, Retryable: false, Attempts: 0,
	}}
}
