package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
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
		celEnv, errCELEnv = cel.NewEnv(
			cel.CustomTypeProvider(reg),
			cel.CustomTypeAdapter(jsonAdapter{base: reg}),
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

// celActivation resolves `action` and `now`, building the action map on
// first use; one activation serves every CEL rule of one evaluation.
type celActivation struct {
	a   *action.Action
	now time.Time
	am  map[string]any
}

func (c *celActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "action":
		if c.am == nil {
			c.am = actionMap(c.a)
		}
		return c.am, true
	case "now":
		return types.Timestamp{Time: c.now}, true
	}
	return nil, false
}

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
