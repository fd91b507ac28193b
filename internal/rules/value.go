package rules

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// vkind is the runtime type of a value (spec 02 §2.4).
type vkind uint8

const (
	vNull vkind = iota
	vBool
	vInt
	vFloat
	vString
	vList
	vMap
)

var vkindNames = [...]string{"null", "bool", "int", "float", "string", "list", "map"}

func (k vkind) String() string {
	if int(k) < len(vkindNames) {
		return vkindNames[k]
	}
	return "unknown"
}

// value is an unboxed runtime value. Scalars live in s / n (int64 bits,
// float64 bits or 0/1 for bools) so that reading and comparing them never
// allocates; lists and maps keep a reference to the underlying Go value in x
// ([]any / []string for lists, map[string]any / map[string]string for maps).
type value struct {
	k vkind
	s string
	n uint64
	x any
}

func boolV(b bool) value {
	if b {
		return value{k: vBool, n: 1}
	}
	return value{k: vBool}
}
func intV(i int64) value     { return value{k: vInt, n: uint64(i)} }
func floatV(f float64) value { return value{k: vFloat, n: math.Float64bits(f)} }
func strV(s string) value    { return value{k: vString, s: s} }

func (v value) i() int64   { return int64(v.n) }
func (v value) f() float64 { return math.Float64frombits(v.n) }
func (v value) b() bool    { return v.n != 0 }

// optStr is a string that is null when empty (optional action fields).
func optStr(s string) value {
	if s == "" {
		return value{}
	}
	return value{k: vString, s: s}
}

// numberValue reads a JSON number as int64 when it fits, else float64.
func numberValue(s string) value {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return intV(i)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return floatV(f)
	}
	// Not a number at all (cannot come from a JSON decoder): keep the text.
	return strV(s)
}

// toValue converts a decoded JSON / operand value without allocating.
func toValue(x any) value {
	switch t := x.(type) {
	case nil:
		return value{}
	case string:
		return strV(t)
	case bool:
		return boolV(t)
	case json.Number:
		return numberValue(string(t))
	case int64:
		return intV(t)
	case int:
		return intV(int64(t))
	case int32:
		return intV(int64(t))
	case uint64:
		if t > math.MaxInt64 {
			return floatV(float64(t))
		}
		return intV(int64(t))
	case uint32:
		return intV(int64(t))
	case float64:
		return floatV(t)
	case float32:
		return floatV(float64(t))
	case []any:
		return value{k: vList, x: t}
	case []string:
		return value{k: vList, x: t}
	case map[string]any:
		return value{k: vMap, x: t}
	case map[string]string:
		return value{k: vMap, x: t}
	default:
		return value{}
	}
}

// listLen and listAt read a list value's elements.
func (v value) listLen() int {
	switch t := v.x.(type) {
	case []any:
		return len(t)
	case []string:
		return len(t)
	}
	return 0
}

func (v value) listAt(i int) value {
	switch t := v.x.(type) {
	case []any:
		return toValue(t[i])
	case []string:
		return strV(t[i])
	}
	return value{}
}

// field looks a key up in a map value: a missing key is null; a non-map
// is a type error.
func (v value) field(seg string) (value, error) {
	switch t := v.x.(type) {
	case map[string]any:
		if v.k == vMap {
			e, ok := t[seg]
			if !ok {
				return value{}, nil
			}
			return toValue(e), nil
		}
	case map[string]string:
		if v.k == vMap {
			e, ok := t[seg]
			if !ok {
				return value{}, nil
			}
			return strV(e), nil
		}
	}
	return value{}, &typeError{msg: "cannot access field '" + seg + "' on " + v.k.String()}
}

// equal implements the `==` of spec §2.4: int↔float coercion within
// f64::EPSILON, lists elementwise with exact equality, maps never equal,
// mixed types false.
func equal(a, b value) bool {
	switch a.k {
	case vNull:
		return b.k == vNull
	case vBool:
		return b.k == vBool && a.n == b.n
	case vString:
		return b.k == vString && a.s == b.s
	case vInt:
		switch b.k {
		case vInt:
			return a.n == b.n
		case vFloat:
			return math.Abs(float64(a.i())-b.f()) < epsilon
		}
		return false
	case vFloat:
		switch b.k {
		case vInt:
			return math.Abs(a.f()-float64(b.i())) < epsilon
		case vFloat:
			return math.Abs(a.f()-b.f()) < epsilon
		}
		return false
	case vList:
		return b.k == vList && listsExactEqual(a, b)
	}
	return false // maps are never equal
}

const epsilon = 2.220446049250313e-16

// exactEqual is equal without int↔float coercion (list elements).
func exactEqual(a, b value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case vNull:
		return true
	case vBool, vInt:
		return a.n == b.n
	case vFloat:
		return a.f() == b.f()
	case vString:
		return a.s == b.s
	case vList:
		return listsExactEqual(a, b)
	}
	return false
}

func listsExactEqual(a, b value) bool {
	n := a.listLen()
	if n != b.listLen() {
		return false
	}
	for i := 0; i < n; i++ {
		if !exactEqual(a.listAt(i), b.listAt(i)) {
			return false
		}
	}
	return true
}

// compare orders two values for gt/lt/gte/lte: numbers numerically,
// strings bytewise; any other pair is a type error.
func compare(a, b value) (int, error) {
	switch {
	case a.k == vInt && b.k == vInt:
		x, y := a.i(), b.i()
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	case (a.k == vInt || a.k == vFloat) && (b.k == vInt || b.k == vFloat):
		x, y := a.num(), b.num()
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		case x == y:
			return 0, nil
		}
		return 0, &typeError{msg: "cannot compare NaN"}
	case a.k == vString && b.k == vString:
		return strings.Compare(a.s, b.s), nil
	}
	return 0, &typeError{msg: "cannot compare " + a.k.String() + " and " + b.k.String()}
}

func (v value) num() float64 {
	if v.k == vInt {
		return float64(v.i())
	}
	return v.f()
}

// typeError is a runtime type error (spec §3.14 "type error: ...").
type typeError struct{ msg string }

func (e *typeError) Error() string { return "type error: " + e.msg }

// render writes the §2.10 literal form of v.
func (v value) render(b *strings.Builder) {
	switch v.k {
	case vNull:
		b.WriteString("null")
	case vBool:
		b.WriteString(strconv.FormatBool(v.b()))
	case vInt:
		b.WriteString(strconv.FormatInt(v.i(), 10))
	case vFloat:
		b.WriteString(formatFloat(v.f()))
	case vString:
		writeQuoted(b, v.s)
	case vList:
		b.WriteByte('[')
		for i := 0; i < v.listLen(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			v.listAt(i).render(b)
		}
		b.WriteByte(']')
	case vMap:
		b.WriteByte('{')
		switch t := v.x.(type) {
		case map[string]any:
			for i, k := range sortedKeys(t) {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.Quote(k))
				b.WriteString(": ")
				toValue(t[k]).render(b)
			}
		}
		b.WriteByte('}')
	}
}

func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}
