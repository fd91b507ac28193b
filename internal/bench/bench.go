package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	simprov "github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/sim"
	"github.com/acteon/acteon-go/internal/state"
)

// ErrSpec: a Spec or Options value is invalid (unknown backend, bad rules
// value, non-positive counts).
var ErrSpec = errors.New("bench: invalid specification")

// Backends accepted for --state and --audit.
var (
	StateBackends = []string{"memory", "redis", "postgres", "dynamodb", "clickhouse"}
	AuditBackends = []string{"none", "memory", "postgres", "clickhouse"}
)

// Environment variables naming backend addresses (the same the tests use).
const (
	EnvPostgres   = "ACTEON_TEST_POSTGRES_URL"
	EnvRedis      = "ACTEON_TEST_REDIS_URL"
	EnvClickHouse = "ACTEON_TEST_CLICKHOUSE_URL"
	EnvDynamoDB   = "ACTEON_TEST_DYNAMODB_URL"
)

// Prefix names the bench's tables and keys on real backends. The bench
// deletes its own audit records after each row; state entries expire.
const Prefix = "acteon_bench_"

// dynamoTable is the DynamoDB table the bench uses.
const dynamoTable = "acteon_bench_state"

// URLs are the backend addresses.
type URLs struct {
	Postgres, Redis, ClickHouse, DynamoDB string
}

// URLsFromEnv reads the ACTEON_TEST_*_URL variables.
func URLsFromEnv() URLs {
	return URLs{
		Postgres: os.Getenv(EnvPostgres), Redis: os.Getenv(EnvRedis),
		ClickHouse: os.Getenv(EnvClickHouse), DynamoDB: os.Getenv(EnvDynamoDB),
	}
}

// For returns the address of backend ("" for memory, none or unknown).
func (u URLs) For(backend string) string {
	switch backend {
	case "postgres":
		return u.Postgres
	case "redis":
		return u.Redis
	case "clickhouse":
		return u.ClickHouse
	case "dynamodb":
		return u.DynamoDB
	}
	return ""
}

func envFor(backend string) string {
	switch backend {
	case "postgres":
		return EnvPostgres
	case "redis":
		return EnvRedis
	case "clickhouse":
		return EnvClickHouse
	case "dynamodb":
		return EnvDynamoDB
	}
	return ""
}

// Spec selects one throughput row.
type Spec struct {
	State string // one of StateBackends
	Audit string // one of AuditBackends
	// Rules is "none", "dedup" (one deduplicate rule matching every
	// action; ids are unique, so every action is delivered and costs one
	// CheckAndSet), "throttle" (one throttle rule that never trips; one
	// IncrementWindow per action) or a number N of rules that never match.
	Rules       string
	Concurrency int
}

func (s Spec) validate() error {
	var errs []error
	if !slices.Contains(StateBackends, s.State) {
		errs = append(errs, fmt.Errorf("state %q: want one of %s", s.State, strings.Join(StateBackends, ", ")))
	}
	if !slices.Contains(AuditBackends, s.Audit) {
		errs = append(errs, fmt.Errorf("audit %q: want one of %s", s.Audit, strings.Join(AuditBackends, ", ")))
	}
	if _, err := rulesYAML(s.Rules); err != nil {
		errs = append(errs, err)
	}
	if s.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be >= 1, got %d", s.Concurrency))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrSpec, err)
	}
	return nil
}

// Options are shared by every measurement of a Runner.
type Options struct {
	URLs URLs
	// Actions per repetition (default 10,000; 200 reproduces upstream's
	// run).
	Actions int
	// Reps is the number of measured repetitions (default 5).
	Reps int
	// Warmup is the number of unmeasured dispatches before the first
	// repetition (default min(Actions, 1000); negative means none).
	Warmup int
	// Capture keeps a copy of every action in the recording provider, as
	// upstream's RecordingProvider does (default off: only a counter).
	Capture bool
	// BaselineOps is the number of bare round trips per baseline
	// repetition (default min(max(Actions, 200), 5000)).
	BaselineOps int
	// Progress, when set, receives one line per step (stderr in the CLI).
	Progress io.Writer
	// Logger receives the gateway's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) defaults() error {
	if o.Actions == 0 {
		o.Actions = 10000
	}
	if o.Reps == 0 {
		o.Reps = 5
	}
	if o.Warmup == 0 {
		o.Warmup = min(o.Actions, 1000)
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	}
	if o.BaselineOps == 0 {
		o.BaselineOps = min(max(o.Actions, 200), 5000)
	}
	if o.Actions < 1 || o.Reps < 1 || o.BaselineOps < 1 {
		return fmt.Errorf("%w: actions, reps and baseline ops must be >= 1", ErrSpec)
	}
	return nil
}

// Runner runs measurements and caches baselines within one run.
type Runner struct {
	o  Options
	mu sync.Mutex
	// baselines by backend and concurrency.
	baselines map[baselineKey]Baseline
}

type baselineKey struct {
	backend     string
	concurrency int
}

// NewRunner validates o and applies its defaults.
func NewRunner(o Options) (*Runner, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	return &Runner{o: o, baselines: map[baselineKey]Baseline{}}, nil
}

// Options returns the effective options.
func (r *Runner) Options() Options { return r.o }

func (r *Runner) progress(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", args...)
	}
}

// Row is one throughput measurement. Unavailable, when set, says why the
// row could not be measured; the figures are then meaningless.
type Row struct {
	State, Audit, Rules string
	Concurrency         int
	Actions, Reps       int
	// ActionsPerSec is actions / time until the last dispatch returned.
	ActionsPerSec Spread
	// Latency percentiles of single dispatches (median over repetitions).
	P50, P95, P99 time.Duration
	// RoundTripsPerAction counts state operations (one round trip each)
	// per dispatch; AllocsPerAction is the heap allocation count of the
	// whole process during the repetitions divided by the actions.
	RoundTripsPerAction, AllocsPerAction float64
	// Sustained is actions / time until every audit record is durable
	// (only with an audit backend).
	Sustained *Spread
	// Outcomes counts the dispatch outcomes of the measured repetitions;
	// Errors the dispatches that returned an error.
	Outcomes map[string]int
	Errors   int
	FirstErr string
	// Baseline is the state backend's bare round trip at the same
	// concurrency, measured in the same run (nil for memory).
	Baseline *Baseline
	// Upstream is the seed's figure for this state × audit pair, if any.
	Upstream *UpstreamRow
	// Unavailable is why the row was not measured.
	Unavailable string
}

// RatioToBaseline is the dispatch rate over the bare round-trip rate.
func (r Row) RatioToBaseline() (float64, bool) {
	if r.Baseline == nil || r.Baseline.Unavailable != "" || r.Baseline.OpsPerSec.Median == 0 || r.Unavailable != "" {
		return 0, false
	}
	return r.ActionsPerSec.Median / r.Baseline.OpsPerSec.Median, true
}

// VsUpstream is the dispatch rate over upstream's figure.
func (r Row) VsUpstream() (float64, bool) {
	if r.Upstream == nil || r.Unavailable != "" || r.Upstream.PerSec == 0 {
		return 0, false
	}
	return r.ActionsPerSec.Median / r.Upstream.PerSec, true
}

// MarshalJSON writes the keys of the issue (state, audit, rules,
// concurrency, actions, actions_per_sec, p50_us, p95_us, p99_us,
// round_trips_per_action, allocs_per_action, sustained_actions_per_sec)
// plus min/max, outcomes, the baseline and upstream's figure.
func (r Row) MarshalJSON() ([]byte, error) {
	type out struct {
		Kind        string         `json:"kind"`
		State       string         `json:"state"`
		Audit       string         `json:"audit"`
		Rules       string         `json:"rules"`
		Concurrency int            `json:"concurrency"`
		Actions     int            `json:"actions"`
		Reps        int            `json:"reps"`
		Unavailable string         `json:"unavailable,omitempty"`
		APS         *float64       `json:"actions_per_sec,omitempty"`
		APSMin      *float64       `json:"actions_per_sec_min,omitempty"`
		APSMax      *float64       `json:"actions_per_sec_max,omitempty"`
		P50         *float64       `json:"p50_us,omitempty"`
		P95         *float64       `json:"p95_us,omitempty"`
		P99         *float64       `json:"p99_us,omitempty"`
		RT          *float64       `json:"round_trips_per_action,omitempty"`
		Allocs      *float64       `json:"allocs_per_action,omitempty"`
		Sus         *float64       `json:"sustained_actions_per_sec,omitempty"`
		SusMin      *float64       `json:"sustained_actions_per_sec_min,omitempty"`
		SusMax      *float64       `json:"sustained_actions_per_sec_max,omitempty"`
		Outcomes    map[string]int `json:"outcomes,omitempty"`
		Errors      *int           `json:"errors,omitempty"`
		FirstErr    string         `json:"first_error,omitempty"`
		BaseOp      string         `json:"baseline_op,omitempty"`
		BasePerSec  *float64       `json:"baseline_per_sec,omitempty"`
		BaseP50     *float64       `json:"baseline_p50_us,omitempty"`
		BaseUnavail string         `json:"baseline_unavailable,omitempty"`
		Ratio       *float64       `json:"ratio_to_baseline,omitempty"`
		UpstreamPS  *float64       `json:"upstream_actions_per_sec,omitempty"`
		VsUpstream  *float64       `json:"vs_upstream,omitempty"`
	}
	o := out{Kind: "throughput", State: r.State, Audit: r.Audit, Rules: r.Rules, Concurrency: r.Concurrency,
		Actions: r.Actions, Reps: r.Reps, Unavailable: r.Unavailable}
	if r.Unavailable == "" {
		o.APS, o.APSMin, o.APSMax = f(round(r.ActionsPerSec.Median, 0)), f(round(r.ActionsPerSec.Min, 0)), f(round(r.ActionsPerSec.Max, 0))
		o.P50, o.P95, o.P99 = f(round(micros(r.P50), 1)), f(round(micros(r.P95), 1)), f(round(micros(r.P99), 1))
		o.RT, o.Allocs = f(round(r.RoundTripsPerAction, 3)), f(round(r.AllocsPerAction, 1))
		if r.Sustained != nil {
			o.Sus, o.SusMin, o.SusMax = f(round(r.Sustained.Median, 0)), f(round(r.Sustained.Min, 0)), f(round(r.Sustained.Max, 0))
		}
		o.Outcomes, o.Errors, o.FirstErr = r.Outcomes, &r.Errors, r.FirstErr
		if v, ok := r.RatioToBaseline(); ok {
			o.Ratio = f(round(v, 3))
		}
		if v, ok := r.VsUpstream(); ok {
			o.VsUpstream = f(round(v, 2))
		}
	}
	if b := r.Baseline; b != nil {
		o.BaseOp = b.Op
		if b.Unavailable != "" {
			o.BaseUnavail = b.Unavailable
		} else {
			o.BasePerSec, o.BaseP50 = f(round(b.OpsPerSec.Median, 0)), f(round(micros(b.P50), 1))
		}
	}
	if r.Upstream != nil {
		o.UpstreamPS = f(r.Upstream.PerSec)
	}
	return json.Marshal(o)
}

func f(x float64) *float64 { return &x }

// Throughput measures one row.
func (r *Runner) Throughput(ctx context.Context, spec Spec) Row {
	row := Row{State: spec.State, Audit: spec.Audit, Rules: spec.Rules, Concurrency: spec.Concurrency,
		Actions: r.o.Actions, Reps: r.o.Reps}
	if spec.Rules == "" {
		row.Rules = "none"
		spec.Rules = "none"
	}
	if u, ok := upstreamFor(spec); ok {
		row.Upstream = &u
	}
	if err := spec.validate(); err != nil {
		row.Unavailable = err.Error()
		return row
	}
	for _, b := range []string{spec.State, spec.Audit} {
		if b != "memory" && b != "none" && b != "redis" && r.o.URLs.For(b) == "" {
			row.Unavailable = fmt.Sprintf("no %s address: set --%s-url or %s", b, b, envFor(b))
			return row
		}
	}
	r.progress("row state=%s audit=%s rules=%s concurrency=%d: building", spec.State, spec.Audit, spec.Rules, spec.Concurrency)

	cfg, err := r.rowConfig(spec)
	if err != nil {
		row.Unavailable = err.Error()
		return row
	}
	var counter *sim.CountingStore
	rec := r.recording()
	a, err := app.Build(cfg, app.Options{
		Logger:         r.o.Logger,
		ExtraProviders: []provider.Provider{rec},
		WrapState: func(s state.Store) state.Store {
			counter = sim.NewCountingStore(s)
			return counter
		},
	})
	if err != nil {
		row.Unavailable = firstLine(err)
		if spec.State != "memory" {
			// Says whether the server itself answers.
			bl := r.Baseline(ctx, spec.State, spec.Concurrency)
			row.Baseline = &bl
		}
		return row
	}
	defer func() {
		if err := a.Close(context.WithoutCancel(ctx)); err != nil {
			r.progress("closing the gateway: %v", err)
		}
	}()
	if err := installRules(a.Gateway, spec.Rules); err != nil {
		row.Unavailable = err.Error()
		return row
	}
	if spec.State != "memory" {
		// After Build, so that the backend's tables exist (DynamoDB's
		// baseline reads an item of the bench's table).
		bl := r.Baseline(ctx, spec.State, spec.Concurrency)
		row.Baseline = &bl
	}

	gw := a.Gateway
	if r.o.Warmup > 0 {
		r.progress("warm-up: %d dispatches", r.o.Warmup)
		w := runLoad(ctx, gw, buildActions(r.o.Warmup), spec.Concurrency)
		if w.errors == w.n && w.n > 0 {
			row.Unavailable = "every warm-up dispatch failed: " + firstLine(w.firstErr)
			return row
		}
		if err := a.FlushAudit(ctx); err != nil {
			row.Unavailable = "audit flush after warm-up: " + firstLine(err)
			return row
		}
	}

	var rates, sustained []float64
	var p50s, p95s, p99s []float64
	var ops int64
	var mallocs uint64
	row.Outcomes = map[string]int{}
	for rep := range r.o.Reps {
		acts := buildActions(r.o.Actions)
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		counter.Reset()
		t0 := time.Now()
		lr := runLoad(ctx, gw, acts, spec.Concurrency)
		if spec.Audit != "none" {
			if err := a.FlushAudit(ctx); err != nil {
				row.Unavailable = "audit flush: " + firstLine(err)
				return row
			}
			sustained = append(sustained, float64(len(acts))/time.Since(t0).Seconds())
		}
		runtime.ReadMemStats(&m1)
		ops += counter.Total()
		mallocs += m1.Mallocs - m0.Mallocs
		rates = append(rates, float64(len(acts))/lr.elapsed.Seconds())
		p50s = append(p50s, float64(percentile(lr.lat, 0.50)))
		p95s = append(p95s, float64(percentile(lr.lat, 0.95)))
		p99s = append(p99s, float64(percentile(lr.lat, 0.99)))
		for k, n := range lr.outcomes {
			row.Outcomes[string(k)] += n
		}
		row.Errors += lr.errors
		if lr.firstErr != nil && row.FirstErr == "" {
			row.FirstErr = firstLine(lr.firstErr)
		}
		r.progress("  rep %d/%d: %.0f actions/s", rep+1, r.o.Reps, rates[len(rates)-1])
	}
	total := float64(r.o.Actions * r.o.Reps)
	row.ActionsPerSec = spreadOf(rates)
	row.P50 = time.Duration(spreadOf(p50s).Median)
	row.P95 = time.Duration(spreadOf(p95s).Median)
	row.P99 = time.Duration(spreadOf(p99s).Median)
	row.RoundTripsPerAction = float64(ops) / total
	row.AllocsPerAction = float64(mallocs) / total
	if len(sustained) > 0 {
		s := spreadOf(sustained)
		row.Sustained = &s
	}
	if st := a.AuditStore(); st != nil && spec.Audit != "memory" {
		// The bench's audit records live in its own tables; delete them
		// (they expire in an hour anyway).
		if _, err := st.CleanupExpired(context.WithoutCancel(ctx), time.Now().Add(2*time.Hour)); err != nil {
			r.progress("deleting the bench's audit records: %v", err)
		}
	}
	return row
}

func (r *Runner) recording() *simprov.Recording {
	if r.o.Capture {
		return simprov.NewRecording(benchProvider)
	}
	return simprov.NewRecording(benchProvider, simprov.WithoutCapture())
}

// The seed's workload (spec 01 §5.1).
const (
	benchNamespace = "benchmark"
	benchTenant    = "tenant-bench"
	benchProvider  = "email"
	benchType      = "bulk"
)

// buildActions pre-builds n actions: fresh UUID v4 ids, payload {"seq": i}.
func buildActions(n int) []*action.Action {
	out := make([]*action.Action, n)
	now := time.Now()
	for i := range out {
		out[i] = &action.Action{
			ID: action.UUIDv4(), Namespace: benchNamespace, Tenant: benchTenant, Provider: benchProvider,
			ActionType: benchType, Payload: map[string]any{"seq": json.Number(strconv.Itoa(i))}, CreatedAt: now,
		}
	}
	return out
}

// rulesYAML returns the rule file for a --rules value ("" for none).
func rulesYAML(kind string) (string, error) {
	switch kind {
	case "", "none", "0":
		return "", nil
	case "dedup":
		return `rules: [{name: bench-dedup, priority: 1, condition: {field: action.action_type, eq: bulk}, action: {type: deduplicate, ttl_seconds: 60}}]`, nil
	case "throttle":
		return `rules: [{name: bench-throttle, priority: 1, condition: {field: action.action_type, eq: bulk}, action: {type: throttle, max_count: 1000000000000, window_seconds: 3600}}]`, nil
	}
	n, err := strconv.Atoi(kind)
	if err != nil || n < 0 || n > 100000 {
		return "", fmt.Errorf("rules %q: want none, dedup, throttle or a number of non-matching rules (0..100000)", kind)
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "- {name: r%d, priority: %d, condition: {field: action.action_type, eq: nonexistent-%d}, action: {type: suppress}}\n", i, i, i)
	}
	return b.String(), nil
}

func installRules(gw *gateway.Gateway, kind string) error {
	y, err := rulesYAML(kind)
	if err != nil {
		return err
	}
	if y == "" {
		return nil
	}
	rs, _, err := rules.ParseFile("bench.yaml", []byte(y), rules.Options{HasProvider: gw.Providers().Has})
	if err != nil {
		return fmt.Errorf("bench: rules: %w", err)
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		return fmt.Errorf("bench: rules: %w", err)
	}
	gw.SwapRules(set)
	return nil
}

// rowConfig renders the TOML a user would write for this row and parses
// it, so defaults and validation are those of `acteon serve`.
func (r *Runner) rowConfig(spec Spec) (*config.Config, error) {
	var b strings.Builder
	b.WriteString("[state]\n")
	fmt.Fprintf(&b, "backend = %s\n", tomlString(spec.State))
	if spec.State != "memory" {
		if u := r.o.URLs.For(spec.State); u != "" {
			fmt.Fprintf(&b, "url = %s\n", tomlString(u))
		}
		if spec.State == "dynamodb" {
			fmt.Fprintf(&b, "table_name = %s\nprefix = %s\n", tomlString(dynamoTable), tomlString(strings.TrimSuffix(Prefix, "_")))
		} else {
			fmt.Fprintf(&b, "prefix = %s\n", tomlString(Prefix))
		}
		b.WriteString("auto_migrate = true\n")
	}
	if spec.Audit != "none" {
		b.WriteString("\n[audit]\nenabled = true\n")
		fmt.Fprintf(&b, "backend = %s\n", tomlString(spec.Audit))
		if spec.Audit != "memory" {
			fmt.Fprintf(&b, "url = %s\nprefix = %s\nauto_migrate = true\n", tomlString(r.o.URLs.For(spec.Audit)), tomlString(Prefix))
		}
		b.WriteString("ttl_seconds = 3600\n")
	}
	cfg, _, err := config.Parse([]byte(b.String()), "bench.toml")
	if err != nil {
		return nil, fmt.Errorf("bench: configuration: %s", firstLine(err))
	}
	return cfg, nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// loadResult is one run of a workload.
type loadResult struct {
	n        int
	elapsed  time.Duration
	lat      []time.Duration // sorted
	outcomes map[action.OutcomeKind]int
	errors   int
	firstErr error
}

// runLoad dispatches the actions with c in flight and times each one.
func runLoad(ctx context.Context, gw *gateway.Gateway, actions []*action.Action, c int) loadResult {
	n := len(actions)
	lat := make([]time.Duration, n)
	kinds := make([]action.OutcomeKind, n)
	errs := make([]error, n)
	c = min(max(c, 1), max(n, 1))
	start := time.Now()
	if c == 1 {
		for i, a := range actions {
			t := time.Now()
			out, err := gw.Dispatch(ctx, a, gateway.Caller{})
			lat[i] = time.Since(t)
			kinds[i], errs[i] = out.Kind, err
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					t := time.Now()
					out, err := gw.Dispatch(ctx, actions[i], gateway.Caller{})
					lat[i] = time.Since(t)
					kinds[i], errs[i] = out.Kind, err
				}
			}()
		}
		wg.Wait()
	}
	res := loadResult{n: n, elapsed: time.Since(start), lat: lat, outcomes: map[action.OutcomeKind]int{}}
	for i := range n {
		if errs[i] != nil {
			if res.firstErr == nil {
				res.firstErr = errs[i]
			}
			res.errors++
			continue
		}
		res.outcomes[kinds[i]]++
	}
	slices.Sort(res.lat)
	return res
}

// ValidateRules checks a --rules value.
func ValidateRules(kind string) error {
	_, err := rulesYAML(kind)
	return err
}
