package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/acteon/acteon-go/action"
)

// TB is the part of testing.TB the assertion helpers use (so that the
// harness does not import package testing).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

func describe(o action.Outcome) string {
	b, err := json.Marshal(o)
	if err != nil {
		return string(o.Kind)
	}
	return string(b)
}

// AssertOutcome fails t unless out is of kind want.
func AssertOutcome(t TB, out action.Outcome, want action.OutcomeKind) bool {
	t.Helper()
	if out.Kind != want {
		t.Errorf("outcome %s, want %s", describe(out), want)
		return false
	}
	return true
}

// AssertExecuted fails t unless out is Executed.
func AssertExecuted(t TB, out action.Outcome) bool {
	t.Helper()
	return AssertOutcome(t, out, action.OutcomeExecuted)
}

// AssertDeduplicated fails t unless out is Deduplicated.
func AssertDeduplicated(t TB, out action.Outcome) bool {
	t.Helper()
	return AssertOutcome(t, out, action.OutcomeDeduplicated)
}

// AssertThrottled fails t unless out is Throttled.
func AssertThrottled(t TB, out action.Outcome) bool {
	t.Helper()
	return AssertOutcome(t, out, action.OutcomeThrottled)
}

// AssertFailed fails t unless out is Failed.
func AssertFailed(t TB, out action.Outcome) bool {
	t.Helper()
	return AssertOutcome(t, out, action.OutcomeFailed)
}

// AssertSuppressedBy fails t unless out is Suppressed by the named rule.
func AssertSuppressedBy(t TB, out action.Outcome, rule string) bool {
	t.Helper()
	if !AssertOutcome(t, out, action.OutcomeSuppressed) {
		return false
	}
	if out.Rule != rule {
		t.Errorf("suppressed by rule %q, want %q", out.Rule, rule)
		return false
	}
	return true
}

// AssertReroutedTo fails t unless out is Rerouted to the named provider.
func AssertReroutedTo(t TB, out action.Outcome, provider string) bool {
	t.Helper()
	if !AssertOutcome(t, out, action.OutcomeRerouted) {
		return false
	}
	if out.NewProvider != provider {
		t.Errorf("rerouted to %q, want %q", out.NewProvider, provider)
		return false
	}
	return true
}

// Tally counts the outcomes of a set of results.
type Tally struct {
	Outcomes map[action.OutcomeKind]int
	// Errors counts results whose Err is set; Err holds the first.
	Errors int
	Err    error
}

// Count tallies results.
func Count(results []Result) Tally {
	t := Tally{Outcomes: map[action.OutcomeKind]int{}}
	for _, r := range results {
		if r.Err != nil {
			if t.Errors == 0 {
				t.Err = r.Err
			}
			t.Errors++
			continue
		}
		t.Outcomes[r.Outcome.Kind]++
	}
	return t
}

// String renders the tally as "executed=1 deduplicated=19".
func (t Tally) String() string {
	keys := slices.Sorted(maps.Keys(t.Outcomes))
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, t.Outcomes[k]))
	}
	if t.Errors > 0 {
		parts = append(parts, fmt.Sprintf("errors=%d (first: %v)", t.Errors, t.Err))
	}
	return strings.Join(parts, " ")
}

// AssertCounts fails t unless the results are exactly want (kinds not
// listed must not occur) and none failed with an error.
func AssertCounts(t TB, results []Result, want map[action.OutcomeKind]int) bool {
	t.Helper()
	got := Count(results)
	ok := got.Errors == 0 && len(got.Outcomes) == countNonZero(want)
	for k, n := range want {
		if got.Outcomes[k] != n {
			ok = false
		}
	}
	if !ok {
		w := Tally{Outcomes: want}
		t.Errorf("outcomes %v, want %v", got, w)
	}
	return ok
}

func countNonZero(m map[action.OutcomeKind]int) int {
	n := 0
	for _, v := range m {
		if v != 0 {
			n++
		}
	}
	return n
}

// AssertAllExecuted fails t unless every result is Executed.
func AssertAllExecuted(t TB, results []Result) bool {
	t.Helper()
	return AssertCounts(t, results, map[action.OutcomeKind]int{action.OutcomeExecuted: len(results)})
}

// AssertCalled fails t unless the shared provider name was called exactly
// n times.
func (h *Harness) AssertCalled(t TB, name string, n int) bool {
	t.Helper()
	got := h.CallCount(name)
	if got < 0 {
		t.Errorf("no recording or failing provider %q", name)
		return false
	}
	if got != n {
		t.Errorf("provider %s called %d times, want %d", name, got, n)
		return false
	}
	return true
}

// AssertNotCalled fails t if the shared provider name was called.
func (h *Harness) AssertNotCalled(t TB, name string) bool {
	t.Helper()
	return h.AssertCalled(t, name, 0)
}

// AssertReceived fails t unless the recording provider name received at
// least one action for which match is true.
func (h *Harness) AssertReceived(t TB, name string, what string, match func(*action.Action) bool) bool {
	t.Helper()
	for _, a := range h.Received(name) {
		if match(a) {
			return true
		}
	}
	t.Errorf("provider %s received no action %s (%d received)", name, what, len(h.Received(name)))
	return false
}
