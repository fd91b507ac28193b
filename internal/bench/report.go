package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Format is an output format of Printer.
type Format string

// Formats.
const (
	Table Format = "table"
	JSON  Format = "json"
)

// Printer writes results as aligned tables (a header before each group of
// rows of one kind) or as JSON, one object per line. Rows are written as
// they arrive, so a long matrix shows progress.
type Printer struct {
	w      io.Writer
	format Format
	last   string // kind of the previous table row
	err    error
}

// NewPrinter returns a Printer writing to w in format (Table or JSON).
func NewPrinter(w io.Writer, format Format) (*Printer, error) {
	if format != Table && format != JSON {
		return nil, fmt.Errorf("%w: format %q: want table or json", ErrSpec, format)
	}
	return &Printer{w: w, format: format}, nil
}

// Err returns the first write error.
func (p *Printer) Err() error { return p.err }

func (p *Printer) printf(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, args...)
}

func (p *Printer) json(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if p.err == nil {
			p.err = err
		}
		return
	}
	p.printf("%s\n", b)
}

// header prints the header of kind unless the previous row had it.
func (p *Printer) header(kind, title, columns string) {
	if p.last == kind {
		return
	}
	if p.last != "" {
		p.printf("\n")
	}
	p.last = kind
	p.printf("%s\n%s", title, columns)
}

// Machine prints the machine line.
func (p *Printer) Machine(m Machine) {
	if p.format == JSON {
		p.json(m)
		return
	}
	model := ""
	if m.CPUModel != "" {
		model = " (" + m.CPUModel + ")"
	}
	p.printf("# acteon bench, %s: %s/%s, %d CPUs%s, GOMAXPROCS %d, %s\n",
		m.Time.Format("2006-01-02 15:04 UTC"), m.OS, m.Arch, m.CPUs, model, m.GOMAXPROCS, m.GoVersion)
	p.last = "machine"
}

// Note prints a free-text line in table format (nothing in JSON).
func (p *Printer) Note(format string, args ...any) {
	if p.format == JSON {
		return
	}
	p.printf(format+"\n", args...)
}

const throughputCols = "%-10s %-10s %-8s %3s %7s  %-33s %8s %8s %8s %6s %7s  %-33s %-20s %6s %9s %6s\n"

// Throughput prints one throughput row.
func (p *Printer) Throughput(r Row) {
	if p.format == JSON {
		p.json(r)
		return
	}
	p.header("throughput", "## Throughput (in-process dispatches; median of repetitions, min–max)",
		fmt.Sprintf(throughputCols, "STATE", "AUDIT", "RULES", "C", "ACTIONS", "ACTIONS/S (MIN–MAX)", "P50 µs", "P95 µs", "P99 µs",
			"RT/ACT", "ALLOC/A", "SUSTAINED/S (MIN–MAX)", "BASELINE/S (OP)", "RATIO", "UPSTREAM", "×UP"))
	if r.Unavailable != "" {
		p.printf("%-10s %-10s %-8s %3d %7d  unavailable: %s\n", r.State, r.Audit, r.Rules, r.Concurrency, r.Actions, r.Unavailable)
		return
	}
	sus := "-"
	if r.Sustained != nil {
		sus = spreadString(*r.Sustained)
	}
	base, ratio := "-", "-"
	if b := r.Baseline; b != nil {
		if b.Unavailable != "" {
			base = "unavailable"
		} else {
			base = fmtCount(b.OpsPerSec.Median) + " " + b.Op
		}
	}
	if v, ok := r.RatioToBaseline(); ok {
		ratio = fmt.Sprintf("%.2f", v)
	}
	up, vs := "-", "-"
	if r.Upstream != nil {
		up = "~" + fmtCount(r.Upstream.PerSec)
	}
	if v, ok := r.VsUpstream(); ok {
		vs = fmt.Sprintf("%.1f", v)
	}
	p.printf(throughputCols, r.State, r.Audit, r.Rules, fmt.Sprint(r.Concurrency), fmt.Sprint(r.Actions),
		spreadString(r.ActionsPerSec), fmtMicros(r.P50), fmtMicros(r.P95), fmtMicros(r.P99),
		fmt.Sprintf("%.2f", r.RoundTripsPerAction), fmt.Sprintf("%.1f", r.AllocsPerAction), sus, base, ratio, up, vs)
	if r.Errors > 0 {
		p.printf("    %d dispatches returned an error (first: %s)\n", r.Errors, r.FirstErr)
	}
	if bad := unexpectedOutcomes(r.Outcomes); bad != "" {
		p.printf("    outcomes: %s\n", bad)
	}
}

// unexpectedOutcomes describes outcomes other than executed, or "".
func unexpectedOutcomes(m map[string]int) string {
	if len(m) == 0 || (len(m) == 1 && m["executed"] > 0) {
		return ""
	}
	return mapString(m)
}

func mapString(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

const baselineCols = "%-10s %-10s %3s %7s  %-30s %8s\n"

// Baseline prints one bare round-trip row.
func (p *Printer) Baseline(b Baseline) {
	if p.format == JSON {
		p.json(b)
		return
	}
	p.header("baseline", "## Bare round trips (same run, same client libraries, unpipelined)",
		fmt.Sprintf(baselineCols, "BACKEND", "OP", "C", "OPS", "OPS/S (MIN–MAX)", "P50 µs"))
	if b.Unavailable != "" {
		p.printf("%-10s %-10s %3d %7d  unavailable: %s\n", b.Backend, b.Op, b.Concurrency, b.Ops, b.Unavailable)
		return
	}
	p.printf(baselineCols, b.Backend, b.Op, fmt.Sprint(b.Concurrency), fmt.Sprint(b.Ops), spreadString(b.OpsPerSec), fmtMicros(b.P50))
}

const dedupCols = "%-10s %5s %6s %3s  %-20s %-22s %6s %9s  %s\n"

// Dedup prints one dedup-accuracy row.
func (p *Printer) Dedup(d DedupRow) {
	if p.format == JSON {
		p.json(d)
		return
	}
	p.header("dedup", "## Concurrent dedup accuracy (one dedup_key per round, all dispatches released at once)",
		fmt.Sprintf(dedupCols, "STATE", "NODES", "ROUNDS", "C", "EXECUTED (/ROUND)", "DEDUPLICATED (/ROUND)", "ERRORS", "ACCURACY", "UPSTREAM (EXEC / DEDUP / ACC)"))
	if d.Unavailable != "" {
		p.printf("%-10s %5d %6d %3d  unavailable: %s\n", d.State, d.Nodes, d.Rounds, d.Concurrency, d.Unavailable)
		return
	}
	per := func(n int) string { return fmt.Sprintf("%d (%.2f)", n, float64(n)/float64(d.Rounds)) }
	p.printf(dedupCols, d.State, fmt.Sprint(d.Nodes), fmt.Sprint(d.Rounds), fmt.Sprint(d.Concurrency),
		per(d.Executed), per(d.Deduplicated), fmt.Sprint(d.Errors), fmt.Sprintf("%.1f%%", d.Accuracy()), UpstreamDedup[d.State])
	if d.Errors > 0 {
		p.printf("    first error: %s\n", d.FirstErr)
	}
}

const memoryCols = "%-30s %7s %12s  %-24s %s\n"

// Memory prints one memory row.
func (p *Printer) Memory(m MemoryRow) {
	if p.format == JSON {
		p.json(m)
		return
	}
	p.header("memory", "## Memory (measured: live heap after GC, before and after creating N items)",
		fmt.Sprintf(memoryCols, "COMPONENT", "N", "MEASURED", "UPSTREAM", "DETAIL"))
	if m.Unavailable != "" {
		p.printf("%-30s %7d %12s  %-24s unavailable: %s\n", m.Component, m.N, "-", UpstreamMemory[m.Component], m.Unavailable)
		return
	}
	p.printf(memoryCols, m.Component, fmt.Sprint(m.N), fmtBytes(m.Bytes), UpstreamMemory[m.Component], m.Detail)
}

const targetCols = "%-32s %3s %7s  %-30s %9s %8s %8s %8s  %s\n"

// Target prints one HTTP workload row.
func (p *Printer) Target(t TargetRow) {
	if p.format == JSON {
		p.json(t)
		return
	}
	p.header("target", "## HTTP load (POST /v1/dispatch; median of repetitions, min–max)",
		fmt.Sprintf(targetCols, "TARGET", "C", "ACTIONS", "ACCEPTED/S (MIN–MAX)", "REQ/S", "P50 µs", "P95 µs", "P99 µs", "STATUSES / OUTCOMES"))
	if t.Unavailable != "" {
		p.printf("%-32s %3d %7d  unavailable: %s\n", t.URL, t.Concurrency, t.Actions, t.Unavailable)
		return
	}
	p.printf(targetCols, t.URL, fmt.Sprint(t.Concurrency), fmt.Sprint(t.Actions), spreadString(t.AcceptedPerSec),
		fmtCount(t.RequestsPerSec.Median), fmtMicros(t.P50), fmtMicros(t.P95), fmtMicros(t.P99),
		mapString(t.Statuses)+" / "+mapString(t.Outcomes))
	if t.Errors > 0 {
		p.printf("    %d requests failed (first: %s)\n", t.Errors, t.FirstErr)
	}
}

func spreadString(s Spread) string {
	return fmt.Sprintf("%s (%s–%s)", fmtCount(s.Median), fmtCount(s.Min), fmtCount(s.Max))
}

func fmtMicros(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	if us < 100 {
		return fmt.Sprintf("%.1f", us)
	}
	return fmtCount(us)
}

// fmtCount renders x rounded with thousands separators: 14,210.
func fmtCount(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	n := int64(math.Round(x))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
