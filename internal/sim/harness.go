package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	simprov "github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
)

// Errors returned by Start and the dispatch helpers.
var (
	// ErrConfig: the Config is unusable (unknown backend, missing URL,
	// duplicate provider, bad rule YAML, …).
	ErrConfig = errors.New("sim: invalid configuration")
	// ErrNoNode: a node index outside 0..NodeCount()-1.
	ErrNoNode = errors.New("sim: no such node")
)

// StateBackends are the accepted Config.State values.
var StateBackends = []string{"memory", "redis", "postgres", "dynamodb", "clickhouse"}

// DefaultStart is the virtual clock's initial time.
var DefaultStart = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// DefaultPrefix isolates the harness's tables and keys on a real backend.
const DefaultPrefix = "acteon_sim_"

// Config describes a simulation. The zero value is one node over memory
// state with no providers, no rules and no audit.
type Config struct {
	// Nodes is the number of gateway nodes (default 1).
	Nodes int
	// State is the shared state backend, one of StateBackends (default
	// "memory").
	State string
	// StateURL is the real backend's address (required for postgres and
	// clickhouse; redis defaults to redis://127.0.0.1:6379).
	StateURL string
	// Prefix is the table/key prefix on a real backend (default
	// DefaultPrefix). Isolation between runs comes from Namespace.
	Prefix string
	// Audit gives each node its own in-memory audit trail.
	Audit bool
	// Rules are YAML rule documents, loaded on every node in order.
	Rules []string
	// Recording names recording providers to create; they capture every
	// call and stamp it with the harness clock.
	Recording []string
	// RecordingOptions are applied to every provider named in Recording.
	RecordingOptions []simprov.RecordingOption
	// Providers are further providers (e.g. simprov.NewFailing), shared by
	// every node.
	Providers []provider.Provider
	// Clock is the clock of every node and of the memory state store.
	// Default: a clock.Fake at DefaultStart, moved by Advance.
	Clock clock.Clock
	// TOML is a base configuration for every node (e.g. "[executor]
	// max_retries = 0"); its [state] and [audit] backends are overridden by
	// the fields above.
	TOML string
	// Configure, when set, adjusts each node's parsed configuration last.
	Configure func(node int, cfg *config.Config)
	// Namespace is the namespace Action uses (default "sim-" and a random
	// suffix, so runs on a shared server never see each other's state).
	Namespace string
	// Logger receives every node's logs (default: discarded).
	Logger *slog.Logger
	// NoBackground skips App.Start: no background jobs (timeout
	// processing, scheduled actions, …) run, so the state operations seen
	// are exactly those of the dispatches.
	NoBackground bool
}

// Harness is a running simulation. Create it with Start (or New in tests);
// stop it with Close.
type Harness struct {
	cfg      Config
	clk      clock.Clock
	nodes    []*app.App
	counters []*CountingStore
	shared   *statemem.Store
	recs     map[string]*simprov.Recording
	provs    map[string]provider.Provider
	names    []string
	ns       string
	cancel   context.CancelFunc
	closed   atomic.Bool
}

// Result is the answer to one dispatch of a batch or a concurrent round.
type Result struct {
	// Node is the node that handled the action.
	Node    int
	Outcome action.Outcome
	// Err is set when the gateway could take no decision (e.g. the state
	// backend is unavailable).
	Err error
}

// Start builds and starts every node.
func Start(ctx context.Context, cfg Config) (*Harness, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 1
	}
	if cfg.Nodes < 0 || cfg.Nodes > 1024 {
		return nil, fmt.Errorf("%w: nodes must be between 1 and 1024, got %d", ErrConfig, cfg.Nodes)
	}
	if cfg.State == "" {
		cfg.State = "memory"
	}
	if !slices.Contains(StateBackends, cfg.State) {
		return nil, fmt.Errorf("%w: state backend %q (want one of %s)", ErrConfig, cfg.State, strings.Join(StateBackends, ", "))
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	h := &Harness{cfg: cfg, recs: map[string]*simprov.Recording{}, provs: map[string]provider.Provider{}}
	h.clk = cfg.Clock
	if h.clk == nil {
		h.clk = clock.NewFake(DefaultStart)
	}
	h.ns = cfg.Namespace
	if h.ns == "" {
		h.ns = "sim-" + randomHex(6)
	}

	var shared []provider.Provider
	for _, name := range cfg.Recording {
		r := simprov.NewRecording(name, append([]simprov.RecordingOption{simprov.WithClock(h.clk)}, cfg.RecordingOptions...)...)
		h.recs[name] = r
		shared = append(shared, r)
	}
	shared = append(shared, cfg.Providers...)
	for _, p := range shared {
		if p == nil {
			return nil, fmt.Errorf("%w: nil provider", ErrConfig)
		}
		if _, dup := h.provs[p.Name()]; dup {
			return nil, fmt.Errorf("%w: provider %q given twice", ErrConfig, p.Name())
		}
		h.provs[p.Name()] = p
		h.names = append(h.names, p.Name())
	}

	var base *config.Config
	var err error
	if base, err = h.nodeConfig(); err != nil {
		return nil, err
	}
	if cfg.State == "memory" {
		h.shared = statemem.New(statemem.Options{Clock: h.clk})
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	for i := range cfg.Nodes {
		nc := *base
		if cfg.Configure != nil {
			cfg.Configure(i, &nc)
		}
		var counter *CountingStore
		o := app.Options{
			Logger:         cfg.Logger,
			Clock:          h.clk,
			ExtraProviders: shared,
			WrapState: func(s state.Store) state.Store {
				counter = NewCountingStore(s)
				return counter
			},
		}
		if h.shared != nil {
			o.State = h.shared
		}
		a, err := app.Build(&nc, o)
		if err != nil {
			h.Close(ctx)
			return nil, fmt.Errorf("sim: node %d: %w", i, err)
		}
		h.nodes = append(h.nodes, a)
		h.counters = append(h.counters, counter)
		if cfg.NoBackground {
			continue
		}
		if err := a.Start(bg); err != nil {
			h.Close(ctx)
			return nil, fmt.Errorf("sim: node %d: start: %w", i, err)
		}
	}
	if len(cfg.Rules) > 0 {
		if err := h.SetRules(cfg.Rules...); err != nil {
			h.Close(ctx)
			return nil, err
		}
	}
	return h, nil
}

// nodeConfig parses the base TOML and points it at the state backend.
func (h *Harness) nodeConfig() (*config.Config, error) {
	c, _, err := config.Parse([]byte(h.cfg.TOML), "sim.toml")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c.Rules.Directory = ""
	off := false
	c.Rules.Watch = &off
	c.State.Backend = h.cfg.State
	if h.cfg.State != "memory" {
		url := h.cfg.StateURL
		if url == "" && h.cfg.State == "redis" {
			url = config.DefaultRedisURL
		}
		if url == "" && (h.cfg.State == "postgres" || h.cfg.State == "clickhouse") {
			return nil, fmt.Errorf("%w: state backend %s needs StateURL", ErrConfig, h.cfg.State)
		}
		c.State.URL = config.Secret(url)
		c.State.Prefix = h.cfg.Prefix
		if h.cfg.State == "dynamodb" && c.State.TableName == "" {
			c.State.TableName = config.DefaultDynamoDBTable
		}
		on := true
		c.State.AutoMigrate = &on
	}
	c.Audit.Enabled = h.cfg.Audit
	if h.cfg.Audit {
		c.Audit.Backend = "memory"
		c.Audit.CleanupIntervalSeconds = 0
	}
	return c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Close stops every node (draining dispatches and flushing audit) and
// closes the shared store. It is safe to call more than once.
func (h *Harness) Close(ctx context.Context) error {
	if h.closed.Swap(true) {
		return nil
	}
	var errs []error
	for i, n := range h.nodes {
		if err := n.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sim: node %d: %w", i, err))
		}
	}
	if h.cancel != nil {
		h.cancel()
	}
	if h.shared != nil {
		if err := h.shared.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetRules parses the YAML documents and installs them on every node,
// replacing the previous rules.
func (h *Harness) SetRules(docs ...string) error {
	for _, n := range h.nodes {
		opts := rules.Options{HasProvider: n.Gateway.Providers().Has}
		var all []*rules.Rule
		for j, d := range docs {
			rs, _, err := rules.ParseFile(fmt.Sprintf("sim-rules-%d.yaml", j), []byte(d), opts)
			if err != nil {
				return fmt.Errorf("%w: rules: %w", ErrConfig, err)
			}
			all = append(all, rs...)
		}
		set, err := rules.NewSet(all)
		if err != nil {
			return fmt.Errorf("%w: rules: %w", ErrConfig, err)
		}
		n.Gateway.SwapRules(set)
	}
	return nil
}

// NodeCount returns the number of nodes.
func (h *Harness) NodeCount() int { return len(h.nodes) }

// Node returns node i's App (Gateway, Handler, AuditStore, …), or nil.
func (h *Harness) Node(i int) *app.App {
	if i < 0 || i >= len(h.nodes) {
		return nil
	}
	return h.nodes[i]
}

// Clock returns the harness clock.
func (h *Harness) Clock() clock.Clock { return h.clk }

// Now returns the harness clock's time.
func (h *Harness) Now() time.Time { return h.clk.Now() }

// Advance moves the virtual clock forward by d. It has no effect when
// Config.Clock is not a *clock.Fake.
func (h *Harness) Advance(d time.Duration) {
	if f, ok := h.clk.(*clock.Fake); ok {
		f.Advance(d)
	}
}

// Namespace returns the namespace Action puts on its actions.
func (h *Harness) Namespace() string { return h.ns }

// Action returns a new action in the harness namespace, tenant "t1", with a
// fresh UUID v4 id and created_at = the harness clock. payload may be nil.
func (h *Harness) Action(providerName, actionType string, payload map[string]any) *action.Action {
	if payload == nil {
		payload = map[string]any{}
	}
	return &action.Action{
		ID: action.UUIDv4(), Namespace: h.ns, Tenant: "t1", Provider: providerName,
		ActionType: actionType, Payload: payload, CreatedAt: h.clk.Now(),
	}
}

// Dispatch runs a on node 0.
func (h *Harness) Dispatch(ctx context.Context, a *action.Action) (action.Outcome, error) {
	return h.DispatchTo(ctx, 0, a)
}

// DispatchTo runs a on node i.
func (h *Harness) DispatchTo(ctx context.Context, i int, a *action.Action) (action.Outcome, error) {
	n := h.Node(i)
	if n == nil {
		return action.Outcome{}, fmt.Errorf("%w: %d (have %d)", ErrNoNode, i, len(h.nodes))
	}
	if a == nil {
		return action.Outcome{}, fmt.Errorf("%w: nil action", ErrConfig)
	}
	return n.Gateway.Dispatch(ctx, a, gatewayCaller)
}

// DryRun evaluates a on node 0 without side effects.
func (h *Harness) DryRun(ctx context.Context, a *action.Action) (action.Outcome, error) {
	return h.DryRunTo(ctx, 0, a)
}

// DryRunTo evaluates a on node i without side effects.
func (h *Harness) DryRunTo(ctx context.Context, i int, a *action.Action) (action.Outcome, error) {
	n := h.Node(i)
	if n == nil {
		return action.Outcome{}, fmt.Errorf("%w: %d (have %d)", ErrNoNode, i, len(h.nodes))
	}
	if a == nil {
		return action.Outcome{}, fmt.Errorf("%w: nil action", ErrConfig)
	}
	return n.Gateway.DryRun(ctx, a), nil
}

// gatewayCaller is who the audit trail says dispatched harness actions.
var gatewayCaller = gateway.Caller{ID: "sim", AuthMethod: "anonymous"}

// BatchConcurrency is how many actions of one batch run at once, as in the
// HTTP batch endpoint.
const BatchConcurrency = 32

// DispatchBatch runs the actions on node 0, at most BatchConcurrency at a
// time; results are in input order.
func (h *Harness) DispatchBatch(ctx context.Context, actions []*action.Action) []Result {
	return h.batch(ctx, actions, func(int) int { return 0 }, BatchConcurrency, false)
}

// DispatchBatchTo runs the actions on node i like DispatchBatch.
func (h *Harness) DispatchBatchTo(ctx context.Context, i int, actions []*action.Action) []Result {
	return h.batch(ctx, actions, func(int) int { return i }, BatchConcurrency, false)
}

// DryRunBatch dry-runs the actions on node 0; results are in input order.
func (h *Harness) DryRunBatch(ctx context.Context, actions []*action.Action) []Result {
	return h.batch(ctx, actions, func(int) int { return 0 }, BatchConcurrency, true)
}

// DryRunBatchTo dry-runs the actions on node i.
func (h *Harness) DryRunBatchTo(ctx context.Context, i int, actions []*action.Action) []Result {
	return h.batch(ctx, actions, func(int) int { return i }, BatchConcurrency, true)
}

// DispatchConcurrently starts one goroutine per action, releases them all
// at once, and sends action k to node k mod NodeCount(). Results are in
// input order. It is the shape of a race: many nodes receiving the same
// event at the same moment.
func (h *Harness) DispatchConcurrently(ctx context.Context, actions []*action.Action) []Result {
	n := len(h.nodes)
	return h.batch(ctx, actions, func(k int) int { return k % n }, len(actions), false)
}

func (h *Harness) batch(ctx context.Context, actions []*action.Action, node func(int) int, limit int, dry bool) []Result {
	out := make([]Result, len(actions))
	if len(actions) == 0 {
		return out
	}
	limit = max(limit, 1)
	sem := make(chan struct{}, limit)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k, a := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sem <- struct{}{}
			defer func() { <-sem }()
			i := node(k)
			r := Result{Node: i}
			if dry {
				r.Outcome, r.Err = h.DryRunTo(ctx, i, a)
			} else {
				r.Outcome, r.Err = h.DispatchTo(ctx, i, a)
			}
			out[k] = r
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// Recording returns the recording provider created for name, or nil.
func (h *Harness) Recording(name string) *simprov.Recording { return h.recs[name] }

// Provider returns the shared provider registered under name, or nil.
func (h *Harness) Provider(name string) provider.Provider { return h.provs[name] }

// Providers returns the names of the shared providers in Config order.
func (h *Harness) Providers() []string { return slices.Clone(h.names) }

// ResetRecordings clears every recording provider's calls and counter.
func (h *Harness) ResetRecordings() {
	for _, r := range h.recs {
		r.Clear()
	}
}

// CallCount returns how many times the shared provider name was called
// (recording and failing providers; -1 for others or unknown names).
func (h *Harness) CallCount(name string) int {
	switch p := h.provs[name].(type) {
	case *simprov.Recording:
		return p.CallCount()
	case *simprov.Failing:
		return p.CallCount()
	}
	return -1
}

// Received returns the actions the recording provider name received,
// oldest first (nil for unknown names).
func (h *Harness) Received(name string) []*action.Action {
	r := h.recs[name]
	if r == nil {
		return nil
	}
	calls := r.Calls()
	out := make([]*action.Action, len(calls))
	for i, c := range calls {
		out[i] = c.Action
	}
	return out
}

// StateOps returns the state operations (round trips) every node asked for
// since the last ResetStateOps, summed; background jobs included.
func (h *Harness) StateOps() int64 {
	var n int64
	for _, c := range h.counters {
		if c != nil {
			n += c.Total()
		}
	}
	return n
}

// StateOpCount returns how many times every node together asked for one
// state operation since the last ResetStateOps. Background jobs started by
// the nodes (timeout processing, …) are counted too.
func (h *Harness) StateOpCount(op Op) int64 {
	var n int64
	for _, c := range h.counters {
		if c != nil {
			n += c.Count(op)
		}
	}
	return n
}

// StateCounter returns node i's counting decorator, or nil.
func (h *Harness) StateCounter(i int) *CountingStore {
	if i < 0 || i >= len(h.counters) {
		return nil
	}
	return h.counters[i]
}

// ResetStateOps zeroes every node's state operation counter.
func (h *Harness) ResetStateOps() {
	for _, c := range h.counters {
		if c != nil {
			c.Reset()
		}
	}
}

// FlushAudit waits until every node's audit records so far are stored.
func (h *Harness) FlushAudit(ctx context.Context) error {
	var errs []error
	for _, n := range h.nodes {
		errs = append(errs, n.FlushAudit(ctx))
	}
	return errors.Join(errs...)
}

// pollEvery is how often Await re-checks its condition.
const pollEvery = time.Millisecond

// Await polls cond until it is true or ctx ends (real time: the condition
// usually waits on goroutines, not on the virtual clock).
func (h *Harness) Await(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: await: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// AwaitCalls waits until the shared provider name has been called at least
// n times.
func (h *Harness) AwaitCalls(ctx context.Context, name string, n int) error {
	if h.CallCount(name) < 0 {
		return fmt.Errorf("%w: no recording or failing provider %q", ErrConfig, name)
	}
	if err := h.Await(ctx, func() bool { return h.CallCount(name) >= n }); err != nil {
		return fmt.Errorf("sim: provider %s called %d times, waiting for %d: %w", name, h.CallCount(name), n, err)
	}
	return nil
}
