package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/acteon/acteon-go/internal/bench"
)

const benchUsage = `usage: acteon bench [flags]

Measures the gateway in-process (no HTTP) with a recording provider and prints
a table (or JSON lines). Modes, combinable; with none, one throughput row:
  --matrix            every state × audit pair of the seed's table, each with
                      no rule (sequential) and a dedup rule (sequential and
                      64 in flight), plus each backend's bare round trip
  --dedup-accuracy    20 concurrent dispatches with one dedup_key, 100 rounds,
                      per state backend (all reachable ones unless --state)
  --memory            heap per rule, dedup key, event group, grouped event and
                      audit record; idle process
  --target URL        the workload over HTTP against a running server

Backend addresses come from --postgres-url, --redis-url, --clickhouse-url and
--dynamodb-url, or ACTEON_TEST_{POSTGRES,REDIS,CLICKHOUSE,DYNAMODB}_URL.

flags:
`

func benchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var (
		stateB      = fs.String("state", "memory", "state backend: "+strings.Join(bench.StateBackends, "|"))
		auditB      = fs.String("audit", "none", "audit backend: "+strings.Join(bench.AuditBackends, "|"))
		actions     = fs.Int("actions", 10000, "actions per repetition (200 reproduces upstream's run)")
		concurrency = fs.Int("concurrency", 1, "dispatches in flight (1 = sequential); HTTP connections with --target")
		rulesKind   = fs.String("rules", "none", "none|dedup|throttle|N (N rules that never match)")
		matrix      = fs.Bool("matrix", false, "run every reachable row of the seed's throughput table")
		format      = fs.String("format", "table", "output: table|json (one JSON object per line)")
		dedupAcc    = fs.Bool("dedup-accuracy", false, "measure concurrent dedup accuracy per state backend")
		memory      = fs.Bool("memory", false, "measure memory per component")
		target      = fs.String("target", "", "send the workload over HTTP to this server (e.g. http://127.0.0.1:8080)")
		reps        = fs.Int("reps", 5, "measured repetitions (the median is reported with min–max)")
		warmup      = fs.Int("warmup", 0, "unmeasured dispatches before measuring (default min(actions, 1000); -1 for none)")
		nodes       = fs.Int("nodes", 3, "gateway nodes sharing the state backend for --dedup-accuracy")
		rounds      = fs.Int("rounds", 100, "rounds of --dedup-accuracy")
		dedupConc   = fs.Int("dedup-concurrency", 20, "concurrent dispatches per --dedup-accuracy round")
		provName    = fs.String("provider", "email", "provider the actions name with --target")
		capture     = fs.Bool("capture", false, "keep a copy of every action in the recording provider, as upstream does")
		quiet       = fs.Bool("quiet", false, "no progress lines on stderr")
		pgURL       = fs.String("postgres-url", "", "PostgreSQL address (default $"+bench.EnvPostgres+")")
		redisURL    = fs.String("redis-url", "", "Redis address (default $"+bench.EnvRedis+" or redis://127.0.0.1:6379)")
		chURL       = fs.String("clickhouse-url", "", "ClickHouse HTTP address (default $"+bench.EnvClickHouse+")")
		dynURL      = fs.String("dynamodb-url", "", "DynamoDB endpoint (default $"+bench.EnvDynamoDB+"; empty means AWS)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "acteon bench: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if !slices.Contains(bench.StateBackends, *stateB) {
		return fail("--state %q: want one of %s", *stateB, strings.Join(bench.StateBackends, ", "))
	}
	if !slices.Contains(bench.AuditBackends, *auditB) {
		return fail("--audit %q: want one of %s", *auditB, strings.Join(bench.AuditBackends, ", "))
	}
	if *concurrency < 1 || *actions < 1 || *reps < 1 || *nodes < 1 || *rounds < 1 || *dedupConc < 2 {
		return fail("--actions, --concurrency, --reps, --nodes and --rounds must be >= 1, --dedup-concurrency >= 2")
	}
	if err := bench.ValidateRules(*rulesKind); err != nil {
		return fail("--rules: %v", err)
	}
	if *matrix && (explicit["state"] || explicit["audit"] || explicit["rules"] || explicit["concurrency"]) {
		return fail("--matrix chooses the rows itself; drop --state, --audit, --rules and --concurrency")
	}
	if *target != "" && (*matrix || *dedupAcc) {
		return fail("--target measures a remote server; it does not combine with --matrix or --dedup-accuracy")
	}
	pr, err := bench.NewPrinter(stdout, bench.Format(*format))
	if err != nil {
		return fail("--format %q: want table or json", *format)
	}
	// Addresses may carry passwords: they are never flag defaults (which
	// -h prints).
	urls := bench.URLsFromEnv()
	for _, u := range []struct{ flag, dst *string }{
		{pgURL, &urls.Postgres}, {redisURL, &urls.Redis}, {chURL, &urls.ClickHouse}, {dynURL, &urls.DynamoDB},
	} {
		if *u.flag != "" {
			*u.dst = *u.flag
		}
	}
	o := bench.Options{
		URLs:    urls,
		Actions: *actions, Reps: *reps, Warmup: *warmup, Capture: *capture,
	}
	if !*quiet {
		o.Progress = stderr
	}
	r, err := bench.NewRunner(o)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pr.Machine(bench.ThisMachine())
	pr.Note("# the load generator, the gateway and the backends share this machine's CPUs")

	// Memory first: its idle figure is the whole process.
	if *memory {
		for _, m := range r.Memory(ctx, *actions) {
			pr.Memory(m)
		}
	}
	switch {
	case *target != "":
		pr.Target(r.Target(ctx, *target, *provName, *concurrency))
	case *matrix:
		for _, spec := range bench.Matrix() {
			if ctx.Err() != nil {
				break
			}
			pr.Throughput(r.Throughput(ctx, spec))
		}
	case !*memory && !*dedupAcc || explicit["rules"] || explicit["audit"] || explicit["concurrency"]:
		pr.Throughput(r.Throughput(ctx, bench.Spec{State: *stateB, Audit: *auditB, Rules: *rulesKind, Concurrency: *concurrency}))
	}
	for _, b := range r.Baselines() {
		pr.Baseline(b)
	}
	if *dedupAcc {
		states := bench.StateBackends
		if explicit["state"] {
			states = []string{*stateB}
		}
		for _, s := range states {
			if ctx.Err() != nil {
				break
			}
			pr.Dedup(r.DedupAccuracy(ctx, s, *nodes, *rounds, *dedupConc))
		}
	}
	if err := pr.Err(); err != nil {
		fmt.Fprintln(stderr, "acteon bench:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "acteon bench: interrupted")
		return 130
	}
	return 0
}
