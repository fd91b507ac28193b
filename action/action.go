// Package action holds the wire model of Acteon: the Action a client
// dispatches and the Outcome the gateway answers with. It is the first stop
// of every action's path (api decodes into it, every later stage reads it)
// and depends on nothing but the standard library.
//
// Output is byte-compatible with the upstream Rust server (decision D1);
// input is lenient (D2): a missing id gets a UUID v4, a missing created_at
// gets the decoder's now, and "metadata":{"labels":{…}} is read as the
// label map.
package action

import (
	"time"
)

// Action is one request to do something through a provider.
//
// Optional string fields use the empty string for "absent"; they are encoded
// as JSON null when empty, as upstream does. Payload holds decoded JSON
// (map[string]any, []any, string, json.Number, bool or nil); numbers are kept
// as json.Number so that re-encoding preserves the client's text.
type Action struct {
	ID           string            `json:"id"`
	Namespace    string            `json:"namespace"`
	Tenant       string            `json:"tenant"`
	Provider     string            `json:"provider"`
	ActionType   string            `json:"action_type"`
	Payload      any               `json:"payload"`
	Metadata     map[string]string `json:"metadata"`
	DedupKey     string            `json:"dedup_key"`
	Status       string            `json:"status"`
	Fingerprint  string            `json:"fingerprint"`
	StartsAt     *time.Time        `json:"starts_at"`
	EndsAt       *time.Time        `json:"ends_at"`
	CreatedAt    time.Time         `json:"created_at"`
	TraceContext map[string]string `json:"trace_context"`
	Template     string            `json:"template"`
	Attachments  []Attachment      `json:"attachments,omitempty"`
	Signature    string            `json:"signature,omitempty"`
	SignerID     string            `json:"signer_id,omitempty"`
	Kid          string            `json:"kid,omitempty"`
}

// Attachment is a file carried inline with an action.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	DataBase64  string `json:"data_base64"`
}

// EffectiveDedupKey is the key the deduplicate verdict uses: dedup_key when
// set, else the action id (decision D9).
func (a *Action) EffectiveDedupKey() string {
	if a.DedupKey != "" {
		return a.DedupKey
	}
	return a.ID
}

// Clone returns a copy of a whose maps and payload can be changed without
// touching a. The payload is deep-copied.
func (a *Action) Clone() *Action {
	c := *a
	c.Payload = CloneJSON(a.Payload)
	if a.Metadata != nil {
		c.Metadata = make(map[string]string, len(a.Metadata))
		for k, v := range a.Metadata {
			c.Metadata[k] = v
		}
	}
	if a.TraceContext != nil {
		c.TraceContext = make(map[string]string, len(a.TraceContext))
		for k, v := range a.TraceContext {
			c.TraceContext[k] = v
		}
	}
	if a.Attachments != nil {
		c.Attachments = append([]Attachment(nil), a.Attachments...)
	}
	return &c
}

// CloneJSON deep-copies a decoded JSON value (maps and slices; scalars are
// immutable and shared).
func CloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = CloneJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = CloneJSON(e)
		}
		return s
	default:
		return v
	}
}
