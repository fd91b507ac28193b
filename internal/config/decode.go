package config

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// decoder copies a generic TOML document (as toml.Decode produces it into a
// map[string]any) onto a typed struct that already holds the defaults.
//
// BurntSushi/toml can decode straight into the struct, but it stops at the
// first type mismatch and keeps key positions private. Walking the generic
// document ourselves reports every mismatch with its TOML path and line, and
// every unknown key as a warning (decision D24), in one pass.
type decoder struct {
	file    string
	baseDir string // anchors *_file secret paths
	pos     *positions
	errs    []*Error
	warns   []Warning
	// errPaths holds the paths that already have an error.
	errPaths map[string]bool
}

func (d *decoder) errorf(path, format string, args ...any) {
	if d.errPaths == nil {
		d.errPaths = map[string]bool{}
	}
	d.errPaths[path] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: d.pos.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) unknown(path string) {
	d.warns = append(d.warns, Warning{File: d.file, Line: d.pos.line(path), Path: path, Msg: "unknown key " + path})
}

// unknownTree reports every leaf under an unknown key. An unknown table or
// array of tables yields one warning per leaf key, the way md.Undecoded()
// would list them, minus the table headers themselves.
func (d *decoder) unknownTree(path string, v any) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			d.unknown(path)
			return
		}
		for _, k := range sortedKeys(v) {
			d.unknownTree(joinKey(path, k), v[k])
		}
	case []map[string]any:
		if len(v) == 0 {
			d.unknown(path)
			return
		}
		for i, m := range v {
			d.unknownTree(joinIndex(path, i), m)
		}
	default:
		d.unknown(path)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldInfo describes one TOML-tagged struct field.
type fieldInfo struct {
	index int
	name  string
	alias string
}

var fieldCache sync.Map // reflect.Type → map[string]fieldInfo

func fieldsOf(t reflect.Type) map[string]fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]fieldInfo)
	}
	m := map[string]fieldInfo{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("toml")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fi := fieldInfo{index: i, name: name, alias: f.Tag.Get("alias")}
		m[name] = fi
		if fi.alias != "" {
			m[fi.alias] = fi
		}
	}
	fieldCache.Store(t, m)
	return m
}

var (
	providerConfigType = reflect.TypeFor[ProviderConfig]()
	stateMachineType   = reflect.TypeFor[StateMachine]()
	secretType         = reflect.TypeFor[Secret]()
)

// decode stores src into dst (settable), reporting problems under path.
func (d *decoder) decode(path string, src any, dst reflect.Value) {
	switch dst.Type() {
	case providerConfigType:
		d.decodeProvider(path, src, dst.Addr().Interface().(*ProviderConfig))
		return
	case stateMachineType:
		dst.FieldByName("Line").SetInt(int64(d.pos.line(path)))
	}
	switch dst.Kind() {
	case reflect.Struct:
		m, ok := src.(map[string]any)
		if !ok {
			d.mismatch(path, "table", src)
			return
		}
		d.decodeStruct(path, m, dst)
	case reflect.Pointer:
		v := reflect.New(dst.Type().Elem())
		before := len(d.errs)
		d.decode(path, src, v.Elem())
		if len(d.errs) == before {
			dst.Set(v)
		}
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			if dst.Type() == secretType { // never echo what might be a secret
				d.errorf(path, "expected string, got %s", strings.Fields(describe(src))[0])
				return
			}
			d.mismatch(path, "string", src)
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			d.mismatch(path, "boolean", src)
			return
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := src.(int64)
		if !ok {
			d.mismatch(path, "integer", src)
			return
		}
		if dst.OverflowInt(n) {
			bits := dst.Type().Bits()
			d.errorf(path, "must be between %d and %d, got %d", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1, n)
			return
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := src.(int64)
		if !ok {
			d.mismatch(path, "integer", src)
			return
		}
		if n < 0 || dst.OverflowUint(uint64(n)) {
			maxV := uint64(math.MaxUint64)
			if bits := dst.Type().Bits(); bits < 64 {
				maxV = uint64(1)<<bits - 1
			}
			if maxV > math.MaxInt64 {
				d.errorf(path, "must be >= 0, got %d", n)
			} else {
				d.errorf(path, "must be between 0 and %d, got %d", maxV, n)
			}
			return
		}
		dst.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch n := src.(type) {
		case float64:
			dst.SetFloat(n)
		case int64:
			dst.SetFloat(float64(n))
		default:
			d.mismatch(path, "number", src)
		}
	case reflect.Slice:
		var elems []any
		switch s := src.(type) {
		case []any:
			elems = s
		case []map[string]any:
			elems = make([]any, len(s))
			for i := range s {
				elems[i] = s[i]
			}
		default:
			d.mismatch(path, "array", src)
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(elems), len(elems))
		for i, e := range elems {
			d.decode(joinIndex(path, i), e, out.Index(i))
		}
		dst.Set(out)
	case reflect.Map:
		m, ok := src.(map[string]any)
		if !ok {
			d.mismatch(path, "table", src)
			return
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for _, k := range sortedKeys(m) {
			v := reflect.New(dst.Type().Elem()).Elem()
			d.decode(joinKey(path, k), m[k], v)
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), v)
		}
		dst.Set(out)
	case reflect.Interface:
		if src != nil {
			dst.Set(reflect.ValueOf(src))
		}
	default:
		d.errorf(path, "cannot decode into %s", dst.Type())
	}
}

func (d *decoder) decodeStruct(path string, m map[string]any, dst reflect.Value) {
	fields := fieldsOf(dst.Type())
	seen := map[int]string{}
	for _, k := range sortedKeys(m) {
		p := joinKey(path, k)
		fi, ok := fields[k]
		fromFile := false
		if !ok {
			// A Secret may come from a sibling "<key>_file" naming a file.
			if base, cut := strings.CutSuffix(k, "_file"); cut {
				if f, has := fields[base]; has && dst.Field(f.index).Type() == secretType {
					fi, ok, fromFile = f, true, true
				}
			}
		}
		if !ok {
			d.unknownTree(p, m[k])
			continue
		}
		if other, dup := seen[fi.index]; dup {
			d.errorf(p, "set only one of %s and %s", other, k)
			continue
		}
		seen[fi.index] = k
		if fromFile {
			d.secretFile(p, m[k], dst.Field(fi.index))
			continue
		}
		d.decode(p, m[k], dst.Field(fi.index))
	}
}

// secretFile reads a secret from the file named by src (relative to the
// config file's directory); one trailing newline is dropped.
func (d *decoder) secretFile(path string, src any, dst reflect.Value) {
	name, ok := src.(string)
	if !ok {
		d.mismatch(path, "string", src)
		return
	}
	if name == "" {
		d.errorf(path, "must name a file")
		return
	}
	data, err := os.ReadFile(resolve(d.baseDir, name))
	if err != nil {
		d.errorf(path, "cannot read secret: %v", err)
		return
	}
	s := strings.TrimSuffix(string(data), "\n")
	s = strings.TrimSuffix(s, "\r")
	dst.SetString(s)
}

func (d *decoder) decodeProvider(path string, src any, p *ProviderConfig) {
	m, ok := src.(map[string]any)
	if !ok {
		d.mismatch(path, "table", src)
		return
	}
	p.Raw = m
	p.Line = d.pos.line(path)
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &p.Name}, {"type", &p.Type}} {
		v, ok := m[f.key]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			d.mismatch(joinKey(path, f.key), "string", v)
			continue
		}
		*f.dst = s
	}
}

// mismatch reports a value of the wrong TOML type.
func (d *decoder) mismatch(path, want string, got any) {
	d.errorf(path, "expected %s, got %s", want, describe(got))
}

// describe names a TOML value's type and, for scalars, the value.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		s := v
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return fmt.Sprintf("string %q", s)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case time.Time:
		return "datetime " + v.Format(time.RFC3339Nano)
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	case nil:
		return "nothing"
	default:
		t := fmt.Sprintf("%T", v)
		if strings.HasPrefix(t, "toml.Local") {
			return "local " + strings.ToLower(strings.TrimPrefix(t, "toml.Local"))
		}
		return t
	}
}
