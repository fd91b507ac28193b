package group

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/jsonw"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
)

// States of a group.
const (
	StatePending  = "pending"
	StateNotified = "notified"
	// StateFlushed marks a tombstone: the group was flushed (ephemeral) or
	// evicted; the next event opens a new group.
	StateFlushed = "flushed"
)

// header is a group's state: the first line of its stored value.
type header struct {
	GroupID string
	// GroupKey, Namespace and Tenant are those of the state key; the
	// stored line repeats namespace and tenant only when the key cannot
	// tell them apart (one of them contains ':').
	GroupKey  string
	Namespace string
	Tenant    string
	// Provider is the provider of the event that opened the group.
	Provider string
	State    string
	GroupBy  []string
	// Labels are the group_by fields the opening event had, with their
	// values.
	Labels map[string]string
	// Times in epoch milliseconds.
	NotifyAt  int64
	CreatedAt int64
	// Timing parameters, frozen at creation.
	GroupInterval uint64
	Repeat        *uint64
	MaxSize       uint64
	IdleFlushes   int
	// Count is the number of event lines.
	Count int
}

func (h *header) persistent() bool { return h.Repeat != nil }

var errMalformed = errors.New("group: malformed stored group")

// The stored value of a group is its header line followed by one line per
// event, oldest first. Both are compact JSON arrays:
//
//	[2,group_id,provider,state,created_at,notify_at-created_at,
//	 group_interval,repeat_interval|-1,max_group_size,idle_flushes,
//	 event_count,[group_by…],[label value|null…](,namespace,tenant)]
//	[payload(,fingerprint(,status))]
//
// with state 0 (pending), 1 (notified) or 2 (flushed), times in epoch
// milliseconds, and a canonical UUID group_id written as the unpadded
// base64url of its 16 bytes (22 characters). Values written by earlier
// builds (a JSON object per line) are still read; the next write of such a
// group rewrites its header in this form.
const formatV2 = 2

var states = [...]string{StatePending, StateNotified, StateFlushed}

// compactID shortens a canonical UUID to 22 characters; any other ID is
// kept as it is.
func compactID(id string) string {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return id
	}
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// expandID reverses compactID.
func expandID(s string) string {
	var u uuid.UUID
	if len(s) != 22 {
		return s
	}
	if n, err := base64.RawURLEncoding.Decode(u[:], []byte(s)); err != nil || n != len(u) {
		return s
	}
	return u.String()
}

// splitRecord returns the header line and the events section (which is
// empty or starts with '\n').
func splitRecord(v string) (string, string) {
	if i := strings.IndexByte(v, '\n'); i >= 0 {
		return v[:i], v[i:]
	}
	return v, ""
}

// parseHeader reads the header of the group stored under k.
func parseHeader(k state.Key, v string) (*header, string, error) {
	hl, events := splitRecord(v)
	var h *header
	var err error
	if strings.HasPrefix(hl, "{") {
		h, err = parseLegacyHeader(hl)
	} else {
		h, err = parseHeaderLine(hl)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", errMalformed, err)
	}
	if h.GroupKey == "" {
		h.GroupKey = k.ID
	}
	if h.Namespace == "" && h.Tenant == "" {
		h.Namespace, h.Tenant = k.Namespace, k.Tenant
	}
	return h, events, nil
}

// parseStored reads a group from a scan: key is the canonical key.
func parseStored(key, v string) (*header, string, error) {
	k, err := state.ParseKey(key)
	if err != nil {
		return nil, "", err
	}
	// The group key is hex and the last part of the canonical key, even
	// when the namespace or tenant contains ':' (then the stored line
	// carries both).
	k.ID = key[strings.LastIndexByte(key, ':')+1:]
	return parseHeader(k, v)
}

// ambiguous reports whether a canonical key with this namespace and tenant
// cannot be split back into them.
func ambiguous(ns, tenant string) bool {
	return strings.IndexByte(ns, ':') >= 0 || strings.IndexByte(tenant, ':') >= 0
}

// appendHeader writes h as a header line.
func appendHeader(b []byte, h *header) ([]byte, error) {
	code := slices.Index(states[:], h.State)
	if code < 0 {
		return nil, fmt.Errorf("group: encode header: unknown state %q", h.State)
	}
	b = append(b, '[')
	b = strconv.AppendInt(b, formatV2, 10)
	b = appendString(append(b, ','), compactID(h.GroupID))
	b = appendString(append(b, ','), h.Provider)
	b = strconv.AppendInt(append(b, ','), int64(code), 10)
	b = strconv.AppendInt(append(b, ','), h.CreatedAt, 10)
	b = strconv.AppendInt(append(b, ','), h.NotifyAt-h.CreatedAt, 10)
	b = strconv.AppendUint(append(b, ','), h.GroupInterval, 10)
	if h.Repeat != nil {
		b = strconv.AppendUint(append(b, ','), *h.Repeat, 10)
	} else {
		b = append(b, ",-1"...)
	}
	b = strconv.AppendUint(append(b, ','), h.MaxSize, 10)
	b = strconv.AppendInt(append(b, ','), int64(h.IdleFlushes), 10)
	b = strconv.AppendInt(append(b, ','), int64(h.Count), 10)
	b = append(b, ",["...)
	for i, f := range h.GroupBy {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f)
	}
	b = append(b, "],["...)
	for i, f := range h.GroupBy {
		if i > 0 {
			b = append(b, ',')
		}
		if v, ok := h.Labels[f]; ok {
			b = appendString(b, v)
		} else {
			b = append(b, "null"...)
		}
	}
	b = append(b, ']')
	if ambiguous(h.Namespace, h.Tenant) {
		b = append(b, ',')
		b = appendString(b, h.Namespace)
		b = append(b, ',')
		b = appendString(b, h.Tenant)
	}
	return append(b, ']'), nil
}

// appendString writes s as a JSON string, as encoding/json does for valid
// UTF-8 (invalid UTF-8 goes through encoding/json, which replaces it).
func appendString(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		return jsonw.AppendString(b, s)
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// lineParser reads the compact lines; each method records the first error.
type lineParser struct {
	s   string
	i   int
	err error
}

func (p *lineParser) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s at offset %d", what, p.i)
	}
}

func (p *lineParser) peek() byte {
	if p.err != nil || p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

func (p *lineParser) expect(c byte) {
	if p.peek() != c {
		p.fail(fmt.Sprintf("expected %q", c))
		return
	}
	p.i++
}

// number returns the next integer token (an optional '-', then digits).
func (p *lineParser) number() string {
	if p.err != nil {
		return ""
	}
	j := p.i
	if j < len(p.s) && p.s[j] == '-' {
		j++
	}
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
	}
	tok := p.s[p.i:j]
	p.i = j
	return tok
}

func (p *lineParser) int() int64 {
	n, err := strconv.ParseInt(p.number(), 10, 64)
	if err != nil {
		p.fail("expected an integer")
	}
	return n
}

func (p *lineParser) uint() uint64 {
	n, err := strconv.ParseUint(p.number(), 10, 64)
	if err != nil {
		p.fail("expected a non-negative integer")
	}
	return n
}

// optUint reads a non-negative integer, or -1 for none.
func (p *lineParser) optUint() *uint64 {
	if p.peek() == '-' {
		if p.int() != -1 {
			p.fail("expected -1")
		}
		return nil
	}
	n := p.uint()
	return &n
}

// str reads a JSON string; null reads as ("", false).
func (p *lineParser) str() (string, bool) {
	if p.err != nil {
		return "", false
	}
	if strings.HasPrefix(p.s[p.i:], "null") {
		p.i += 4
		return "", false
	}
	p.expect('"')
	start, escaped := p.i, false
	for p.err == nil {
		if p.i >= len(p.s) {
			p.fail("unterminated string")
			break
		}
		switch p.s[p.i] {
		case '\\':
			escaped = true
			p.i += 2
			continue
		case '"':
			tok := p.s[start:p.i]
			p.i++
			if !escaped && utf8.ValidString(tok) {
				return tok, true
			}
			var s string
			if err := json.Unmarshal([]byte(p.s[start-1:p.i]), &s); err != nil {
				p.fail("bad string")
			}
			return s, true
		}
		p.i++
	}
	return "", false
}

// strs reads an array of strings and nulls.
func (p *lineParser) strs(f func(s string, ok bool)) {
	p.expect('[')
	if p.peek() == ']' {
		p.i++
		return
	}
	for p.err == nil {
		f(p.str())
		if p.peek() == ']' {
			p.i++
			return
		}
		p.expect(',')
	}
}

// parseHeaderLine reads a header line in the compact form.
func parseHeaderLine(line string) (*header, error) {
	// Strings of the header point into this copy, not into the whole
	// stored value (the group ID ends up in outcomes and audit records).
	p := &lineParser{s: strings.Clone(line)}
	h := &header{}
	p.expect('[')
	if v := p.int(); p.err == nil && v != formatV2 {
		return nil, fmt.Errorf("unknown format %d", v)
	}
	p.expect(',')
	id, _ := p.str()
	h.GroupID = expandID(id)
	p.expect(',')
	h.Provider, _ = p.str()
	p.expect(',')
	code := p.int()
	p.expect(',')
	h.CreatedAt = p.int()
	p.expect(',')
	h.NotifyAt = h.CreatedAt + p.int()
	p.expect(',')
	h.GroupInterval = p.uint()
	p.expect(',')
	h.Repeat = p.optUint()
	p.expect(',')
	h.MaxSize = p.uint()
	p.expect(',')
	h.IdleFlushes = int(p.int())
	p.expect(',')
	h.Count = int(p.int())
	p.expect(',')
	p.strs(func(s string, _ bool) { h.GroupBy = append(h.GroupBy, s) })
	p.expect(',')
	h.Labels = make(map[string]string, len(h.GroupBy))
	i := 0
	p.strs(func(s string, ok bool) {
		if i < len(h.GroupBy) && ok {
			h.Labels[h.GroupBy[i]] = s
		}
		i++
	})
	if p.err == nil && i != len(h.GroupBy) {
		return nil, fmt.Errorf("%d label values for %d group_by fields", i, len(h.GroupBy))
	}
	if p.peek() == ',' {
		p.i++
		h.Namespace, _ = p.str()
		p.expect(',')
		h.Tenant, _ = p.str()
	}
	p.expect(']')
	if p.err == nil && p.i != len(p.s) {
		p.fail("trailing data")
	}
	if p.err != nil {
		return nil, p.err
	}
	if code < 0 || code >= int64(len(states)) {
		return nil, fmt.Errorf("unknown state %d", code)
	}
	h.State = states[code]
	return h, nil
}

// legacyHeader is the header line written by earlier builds.
type legacyHeader struct {
	GroupID       string            `json:"group_id"`
	GroupKey      string            `json:"group_key"`
	Namespace     string            `json:"namespace"`
	Tenant        string            `json:"tenant"`
	Provider      string            `json:"provider"`
	State         string            `json:"state"`
	GroupBy       []string          `json:"group_by"`
	Labels        map[string]string `json:"labels"`
	NotifyAt      int64             `json:"notify_at"`
	CreatedAt     int64             `json:"created_at"`
	GroupInterval uint64            `json:"group_interval_seconds"`
	Repeat        *uint64           `json:"repeat_interval_seconds"`
	MaxSize       uint64            `json:"max_group_size"`
	IdleFlushes   int               `json:"idle_flushes"`
	Count         int               `json:"event_count"`
}

func parseLegacyHeader(line string) (*header, error) {
	var l legacyHeader
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		return nil, err
	}
	h := header(l)
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	return &h, nil
}

// encodeRecord renders a header followed by event sections (each empty or
// starting with '\n'), copying the events once.
func encodeRecord(h *header, events ...string) (string, error) {
	var buf [256]byte
	hl, err := appendHeader(buf[:0], h)
	if err != nil {
		return "", err
	}
	n := len(hl)
	for _, e := range events {
		n += len(e)
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.Write(hl)
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

// encodeEvent renders the event line of a, with its leading '\n'.
func encodeEvent(a *action.Action) (string, error) {
	p, err := json.Marshal(a.Payload)
	if err != nil {
		return "", fmt.Errorf("group: encode payload of %s: %w", a.ID, err)
	}
	b := make([]byte, 0, len(p)+len(a.Fingerprint)+len(a.Status)+9)
	b = append(b, "\n["...)
	b = append(b, p...)
	if a.Fingerprint != "" || a.Status != "" {
		b = append(b, ',')
		b = appendString(b, a.Fingerprint)
	}
	if a.Status != "" {
		b = append(b, ',')
		b = appendString(b, a.Status)
	}
	return string(append(b, ']')), nil
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

// decodeEventLine decodes one event line in one pass: its fingerprint (""
// when the event had none) and its payload as decoded JSON with
// json.Number numbers.
func decodeEventLine(line string) (string, any, error) {
	v, err := action.DecodeJSONValue([]byte(line))
	switch x := v.(type) {
	case []any:
		if err == nil && len(x) >= 1 {
			var fp string
			if len(x) >= 2 {
				fp, _ = x[1].(string)
			}
			return fp, x[0], nil
		}
	case map[string]any:
		// Written by an earlier build.
		if err == nil {
			fp, _ := x["fp"].(string)
			return fp, x["payload"], nil
		}
	}
	return "", nil, fmt.Errorf("%w: event line", errMalformed)
}
