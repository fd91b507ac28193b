package rules

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/state"
)

// Rule is one loaded rule. Rules are built by ParseFile / LoadDir; a Rule
// literal built in code has no condition and matches every action (like an
// empty `all: []`). A Rule must not be copied once it is in a Set.
//
// The layout is kept small (see TestRuleLayout): a set holds one Rule per
// loaded rule, so every word here is paid ten thousand times by a large
// rule set.
type Rule struct {
	Name     string
	Priority int32
	disabled atomic.Bool // zero value = enabled; packs with Priority
	cond     *node       // nil: matches every action
	// Verdict is what the rule decides when it matches. Rules parsed from
	// a file may share one Verdict (e.g. every parameterless suppress), so
	// it must not be modified. nil means the zero Verdict.
	Verdict     *Verdict
	Description string
	// Timezone is the rule's own `timezone` ("" when it has none; the
	// set's default timezone then applies to time.*).
	Timezone          string
	Metadata          map[string]string
	MuteTimeIntervals []string
	// ActiveTimeIntervals: the rule's verdict only applies while one of
	// these intervals is active (enforced by the gateway).
	ActiveTimeIntervals []string
	File                string
	Line                int

	loc *time.Location // effective timezone for time.*; nil = UTC
	// source is Source() for parsed rules: one string per file, shared by
	// all of its rules.
	source string
}

// Enabled reports whether the rule takes part in evaluation.
func (r *Rule) Enabled() bool { return !r.disabled.Load() }

// ConditionDisplay renders the condition as spec 02 §2.10 does, e.g.
// `(action.action_type == "spam")`. CEL conditions render as their source.
// The text is rendered on each call (it is not kept with the rule).
func (r *Rule) ConditionDisplay() string {
	if r.cond == nil {
		return "true"
	}
	var b strings.Builder
	b.Grow(r.cond.displayLen())
	r.cond.display(&b)
	return b.String()
}

// Source says where the rule came from, e.g. "yaml:rules/a.yaml".
func (r *Rule) Source() string {
	if r.source != "" {
		return r.source
	}
	if r.File != "" {
		return "yaml:" + r.File
	}
	return "programmatic"
}

func (r *Rule) location() *time.Location {
	if r.loc == nil {
		return time.UTC
	}
	return r.loc
}

// zeroVerdict stands for a nil Rule.Verdict.
var zeroVerdict Verdict

// verdict returns r.Verdict, or the zero Verdict when it is nil.
func (r *Rule) verdict() *Verdict {
	if r.Verdict == nil {
		return &zeroVerdict
	}
	return r.Verdict
}

// Verdict is what a matched rule decides. Kind selects the verdict; only the
// parameters of that kind are meaningful.
type Verdict struct {
	Kind action.VerdictKind

	// deduplicate: TTLSeconds 0 means no expiry. KeepOnFailure keeps the
	// marker when the execution fails (D9).
	TTLSeconds    uint64
	KeepOnFailure bool

	// throttle: KeyFields are relative paths (see FieldValue) added to the
	// counter key (D10).
	MaxCount, WindowSeconds uint64
	KeyFields               []string

	// reroute
	TargetProvider string

	// modify: decoded JSON (map[string]any, []any, string, json.Number,
	// bool or nil), applied as an RFC 7386 merge patch (MergePatch).
	Changes any

	// group (defaults 30 / 300 / nil / 100)
	GroupBy               []string
	GroupWaitSeconds      uint64
	GroupIntervalSeconds  uint64
	RepeatIntervalSeconds *uint64
	MaxGroupSize          uint64
	Template              string

	// state_machine
	StateMachine      string
	FingerprintFields []string

	// request_approval (timeout default 3600)
	NotifyProvider string
	TimeoutSeconds uint64
	Message        string

	// chain
	Chain string

	// schedule: 1..604800
	DelaySeconds uint64
}

// Set is an immutable, priority-sorted rule set. A nil *Set behaves as an
// empty set.
type Set struct {
	rules     []*Rule
	byName    map[string]*Rule
	defaultTZ string // IANA name of the default timezone ("UTC" if none)
	defLoc    *time.Location
	// inhibitions of the loaded files (D12), in load order.
	inhibitions []*Inhibition
}

// NewSet sorts rules by Priority ascending (stable: ties keep their order in
// the slice) and indexes them by name. Duplicate names are an error.
func NewSet(rules []*Rule) (*Set, error) {
	s := &Set{rules: make([]*Rule, 0, len(rules)), byName: make(map[string]*Rule, len(rules)), defaultTZ: "UTC", defLoc: time.UTC}
	var errs []error
	for _, r := range rules {
		if r == nil {
			continue
		}
		if prev, ok := s.byName[r.Name]; ok {
			errs = append(errs, &LoadError{File: r.File, Line: r.Line, Rule: r.Name,
				Msg: fmt.Sprintf("duplicate rule name (first defined at %s)", posString(prev.File, prev.Line))})
			continue
		}
		s.byName[r.Name] = r
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	sort.SliceStable(s.rules, func(i, j int) bool { return s.rules[i].Priority < s.rules[j].Priority })
	return s, nil
}

// Rules returns the rules in evaluation order. The slice must not be
// modified.
func (s *Set) Rules() []*Rule {
	if s == nil {
		return nil
	}
	return s.rules
}

// Len returns the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Lookup returns the rule with that name, or nil.
func (s *Set) Lookup(name string) *Rule {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// SetEnabled enables or disables a rule at runtime (in memory only: a reload
// builds a new Set from the files). It reports false for an unknown name.
func (s *Set) SetEnabled(name string, on bool) bool {
	r := s.Lookup(name)
	if r == nil {
		return false
	}
	r.disabled.Store(!on)
	return true
}

// DefaultTimezone is the IANA name of the timezone used for time.* by rules
// without their own timezone ("UTC" when none was configured).
func (s *Set) DefaultTimezone() string {
	if s == nil || s.defaultTZ == "" {
		return "UTC"
	}
	return s.defaultTZ
}

func (s *Set) defaultLocation() *time.Location {
	if s == nil || s.defLoc == nil {
		return time.UTC
	}
	return s.defLoc
}

// StateReader reads user state keys for state_seen / state_counter. Get
// returns an error wrapping state.ErrNotFound when the key is missing.
type StateReader interface {
	Get(ctx context.Context, key state.Key) (string, error)
}

// Input is what one evaluation reads.
type Input struct {
	Action *action.Action
	// Now is the evaluation clock: time.*, now and state_seen use it.
	Now time.Time
	// State serves state predicates; nil means every key is missing.
	State StateReader
}

// RuleError is a runtime error met while evaluating one rule. The rule
// counted as "no match" (D6).
type RuleError struct {
	Rule string
	Err  error
}

// Error implements error.
func (e RuleError) Error() string { return "rules: rule " + quote(e.Rule) + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e RuleError) Unwrap() error { return e.Err }

// Result is the outcome of Evaluate.
type Result struct {
	// Verdict of the first matching rule; Kind is action.VerdictAllow when
	// nothing matched.
	Verdict Verdict
	// Rule is the matched rule, nil when nothing matched.
	Rule *Rule
	// Errors are runtime errors of rules tried before the match (or of all
	// rules when nothing matched). Each such rule counted as no match.
	Errors []RuleError
}

// Evaluate runs the rules in order and returns the first match's verdict,
// or allow. It never fails: a rule whose evaluation errs does not match and
// its error is reported in Result.Errors (D6). Evaluate allocates nothing
// unless a rule errs, a CEL rule is reached, or a whole-object path is read.
func (s *Set) Evaluate(ctx context.Context, in Input) Result {
	if s == nil || len(s.rules) == 0 || in.Action == nil {
		return Result{Verdict: Verdict{Kind: action.VerdictAllow}}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ec := evalCtx{ctx: ctx, a: in.Action, now: in.Now, state: in.State}
	var errs []RuleError
	for _, r := range s.rules {
		if r.disabled.Load() {
			continue
		}
		if c := r.cond; c != nil && c.kind == nStrCmp { // fast path
			if c.strCmp(in.Action) {
				return Result{Verdict: *r.verdict(), Rule: r, Errors: errs}
			}
			continue
		}
		ok, err := r.eval(&ec)
		if err != nil {
			errs = append(errs, RuleError{Rule: r.Name, Err: err})
			continue
		}
		if ok {
			return Result{Verdict: *r.verdict(), Rule: r, Errors: errs}
		}
	}
	return Result{Verdict: Verdict{Kind: action.VerdictAllow}, Errors: errs}
}

func (r *Rule) eval(ec *evalCtx) (bool, error) {
	if r.cond == nil {
		return true, nil
	}
	return r.cond.eval(ec, r)
}

func quote(s string) string { return `"` + s + `"` }
