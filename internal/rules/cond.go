package rules

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/state"
)

// opKind is a field operator, in the order operators of one field check are
// applied (spec §2.2).
type opKind uint8

const (
	opEq opKind = iota
	opNe
	opGt
	opLt
	opGte
	opLte
	opContains
	opStartsWith
	opEndsWith
	opMatches
	opInList
)

// opKeys are the YAML keys, index = opKind.
var opKeys = [...]string{"eq", "ne", "gt", "lt", "gte", "lte", "contains", "starts_with", "ends_with", "matches", "in_list"}

// opSyms are the §2.10 display symbols, index = opKind.
var opSyms = [...]string{"==", "!=", ">", "<", ">=", "<=", "contains", "starts_with", "ends_with", "matches", "in"}

// fieldOp is one compiled operator with its operand.
type fieldOp struct {
	op  opKind
	lit value          // operand; a list value for in_list
	re  *regexp.Regexp // matches
}

// apply evaluates `v OP lit`.
func (o *fieldOp) apply(v value) (bool, error) {
	switch o.op {
	case opEq:
		return equal(v, o.lit), nil
	case opNe:
		return !equal(v, o.lit), nil
	case opGt, opLt, opGte, opLte:
		c, err := compare(v, o.lit)
		if err != nil {
			return false, err
		}
		switch o.op {
		case opGt:
			return c > 0, nil
		case opLt:
			return c < 0, nil
		case opGte:
			return c >= 0, nil
		}
		return c <= 0, nil
	case opContains:
		switch v.k {
		case vString:
			return strings.Contains(v.s, o.lit.s), nil
		case vList:
			for i, n := 0, v.listLen(); i < n; i++ {
				if equal(v.listAt(i), o.lit) {
					return true, nil
				}
			}
			return false, nil
		}
		return false, unsupported("contains", v)
	case opStartsWith:
		if v.k != vString {
			return false, unsupported("starts_with", v)
		}
		return strings.HasPrefix(v.s, o.lit.s), nil
	case opEndsWith:
		if v.k != vString {
			return false, unsupported("ends_with", v)
		}
		return strings.HasSuffix(v.s, o.lit.s), nil
	case opMatches:
		if v.k != vString {
			return false, unsupported("matches", v)
		}
		return o.re.MatchString(v.s), nil
	case opInList:
		for i, n := 0, o.lit.listLen(); i < n; i++ {
			if equal(v, o.lit.listAt(i)) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, nil
}

func unsupported(op string, v value) error {
	return &typeError{msg: op + ": unsupported types " + v.k.String() + " and string"}
}

// nodeKind is the kind of a condition node.
type nodeKind uint8

const (
	nAll nodeKind = iota
	nAny
	nField
	nStateSeen
	nStateCounter
	nCEL
	// nStrCmp is a field check specialised at load time: a plain string
	// field of the action compared with `eq`/`ne` to a string literal. It
	// is the most common rule shape and costs a few nanoseconds.
	nStrCmp
)

// node is one compiled condition node. The evaluator is a switch over kind
// (no interface calls), which keeps the evaluation context on the stack.
//
// Every rule has at least one node, so the layout is kept small (see
// TestRuleLayout): the most common shape, nStrCmp, uses only the first
// three words; the parts of the other kinds sit behind pointers or in
// slices that stay nil.
type node struct {
	kind nodeKind
	neg  bool   // nStrCmp: the operator is `ne`
	af   afield // nStrCmp: the action field compared
	// nStrCmp: the literal; nStateSeen / nStateCounter: the state key.
	str  string
	kids []*node     // all / any
	ops  []fieldOp   // field / state_counter
	acc  *accessor   // field
	cel  *celProgram // cel
	// state_seen bound; math.MaxInt64 when within_seconds is absent.
	within int64
}

// strCmpNode returns the nStrCmp node for a field check that is a single
// eq/ne string comparison on a plain string field of the action, or nil.
// The node keeps no accessor nor operator list: it renders from af, neg and
// str.
func strCmpNode(acc *accessor, ops []fieldOp) *node {
	if acc.root != rootAction || len(ops) != 1 || len(acc.rest) != 0 {
		return nil
	}
	op := ops[0]
	if (op.op != opEq && op.op != opNe) || op.lit.k != vString {
		return nil
	}
	switch acc.af {
	case afID, afNamespace, afTenant, afProvider, afActionType, afDedupKey, afStatus,
		afFingerprint, afTemplate, afSignature, afSignerID, afKid:
		return &node{kind: nStrCmp, af: acc.af, str: op.lit.s, neg: op.op == opNe}
	}
	return nil
}

// strCmp evaluates an nStrCmp node. Optional fields that are empty are null
// and equal no string.
func (n *node) strCmp(a *action.Action) bool {
	var s string
	opt := false
	switch n.af {
	case afActionType:
		s = a.ActionType
	case afProvider:
		s = a.Provider
	case afNamespace:
		s = a.Namespace
	case afTenant:
		s = a.Tenant
	case afID:
		s = a.ID
	case afDedupKey:
		s, opt = a.DedupKey, true
	case afStatus:
		s, opt = a.Status, true
	case afFingerprint:
		s, opt = a.Fingerprint, true
	case afTemplate:
		s, opt = a.Template, true
	case afSignature:
		s, opt = a.Signature, true
	case afSignerID:
		s, opt = a.SignerID, true
	case afKid:
		s, opt = a.Kid, true
	}
	eq := s == n.str && !(opt && s == "")
	return eq != n.neg
}

// eval returns whether the node holds. A runtime error means "no match" for
// the rule (D6); All/Any short-circuit left to right, so an error in a
// branch that is not reached never shows.
func (n *node) eval(ec *evalCtx, r *Rule) (bool, error) {
	switch n.kind {
	case nStrCmp:
		return n.strCmp(ec.a), nil
	case nField:
		return n.evalField(ec, r)
	case nAll:
		for _, k := range n.kids {
			ok, err := k.eval(ec, r)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case nAny:
		for _, k := range n.kids {
			ok, err := k.eval(ec, r)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	case nStateSeen:
		ec.noteKey("time_since:", n.str)
		s, found, err := ec.readState(state.KindState, n.str)
		if err != nil {
			return false, err
		}
		since := int64(math.MaxInt64)
		if found {
			t, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
			if perr != nil {
				return false, fmt.Errorf("evaluation error: state_seen %q: stored value %q is not an RFC 3339 timestamp", n.str, s)
			}
			since = int64(ec.now.Sub(t) / time.Second)
		}
		return since < n.within, nil
	case nStateCounter:
		ec.noteKey("counter:", n.str)
		s, found, err := ec.readState(state.KindCounter, n.str)
		if err != nil {
			return false, err
		}
		var c int64
		if found {
			c, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return false, fmt.Errorf("evaluation error: state_counter %q: stored value %q is not an integer", n.str, s)
			}
		}
		v := intV(c)
		for i := range n.ops {
			ok, err := n.ops[i].apply(v)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case nCEL:
		return n.cel.eval(ec)
	}
	return false, nil
}

func (n *node) evalField(ec *evalCtx, r *Rule) (bool, error) {
	v, err := n.acc.get(ec, r)
	if err != nil {
		return false, err
	}
	for i := range n.ops {
		ok, err := n.ops[i].apply(v)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// display renders the node as spec §2.10 does.
func (n *node) display(b *strings.Builder) {
	switch n.kind {
	case nStrCmp:
		// As renderOps renders the one eq/ne operator it came from.
		b.WriteString("(action.")
		b.WriteString(actionFieldNames[n.af])
		if n.neg {
			b.WriteString(" != ")
		} else {
			b.WriteString(" == ")
		}
		writeQuoted(b, n.str)
		b.WriteByte(')')
	case nField:
		renderOps(b, n.acc.path, n.ops)
	case nAll, nAny:
		sep := " && "
		if n.kind == nAll {
			b.WriteString("all(")
		} else {
			b.WriteString("any(")
			sep = " || "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.display(b)
		}
		b.WriteByte(')')
	case nStateSeen:
		b.WriteString("(StateTimeSince(")
		writeQuoted(b, n.str)
		b.WriteString(") < ")
		b.WriteString(strconv.FormatInt(n.within, 10))
		b.WriteByte(')')
	case nStateCounter:
		renderOps(b, "StateCounter("+strconv.Quote(n.str)+")", n.ops)
	case nCEL:
		b.WriteString(n.cel.src)
	}
}

// displayLen is the length of the display of an nStrCmp node whose literal
// needs no escaping (a lower bound otherwise), 0 for the other kinds.
func (n *node) displayLen() int {
	if n.kind != nStrCmp {
		return 0
	}
	return len("(action.") + len(actionFieldNames[n.af]) + len(" == ") + len(n.str) + len(`""`) + len(")")
}

// needsEscape reports whether strconv.Quote(s) is not s between double
// quotes: s has a byte outside printable ASCII, a quote or a backslash.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// writeQuoted writes strconv.Quote(s) without building it first when s is
// printable ASCII without quotes or backslashes (then the quoted form is s
// between double quotes).
func writeQuoted(b *strings.Builder, s string) {
	if needsEscape(s) {
		b.WriteString(strconv.Quote(s))
		return
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// renderOps renders `(l op1 x) && (l op2 y)` left-associatively.
func renderOps(b *strings.Builder, left string, ops []fieldOp) {
	for i := 1; i < len(ops); i++ {
		b.WriteByte('(')
	}
	for i := range ops {
		if i > 0 {
			b.WriteString(" && ")
		}
		b.WriteByte('(')
		b.WriteString(left)
		b.WriteByte(' ')
		b.WriteString(opSyms[ops[i].op])
		b.WriteByte(' ')
		ops[i].lit.render(b)
		b.WriteByte(')')
		if i > 0 {
			b.WriteByte(')')
		}
	}
}

// evalCtx is the per-dispatch evaluation context. It lives on the caller's
// stack; only the lazily built CEL activation is allocated.
type evalCtx struct {
	ctx   context.Context
	a     *action.Action
	now   time.Time
	state StateReader
	act   *celActivation // built on the first CEL rule reached
	keys  map[string]struct{}
	trace bool
}

func (ec *evalCtx) noteKey(prefix, key string) {
	if !ec.trace {
		return
	}
	if ec.keys == nil {
		ec.keys = map[string]struct{}{}
	}
	ec.keys[prefix+key] = struct{}{}
}

// readState reads ns:tenant:kind:key. Missing keys (or no reader) report
// found=false; any other backend error is a runtime error of the rule.
func (ec *evalCtx) readState(kind, key string) (string, bool, error) {
	if ec.state == nil {
		return "", false, nil
	}
	s, err := ec.state.Get(ec.ctx, state.Key{Namespace: ec.a.Namespace, Tenant: ec.a.Tenant, Kind: kind, ID: key})
	if err != nil {
		if errors.Is(err, state.ErrNotFound) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("state access error: %w", err)
	}
	return s, true, nil
}
