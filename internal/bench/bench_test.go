package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/provider"
	simprov "github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/testenv"
)

func tinyRunner(t *testing.T, o Options) *Runner {
	t.Helper()
	if o.Actions == 0 {
		o.Actions = 60
	}
	if o.Reps == 0 {
		o.Reps = 2
	}
	if o.Warmup == 0 {
		o.Warmup = 10
	}
	if o.BaselineOps == 0 {
		o.BaselineOps = 50
	}
	r, err := NewRunner(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkRow(t *testing.T, row Row, wantRT float64) {
	t.Helper()
	if row.Unavailable != "" {
		t.Fatalf("row unavailable: %s", row.Unavailable)
	}
	total := row.Actions * row.Reps
	if row.Errors != 0 || row.Outcomes["executed"] != total || len(row.Outcomes) != 1 {
		t.Errorf("outcomes %v, errors %d (%s); want %d executed", row.Outcomes, row.Errors, row.FirstErr, total)
	}
	s := row.ActionsPerSec
	if !(s.Median > 0 && s.Min <= s.Median && s.Median <= s.Max) {
		t.Errorf("actions/s spread %+v is not ordered and positive", s)
	}
	if !(row.P50 > 0 && row.P50 <= row.P95 && row.P95 <= row.P99) {
		t.Errorf("percentiles p50 %s p95 %s p99 %s are not ordered", row.P50, row.P95, row.P99)
	}
	if row.RoundTripsPerAction != wantRT {
		t.Errorf("round trips per action = %v, want %v", row.RoundTripsPerAction, wantRT)
	}
	if row.AllocsPerAction <= 0 {
		t.Errorf("allocs per action = %v, want > 0", row.AllocsPerAction)
	}
}

func TestThroughputOnMemory(t *testing.T) {
	r := tinyRunner(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		spec Spec
		rt   float64 // D15: one state operation per stateful rule, none otherwise
	}{
		{Spec{State: "memory", Audit: "none", Rules: "none", Concurrency: 1}, 0},
		{Spec{State: "memory", Audit: "none", Rules: "3", Concurrency: 1}, 0},
		{Spec{State: "memory", Audit: "none", Rules: "dedup", Concurrency: 1}, 1},
		{Spec{State: "memory", Audit: "none", Rules: "throttle", Concurrency: 4}, 1},
		{Spec{State: "memory", Audit: "none", Rules: "dedup", Concurrency: 64}, 1},
	} {
		t.Run(tc.spec.Rules+"/c"+string(rune('0'+tc.spec.Concurrency%10)), func(t *testing.T) {
			row := r.Throughput(ctx, tc.spec)
			checkRow(t, row, tc.rt)
			if row.Sustained != nil || row.Baseline != nil {
				t.Errorf("memory/none row has sustained %v, baseline %v", row.Sustained, row.Baseline)
			}
			if (tc.spec.Rules == "none" && tc.spec.Concurrency == 1) != (row.Upstream != nil) {
				t.Errorf("upstream figure %v for %+v; only the seed's method has one", row.Upstream, tc.spec)
			}
		})
	}
}

func TestThroughputWithAuditReportsSustainedRate(t *testing.T) {
	r := tinyRunner(t, Options{})
	row := r.Throughput(context.Background(), Spec{State: "memory", Audit: "memory", Rules: "none", Concurrency: 2})
	checkRow(t, row, 0)
	if row.Sustained == nil || row.Sustained.Median <= 0 {
		t.Fatalf("sustained = %v, want a positive rate", row.Sustained)
	}
}

// jsonLines parses every line of out as one JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", sc.Text(), err)
		}
		rows = append(rows, m)
	}
	return rows
}

func hasKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("row %v lacks key %q", m, k)
		}
	}
}

var throughputKeys = []string{"state", "audit", "rules", "concurrency", "actions", "actions_per_sec",
	"p50_us", "p95_us", "p99_us", "round_trips_per_action", "allocs_per_action"}

func TestJSONRowsAreWellFormed(t *testing.T) {
	r := tinyRunner(t, Options{})
	ctx := context.Background()
	var buf bytes.Buffer
	p, err := NewPrinter(&buf, JSON)
	if err != nil {
		t.Fatal(err)
	}
	p.Machine(ThisMachine())
	p.Throughput(r.Throughput(ctx, Spec{State: "memory", Audit: "none", Rules: "dedup", Concurrency: 1}))
	p.Throughput(r.Throughput(ctx, Spec{State: "memory", Audit: "memory", Rules: "none", Concurrency: 1}))
	p.Throughput(r.Throughput(ctx, Spec{State: "postgres", Audit: "none", Rules: "none", Concurrency: 1}))
	p.Dedup(r.DedupAccuracy(ctx, "memory", 2, 3, 20))
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	rows := jsonLines(t, buf.String())
	if len(rows) != 5 {
		t.Fatalf("%d JSON lines, want 5:\n%s", len(rows), buf.String())
	}
	hasKeys(t, rows[0], "kind", "cpus", "gomaxprocs", "go_version")
	hasKeys(t, rows[1], throughputKeys...)
	if rows[1]["round_trips_per_action"] != 1.0 || rows[1]["rules"] != "dedup" {
		t.Errorf("dedup row: %v", rows[1])
	}
	if _, ok := rows[1]["sustained_actions_per_sec"]; ok {
		t.Errorf("row without audit has a sustained rate: %v", rows[1])
	}
	hasKeys(t, rows[2], append(throughputKeys, "sustained_actions_per_sec")...)
	// No address for postgres: unavailable, and no figure that could be
	// mistaken for a measurement.
	if u, _ := rows[3]["unavailable"].(string); !strings.Contains(u, EnvPostgres) {
		t.Errorf("postgres row without an address: %v", rows[3])
	}
	if _, ok := rows[3]["actions_per_sec"]; ok {
		t.Errorf("unavailable row carries a rate: %v", rows[3])
	}
	hasKeys(t, rows[4], "state", "nodes", "rounds", "executed", "deduplicated", "accuracy")
	if rows[4]["accuracy"] != 100.0 {
		t.Errorf("memory dedup accuracy row: %v", rows[4])
	}
}

func TestTableOutput(t *testing.T) {
	r := tinyRunner(t, Options{})
	ctx := context.Background()
	var buf bytes.Buffer
	p, _ := NewPrinter(&buf, Table)
	p.Machine(ThisMachine())
	p.Throughput(r.Throughput(ctx, Spec{State: "memory", Audit: "none", Rules: "none", Concurrency: 1}))
	p.Throughput(r.Throughput(ctx, Spec{State: "redis", Audit: "none", Rules: "bogus", Concurrency: 1}))
	p.Dedup(r.DedupAccuracy(ctx, "memory", 1, 2, 20))
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := []string{"# acteon bench", "", "## Throughput", "STATE ", "memory     none       none       1", "redis      none       bogus      1",
		"", "## Concurrent dedup accuracy", "STATE ", "memory         1      2"}
	if len(lines) != len(want) {
		t.Fatalf("table has %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[4], "~50,000") || !strings.Contains(lines[3], "ACTIONS/S") {
		t.Errorf("memory row lacks upstream's figure or header lacks columns:\n%s", out)
	}
	if !strings.Contains(lines[5], "unavailable: ") || !strings.Contains(lines[9], "100.0%") {
		t.Errorf("unexpected rows:\n%s", out)
	}
	if _, err := NewPrinter(&buf, "xml"); err == nil {
		t.Error("NewPrinter accepted format xml")
	}
}

func TestDedupAccuracyOnMemoryIsExact(t *testing.T) {
	r := tinyRunner(t, Options{})
	d := r.DedupAccuracy(context.Background(), "memory", 3, 25, 20)
	if d.Unavailable != "" {
		t.Fatal(d.Unavailable)
	}
	if d.Executed != 25 || d.Deduplicated != 25*19 || d.Errors != 0 || d.CorrectRounds != 25 || d.Accuracy() != 100 {
		t.Errorf("dedup accuracy on memory: %+v (accuracy %.1f%%)", d, d.Accuracy())
	}
}

// newServer serves a gateway with a recording provider "email".
func newServer(t *testing.T) (*httptest.Server, *simprov.Recording) {
	t.Helper()
	rec := simprov.NewRecording("email", simprov.WithoutCapture())
	a, err := app.Build(config.Defaults(), app.Options{ExtraProviders: []provider.Provider{rec}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		a.Close(context.Background())
	})
	return srv, rec
}

func TestTargetAgainstHTTPServer(t *testing.T) {
	srv, rec := newServer(t)
	r := tinyRunner(t, Options{Actions: 40, Reps: 2, Warmup: 5})
	row := r.Target(context.Background(), srv.URL, "email", 4)
	if row.Unavailable != "" {
		t.Fatal(row.Unavailable)
	}
	if row.Statuses["200"] != 80 || row.Outcomes["executed"] != 80 || row.Errors != 0 {
		t.Errorf("statuses %v outcomes %v errors %d (%s), want 80 executed", row.Statuses, row.Outcomes, row.Errors, row.FirstErr)
	}
	if got := rec.CallCount(); got != 85 {
		t.Errorf("server's provider called %d times, want 85 (5 warm-up + 80)", got)
	}
	if row.AcceptedPerSec.Median <= 0 || !(row.P50 <= row.P95 && row.P95 <= row.P99) {
		t.Errorf("row %+v", row)
	}
	var buf bytes.Buffer
	p, _ := NewPrinter(&buf, JSON)
	p.Target(row)
	m := jsonLines(t, buf.String())
	hasKeys(t, m[0], "target", "concurrency", "accepted_per_sec", "p50_us", "p95_us", "p99_us", "statuses")
	buf.Reset()
	p, _ = NewPrinter(&buf, Table)
	p.Target(row)
	if !strings.Contains(buf.String(), "/v1/dispatch") || !strings.Contains(buf.String(), "200=80") {
		t.Errorf("target table:\n%s", buf.String())
	}
}

func TestTargetCountsRejections(t *testing.T) {
	srv, rec := newServer(t)
	r := tinyRunner(t, Options{Actions: 10, Reps: 1, Warmup: -1})
	// An unknown provider is still a 200 Failed outcome.
	row := r.Target(context.Background(), srv.URL+"/v1/dispatch", "nope", 2)
	if row.Unavailable != "" || row.Outcomes["failed"] != 10 || rec.CallCount() != 0 {
		t.Errorf("row %+v", row)
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8080"} {
		if row := r.Target(context.Background(), bad, "email", 1); row.Unavailable == "" {
			t.Errorf("target %q accepted", bad)
		}
	}
	// A closed port: every request fails, reported as unavailable.
	closed := httptest.NewServer(nil)
	url := closed.URL
	closed.Close()
	r = tinyRunner(t, Options{Actions: 5, Reps: 1, Warmup: 3})
	if row := r.Target(context.Background(), url, "email", 1); row.Unavailable == "" {
		t.Errorf("closed server: %+v", row)
	}
}

func TestMemoryTable(t *testing.T) {
	r := tinyRunner(t, Options{})
	rows := r.Memory(context.Background(), 2000)
	byName := map[string]MemoryRow{}
	for _, m := range rows {
		byName[m.Component] = m
	}
	for _, c := range []string{ComponentIdle, ComponentRule, ComponentDedupKey, ComponentGroup, ComponentGroupEvent, ComponentAuditRecord} {
		m, ok := byName[c]
		if !ok || m.Unavailable != "" || !(m.Bytes > 0) || math.IsInf(m.Bytes, 0) {
			t.Errorf("%s: want a measured, positive, finite figure, got %+v", c, m)
		}
	}
	if g, e := byName[ComponentGroup], byName[ComponentGroupEvent]; g.N != 2000 || e.N != 2000*groupEvents {
		t.Errorf("group rows count %d groups and %d events, want 2000 and %d", g.N, e.N, 2000*groupEvents)
	}
	var buf bytes.Buffer
	p, _ := NewPrinter(&buf, JSON)
	for _, m := range rows {
		p.Memory(m)
	}
	for _, m := range jsonLines(t, buf.String()) {
		hasKeys(t, m, "kind", "component", "n", "upstream", "bytes", "detail")
	}
}

func TestUnreachableBackendRowsAreUnavailable(t *testing.T) {
	r := tinyRunner(t, Options{URLs: URLs{Postgres: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", Redis: "redis://127.0.0.1:1"}})
	ctx := context.Background()
	for _, s := range []string{"postgres", "redis"} {
		row := r.Throughput(ctx, Spec{State: s, Audit: "none", Rules: "dedup", Concurrency: 1})
		if row.Unavailable == "" || row.Baseline == nil || row.Baseline.Unavailable == "" {
			t.Errorf("%s on a closed port: row %q, baseline %+v", s, row.Unavailable, row.Baseline)
		}
	}
	row := r.Throughput(ctx, Spec{State: "etcd", Audit: "none", Rules: "none", Concurrency: 1})
	if !strings.Contains(row.Unavailable, "etcd") {
		t.Errorf("unknown backend: %q", row.Unavailable)
	}
}

func TestRealBackends(t *testing.T) {
	for _, b := range []struct{ state, env string }{
		{"redis", testenv.Redis}, {"postgres", testenv.Postgres}, {"dynamodb", testenv.DynamoDB}, {"clickhouse", testenv.ClickHouse},
	} {
		t.Run(b.state, func(t *testing.T) {
			url := testenv.URL(t, b.env)
			var urls URLs
			switch b.state {
			case "redis":
				urls.Redis = url
			case "postgres":
				urls.Postgres = url
			case "dynamodb":
				urls.DynamoDB = url
			case "clickhouse":
				urls.ClickHouse = url
			}
			r := tinyRunner(t, Options{URLs: urls, Actions: 40, Reps: 1, Warmup: 5, BaselineOps: 20})
			bl := r.Baseline(context.Background(), b.state, 2)
			if bl.Unavailable != "" {
				testenv.Unreachable(t, b.env, &baselineError{bl.Unavailable})
			}
			if bl.OpsPerSec.Median <= 0 || bl.P50 <= 0 {
				t.Errorf("baseline %+v", bl)
			}
			row := r.Throughput(context.Background(), Spec{State: b.state, Audit: "none", Rules: "dedup", Concurrency: 4})
			checkRow(t, row, 1)
			if _, ok := row.RatioToBaseline(); !ok {
				t.Errorf("no ratio to the baseline: %+v", row.Baseline)
			}
		})
	}
}

type baselineError struct{ s string }

func (e *baselineError) Error() string { return e.s }

func TestStats(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 6}, {0.95, 10}, {0.99, 10}, {1, 10}} {
		if got := percentile(ds, tc.q); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v (sorted[round(q·(n−1))])", tc.q, got, tc.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing")
	}
	if s := spreadOf([]float64{3, 1, 2}); s != (Spread{2, 1, 3}) {
		t.Errorf("spreadOf odd = %+v", s)
	}
	if s := spreadOf([]float64{4, 1, 2, 3}); s != (Spread{2.5, 1, 4}) {
		t.Errorf("spreadOf even = %+v", s)
	}
	for x, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4200: "-4,200"} {
		if got := fmtCount(x); got != want {
			t.Errorf("fmtCount(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestOutcomeName(t *testing.T) {
	for in, want := range map[string]string{
		`{"Executed":{"status":"success"}}`: "executed",
		`"Deduplicated"`:                    "deduplicated",
		`{"CircuitOpen":{"provider":"x"}}`:  "circuit_open",
		` { "Throttled" : {}}`:              "throttled",
		`{"error":"bad"}`:                   "error",
		``:                                  "other",
		`[1]`:                               "other",
		`"unterminated`:                     "other",
	} {
		if got := outcomeName([]byte(in)); got != want {
			t.Errorf("outcomeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSpecValidation(t *testing.T) {
	for _, k := range []string{"none", "dedup", "throttle", "0", "50"} {
		if err := ValidateRules(k); err != nil {
			t.Errorf("ValidateRules(%q): %v", k, err)
		}
	}
	for _, k := range []string{"dedupe", "-1", "1e3", "100001"} {
		if err := ValidateRules(k); err == nil {
			t.Errorf("ValidateRules(%q) accepted", k)
		}
	}
	if _, err := NewRunner(Options{Actions: -1}); err == nil {
		t.Error("NewRunner accepted -1 actions")
	}
	if got := tomlString("a\"b\\c\n"); got != `"a\"b\\c\u000a"` {
		t.Errorf("tomlString = %s", got)
	}
	if got := len(Matrix()); got != 3*len(Upstream) {
		t.Errorf("matrix has %d rows, want %d", got, 3*len(Upstream))
	}
}
