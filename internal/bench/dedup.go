package bench

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	simprov "github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/sim"
)

// DedupRow is one row of the concurrent-dedup accuracy table.
type DedupRow struct {
	State string
	// Nodes is the number of gateway nodes the dispatches were spread
	// over (each with its own connection to the backend).
	Nodes, Rounds, Concurrency int
	// Executed and Deduplicated are totals over all rounds; the ideal is
	// Rounds and Rounds·(Concurrency−1).
	Executed, Deduplicated, Errors int
	// CorrectRounds counts rounds with exactly one execution and every
	// other dispatch deduplicated.
	CorrectRounds int
	FirstErr      string
	Unavailable   string
}

// Accuracy is the percentage of correct rounds.
func (d DedupRow) Accuracy() float64 {
	if d.Rounds == 0 {
		return 0
	}
	return 100 * float64(d.CorrectRounds) / float64(d.Rounds)
}

// MarshalJSON writes state, nodes, rounds, executed, deduplicated and
// accuracy (a percentage), plus concurrency, errors and correct_rounds.
func (d DedupRow) MarshalJSON() ([]byte, error) {
	type out struct {
		Kind          string   `json:"kind"`
		State         string   `json:"state"`
		Nodes         int      `json:"nodes"`
		Rounds        int      `json:"rounds"`
		Concurrency   int      `json:"concurrency"`
		Unavailable   string   `json:"unavailable,omitempty"`
		Executed      *int     `json:"executed,omitempty"`
		Deduplicated  *int     `json:"deduplicated,omitempty"`
		Errors        *int     `json:"errors,omitempty"`
		CorrectRounds *int     `json:"correct_rounds,omitempty"`
		Accuracy      *float64 `json:"accuracy,omitempty"`
		FirstErr      string   `json:"first_error,omitempty"`
	}
	o := out{Kind: "dedup_accuracy", State: d.State, Nodes: d.Nodes, Rounds: d.Rounds, Concurrency: d.Concurrency, Unavailable: d.Unavailable}
	if d.Unavailable == "" {
		o.Executed, o.Deduplicated, o.Errors, o.CorrectRounds = &d.Executed, &d.Deduplicated, &d.Errors, &d.CorrectRounds
		o.Accuracy = f(round(d.Accuracy(), 2))
		o.FirstErr = d.FirstErr
	}
	return json.Marshal(o)
}

const dedupAccuracyRule = `rules: [{name: accuracy-dedup, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: deduplicate, ttl_seconds: 300}}]`

// DedupAccuracy sends concurrency dispatches with one dedup_key at the same
// moment, spread over nodes gateway nodes sharing the state backend, rounds
// times (a new key per round), and counts what was delivered.
func (r *Runner) DedupAccuracy(ctx context.Context, state string, nodes, rounds, concurrency int) DedupRow {
	row := DedupRow{State: state, Nodes: nodes, Rounds: rounds, Concurrency: concurrency}
	if nodes < 1 || rounds < 1 || concurrency < 2 {
		row.Unavailable = fmt.Sprintf("%v: nodes and rounds must be >= 1 and concurrency >= 2", ErrSpec)
		return row
	}
	if state != "memory" && state != "redis" && r.o.URLs.For(state) == "" {
		row.Unavailable = fmt.Sprintf("no %s address: set --%s-url or %s", state, state, envFor(state))
		return row
	}
	r.progress("dedup accuracy: state=%s nodes=%d rounds=%d", state, nodes, rounds)
	h, err := sim.Start(ctx, sim.Config{
		Nodes: nodes, State: state, StateURL: r.o.URLs.For(state), Prefix: Prefix,
		Recording: []string{benchProvider}, RecordingOptions: []simprov.RecordingOption{simprov.WithoutCapture()},
		Rules: []string{dedupAccuracyRule}, Clock: clock.Real{}, Logger: r.o.Logger, NoBackground: true,
	})
	if err != nil {
		row.Unavailable = firstLine(err)
		return row
	}
	defer h.Close(context.WithoutCancel(ctx))
	run := action.UUIDv4()[:8]
	for round := range rounds {
		key := fmt.Sprintf("accuracy-%s-%d", run, round)
		acts := make([]*action.Action, concurrency)
		for i := range acts {
			a := h.Action(benchProvider, "alert", map[string]any{"round": round, "i": i})
			a.DedupKey = key
			acts[i] = a
		}
		t := sim.Count(h.DispatchConcurrently(ctx, acts))
		ex, dd := t.Outcomes[action.OutcomeExecuted], t.Outcomes[action.OutcomeDeduplicated]
		row.Executed += ex
		row.Deduplicated += dd
		row.Errors += t.Errors
		if t.Err != nil && row.FirstErr == "" {
			row.FirstErr = firstLine(t.Err)
		}
		if ex == 1 && dd == concurrency-1 {
			row.CorrectRounds++
		}
	}
	return row
}
