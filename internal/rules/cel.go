package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"

	"github.com/acteon/acteon-go/action"
)

// celCostLimit bounds the work one CEL condition may do per evaluation.
const celCostLimit = 1_000_000

// celMaxSource bounds the length of one CEL expression.
const celMaxSource = 64 << 10

var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	errCELEnv  error
	// theAdapter is the environment's adapter (set with celEnv).
	theAdapter types.Adapter = jsonAdapter{base: types.DefaultTypeAdapter}
)

// jsonAdapter adapts decoded JSON for CEL without copying it: json.Number
// becomes int (when it fits in int64) or double, and maps and lists are
// wrapped lazily with this adapter so nested numbers convert too.
type jsonAdapter struct{ base types.Adapter }

func (a jsonAdapter) NativeToValue(v any) ref.Val {
	switch t := v.(type) {
	case json.Number:
		switch nv := numberValue(string(t)); nv.k {
		case vInt:
			return types.Int(nv.i())
		case vFloat:
			return types.Double(nv.f())
		default:
			return types.String(t)
		}
	case map[string]any:
		return types.NewStringInterfaceMap(a, t)
	case []any:
		return types.NewDynamicList(a, t)
	}
	return a.base.NativeToValue(v)
}

func stringUnary(f func(string) string) cel.OverloadOpt {
	return cel.UnaryBinding(func(v ref.Val) ref.Val {
		s, ok := v.(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(v)
		}
		return types.String(f(string(s)))
	})
}

// celEnvironment is the shared CEL environment (D7): variables `action`
// (map(string, dyn)) and `now` (timestamp), cel-go's standard extensions,
// cross-type numeric comparisons, plus `lower()`/`upper()` string methods
// that upstream's dialect offered.
func celEnvironment() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		reg, err := types.NewRegistry()
		if err != nil {
			errCELEnv = err
			return
		}
		theAdapter = jsonAdapter{base: reg}
		celEnv, errCELEnv = cel.NewEnv(
			cel.CustomTypeProvider(reg),
			cel.CustomTypeAdapter(theAdapter),
			cel.Variable("action", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("now", cel.TimestampType),
			cel.CrossTypeNumericComparisons(true),
			ext.Strings(), ext.Math(), ext.Lists(), ext.Sets(), ext.Encoders(),
			ext.Bindings(), ext.TwoVarComprehensions(),
			cel.Function("lower", cel.MemberOverload("string_lower_unicode",
				[]*cel.Type{cel.StringType}, cel.StringType, stringUnary(strings.ToLower))),
			cel.Function("upper", cel.MemberOverload("string_upper_unicode",
				[]*cel.Type{cel.StringType}, cel.StringType, stringUnary(strings.ToUpper))),
			cel.ParserExpressionSizeLimit(celMaxSource),
			cel.ParserRecursionLimit(200),
		)
	})
	return celEnv, errCELEnv
}

// celProgram is a type-checked CEL condition.
type celProgram struct {
	src string
	prg cel.Program
}

// compileCEL parses and type-checks src. A result type other than bool or
// dyn is a load error; a dyn result that is not a bool at runtime is "no
// match" (D6).
func compileCEL(src string) (p *celProgram, err error) {
	defer func() {
		if r := recover(); r != nil { // cel-go must never take the loader down
			p, err = nil, fmt.Errorf("CEL: internal error compiling expression: %v", r)
		}
	}()
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("CEL: empty expression")
	}
	env, err := celEnvironment()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("CEL: %s", celIssues(iss.Err().Error()))
	}
	ot := ast.OutputType()
	if !ot.IsExactType(cel.BoolType) && !ot.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL: condition must evaluate to bool, not %s", ot)
	}
	prg, err := env.Program(ast,
		cel.CostLimit(celCostLimit),
		cel.InterruptCheckFrequency(100),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("CEL: %w", err)
	}
	return &celProgram{src: src, prg: prg}, nil
}

func (p *celProgram) eval(ec *evalCtx) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("evaluation error: CEL panic: %v", r)
		}
	}()
	if ec.act == nil {
		ec.act = &celActivation{a: ec.a, now: ec.now}
	}
	out, _, err := p.prg.ContextEval(ec.ctx, ec.act)
	if err != nil {
		return false, fmt.Errorf("evaluation error: %w", err)
	}
	b, isBool := out.(types.Bool)
	if !isBool {
		return false, fmt.Errorf("evaluation error: CEL condition returned %s, not bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// celActivation resolves `action` and `now`; one activation serves every
// CEL rule of one evaluation.
type celActivation struct {
	a    *action.Action
	now  time.Time
	actV *celAction
	nowV ref.Val
}

func (c *celActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "action":
		if c.actV == nil {
			c.actV = &celAction{a: c.a}
		}
		return c.actV, true
	case "now":
		if c.nowV == nil {
			c.nowV = types.Timestamp{Time: c.now}
		}
		return c.nowV, true
	}
	return nil, false
}

// celAction is the CEL `action` map, read lazily: the common fields are
// served straight from the Action, and the full map (actionMap) is only
// built for iteration, equality, conversion or rare keys.
type celAction struct {
	a    *action.Action
	full traits.Mapper
}

var _ traits.Mapper = (*celAction)(nil)

func (v *celAction) asMap() traits.Mapper {
	if v.full == nil {
		v.full = types.NewStringInterfaceMap(theAdapter, actionMap(v.a))
	}
	return v.full
}

// Find implements traits.Mapper.
func (v *celAction) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return v.asMap().Find(key)
	}
	a := v.a
	switch string(k) {
	case "id":
		return types.String(a.ID), true
	case "namespace":
		return types.String(a.Namespace), true
	case "tenant":
		return types.String(a.Tenant), true
	case "provider":
		return types.String(a.Provider), true
	case "action_type":
		return types.String(a.ActionType), true
	case "payload":
		return theAdapter.NativeToValue(a.Payload), true
	case "metadata":
		return types.NewStringStringMap(theAdapter, nonNilSS(a.Metadata)), true
	}
	return v.asMap().Find(key)
}

// Get implements traits.Indexer.
func (v *celAction) Get(key ref.Val) ref.Val {
	val, found := v.Find(key)
	if !found {
		if val != nil {
			return val
		}
		return types.NewErr("no such key: %v", key)
	}
	return val
}

// Contains implements traits.Container.
func (v *celAction) Contains(key ref.Val) ref.Val {
	val, found := v.Find(key)
	if !found && val != nil && types.IsError(val) {
		return val
	}
	return types.Bool(found)
}

func (v *celAction) ConvertToNative(t reflect.Type) (any, error) { return v.asMap().ConvertToNative(t) }
func (v *celAction) ConvertToType(t ref.Type) ref.Val            { return v.asMap().ConvertToType(t) }
func (v *celAction) Equal(o ref.Val) ref.Val                     { return v.asMap().Equal(o) }
func (v *celAction) Type() ref.Type                              { return types.MapType }
func (v *celAction) Value() any                                  { return v.asMap().Value() }
func (v *celAction) Iterator() traits.Iterator                   { return v.asMap().Iterator() }
func (v *celAction) Size() ref.Val                               { return v.asMap().Size() }

func (c *celActivation) Parent() interpreter.Activation { return nil }

// celIssues keeps the "line:col: message" part of each cel-go issue and
// drops the source excerpt lines.
func celIssues(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "ERROR: <input>:"); ok {
			out = append(out, rest)
		}
	}
	if len(out) == 0 {
		return strings.ReplaceAll(s, "\n", " ")
	}
	return strings.Join(out, "; ")
}
