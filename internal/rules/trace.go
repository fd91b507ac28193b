package rules

import (
	"context"
	"sort"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/state"
)

// TraceOptions tune EvaluateTrace (the playground, POST /v1/rules/evaluate).
type TraceOptions struct {
	// IncludeDisabled lists disabled rules as skipped entries.
	IncludeDisabled bool
	// EvaluateAll keeps evaluating after the first match.
	EvaluateAll bool
	// MockState answers state reads before Input.State: keys are the
	// canonical "ns:tenant:kind:id" or a bare id (which matches any kind).
	MockState map[string]string
}

// Trace entry results.
const (
	TraceMatched    = "matched"
	TraceNotMatched = "not_matched"
	TraceSkipped    = "skipped"
	TraceError      = "error"
)

// Skip reasons.
const (
	SkipDisabled            = "disabled"
	SkipEarlierRuleMatched  = "earlier_rule_matched"
	FallthroughRuleName     = "(default fallthrough)"
	fallthroughDescription  = "No rules matched the action. The system default is to allow."
	fallthroughConditionTxt = "no rules matched"
)

// TraceEntry is one rule's line in a trace (spec 02 §4.7).
type TraceEntry struct {
	RuleName               string  `json:"rule_name"`
	Priority               int32   `json:"priority"`
	Enabled                bool    `json:"enabled"`
	ConditionDisplay       string  `json:"condition_display"`
	Result                 string  `json:"result"` // matched|not_matched|skipped|error
	EvaluationDurationUs   uint64  `json:"evaluation_duration_us"`
	Action                 string  `json:"action"`
	Source                 string  `json:"source"`
	Description            *string `json:"description,omitempty"`
	SkipReason             *string `json:"skip_reason,omitempty"`
	Error                  *string `json:"error,omitempty"`
	ModifyPatch            any     `json:"modify_patch,omitempty"`
	ModifiedPayloadPreview any     `json:"modified_payload_preview,omitempty"`
}

// TraceResult is the playground response body.
type TraceResult struct {
	Verdict              string         `json:"verdict"`
	MatchedRule          *string        `json:"matched_rule,omitempty"`
	HasErrors            bool           `json:"has_errors"`
	TotalRulesEvaluated  int            `json:"total_rules_evaluated"`
	TotalRulesSkipped    int            `json:"total_rules_skipped"`
	EvaluationDurationUs uint64         `json:"evaluation_duration_us"`
	Trace                []TraceEntry   `json:"trace"`
	Context              map[string]any `json:"context"`
	ModifiedPayload      any            `json:"modified_payload,omitempty"`
}

// EvaluateTrace evaluates like Evaluate but records every rule. Following
// D6, a rule whose evaluation errs is "not_matched" with its error text; it
// sets HasErrors but never turns the verdict into "error". Nothing is
// written anywhere.
func (s *Set) EvaluateTrace(ctx context.Context, in Input, opts TraceOptions) TraceResult {
	start := time.Now()
	if ctx == nil {
		ctx = context.Background()
	}
	a := in.Action
	if a == nil {
		a = &action.Action{}
	}
	var reader = in.State
	if len(opts.MockState) > 0 {
		reader = mockReader{m: opts.MockState, next: in.State}
	}
	ec := evalCtx{ctx: ctx, a: a, now: in.Now, state: reader, trace: true}
	// One entry per rule at most, plus the fallthrough.
	res := TraceResult{Trace: make([]TraceEntry, 0, s.Len()+1)}
	var (
		first   *Rule
		preview any = a.Payload
	)
	for _, r := range s.Rules() {
		e := TraceEntry{
			RuleName:         r.Name,
			Priority:         r.Priority,
			Enabled:          r.Enabled(),
			ConditionDisplay: r.ConditionDisplay(),
			Action:           string(r.verdict().Kind),
			Source:           r.Source(),
		}
		if r.Description != "" {
			d := r.Description
			e.Description = &d
		}
		if !e.Enabled {
			if opts.IncludeDisabled {
				e.Result = TraceSkipped
				e.SkipReason = strPtr(SkipDisabled)
				res.Trace = append(res.Trace, e)
				res.TotalRulesSkipped++
			}
			continue
		}
		if first != nil && !opts.EvaluateAll {
			e.Result = TraceSkipped
			e.SkipReason = strPtr(SkipEarlierRuleMatched)
			res.Trace = append(res.Trace, e)
			res.TotalRulesSkipped++
			continue
		}
		t0 := time.Now()
		ok, err := r.eval(&ec)
		e.EvaluationDurationUs = uint64(time.Since(t0).Microseconds())
		res.TotalRulesEvaluated++
		switch {
		case err != nil:
			e.Result = TraceNotMatched
			e.Error = strPtr(err.Error())
			res.HasErrors = true
		case ok:
			e.Result = TraceMatched
			if first == nil {
				first = r
			}
			if v := r.verdict(); opts.EvaluateAll && v.Kind == action.VerdictModify {
				e.ModifyPatch = v.Changes
				preview = MergePatch(preview, v.Changes)
				e.ModifiedPayloadPreview = preview
			}
		default:
			e.Result = TraceNotMatched
		}
		res.Trace = append(res.Trace, e)
	}
	if first != nil {
		v := first.verdict()
		res.Verdict = string(v.Kind)
		res.MatchedRule = strPtr(first.Name)
		if v.Kind == action.VerdictModify {
			res.ModifiedPayload = MergePatch(a.Payload, v.Changes)
		}
	} else {
		res.Verdict = string(action.VerdictAllow)
		res.Trace = append(res.Trace, TraceEntry{
			RuleName:         FallthroughRuleName,
			Priority:         2147483647,
			Enabled:          true,
			ConditionDisplay: fallthroughConditionTxt,
			Result:           TraceMatched,
			Action:           "Allow",
			Source:           "System",
			Description:      strPtr(fallthroughDescription),
		})
	}
	res.Context = map[string]any{
		"time":               timeMap(in.Now, s.defaultLocation()),
		"environment_keys":   []string{},
		"effective_timezone": s.DefaultTimezone(),
	}
	if len(ec.keys) > 0 {
		keys := make([]string, 0, len(ec.keys))
		for k := range ec.keys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		res.Context["accessed_state_keys"] = keys
	}
	res.EvaluationDurationUs = uint64(time.Since(start).Microseconds())
	return res
}

func strPtr(s string) *string { return &s }

// mockReader serves playground mock_state before the real store.
type mockReader struct {
	m    map[string]string
	next StateReader
}

func (r mockReader) Get(ctx context.Context, key state.Key) (string, error) {
	if v, ok := r.m[key.String()]; ok {
		return v, nil
	}
	if v, ok := r.m[key.ID]; ok {
		return v, nil
	}
	if r.next != nil {
		return r.next.Get(ctx, key)
	}
	return "", state.ErrNotFound
}
