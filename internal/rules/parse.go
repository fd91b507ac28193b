package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA names must resolve on every host

	"gopkg.in/yaml.v3"

	"github.com/acteon/acteon-go/action"
)

// Options configure loading.
type Options struct {
	// DefaultTimezone is the IANA zone for time.* in rules without their
	// own timezone; "" means UTC.
	DefaultTimezone string
	// Reference checks (D5/D25). A nil func accepts any name.
	HasProvider, HasStateMachine, HasChain, HasTimeInterval func(name string) bool
}

// maxDepth is the deepest all/any nesting below the top of a condition.
const maxDepth = 16

// maxOperandDepth and maxOperandNodes bound YAML operand values (aliases
// can make a small file expand a lot).
const (
	maxOperandDepth = 64
	maxNodes        = 200_000
)

// LoadDir loads the .yaml, .yml and .cel files at the top level of dir
// (extensions are case-sensitive, subdirectories are ignored) in bytewise
// file-name order (D8), then sorts all rules by priority. Every problem of
// every file is collected: the error is errors.Join of *LoadError values and
// the Set is nil. Duplicate rule names across the files are a load error.
func LoadDir(dir string, opts Options) (*Set, []Warning, error) {
	defLoc, err := defaultLocation(opts.DefaultTimezone)
	if err != nil {
		return nil, nil, &LoadError{Msg: err.Error()}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, &LoadError{File: dir, Msg: fmt.Sprintf("read rules directory: %v", err)}
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if ext != ".yaml" && ext != ".yml" && ext != ".cel" {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, name)) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var (
		all   []*Rule
		inh   []*Inhibition
		warns []Warning
		errs  []error
	)
	for _, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, &LoadError{File: path, Msg: fmt.Sprintf("read: %v", err)})
			continue
		}
		pf, ws, err := ParseFileAll(path, data, opts)
		warns = append(warns, ws...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, pf.Rules...)
		inh = append(inh, pf.Inhibitions...)
	}
	set, err := NewSet(all)
	if err != nil {
		errs = append(errs, err)
	} else if len(inh) > 0 {
		if set, err = set.WithInhibitions(inh); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, warns, joinErrors(errs)
	}
	set.defaultTZ = tzName(opts.DefaultTimezone)
	set.defLoc = defLoc
	return set, warns, nil
}

// NewSetWithOptions is NewSet for rules parsed with opts: it also records the
// default timezone (reported by the playground).
func NewSetWithOptions(rules []*Rule, opts Options) (*Set, error) {
	defLoc, err := defaultLocation(opts.DefaultTimezone)
	if err != nil {
		return nil, &LoadError{Msg: err.Error()}
	}
	s, err := NewSet(rules)
	if err != nil {
		return nil, err
	}
	s.defaultTZ = tzName(opts.DefaultTimezone)
	s.defLoc = defLoc
	return s, nil
}

func tzName(s string) string {
	if s == "" {
		return "UTC"
	}
	return s
}

func defaultLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := loadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("default timezone: %w", err)
	}
	return loc, nil
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("invalid timezone %q (want an IANA name such as \"Europe/Paris\")", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("invalid timezone %q: unknown IANA time zone", name)
	}
	return loc, nil
}

// ParseFile parses one rule file. A name ending in ".cel" makes every
// `condition` a CEL string (D7); in YAML files a string condition is CEL and
// a mapping is a structured condition. All problems are collected into the
// joined error (of *LoadError values); rules are returned only when there is
// none. ParseFile never panics.
func ParseFile(file string, data []byte, opts Options) (rules []*Rule, warns []Warning, err error) {
	defer func() {
		if r := recover(); r != nil {
			rules, err = nil, &LoadError{File: file, Msg: fmt.Sprintf("internal error while parsing: %v", r)}
		}
	}()
	return parseFile(file, data, opts)
}

type parser struct {
	file   string
	source string // Rule.Source() of the file's rules ("yaml:" or "cel:" + file)
	opts   Options
	isCEL  bool
	defLoc *time.Location
	rule   string // name of the rule being parsed, for messages
	errs   []error
	warns  []Warning
	budget int // YAML nodes left to visit (aliases can multiply them)
	// Compiled CEL programs and regexes by source text: aliases can repeat
	// one expression many times, and both are immutable once compiled.
	celCache map[string]celResult
	reCache  map[string]*regexp.Regexp
}

type celResult struct {
	prog *celProgram
	err  error
}

func (p *parser) errAt(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &LoadError{File: p.file, Line: line, Rule: p.rule, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnAt(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.warns = append(p.warns, Warning{File: p.file, Line: line, Rule: p.rule, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func parseFile(file string, data []byte, opts Options) ([]*Rule, []Warning, error) {
	pf, warns, err := parseFileAll(file, data, opts)
	if err != nil {
		return nil, warns, err
	}
	return pf.Rules, warns, nil
}

func parseFileAll(file string, data []byte, opts Options) (*ParsedFile, []Warning, error) {
	p := &parser{file: file, source: "yaml:" + file, opts: opts, isCEL: strings.HasSuffix(file, ".cel"), budget: maxNodes}
	if p.isCEL {
		p.source = "cel:" + file
	}
	loc, err := defaultLocation(opts.DefaultTimezone)
	if err != nil {
		return nil, nil, &LoadError{File: file, Msg: err.Error()}
	}
	p.defLoc = loc
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		le := &LoadError{File: file, Msg: "YAML parse error: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			le.Line, _ = strconv.Atoi(m[1])
		}
		return nil, nil, le
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil, &LoadError{File: file, Msg: "missing top-level key `rules`"}
	}
	root := resolve(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, nil, &LoadError{File: file, Line: doc.Content[0].Line, Msg: "a rule file must be a mapping with a top-level key `rules`"}
	}
	kvs := p.mapping(root)
	var rulesNode, inhNode *yaml.Node
	otherKnown := false
	for _, kv := range kvs {
		switch kv.key {
		case "rules":
			rulesNode = kv.v
		case "inhibitions":
			inhNode = kv.v
			otherKnown = true
		case "time_intervals":
			// Read by the gateway's time-interval loader, not by the rules.
			otherKnown = true
		default:
			p.warnAt(kv.k, "unknown top-level key %q ignored", kv.key)
		}
	}
	if rulesNode == nil && !otherKnown {
		p.errAt(root, "missing top-level key `rules`")
		return nil, p.warns, joinErrors(p.errs)
	}
	pf := &ParsedFile{}
	if rulesNode != nil {
		if rulesNode.Kind != yaml.SequenceNode {
			p.errAt(rulesNode, "`rules` must be a list of rules")
			return nil, p.warns, joinErrors(p.errs)
		}
		for _, rn := range rulesNode.Content {
			if r := p.parseRule(resolve(rn)); r != nil {
				pf.Rules = append(pf.Rules, r)
			}
		}
	}
	if inhNode != nil {
		pf.Inhibitions = p.parseInhibitions(inhNode)
	}
	if len(p.errs) > 0 {
		return nil, p.warns, joinErrors(p.errs)
	}
	return pf, p.warns, nil
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

type keyVal struct {
	key  string
	k, v *yaml.Node
}

// mapping lists a mapping's pairs, reporting duplicate and non-string keys.
func (p *parser) mapping(n *yaml.Node) []keyVal {
	out := make([]keyVal, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			p.errAt(n, "unresolvable YAML alias")
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errAt(k, "mapping keys must be scalars")
			continue
		}
		if seen[k.Value] {
			p.errAt(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, keyVal{key: k.Value, k: k, v: v})
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errAt(n, "%s must be a string", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) u64(n *yaml.Node, what string) (uint64, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var u uint64
		if err := n.Decode(&u); err == nil {
			return u, true
		}
	}
	p.errAt(n, "%s must be a non-negative integer, got %s", what, describe(n))
	return 0, false
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.errAt(n, "%s must be true or false, got %s", what, describe(n))
	return false, false
}

func (p *parser) strList(n *yaml.Node, what string) ([]string, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, "%s must be a list of strings", what)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, e := range n.Content {
		e = resolve(e)
		if e == nil {
			p.errAt(n, "unresolvable YAML alias in %s", what)
			ok = false
			continue
		}
		s, good := p.str(e, what+" items")
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		tag := strings.TrimPrefix(n.ShortTag(), "!!")
		if tag == "str" {
			tag = "string"
		}
		return fmt.Sprintf("%s %q", tag, n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "an unsupported YAML node"
}

var knownRuleKeys = map[string]bool{
	"name": true, "priority": true, "description": true, "enabled": true, "condition": true,
	"action": true, "metadata": true, "timezone": true, "mute_time_intervals": true,
	"active_time_intervals": true,
}

func (p *parser) parseRule(n *yaml.Node) *Rule {
	p.rule = ""
	if n == nil || n.Kind != yaml.MappingNode {
		if n == nil {
			p.errAt(nil, "unresolvable YAML alias where a rule was expected")
		} else {
			p.errAt(n, "a rule must be a mapping, got %s", describe(n))
		}
		return nil
	}
	kvs := p.mapping(n)
	get := func(k string) *keyVal {
		for i := range kvs {
			if kvs[i].key == k {
				return &kvs[i]
			}
		}
		return nil
	}
	nerr := len(p.errs)
	r := &Rule{File: p.file, Line: n.Line, loc: p.defLoc}
	if kv := get("name"); kv == nil {
		p.errAt(n, "missing field `name`")
	} else if s, ok := p.str(kv.v, "name"); ok {
		if strings.TrimSpace(s) == "" {
			p.errAt(kv.v, "name must not be empty")
		}
		r.Name = s
		p.rule = s
	}
	for _, kv := range kvs {
		if !knownRuleKeys[kv.key] {
			p.warnAt(kv.k, "unknown key %q ignored", kv.key)
		}
	}
	if kv := get("priority"); kv != nil {
		var i int64
		if kv.v.Kind != yaml.ScalarNode || kv.v.ShortTag() != "!!int" || kv.v.Decode(&i) != nil || i < math.MinInt32 || i > math.MaxInt32 {
			p.errAt(kv.v, "priority must be a 32-bit integer, got %s", describe(kv.v))
		} else {
			r.Priority = int32(i)
		}
	}
	if kv := get("description"); kv != nil && !isNull(kv.v) {
		r.Description, _ = p.str(kv.v, "description")
	}
	if kv := get("enabled"); kv != nil {
		if b, ok := p.boolean(kv.v, "enabled"); ok {
			r.disabled.Store(!b)
		}
	}
	if kv := get("timezone"); kv != nil && !isNull(kv.v) {
		if s, ok := p.str(kv.v, "timezone"); ok {
			loc, err := loadLocation(s)
			if err != nil {
				p.errAt(kv.v, "%v", err)
			} else {
				r.Timezone, r.loc = s, loc
			}
		}
	}
	if kv := get("metadata"); kv != nil && !isNull(kv.v) {
		if kv.v.Kind != yaml.MappingNode {
			p.errAt(kv.v, "metadata must be a mapping of strings")
		} else {
			r.Metadata = map[string]string{}
			for _, m := range p.mapping(kv.v) {
				if s, ok := p.str(m.v, "metadata."+m.key); ok {
					r.Metadata[m.key] = s
				}
			}
		}
	}
	for _, which := range []string{"mute_time_intervals", "active_time_intervals"} {
		kv := get(which)
		if kv == nil {
			continue
		}
		names, _ := p.strList(kv.v, which)
		for i, name := range names {
			if p.opts.HasTimeInterval != nil && !p.opts.HasTimeInterval(name) {
				p.errAt(itemNode(kv.v, i), "%s: undefined time interval %q", which, name)
			}
		}
		if which == "mute_time_intervals" {
			r.MuteTimeIntervals = names
		} else {
			r.ActiveTimeIntervals = names
		}
	}
	if kv := get("condition"); kv == nil {
		p.errAt(n, "missing field `condition`")
	} else {
		r.cond = p.parseTopCondition(kv.v)
	}
	if kv := get("action"); kv == nil {
		p.errAt(n, "missing field `action`")
	} else {
		r.Verdict = p.parseVerdict(kv.v)
	}
	if len(p.errs) > nerr {
		return nil
	}
	r.source = p.source
	return r
}

func itemNode(seq *yaml.Node, i int) *yaml.Node {
	if seq != nil && i < len(seq.Content) {
		return seq.Content[i]
	}
	return seq
}

// ---------------------------------------------------------------------------
// Conditions

func (p *parser) parseTopCondition(n *yaml.Node) *node {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return p.parseCEL(n, n.Value)
	}
	if p.isCEL {
		p.errAt(n, "condition in a .cel file must be a CEL expression string")
		return nil
	}
	return p.parsePredicate(n, 0)
}

func (p *parser) parseCEL(n *yaml.Node, src string) *node {
	cr, ok := p.celCache[src]
	if !ok {
		cr.prog, cr.err = compileCEL(src)
		if p.celCache == nil {
			p.celCache = map[string]celResult{}
		}
		p.celCache[src] = cr
	}
	prog, err := cr.prog, cr.err
	if err != nil {
		p.errAt(n, "%v", err)
		return nil
	}
	return &node{kind: nCEL, cel: prog}
}

// variant discriminators (one per predicate kind).
var condVariants = []string{"all", "any", "field", "state_seen", "state_counter", "cel", "semantic_match", "wasm_plugin"}

var condHints = map[string]string{
	"not":    " (there is no `not`: use `ne`, or a CEL condition with `!`)",
	"regex":  " (the regex operator is `matches`)",
	"in":     " (list membership is `in_list`)",
	"exists": " (use `in_list: [null]` for absence, or CEL `has(...)`)",
	"call":   " (functions are only available in CEL conditions)",
}

func (p *parser) parsePredicate(n *yaml.Node, depth int) *node {
	p.budget--
	if p.budget < 0 {
		p.errAt(n, "rule file too large (more than %d YAML nodes after alias expansion)", maxNodes)
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && depth > 0 {
		return p.parseCEL(n, n.Value) // a bare CEL string inside all/any
	}
	if n.Kind != yaml.MappingNode {
		p.errAt(n, "a condition must be a mapping (or a CEL string), got %s", describe(n))
		return nil
	}
	kvs := p.mapping(n)
	var found []string
	for _, v := range condVariants {
		for _, kv := range kvs {
			if kv.key == v {
				found = append(found, v)
			}
		}
	}
	switch len(found) {
	case 0:
		var unknown []string
		for _, kv := range kvs {
			unknown = append(unknown, strconv.Quote(kv.key)+condHints[kv.key])
		}
		if len(unknown) == 0 {
			p.errAt(n, "empty condition: data did not match any variant (want one of all, any, field, state_seen, state_counter, cel)")
		} else {
			p.errAt(n, "condition key %s did not match any variant (want one of all, any, field, state_seen, state_counter, cel)", strings.Join(unknown, ", "))
		}
		return nil
	case 1:
	default:
		p.errAt(n, "condition mixes %s; use one per mapping (nest them under all/any)", strings.Join(found, " and "))
		return nil
	}
	switch found[0] {
	case "all", "any":
		return p.parseGroup(n, kvs, found[0], depth)
	case "field":
		return p.parseField(n, kvs)
	case "state_seen":
		return p.parseStateSeen(n, kvs)
	case "state_counter":
		return p.parseStateCounter(n, kvs)
	case "cel":
		for _, kv := range kvs {
			if kv.key != "cel" {
				p.errAt(kv.k, "unknown key %q in a cel condition", kv.key)
			}
		}
		src, ok := p.str(kvs0(kvs, "cel").v, "cel")
		if !ok {
			return nil
		}
		return p.parseCEL(kvs0(kvs, "cel").v, src)
	case "semantic_match":
		p.errAt(n, "evaluation error: semantic_match requires embedding support, and no embedding runtime is configured")
	case "wasm_plugin":
		name := kvs0(kvs, "wasm_plugin").v.Value
		p.errAt(n, "evaluation error: WASM plugin '%s' called but no WASM runtime configured", name)
	}
	return nil
}

func kvs0(kvs []keyVal, key string) *keyVal {
	for i := range kvs {
		if kvs[i].key == key {
			return &kvs[i]
		}
	}
	return nil
}

func (p *parser) parseGroup(n *yaml.Node, kvs []keyVal, which string, depth int) *node {
	if depth > maxDepth {
		p.errAt(n, "condition nesting depth exceeded maximum of %d", maxDepth)
		return nil
	}
	for _, kv := range kvs {
		if kv.key != which {
			p.errAt(kv.k, "unknown key %q in an %s condition", kv.key, which)
		}
	}
	list := kvs0(kvs, which).v
	if list.Kind != yaml.SequenceNode {
		p.errAt(list, "%s must be a list of conditions", which)
		return nil
	}
	out := &node{kind: nAll}
	if which == "any" {
		out.kind = nAny
	}
	ok := true
	for _, c := range list.Content {
		c = resolve(c)
		if c == nil {
			p.errAt(list, "unresolvable YAML alias")
			ok = false
			continue
		}
		k := p.parsePredicate(c, depth+1)
		if k == nil {
			ok = false
			continue
		}
		out.kids = append(out.kids, k)
	}
	if !ok {
		return nil
	}
	return out
}

var opIndex = func() map[string]opKind {
	m := map[string]opKind{}
	for i, k := range opKeys {
		m[k] = opKind(i)
	}
	return m
}()

// parseOps reads operator keys in the fixed order of §2.2. A null operand
// means "absent" (§1.5). allowed limits the operators (state_counter).
func (p *parser) parseOps(n *yaml.Node, kvs []keyVal, allowed func(opKind) bool, skip map[string]bool) ([]fieldOp, bool) {
	ok := true
	byOp := map[opKind]*keyVal{}
	for i := range kvs {
		kv := &kvs[i]
		if skip[kv.key] {
			continue
		}
		op, isOp := opIndex[kv.key]
		if !isOp || !allowed(op) {
			continue
		}
		byOp[op] = kv
	}
	var ops []fieldOp
	for i := range opKeys {
		op := opKind(i)
		kv, present := byOp[op]
		if !present || isNull(kv.v) {
			continue
		}
		fo := fieldOp{op: op}
		switch op {
		case opContains, opStartsWith, opEndsWith, opMatches:
			s, good := p.str(kv.v, "`"+kv.key+"` operand")
			if !good {
				ok = false
				continue
			}
			fo.lit = strV(s)
			if op == opMatches {
				re, err := p.reCache[s], error(nil)
				if re == nil {
					re, err = regexp.Compile(s)
				}
				if err == nil {
					if p.reCache == nil {
						p.reCache = map[string]*regexp.Regexp{}
					}
					p.reCache[s] = re
				}
				if err != nil {
					p.errAt(kv.v, "invalid regex %q: %v", s, err)
					ok = false
					continue
				}
				fo.re = re
			}
		case opInList:
			if kv.v.Kind != yaml.SequenceNode {
				p.errAt(kv.v, "in_list must be a list, got %s", describe(kv.v))
				ok = false
				continue
			}
			x, err := p.operand(kv.v, 0, false)
			if err != nil {
				p.errAt(kv.v, "in_list: %v", err)
				ok = false
				continue
			}
			fo.lit = toValue(x)
		default:
			x, err := p.operand(kv.v, 0, false)
			if err != nil {
				p.errAt(kv.v, "%s: %v", kv.key, err)
				ok = false
				continue
			}
			fo.lit = toValue(x)
			if fo.lit.k == vMap && (op == opEq || op == opNe) {
				p.warnAt(kv.v, "%s: maps never compare equal; this operator is constant", kv.key)
			}
		}
		ops = append(ops, fo)
	}
	return ops, ok
}

func (p *parser) parseField(n *yaml.Node, kvs []keyVal) *node {
	fkv := kvs0(kvs, "field")
	path, ok := p.str(fkv.v, "field")
	if !ok {
		return nil
	}
	acc, err := compileAccessor(path)
	if err != nil {
		p.errAt(fkv.v, "%v", err)
		return nil
	}
	ops, good := p.parseOps(n, kvs, func(opKind) bool { return true }, nil)
	if !good {
		return nil
	}
	if len(ops) == 0 {
		var notes []string
		for _, kv := range kvs {
			if kv.key == "field" {
				continue
			}
			if _, isOp := opIndex[kv.key]; isOp {
				notes = append(notes, fmt.Sprintf("`%s: null` reads as absent; use `in_list: [null]` to test for null", kv.key))
			} else {
				notes = append(notes, fmt.Sprintf("%q is not an operator%s", kv.key, condHints[kv.key]))
			}
		}
		msg := "field operation has no comparison operator"
		if len(notes) > 0 {
			msg += " (" + strings.Join(notes, "; ") + "; operators are eq, ne, gt, lt, gte, lte, contains, starts_with, ends_with, matches, in_list)"
		}
		p.errAt(n, "%s", msg)
		return nil
	}
	for _, kv := range kvs {
		if _, isOp := opIndex[kv.key]; !isOp && kv.key != "field" {
			p.errAt(kv.k, "unknown key %q in a field condition%s", kv.key, condHints[kv.key])
			good = false
		}
	}
	if !good {
		return nil
	}
	if n := strCmpNode(&acc, ops); n != nil {
		return n
	}
	field := acc
	return &node{kind: nField, acc: &field, ops: ops}
}

func (p *parser) parseStateSeen(n *yaml.Node, kvs []keyVal) *node {
	out := &node{kind: nStateSeen, within: math.MaxInt64}
	ok := true
	for _, kv := range kvs {
		switch kv.key {
		case "state_seen":
			s, good := p.str(kv.v, "state_seen")
			if good && s == "" {
				p.errAt(kv.v, "state_seen key must not be empty")
				good = false
			}
			ok = ok && good
			out.str = s
		case "within_seconds":
			if isNull(kv.v) {
				continue
			}
			w, good := p.u64(kv.v, "within_seconds")
			ok = ok && good
			if w < math.MaxInt64 {
				out.within = int64(w)
			}
		default:
			p.errAt(kv.k, "unknown key %q in a state_seen condition", kv.key)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return out
}

func (p *parser) parseStateCounter(n *yaml.Node, kvs []keyVal) *node {
	ckv := kvs0(kvs, "state_counter")
	key, ok := p.str(ckv.v, "state_counter")
	if ok && key == "" {
		p.errAt(ckv.v, "state_counter key must not be empty")
		ok = false
	}
	numeric := func(o opKind) bool { return o <= opLte || o == opInList }
	ops, good := p.parseOps(n, kvs, numeric, nil)
	for _, kv := range kvs {
		if o, isOp := opIndex[kv.key]; kv.key != "state_counter" && (!isOp || !numeric(o)) {
			p.errAt(kv.k, "unknown key %q in a state_counter condition (operators: eq, ne, gt, lt, gte, lte, in_list)", kv.key)
			good = false
		}
	}
	if ok && good && len(ops) == 0 {
		p.errAt(n, "state_counter has no comparison operator")
		return nil
	}
	if !ok || !good {
		return nil
	}
	return &node{kind: nStateCounter, str: key, ops: ops}
}

// operand converts a YAML value. With asJSON, numbers become json.Number
// (the form payloads use); otherwise int64 / float64. Timestamps stay
// strings.
func (p *parser) operand(n *yaml.Node, depth int, asJSON bool) (any, error) {
	n = resolve(n)
	if n == nil {
		return nil, fmt.Errorf("unresolvable YAML alias")
	}
	if depth > maxOperandDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxOperandDepth)
	}
	p.budget--
	if p.budget < 0 {
		return nil, fmt.Errorf("rule file too large (more than %d YAML nodes after alias expansion)", maxNodes)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err == nil {
				if asJSON {
					return json.Number(strconv.FormatInt(i, 10)), nil
				}
				return i, nil
			}
			var u uint64
			if err := n.Decode(&u); err == nil {
				return floatOperand(float64(u), asJSON)
			}
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil {
				return nil, fmt.Errorf("unsupported integer %q", n.Value)
			}
			return floatOperand(f, asJSON)
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			return floatOperand(f, asJSON)
		default: // !!str, !!timestamp, !!binary, custom tags: the text
			return n.Value, nil
		}
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			x, err := p.operand(e, depth+1, asJSON)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("mapping keys must be scalars")
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("duplicate key %q", k.Value)
			}
			x, err := p.operand(n.Content[i+1], depth+1, asJSON)
			if err != nil {
				return nil, err
			}
			out[k.Value] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported YAML value")
}

func floatOperand(f float64, asJSON bool) (any, error) {
	if !asJSON {
		return f, nil
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("%v cannot be represented in JSON", f)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

// ---------------------------------------------------------------------------
// Verdicts

// verdictKeys lists the keys each action type accepts besides `type`.
var verdictKeys = map[action.VerdictKind][]string{
	action.VerdictAllow:           {},
	action.VerdictDeny:            {"reason"},
	action.VerdictSuppress:        {"reason"},
	action.VerdictDeduplicate:     {"ttl_seconds", "keep_on_failure"},
	action.VerdictThrottle:        {"max_count", "window_seconds", "key_fields", "message"},
	action.VerdictReroute:         {"target_provider"},
	action.VerdictModify:          {"changes"},
	action.VerdictGroup:           {"group_by", "group_wait_seconds", "group_interval_seconds", "repeat_interval_seconds", "max_group_size", "template"},
	action.VerdictStateMachine:    {"state_machine", "fingerprint_fields"},
	action.VerdictRequestApproval: {"notify_provider", "timeout_seconds", "message"},
	action.VerdictChain:           {"chain"},
	action.VerdictSchedule:        {"delay_seconds"},
}

// MaxScheduleDelaySeconds is the largest schedule delay (7 days).
const MaxScheduleDelaySeconds = 604800

// plainVerdicts are the verdicts of the kinds that take no parameter (a
// deny or suppress `reason` is checked but not kept). Every such rule points
// at one of them instead of holding its own copy.
var plainVerdicts = map[action.VerdictKind]*Verdict{
	action.VerdictAllow:    {Kind: action.VerdictAllow},
	action.VerdictDeny:     {Kind: action.VerdictDeny},
	action.VerdictSuppress: {Kind: action.VerdictSuppress},
}

// canonicalKind returns the action.VerdictKinds entry spelled t (so that a
// rule does not keep the YAML text of its type), or t itself.
func canonicalKind(t string) action.VerdictKind {
	for _, k := range action.VerdictKinds {
		if string(k) == t {
			return k
		}
	}
	return action.VerdictKind(t)
}

// parseVerdict returns nil when the action has an error (the rule is then
// dropped).
func (p *parser) parseVerdict(n *yaml.Node) *Verdict {
	v := p.parseVerdictValue(n)
	if v.Kind == "" {
		return nil
	}
	if plain, ok := plainVerdicts[v.Kind]; ok {
		return plain
	}
	return &v
}

func (p *parser) parseVerdictValue(n *yaml.Node) Verdict {
	var v Verdict
	if n.Kind != yaml.MappingNode {
		p.errAt(n, "action must be a mapping with a `type`, got %s", describe(n))
		return v
	}
	kvs := p.mapping(n)
	tkv := kvs0(kvs, "type")
	if tkv == nil {
		p.errAt(n, "missing field `type` in action")
		return v
	}
	t, ok := p.str(tkv.v, "action type")
	if !ok {
		return v
	}
	kind := canonicalKind(t)
	allowed, known := verdictKeys[kind]
	if !known {
		hint := ""
		switch t {
		case "require_approval":
			hint = " (did you mean request_approval?)"
		case "llm_guardrail":
			hint = " (the LLM guardrail is configured on the gateway, not in rules)"
		}
		names := make([]string, len(action.VerdictKinds))
		for i, k := range action.VerdictKinds {
			names[i] = string(k)
		}
		p.errAt(tkv.v, "unknown variant: unknown action type %q%s; want one of %s", t, hint, strings.Join(names, ", "))
		return v
	}
	v.Kind = kind
	for _, kv := range kvs {
		if kv.key == "type" || contains(allowed, kv.key) {
			continue
		}
		hint := ""
		if kind == action.VerdictChain && kv.key == "chain_name" {
			hint = " (the key is `chain`)"
		}
		p.warnAt(kv.k, "unknown key %q in %s action ignored%s", kv.key, kind, hint)
	}
	get := func(k string) *yaml.Node {
		if kv := kvs0(kvs, k); kv != nil && !isNull(kv.v) {
			return kv.v
		}
		return nil
	}
	req := func(k string) *yaml.Node {
		x := get(k)
		if x == nil {
			p.errAt(n, "missing field `%s` in %s action", k, kind)
		}
		return x
	}
	u64 := func(k string, def uint64) uint64 {
		if x := get(k); x != nil {
			u, _ := p.u64(x, k)
			return u
		}
		return def
	}
	relPaths := func(k string, x *yaml.Node) []string {
		list, ok := p.strList(x, k)
		if !ok {
			return nil
		}
		for i, s := range list {
			if err := ValidateFieldPath(s); err != nil {
				p.errAt(itemNode(x, i), "%s: %v", k, err)
			}
		}
		return list
	}
	switch kind {
	case action.VerdictDeny, action.VerdictSuppress:
		if x := get("reason"); x != nil {
			p.str(x, "reason")
		}
	case action.VerdictDeduplicate:
		if x := get("ttl_seconds"); x != nil {
			if u, ok := p.u64(x, "ttl_seconds"); ok {
				v.TTLSeconds = u
				if u == 0 {
					p.warnAt(x, "ttl_seconds: 0 means the dedup marker never expires")
				}
			}
		}
		if x := get("keep_on_failure"); x != nil {
			v.KeepOnFailure, _ = p.boolean(x, "keep_on_failure")
		}
	case action.VerdictThrottle:
		if x := req("max_count"); x != nil {
			if u, ok := p.u64(x, "max_count"); ok {
				v.MaxCount = u
				if u == 0 {
					p.warnAt(x, "max_count: 0 throttles every matching action")
				}
			}
		}
		if x := req("window_seconds"); x != nil {
			if u, ok := p.u64(x, "window_seconds"); ok {
				v.WindowSeconds = u
				if u == 0 {
					p.warnAt(x, "window_seconds: 0 never throttles")
				}
			}
		}
		if x := get("key_fields"); x != nil {
			v.KeyFields = relPaths("key_fields", x)
		}
		if x := get("message"); x != nil {
			p.str(x, "message")
		}
	case action.VerdictReroute:
		if x := req("target_provider"); x != nil {
			if s, ok := p.str(x, "target_provider"); ok {
				v.TargetProvider = s
				if p.opts.HasProvider != nil && !p.opts.HasProvider(s) {
					p.errAt(x, "reroute: undefined provider %q", s)
				}
			}
		}
	case action.VerdictModify:
		if kv := kvs0(kvs, "changes"); kv == nil {
			p.errAt(n, "missing field `changes` in modify action")
		} else {
			x, err := p.operand(kv.v, 0, true)
			if err != nil {
				p.errAt(kv.v, "changes: %v", err)
			}
			v.Changes = x
		}
	case action.VerdictGroup:
		if x := req("group_by"); x != nil {
			v.GroupBy = relPaths("group_by", x)
		}
		v.GroupWaitSeconds = u64("group_wait_seconds", 30)
		v.GroupIntervalSeconds = u64("group_interval_seconds", 300)
		if x := get("repeat_interval_seconds"); x != nil {
			if u, ok := p.u64(x, "repeat_interval_seconds"); ok {
				v.RepeatIntervalSeconds = &u
			}
		}
		v.MaxGroupSize = u64("max_group_size", 100)
		if x := get("template"); x != nil {
			v.Template, _ = p.str(x, "template")
		}
	case action.VerdictStateMachine:
		if x := req("state_machine"); x != nil {
			if s, ok := p.str(x, "state_machine"); ok {
				v.StateMachine = s
				if p.opts.HasStateMachine != nil && !p.opts.HasStateMachine(s) {
					p.errAt(x, "state_machine: undefined state machine %q", s)
				}
			}
		}
		if x := get("fingerprint_fields"); x != nil {
			v.FingerprintFields = relPaths("fingerprint_fields", x)
		}
	case action.VerdictRequestApproval:
		if x := req("notify_provider"); x != nil {
			if s, ok := p.str(x, "notify_provider"); ok {
				v.NotifyProvider = s
				if p.opts.HasProvider != nil && !p.opts.HasProvider(s) {
					p.errAt(x, "request_approval: undefined notify provider %q", s)
				}
			}
		}
		v.TimeoutSeconds = u64("timeout_seconds", 3600)
		if x := get("message"); x != nil {
			v.Message, _ = p.str(x, "message")
		}
	case action.VerdictChain:
		if x := req("chain"); x != nil {
			if s, ok := p.str(x, "chain"); ok {
				v.Chain = s
				if p.opts.HasChain != nil && !p.opts.HasChain(s) {
					p.errAt(x, "chain: undefined chain %q", s)
				}
			}
		}
	case action.VerdictSchedule:
		if x := req("delay_seconds"); x != nil {
			if u, ok := p.u64(x, "delay_seconds"); ok {
				switch {
				case u < 1:
					p.errAt(x, "schedule: delay_seconds must be at least 1 second")
				case u > MaxScheduleDelaySeconds:
					p.errAt(x, "schedule: delay_seconds %d exceeds maximum of %ds (7 days)", u, MaxScheduleDelaySeconds)
				}
				v.DelaySeconds = u
			}
		}
	}
	return v
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
