package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/rules"
)

// Components of the memory table (the seed's names).
const (
	ComponentIdle        = "gateway (idle)"
	ComponentRule        = "per active rule"
	ComponentDedupKey    = "per cached dedup key"
	ComponentGroup       = "per event group"
	ComponentGroupEvent  = "per grouped event"
	ComponentAuditRecord = "per audit record (in-memory)"
)

// MemoryRow is one measured memory figure.
type MemoryRow struct {
	Component string
	// N is how many items were created (0 for the idle process).
	N int
	// Bytes is the figure: per item, or the whole process when idle.
	Bytes       float64
	Detail      string
	Unavailable string
}

// MarshalJSON writes one "memory" row.
func (m MemoryRow) MarshalJSON() ([]byte, error) {
	type out struct {
		Kind        string   `json:"kind"`
		Component   string   `json:"component"`
		N           int      `json:"n"`
		Unavailable string   `json:"unavailable,omitempty"`
		Bytes       *float64 `json:"bytes,omitempty"`
		Detail      string   `json:"detail,omitempty"`
		Upstream    string   `json:"upstream,omitempty"`
	}
	o := out{Kind: "memory", Component: m.Component, N: m.N, Unavailable: m.Unavailable, Detail: m.Detail, Upstream: UpstreamMemory[m.Component]}
	if m.Unavailable == "" {
		o.Bytes = f(round(m.Bytes, 0))
	}
	return json.Marshal(o)
}

// Memory measures the seed's memory table: the idle process, then the live
// heap added by n rules, n dedup keys, n open event groups, the events
// grouped into them, and n in-memory audit records (heap
// after two garbage collections, before and after creating them). Run it
// first in a fresh process: the idle figure is the whole process.
func (r *Runner) Memory(ctx context.Context, n int) []MemoryRow {
	if n < 1 {
		n = 1
	}
	var rows []MemoryRow
	rows = append(rows, r.idle())
	rows = append(rows, r.perRule(n))
	rows = append(rows, r.perDedupKey(ctx, n))
	rows = append(rows, r.perGroup(ctx, n)...)
	rows = append(rows, r.perAuditRecord(ctx, n))
	return rows
}

// liveHeap returns the heap in use by reachable objects.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func perItem(before, after uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

func (r *Runner) memApp(toml string) (*app.App, error) {
	cfg, _, err := config.Parse([]byte(toml), "bench-memory.toml")
	if err != nil {
		return nil, err
	}
	return app.Build(cfg, app.Options{Logger: r.o.Logger, ExtraProviders: []provider.Provider{r.recording()}})
}

func (r *Runner) idle() MemoryRow {
	row := MemoryRow{Component: ComponentIdle}
	a, err := r.memApp("")
	if err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	defer a.Close(context.Background())
	heap := liveHeap()
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(sample)
	goTotal := sample[0].Value.Uint64()
	rss, ok := processRSS()
	if ok {
		row.Bytes = float64(rss)
	} else {
		row.Bytes = float64(goTotal)
	}
	row.Detail = fmt.Sprintf("RSS %s; Go runtime total %s; live heap %s (memory state, no audit, one provider, no rules)",
		fmtBytes(float64(rss)), fmtBytes(float64(goTotal)), fmtBytes(float64(heap)))
	if !ok {
		row.Detail = fmt.Sprintf("Go runtime total %s (no /proc RSS); live heap %s", fmtBytes(float64(goTotal)), fmtBytes(float64(heap)))
	}
	runtime.KeepAlive(a)
	return row
}

// processRSS reads VmRSS from /proc/self/status.
func processRSS() (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, err := strconv.ParseUint(fields[0], 10, 64)
				if err == nil {
					return kb * 1024, true
				}
			}
		}
	}
	return 0, false
}

func (r *Runner) perRule(n int) MemoryRow {
	row := MemoryRow{Component: ComponentRule, N: n}
	y, err := rulesYAML(strconv.Itoa(n))
	if err != nil {
		row.Unavailable = err.Error()
		return row
	}
	before := liveHeap()
	rs, _, err := rules.ParseFile("memory.yaml", []byte(y), rules.Options{})
	if err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	after := liveHeap()
	runtime.KeepAlive(set)
	row.Bytes = perItem(before, after, n)
	row.Detail = "compiled rule set of `action.action_type == \"nonexistent-i\" → suppress` rules"
	return row
}

func (r *Runner) perDedupKey(ctx context.Context, n int) MemoryRow {
	row := MemoryRow{Component: ComponentDedupKey, N: n}
	a, err := r.memApp("")
	if err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	defer a.Close(context.Background())
	if err := installRules(a.Gateway, "dedup"); err != nil {
		row.Unavailable = err.Error()
		return row
	}
	mk := func(prefix string, count int) []*action.Action {
		acts := buildActions(count)
		for i, x := range acts {
			x.DedupKey = fmt.Sprintf("%s-%08d", prefix, i)
		}
		return acts
	}
	runLoad(ctx, a.Gateway, mk("warm", 100), 1)
	// The actions are built after the first reading, so that they are
	// garbage (not counted) at the second.
	before := liveHeap()
	res := runLoad(ctx, a.Gateway, mk("order", n), 1)
	after := liveHeap()
	if res.outcomes[action.OutcomeExecuted] != n {
		row.Unavailable = fmt.Sprintf("expected %d executions, got %v (first error: %v)", n, res.outcomes, res.firstErr)
		return row
	}
	row.Bytes = perItem(before, after, n)
	row.Detail = "memory state entry per dedup_key (\"order-%08d\", TTL 60 s), as left by deduplicated dispatches"
	runtime.KeepAlive(a)
	return row
}

// groupEvents is how many further events perGroup adds to each open group
// (within the default max_group_size of 100, so none is dropped).
const groupEvents = 10

// perGroup measures the group verdict on memory state: n dispatches that
// open n groups (bytes per open group, with its first event), then
// groupEvents more dispatches into each of them (bytes per grouped event).
// group_wait is an hour, so nothing is flushed meanwhile.
func (r *Runner) perGroup(ctx context.Context, n int) []MemoryRow {
	g := MemoryRow{Component: ComponentGroup, N: n}
	e := MemoryRow{Component: ComponentGroupEvent, N: n * groupEvents}
	fail := func(why string) []MemoryRow {
		g.Unavailable, e.Unavailable = why, why
		return []MemoryRow{g, e}
	}
	a, err := r.memApp("")
	if err != nil {
		return fail(firstLine(err))
	}
	defer a.Close(context.Background())
	const y = `rules: [{name: bench-group, priority: 1, condition: {field: action.action_type, eq: bulk}, ` +
		`action: {type: group, group_by: [metadata.group], group_wait_seconds: 3600}}]`
	rs, _, err := rules.ParseFile("bench.yaml", []byte(y), rules.Options{})
	if err != nil {
		return fail(firstLine(err))
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		return fail(firstLine(err))
	}
	a.Gateway.SwapRules(set)
	gm := a.Groups()
	if gm == nil {
		return fail("this build has no group manager")
	}
	// mk builds count actions of group prefix-i (i < groups), payload
	// {"seq": i}.
	mk := func(prefix string, groups, count int) []*action.Action {
		acts := buildActions(count)
		for i, x := range acts {
			x.Metadata = map[string]string{"group": fmt.Sprintf("%s-%08d", prefix, i%groups)}
		}
		return acts
	}
	// dispatch returns "" when every action was grouped.
	dispatch := func(acts []*action.Action) string {
		for _, x := range acts {
			out, err := a.Gateway.Dispatch(ctx, x, gateway.Caller{})
			if err != nil {
				return firstLine(err)
			}
			if out.Kind != action.OutcomeGrouped {
				return fmt.Sprintf("expected a grouped outcome, got %s", out.Kind)
			}
		}
		return ""
	}
	if why := dispatch(mk("warm", 10, 100)); why != "" {
		return fail(why)
	}
	// As for dedup keys, the actions are built after each reading, so
	// that they are garbage at the next one.
	h0 := liveHeap()
	if why := dispatch(mk("g", n, n)); why != "" {
		return fail(why)
	}
	h1 := liveHeap()
	if why := dispatch(mk("g", n, n*groupEvents)); why != "" {
		return fail(why)
	}
	h2 := liveHeap()
	groups, err := gm.List(ctx, func(ns, _ string) bool { return ns == benchNamespace })
	if err != nil {
		return fail(firstLine(err))
	}
	events := 0
	for _, s := range groups {
		events += s.EventCount
	}
	if len(groups) != n+10 || events != n*(1+groupEvents)+100 {
		return fail(fmt.Sprintf("expected %d open groups holding %d events, found %d holding %d",
			n+10, n*(1+groupEvents)+100, len(groups), events))
	}
	g.Bytes = perItem(h0, h1, n)
	g.Detail = "open group (group_by metadata.group, group_wait 1 h) with its first event, payload {\"seq\": i}; memory state"
	e.Bytes = perItem(h1, h2, n*groupEvents)
	e.Detail = fmt.Sprintf("%d further events in each of those groups, payload {\"seq\": i}", groupEvents)
	runtime.KeepAlive(a)
	return []MemoryRow{g, e}
}

func (r *Runner) perAuditRecord(ctx context.Context, n int) MemoryRow {
	row := MemoryRow{Component: ComponentAuditRecord, N: n}
	a, err := r.memApp("[audit]\nenabled = true\nbackend = \"memory\"\nttl_seconds = 3600\n")
	if err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	defer a.Close(context.Background())
	runLoad(ctx, a.Gateway, buildActions(100), 1)
	if err := a.FlushAudit(ctx); err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	before := liveHeap()
	res := runLoad(ctx, a.Gateway, buildActions(n), 1)
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := a.FlushAudit(fctx); err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	after := liveHeap()
	if res.errors > 0 {
		row.Unavailable = fmt.Sprintf("%d dispatches failed: %v", res.errors, res.firstErr)
		return row
	}
	row.Bytes = perItem(before, after, n)
	row.Detail = "executed dispatch, payload {\"seq\": i} stored (store_payload = true), memory audit backend"
	runtime.KeepAlive(a)
	return row
}

// fmtBytes renders a byte count with a binary unit.
func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
