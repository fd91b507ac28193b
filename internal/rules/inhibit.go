package rules

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acteon/acteon-go/action"
)

// Inhibition is one entry of a rule file's top-level `inhibitions:` list
// (decision D12): while an action matching Source is active, actions
// matching Target whose metadata labels named in Equal have the same values
// are inhibited. Source and Target use the rule condition grammar (YAML
// structured conditions or CEL strings). The gateway's inhibit gate keeps
// the active sources in the state backend; this type only matches.
type Inhibition struct {
	Name string
	// Equal lists metadata label names whose values must be the same on
	// the source and the target (an absent label counts as "").
	Equal []string
	// TTLSeconds bounds how long a source stays active without being
	// refreshed or resolved; 0 means until it is resolved.
	TTLSeconds uint64
	File       string
	Line       int

	source, target *Rule
}

// MatchesSource reports whether a matches the source condition. A runtime
// error in the condition counts as no match (D6).
func (in *Inhibition) MatchesSource(ctx context.Context, a *action.Action, now time.Time, st StateReader) bool {
	return in.source.matches(ctx, a, now, st)
}

// MatchesTarget reports whether a matches the target condition.
func (in *Inhibition) MatchesTarget(ctx context.Context, a *action.Action, now time.Time, st StateReader) bool {
	return in.target.matches(ctx, a, now, st)
}

// SourceDisplay renders the source condition (§2.10 form).
func (in *Inhibition) SourceDisplay() string { return in.source.ConditionDisplay() }

// TargetDisplay renders the target condition (§2.10 form).
func (in *Inhibition) TargetDisplay() string { return in.target.ConditionDisplay() }

func (r *Rule) matches(ctx context.Context, a *action.Action, now time.Time, st StateReader) bool {
	if r == nil || a == nil {
		return false
	}
	if c := r.cond; c != nil && c.kind == nStrCmp {
		return c.strCmp(a)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ec := evalCtx{ctx: ctx, a: a, now: now, state: st}
	ok, err := r.eval(&ec)
	return err == nil && ok
}

// Inhibitions returns the set's inhibitions in load order. The slice must
// not be modified.
func (s *Set) Inhibitions() []*Inhibition {
	if s == nil {
		return nil
	}
	return s.inhibitions
}

// WithInhibitions returns a copy of s carrying inh (replacing any it had).
// The copy shares the rules (and their enabled flags) with s. Duplicate
// inhibition names are an error.
func (s *Set) WithInhibitions(inh []*Inhibition) (*Set, error) {
	if s == nil {
		var err error
		if s, err = NewSet(nil); err != nil {
			return nil, err
		}
	}
	seen := make(map[string]*Inhibition, len(inh))
	var errs []error
	out := make([]*Inhibition, 0, len(inh))
	for _, in := range inh {
		if in == nil {
			continue
		}
		if prev, ok := seen[in.Name]; ok {
			errs = append(errs, &LoadError{File: in.File, Line: in.Line,
				Msg: fmt.Sprintf("inhibition %q: duplicate inhibition name (first defined at %s)", in.Name, posString(prev.File, prev.Line))})
			continue
		}
		seen[in.Name] = in
		out = append(out, in)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	c := &Set{rules: s.rules, byName: s.byName, defaultTZ: s.defaultTZ, defLoc: s.defLoc, inhibitions: out}
	return c, nil
}

// ParsedFile is everything one rule file defines.
type ParsedFile struct {
	Rules       []*Rule
	Inhibitions []*Inhibition
}

// ParseFileAll is ParseFile that also returns the file's inhibitions.
func ParseFileAll(file string, data []byte, opts Options) (pf *ParsedFile, warns []Warning, err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, err = nil, &LoadError{File: file, Msg: fmt.Sprintf("internal error while parsing: %v", r)}
		}
	}()
	return parseFileAll(file, data, opts)
}

var knownInhibitionKeys = map[string]bool{
	"name": true, "description": true, "source": true, "target": true, "equal": true, "ttl_seconds": true,
}

// maxInhibitionTTL bounds ttl_seconds (one year).
const maxInhibitionTTL = 366 * 24 * 3600

func (p *parser) parseInhibitions(n *yaml.Node) []*Inhibition {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, "`inhibitions` must be a list")
		return nil
	}
	var out []*Inhibition
	for _, e := range n.Content {
		if in := p.parseInhibition(resolve(e)); in != nil {
			out = append(out, in)
		}
	}
	return out
}

func (p *parser) parseInhibition(n *yaml.Node) *Inhibition {
	p.rule = ""
	if n == nil || n.Kind != yaml.MappingNode {
		if n == nil {
			p.errAt(nil, "unresolvable YAML alias where an inhibition was expected")
		} else {
			p.errAt(n, "an inhibition must be a mapping, got %s", describe(n))
		}
		return nil
	}
	nerr := len(p.errs)
	kvs := p.mapping(n)
	get := func(k string) *keyVal {
		for i := range kvs {
			if kvs[i].key == k {
				return &kvs[i]
			}
		}
		return nil
	}
	in := &Inhibition{File: p.file, Line: n.Line}
	if kv := get("name"); kv == nil {
		p.errAt(n, "inhibition: missing field `name`")
	} else if s, ok := p.str(kv.v, "inhibition name"); ok {
		if strings.TrimSpace(s) == "" {
			p.errAt(kv.v, "inhibition name must not be empty")
		}
		in.Name = s
	}
	label := "inhibition " + quote(in.Name)
	for _, kv := range kvs {
		if !knownInhibitionKeys[kv.key] {
			p.warnAt(kv.k, "%s: unknown key %q ignored", label, kv.key)
		}
	}
	for _, which := range []string{"source", "target"} {
		kv := get(which)
		if kv == nil {
			p.errAt(n, "%s: missing field `%s` (a condition)", label, which)
			continue
		}
		before := len(p.errs)
		cond := p.parseTopCondition(kv.v)
		if len(p.errs) > before {
			// Prefix the condition errors with the inhibition they belong to.
			for i := before; i < len(p.errs); i++ {
				if le, ok := p.errs[i].(*LoadError); ok && le.Rule == "" {
					le.Msg = label + ": " + which + ": " + le.Msg
				}
			}
			continue
		}
		r := &Rule{Name: in.Name + "#" + which, File: p.file, Line: kv.v.Line, loc: p.defLoc, cond: cond}
		if which == "source" {
			in.source = r
		} else {
			in.target = r
		}
	}
	if kv := get("equal"); kv != nil {
		names, _ := p.strList(kv.v, label+": equal")
		for i, l := range names {
			if strings.TrimSpace(l) == "" {
				p.errAt(itemNode(kv.v, i), "%s: equal: label names must not be empty", label)
			}
		}
		in.Equal = names
	}
	if kv := get("ttl_seconds"); kv != nil && !isNull(kv.v) {
		if u, ok := p.u64(kv.v, label+": ttl_seconds"); ok {
			if u > maxInhibitionTTL {
				p.errAt(kv.v, "%s: ttl_seconds must be at most %d", label, maxInhibitionTTL)
			}
			in.TTLSeconds = u
		}
	}
	if len(p.errs) > nerr {
		return nil
	}
	return in
}
