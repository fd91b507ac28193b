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
type node struct {
	kind nodeKind
	kids []*node   // all / any
	acc  accessor  // field
	ops  []fieldOp // field / state_counter
	key  string    // state_seen / state_counter
	// state_seen bound; math.MaxInt64 when within_seconds is absent.
	within int64
	cel    *celProgram
	// nStrCmp: the literal and whether the operator is `ne`.
	str string
	neg bool
}

// specialise turns a single eq/ne string comparison on a plain string field
// of the action into an nStrCmp node.
func (n *node) specialise() {
	if n.kind != nField || n.acc.root != rootAction || len(n.ops) != 1 || len(n.acc.rest) != 0 {
		return
	}
	op := n.ops[0]
	if (op.op != opEq && op.op != opNe) || op.lit.k != vString {
		return
	}
	switch n.acc.af {
	case afID, afNamespace, afTenant, afProvider, afActionType, afDedupKey, afStatus,
		afFingerprint, afTemplate, afSignature, afSignerID, afKid:
		n.kind, n.str, n.neg = nStrCmp, op.lit.s, op.op == opNe
	}
}

// strCmp evaluates an nStrCmp node. Optional fields that are empty are null
// and equal no string.
func (n *node) strCmp(a *action.Action) bool {
	var s string
	opt := false
	switch n.acc.af {
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
		ec.noteKey("time_since:", n.key)
		s, found, err := ec.readState(state.KindState, n.key)
		if err != nil {
			return false, err
		}
		since := int64(math.MaxInt64)
		if found {
			t, perr := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
			if perr != nil {
				return false, fmt.Errorf("evaluation error: state_seen %q: stored value %q is not an RFC 3339 timestamp", n.key, s)
			}
			since = int64(ec.now.Sub(t) / time.Second)
		}
		return since < n.within, nil
	case nStateCounter:
		ec.noteKey("counter:", n.key)
		s, found, err := ec.readState(state.KindCounter, n.key)
		if err != nil {
			return false, err
		}
		var c int64
		if found {
			c, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return false, fmt.Errorf("evaluation error: state_counter %q: stored value %q is not an integer", n.key, s)
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
	case nField, nStrCmp:
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
		fmt.Fprintf(b, "(StateTimeSince(%s) < %d)", strconv.Quote(n.key), n.within)
	case nStateCounter:
		renderOps(b, "StateCounter("+strconv.Quote(n.key)+")", n.ops)
	case nCEL:
		b.WriteString(n.cel.src)
	}
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
