package silence

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
)

// ErrInvalid marks a validation failure (HTTP 400).
var ErrInvalid = errors.New("silence: invalid")

// Op is a matcher operator.
type Op string

// Matcher operators.
const (
	OpEqual    Op = "equal"
	OpNotEqual Op = "not_equal"
	OpRegex    Op = "regex"
	OpNotRegex Op = "not_regex"
)

// Limits.
const (
	// MaxRegexLen is the longest regex matcher value accepted.
	MaxRegexLen = 256
	// MaxRegexInsts bounds the compiled program of a regex matcher (about
	// 64 KiB of instructions), so that a short pattern with nested counted
	// repetitions cannot blow up.
	MaxRegexInsts = 4096
	// MaxMatchers bounds the matchers of one silence.
	MaxMatchers = 64
)

// Matcher tests one metadata label.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Op    Op     `json:"op"`

	re *regexp.Regexp
}

// Silence mutes every action of its namespace whose tenant it covers and
// whose metadata labels all its matchers match, while StartsAt <= now <
// EndsAt (spec 02 §4.4).
type Silence struct {
	ID        string    `json:"id"`
	Namespace string    `json:"namespace"`
	Tenant    string    `json:"tenant"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CompileRegex compiles a regex matcher value anchored as ^(?:p)$, within
// the length and program-size limits.
func CompileRegex(p string) (*regexp.Regexp, error) {
	if len(p) > MaxRegexLen {
		return nil, fmt.Errorf("%w: regex is %d characters long, at most %d are allowed", ErrInvalid, len(p), MaxRegexLen)
	}
	anchored := "^(?:" + p + ")$"
	tree, err := syntax.Parse(anchored, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid regex %q: %v", ErrInvalid, p, err)
	}
	prog, err := syntax.Compile(tree.Simplify())
	if err != nil {
		return nil, fmt.Errorf("%w: invalid regex %q: %v", ErrInvalid, p, err)
	}
	if len(prog.Inst) > MaxRegexInsts {
		return nil, fmt.Errorf("%w: regex %q compiles to %d instructions, at most %d are allowed", ErrInvalid, p, len(prog.Inst), MaxRegexInsts)
	}
	re, err := regexp.Compile(anchored)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid regex %q: %v", ErrInvalid, p, err)
	}
	return re, nil
}

// Validate checks the silence and compiles its regex matchers. It must
// succeed before Matches is used. An empty Op becomes equal.
func (s *Silence) Validate() error {
	if !s.EndsAt.After(s.StartsAt) {
		return fmt.Errorf("%w: ends_at (%s) must be after starts_at (%s)", ErrInvalid,
			s.EndsAt.UTC().Format(time.RFC3339), s.StartsAt.UTC().Format(time.RFC3339))
	}
	return s.compile()
}

// compile checks everything but the time window (an expired silence may
// end where it starts) and compiles the regex matchers.
func (s *Silence) compile() error {
	switch {
	case s.Namespace == "" || strings.Contains(s.Namespace, ":"):
		return fmt.Errorf("%w: namespace must be non-empty and contain no ':'", ErrInvalid)
	case s.Tenant == "" || strings.Contains(s.Tenant, ":"):
		return fmt.Errorf("%w: tenant must be non-empty and contain no ':'", ErrInvalid)
	case len(s.Matchers) == 0:
		return fmt.Errorf("%w: a silence needs at least one matcher", ErrInvalid)
	case len(s.Matchers) > MaxMatchers:
		return fmt.Errorf("%w: a silence has at most %d matchers", ErrInvalid, MaxMatchers)
	}
	for i := range s.Matchers {
		m := &s.Matchers[i]
		if m.Name == "" {
			return fmt.Errorf("%w: matchers[%d]: name must not be empty", ErrInvalid, i)
		}
		if m.Op == "" {
			m.Op = OpEqual
		}
		switch m.Op {
		case OpEqual, OpNotEqual:
			m.re = nil
		case OpRegex, OpNotRegex:
			re, err := CompileRegex(m.Value)
			if err != nil {
				return fmt.Errorf("matchers[%d] (%s): %w", i, m.Name, err)
			}
			m.re = re
		default:
			return fmt.Errorf("%w: matchers[%d]: unknown op %q (want equal, not_equal, regex or not_regex)", ErrInvalid, i, m.Op)
		}
	}
	return nil
}

// ActiveAt reports whether StartsAt <= t < EndsAt.
func (s *Silence) ActiveAt(t time.Time) bool {
	return !t.Before(s.StartsAt) && t.Before(s.EndsAt)
}

// Covers reports whether the silence applies to an action of namespace and
// tenant: the same namespace, and the silence tenant equal to the action's
// or a dot-separated ancestor ("acme" covers "acme.eu", not "acme-corp").
func (s *Silence) Covers(namespace, tenant string) bool {
	return s.Namespace == namespace && tenantCovers(s.Tenant, tenant)
}

func tenantCovers(pattern, tenant string) bool {
	return pattern == tenant || (len(tenant) > len(pattern) && tenant[len(pattern)] == '.' && tenant[:len(pattern)] == pattern)
}

// Matches reports whether every matcher matches labels. A silence without
// matchers matches nothing.
func (s *Silence) Matches(labels map[string]string) bool {
	if len(s.Matchers) == 0 {
		return false
	}
	for i := range s.Matchers {
		if !s.Matchers[i].matches(labels) {
			return false
		}
	}
	return true
}

func (m *Matcher) matches(labels map[string]string) bool {
	v, ok := labels[m.Name]
	switch m.Op {
	case OpEqual, "":
		return ok && v == m.Value
	case OpNotEqual:
		return !ok || v != m.Value
	case OpRegex:
		return ok && m.re != nil && m.re.MatchString(v)
	case OpNotRegex:
		return !ok || m.re == nil || !m.re.MatchString(v)
	}
	return false
}
