package group

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/rules"
)

// States of a group.
const (
	StatePending  = "pending"
	StateNotified = "notified"
	// StateFlushed marks a tombstone: the group was flushed (ephemeral) or
	// evicted; the next event opens a new group.
	StateFlushed = "flushed"
)

// header is the first line of a stored group.
type header struct {
	GroupID   string `json:"group_id"`
	GroupKey  string `json:"group_key"`
	Namespace string `json:"namespace"`
	Tenant    string `json:"tenant"`
	// Provider is the provider of the event that opened the group.
	Provider string            `json:"provider"`
	Rule     string            `json:"rule,omitempty"`
	State    string            `json:"state"`
	GroupBy  []string          `json:"group_by"`
	Labels   map[string]string `json:"labels"`
	// Times in epoch milliseconds.
	NotifyAt       int64 `json:"notify_at"`
	CreatedAt      int64 `json:"created_at"`
	UpdatedAt      int64 `json:"updated_at"`
	LastNotifiedAt int64 `json:"last_notified_at,omitempty"`
	// Timing parameters, frozen at creation.
	GroupWait     uint64  `json:"group_wait_seconds"`
	GroupInterval uint64  `json:"group_interval_seconds"`
	Repeat        *uint64 `json:"repeat_interval_seconds,omitempty"`
	MaxSize       uint64  `json:"max_group_size"`
	IdleFlushes   int     `json:"idle_flushes"`
	// Count is the number of event lines.
	Count int `json:"event_count"`
	// Dropped counts events pushed out at capacity.
	Dropped int64 `json:"dropped,omitempty"`
}

func (h *header) persistent() bool { return h.Repeat != nil }

// event is one stored event line.
type event struct {
	At int64 `json:"at"`
	// Fingerprint is stored only when the action carried one; otherwise it
	// is the group's (see fingerprintOf).
	Fingerprint string          `json:"fp,omitempty"`
	Status      string          `json:"status,omitempty"`
	Payload     json.RawMessage `json:"payload"`
}

var errMalformed = errors.New("group: malformed stored group")

// splitRecord returns the header line and the events section (which is
// empty or starts with '\n').
func splitRecord(v string) (string, string) {
	if i := strings.IndexByte(v, '\n'); i >= 0 {
		return v[:i], v[i:]
	}
	return v, ""
}

func parseHeader(v string) (*header, string, error) {
	hl, events := splitRecord(v)
	var h header
	if err := json.Unmarshal([]byte(hl), &h); err != nil {
		return nil, "", fmt.Errorf("%w: %v", errMalformed, err)
	}
	return &h, events, nil
}

// encodeRecord renders a header followed by event sections (each empty or
// starting with '\n'), copying the events once.
func encodeRecord(h *header, events ...string) (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("group: encode header: %w", err)
	}
	n := len(b)
	for _, e := range events {
		n += len(e)
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.Write(b)
	for _, e := range events {
		sb.WriteString(e)
	}
	return sb.String(), nil
}

// dropOldest removes the first event line of an events section.
func dropOldest(events string) string {
	if len(events) < 2 {
		return ""
	}
	if i := strings.IndexByte(events[1:], '\n'); i >= 0 {
		return events[1+i:]
	}
	return ""
}

// eventLines iterates the event lines of an events section.
func eventLines(events string) []string {
	if events == "" {
		return nil
	}
	return strings.Split(events[1:], "\n")
}

func encodeEvent(a *action.Action, now time.Time) (string, error) {
	p, err := json.Marshal(a.Payload)
	if err != nil {
		return "", fmt.Errorf("group: encode payload of %s: %w", a.ID, err)
	}
	e := event{At: now.UnixMilli(), Fingerprint: a.Fingerprint, Status: a.Status, Payload: p}
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("group: encode event %s: %w", a.ID, err)
	}
	return "\n" + string(b), nil
}

// Key computes the group key of a for group_by (spec 02 §3.7): lowercase
// hex SHA-256 over "ns:tenant:" followed by "field=value;" for each field
// that has a value, and the labels (field → value, present fields only).
func Key(a *action.Action, groupBy []string) (string, map[string]string) {
	h := sha256.New()
	h.Write([]byte(a.Namespace))
	h.Write([]byte{':'})
	h.Write([]byte(a.Tenant))
	h.Write([]byte{':'})
	labels := make(map[string]string, len(groupBy))
	for _, f := range groupBy {
		v, ok := rules.FieldValue(a, f)
		if !ok {
			continue
		}
		labels[f] = v
		h.Write([]byte(f))
		h.Write([]byte{'='})
		h.Write([]byte(v))
		h.Write([]byte{';'})
	}
	return hex.EncodeToString(h.Sum(nil)), labels
}

// fingerprintOf is the fingerprint of an event without its own: spec 01
// §1.3 over group_by, where missing fields contribute "". Within a group
// every event has the same group_by values, so it is the group's.
func fingerprintOf(h *header) string {
	s := sha256.New()
	for _, f := range h.GroupBy {
		s.Write([]byte(f))
		s.Write([]byte{'='})
		s.Write([]byte(h.Labels[f]))
		s.Write([]byte{';'})
	}
	return hex.EncodeToString(s.Sum(nil))
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// decodeEventLine decodes one event line in one pass; the payload comes
// back as decoded JSON with json.Number numbers.
func decodeEventLine(line string) (event, any, error) {
	v, err := action.DecodeJSONValue([]byte(line))
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return event{}, nil, fmt.Errorf("%w: event line", errMalformed)
	}
	var ev event
	ev.Fingerprint, _ = m["fp"].(string)
	ev.Status, _ = m["status"].(string)
	if n, ok := m["at"].(json.Number); ok {
		ev.At, _ = n.Int64()
	}
	return ev, m["payload"], nil
}
