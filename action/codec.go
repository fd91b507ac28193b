package action

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// DecodeError reports a body that could not be read as an Action.
// Syntax is true for malformed JSON (HTTP 400); otherwise the JSON was
// well formed but had the wrong shape or lacked a field (HTTP 422) and
// Field names the offending field.
type DecodeError struct {
	Syntax bool
	Field  string
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
	return e.Msg
}

// wireAction mirrors Action with pointers so that absence can be told apart
// from zero values.
type wireAction struct {
	ID           *string            `json:"id"`
	Namespace    *string            `json:"namespace"`
	Tenant       *string            `json:"tenant"`
	Provider     *string            `json:"provider"`
	ActionType   *string            `json:"action_type"`
	Payload      json.RawMessage    `json:"payload"`
	Metadata     json.RawMessage    `json:"metadata"`
	DedupKey     *string            `json:"dedup_key"`
	Status       *string            `json:"status"`
	Fingerprint  *string            `json:"fingerprint"`
	StartsAt     *time.Time         `json:"starts_at"`
	EndsAt       *time.Time         `json:"ends_at"`
	CreatedAt    *time.Time         `json:"created_at"`
	TraceContext map[string]*string `json:"trace_context"`
	Template     *string            `json:"template"`
	Attachments  []Attachment       `json:"attachments"`
	Signature    *string            `json:"signature"`
	SignerID     *string            `json:"signer_id"`
	Kid          *string            `json:"kid"`
}

// NewID returns a fresh UUID v4 string. It is a variable so tests can make
// ids deterministic.
var NewID = UUIDv4

// Now returns the time used for a missing created_at.
var Now = time.Now

// Decode reads one Action from JSON, applying the lenient input rules (D2).
// Errors are *DecodeError.
func Decode(data []byte) (*Action, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		msg := "malformed JSON"
		if err != nil {
			msg = "malformed JSON: " + err.Error()
		}
		return nil, &DecodeError{Syntax: true, Msg: msg}
	}
	return decodeValid(data)
}

func decodeValid(data []byte) (*Action, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &DecodeError{Msg: "expected a JSON object for an action"}
	}
	var w wireAction
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, shapeError(err)
	}
	a := &Action{}
	req := []struct {
		name string
		src  *string
		dst  *string
	}{
		{"namespace", w.Namespace, &a.Namespace},
		{"tenant", w.Tenant, &a.Tenant},
		{"provider", w.Provider, &a.Provider},
		{"action_type", w.ActionType, &a.ActionType},
	}
	for _, r := range req {
		if r.src == nil {
			return nil, &DecodeError{Field: r.name, Msg: "missing field `" + r.name + "`"}
		}
		*r.dst = *r.src
	}
	if w.Payload == nil {
		return nil, &DecodeError{Field: "payload", Msg: "missing field `payload`"}
	}
	p, err := DecodeJSONValue(w.Payload)
	if err != nil {
		return nil, &DecodeError{Field: "payload", Msg: err.Error()}
	}
	a.Payload = p
	if w.ID != nil && *w.ID != "" {
		a.ID = *w.ID
	} else {
		a.ID = NewID()
	}
	if w.CreatedAt != nil {
		a.CreatedAt = *w.CreatedAt
	} else {
		a.CreatedAt = Now().UTC()
	}
	md, err := decodeMetadata(w.Metadata)
	if err != nil {
		return nil, err
	}
	a.Metadata = md
	a.DedupKey = deref(w.DedupKey)
	a.Status = deref(w.Status)
	a.Fingerprint = deref(w.Fingerprint)
	a.StartsAt = w.StartsAt
	a.EndsAt = w.EndsAt
	a.Template = deref(w.Template)
	if len(w.TraceContext) > 0 {
		a.TraceContext = make(map[string]string, len(w.TraceContext))
		for k, v := range w.TraceContext {
			if v == nil {
				return nil, &DecodeError{Field: "trace_context." + k, Msg: "expected a string"}
			}
			a.TraceContext[k] = *v
		}
	}
	a.Attachments = w.Attachments
	for i, at := range a.Attachments {
		if at.ID == "" || at.Name == "" || at.Filename == "" || at.ContentType == "" || at.DataBase64 == "" {
			return nil, &DecodeError{Field: fmt.Sprintf("attachments[%d]", i), Msg: "every attachment needs id, name, filename, content_type and data_base64"}
		}
	}
	a.Signature = deref(w.Signature)
	a.SignerID = deref(w.SignerID)
	a.Kid = deref(w.Kid)
	return a, nil
}

// DecodeBatch reads a bare JSON array of actions. The slice has one entry
// per array element; an element that fails to decode has a nil Action and its
// error in errs at the same index (decision D4). A body that is not a JSON
// array is a whole-body error.
func DecodeBatch(data []byte) (actions []*Action, errs []error, err error) {
	if !json.Valid(data) {
		var v any
		uerr := json.Unmarshal(data, &v)
		return nil, nil, &DecodeError{Syntax: true, Msg: "malformed JSON: " + errString(uerr)}
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, &DecodeError{Msg: "expected a JSON array of actions"}
	}
	actions = make([]*Action, len(raw))
	errs = make([]error, len(raw))
	for i, r := range raw {
		actions[i], errs[i] = decodeValid(r)
	}
	return actions, errs, nil
}

func errString(err error) string {
	if err == nil {
		return "invalid input"
	}
	return err.Error()
}

func shapeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		return &DecodeError{Field: field, Msg: fmt.Sprintf("invalid type: expected %s, got JSON %s", te.Type.String(), te.Value)}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return &DecodeError{Msg: "invalid timestamp (want RFC 3339): " + pe.Value}
	}
	return &DecodeError{Msg: err.Error()}
}

func decodeMetadata(raw json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &DecodeError{Field: "metadata", Msg: "expected an object of string labels"}
	}
	// The official SDKs send {"labels": {...}}; read that as the label map.
	if len(m) == 1 {
		if inner, ok := m["labels"]; ok {
			t := bytes.TrimSpace(inner)
			if len(t) > 0 && t[0] == '{' {
				return decodeMetadata(inner)
			}
		}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &DecodeError{Field: "metadata." + k, Msg: "label values must be strings"}
		}
		out[k] = s
	}
	return out, nil
}

// DecodeJSONValue decodes arbitrary JSON keeping numbers as json.Number.
func DecodeJSONValue(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MarshalJSON encodes the action in upstream's field order, with null for
// absent optional fields.
func (a *Action) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(256)
	b.WriteString(`{"id":`)
	writeString(&b, a.ID)
	b.WriteString(`,"namespace":`)
	writeString(&b, a.Namespace)
	b.WriteString(`,"tenant":`)
	writeString(&b, a.Tenant)
	b.WriteString(`,"provider":`)
	writeString(&b, a.Provider)
	b.WriteString(`,"action_type":`)
	writeString(&b, a.ActionType)
	b.WriteString(`,"payload":`)
	p, err := json.Marshal(a.Payload)
	if err != nil {
		return nil, fmt.Errorf("action: encode payload: %w", err)
	}
	b.Write(p)
	b.WriteString(`,"metadata":`)
	writeStringMap(&b, a.Metadata)
	b.WriteString(`,"dedup_key":`)
	writeOptString(&b, a.DedupKey)
	b.WriteString(`,"status":`)
	writeOptString(&b, a.Status)
	b.WriteString(`,"fingerprint":`)
	writeOptString(&b, a.Fingerprint)
	b.WriteString(`,"starts_at":`)
	writeOptTime(&b, a.StartsAt)
	b.WriteString(`,"ends_at":`)
	writeOptTime(&b, a.EndsAt)
	b.WriteString(`,"created_at":`)
	writeString(&b, FormatTime(a.CreatedAt))
	b.WriteString(`,"trace_context":`)
	writeStringMap(&b, a.TraceContext)
	b.WriteString(`,"template":`)
	writeOptString(&b, a.Template)
	if len(a.Attachments) > 0 {
		b.WriteString(`,"attachments":`)
		at, err := json.Marshal(a.Attachments)
		if err != nil {
			return nil, err
		}
		b.Write(at)
	}
	if a.Signature != "" {
		b.WriteString(`,"signature":`)
		writeString(&b, a.Signature)
	}
	if a.SignerID != "" {
		b.WriteString(`,"signer_id":`)
		writeString(&b, a.SignerID)
	}
	if a.Kid != "" {
		b.WriteString(`,"kid":`)
		writeString(&b, a.Kid)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes with the lenient rules of Decode.
func (a *Action) UnmarshalJSON(data []byte) error {
	d, err := Decode(data)
	if err != nil {
		return err
	}
	*a = *d
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

func writeOptString(b *bytes.Buffer, s string) {
	if s == "" {
		b.WriteString("null")
		return
	}
	writeString(b, s)
}

func writeOptTime(b *bytes.Buffer, t *time.Time) {
	if t == nil {
		b.WriteString("null")
		return
	}
	writeString(b, FormatTime(*t))
}

func writeStringMap(b *bytes.Buffer, m map[string]string) {
	if len(m) == 0 {
		b.WriteString("{}")
		return
	}
	q, _ := json.Marshal(m) // sorted keys: deterministic output
	b.Write(q)
}

// FormatTime renders t as upstream's serde does: RFC 3339 in UTC with a "Z"
// suffix and the shortest of 0, 3, 6 or 9 fractional digits that loses
// nothing.
func FormatTime(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1_000_000 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1_000 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// FormatTimeOffset renders t like FormatTime but with a "+00:00" suffix, the
// form upstream's to_rfc3339() produces inside outcome_details and some
// listings.
func FormatTimeOffset(t time.Time) string {
	s := FormatTime(t)
	return s[:len(s)-1] + "+00:00"
}
