package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// DefaultRedactPlaceholder replaces redacted values when no placeholder is
// configured (`[audit.redact] placeholder`).
const DefaultRedactPlaceholder = "[REDACTED]"

// Redact returns payload with the value of every matching object key
// replaced by the placeholder string. A key matches when its lower-cased
// name, or its lower-cased dotted path from the payload root, equals one of
// fields (compared lower-cased): with fields ["password", "user.token"],
// every "Password" key anywhere is redacted, and "token" only under the
// root's "user". Arrays are traversed with their parent's path (the objects
// in "items": [...] have paths "items.<key>"). A redacted value is replaced
// whole, without looking inside it.
//
// Key order and the text of unredacted values are kept (whitespace between
// tokens is dropped when something was redacted). When nothing matches,
// payload itself is returned.
// A payload that is not valid JSON cannot be inspected, so it is replaced
// whole by the placeholder rather than risk storing a secret. An empty
// placeholder means DefaultRedactPlaceholder.
func Redact(payload json.RawMessage, fields []string, placeholder string) json.RawMessage {
	return newRedactor(fields, placeholder).redact(payload)
}

type redactor struct {
	fields      map[string]struct{}
	placeholder []byte // JSON string
}

func newRedactor(fields []string, placeholder string) *redactor {
	if placeholder == "" {
		placeholder = DefaultRedactPlaceholder
	}
	ph, _ := json.Marshal(placeholder) // a string always marshals
	r := &redactor{fields: make(map[string]struct{}, len(fields)), placeholder: ph}
	for _, f := range fields {
		if f != "" {
			r.fields[strings.ToLower(f)] = struct{}{}
		}
	}
	return r
}

func (r *redactor) redact(payload json.RawMessage) json.RawMessage {
	if len(r.fields) == 0 || len(payload) == 0 {
		return payload
	}
	sc := scanner{r: r, in: payload, out: make([]byte, 0, len(payload)+16)}
	if err := sc.document(); err != nil {
		return json.RawMessage(bytes.Clone(r.placeholder))
	}
	if !sc.changed {
		return payload
	}
	return sc.out
}

// maxDepth bounds nesting; a deeper payload is treated as invalid (and so
// replaced whole) rather than recursed into without limit.
const maxDepth = 1000

var errSyntax = errors.New("audit: invalid JSON payload")

// scanner copies one JSON document from in to out, compacting whitespace
// and replacing the values of matching keys. It validates as it goes.
type scanner struct {
	r       *redactor
	in      []byte
	i       int
	out     []byte
	path    []byte // lower-cased dotted path of the current value
	key     []byte // scratch: the current key, lower-cased
	depth   int
	changed bool // something was redacted
}

func (s *scanner) document() error {
	if err := s.value(false); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.in) {
		return errSyntax
	}
	return nil
}

func (s *scanner) ws() {
	for s.i < len(s.in) {
		switch s.in[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value copies (or, with skip, only validates) one value.
func (s *scanner) value(skip bool) error {
	s.ws()
	if s.i >= len(s.in) {
		return errSyntax
	}
	start := s.i
	switch c := s.in[s.i]; {
	case c == '{':
		return s.object(skip)
	case c == '[':
		return s.array(skip)
	case c == '"':
		if _, err := s.str(); err != nil {
			return err
		}
	case c == 't':
		return s.literal("true", skip)
	case c == 'f':
		return s.literal("false", skip)
	case c == 'n':
		return s.literal("null", skip)
	case c == '-' || (c >= '0' && c <= '9'):
		if err := s.number(); err != nil {
			return err
		}
	default:
		return errSyntax
	}
	if !skip {
		s.out = append(s.out, s.in[start:s.i]...)
	}
	return nil
}

func (s *scanner) literal(lit string, skip bool) error {
	if !bytes.HasPrefix(s.in[s.i:], []byte(lit)) {
		return errSyntax
	}
	s.i += len(lit)
	if !skip {
		s.out = append(s.out, lit...)
	}
	return nil
}

func (s *scanner) number() error {
	in, i := s.in, s.i
	digits := func() int {
		n := 0
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case digits() == 0:
		return errSyntax
	}
	if i < len(in) && in[i] == '.' {
		i++
		if digits() == 0 {
			return errSyntax
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if digits() == 0 {
			return errSyntax
		}
	}
	s.i = i
	return nil
}

// str validates the string at s.i and moves past it. It reports whether
// the string holds escapes.
func (s *scanner) str() (escaped bool, err error) {
	i := s.i + 1
	for i < len(s.in) {
		switch c := s.in[i]; {
		case c == '"':
			s.i = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(s.in) {
				return false, errSyntax
			}
			switch s.in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.in) {
					return false, errSyntax
				}
				for _, h := range s.in[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false, errSyntax
					}
				}
				i += 6
			default:
				return false, errSyntax
			}
		case c < 0x20:
			return false, errSyntax
		default:
			i++
		}
	}
	return false, errSyntax
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return errSyntax
	}
	return nil
}

func (s *scanner) object(skip bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // '{'
	if !skip {
		s.out = append(s.out, '{')
	}
	s.ws()
	if s.i < len(s.in) && s.in[s.i] == '}' {
		s.i++
		if !skip {
			s.out = append(s.out, '}')
		}
		s.depth--
		return nil
	}
	parent := len(s.path)
	for n := 0; ; n++ {
		if n > 0 && !skip {
			s.out = append(s.out, ',')
		}
		s.ws()
		if s.i >= len(s.in) || s.in[s.i] != '"' {
			return errSyntax
		}
		kstart := s.i
		escaped, err := s.str()
		if err != nil {
			return err
		}
		raw := s.in[kstart:s.i]
		s.ws()
		if s.i >= len(s.in) || s.in[s.i] != ':' {
			return errSyntax
		}
		s.i++
		redact := false
		if !skip {
			s.out = append(s.out, raw...)
			s.out = append(s.out, ':')
			if err := s.setKey(raw, escaped); err != nil {
				return err
			}
			if parent > 0 {
				s.path = append(s.path, '.')
			}
			s.path = append(s.path, s.key...)
			_, byName := s.r.fields[string(s.key)]
			_, byPath := s.r.fields[string(s.path)]
			redact = byName || byPath
		}
		if redact {
			s.out = append(s.out, s.r.placeholder...)
			s.changed = true
		}
		if err := s.value(skip || redact); err != nil {
			return err
		}
		s.path = s.path[:parent]
		s.ws()
		if s.i >= len(s.in) {
			return errSyntax
		}
		switch s.in[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			if !skip {
				s.out = append(s.out, '}')
			}
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// setKey puts the lower-cased, unescaped key (raw includes its quotes) in
// s.key.
func (s *scanner) setKey(raw []byte, escaped bool) error {
	s.key = s.key[:0]
	if escaped {
		var k string
		if err := json.Unmarshal(raw, &k); err != nil {
			return errSyntax
		}
		s.key = append(s.key, strings.ToLower(k)...)
		return nil
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c >= 0x80 { // non-ASCII: let the strings package fold it
			s.key = append(s.key[:0], strings.ToLower(string(body))...)
			return nil
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		s.key = append(s.key, c)
	}
	return nil
}

func (s *scanner) array(skip bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // '['
	if !skip {
		s.out = append(s.out, '[')
	}
	s.ws()
	if s.i < len(s.in) && s.in[s.i] == ']' {
		s.i++
		if !skip {
			s.out = append(s.out, ']')
		}
		s.depth--
		return nil
	}
	for n := 0; ; n++ {
		if n > 0 && !skip {
			s.out = append(s.out, ',')
		}
		if err := s.value(skip); err != nil { // elements keep the array's path
			return err
		}
		s.ws()
		if s.i >= len(s.in) {
			return errSyntax
		}
		switch s.in[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			if !skip {
				s.out = append(s.out, ']')
			}
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// redacting is the Redacting decorator: it redacts action_payload before
// the inner store sees it; every other method passes through.
type redacting struct {
	Store
	r *redactor
}

// NewRedacting returns a Store that redacts each record's action_payload
// (see Redact) before appending it to inner, so a redacted value never
// reaches inner. The caller's records are not modified. With no fields it
// returns inner itself.
func NewRedacting(inner Store, fields []string, placeholder string) Store {
	r := newRedactor(fields, placeholder)
	if len(r.fields) == 0 {
		return inner
	}
	return &redacting{Store: inner, r: r}
}

// Append redacts copies of records and appends them to the inner store.
func (s *redacting) Append(ctx context.Context, records []Record) error {
	out := make([]Record, len(records))
	for i, rec := range records {
		rec.ActionPayload = s.r.redact(rec.ActionPayload)
		out[i] = rec
	}
	return s.Store.Append(ctx, out)
}
