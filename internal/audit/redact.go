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
// Key order and the text of unredacted values are kept. Without fields, or
// for an empty payload or one that has no keys, payload is returned as is.
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
	v := bytes.TrimSpace(payload)
	if len(v) == 0 || (v[0] != '{' && v[0] != '[') {
		if !json.Valid(payload) {
			return json.RawMessage(bytes.Clone(r.placeholder))
		}
		return payload // a scalar has no keys
	}
	var buf bytes.Buffer
	buf.Grow(len(v))
	if err := r.walk(&buf, v, ""); err != nil {
		return json.RawMessage(bytes.Clone(r.placeholder))
	}
	return buf.Bytes()
}

var errTrailing = errors.New("audit: trailing data after JSON value")

// walk writes the redacted form of the JSON value v found at path.
func (r *redactor) walk(buf *bytes.Buffer, v []byte, path string) error {
	if len(v) == 0 || (v[0] != '{' && v[0] != '[') {
		buf.Write(v)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	if _, err := dec.Token(); err != nil { // '{' or '['
		return err
	}
	isObject := v[0] == '{'
	if isObject {
		buf.WriteByte('{')
	} else {
		buf.WriteByte('[')
	}
	for i := 0; dec.More(); i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		childPath := path
		redacted := false
		if isObject {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, ok := tok.(string)
			if !ok {
				return errors.New("audit: object key is not a string")
			}
			kb, err := json.Marshal(key)
			if err != nil {
				return err
			}
			buf.Write(kb)
			buf.WriteByte(':')
			lk := strings.ToLower(key)
			if path == "" {
				childPath = lk
			} else {
				childPath = path + "." + lk
			}
			_, byName := r.fields[lk]
			_, byPath := r.fields[childPath]
			redacted = byName || byPath
		}
		var child json.RawMessage
		if err := dec.Decode(&child); err != nil {
			return err
		}
		if redacted {
			buf.Write(r.placeholder)
			continue
		}
		if err := r.walk(buf, child, childPath); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}' or ']'
		return err
	}
	if dec.More() {
		return errTrailing
	}
	if _, err := dec.Token(); err == nil {
		return errTrailing
	}
	if isObject {
		buf.WriteByte('}')
	} else {
		buf.WriteByte(']')
	}
	return nil
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
