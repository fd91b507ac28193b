package audit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Cursor kinds: which sort order a cursor continues.
const (
	// CursorKindTime continues the default order, dispatched_at DESC, id DESC.
	CursorKindTime = "ts"
	// CursorKindSeq continues sequence_number ASC (nulls last), id ASC.
	CursorKindSeq = "seq"
)

// Cursor is the decoded position after the last record of a page. Clients
// see it only as an opaque string (EncodeCursor); its wire form is
// upstream's: base64url without padding of compact JSON
// {"v":1,"k":"ts","t":<dispatched_at ms>,"i":"<id>"} or
// {"v":1,"k":"seq","s":<sequence_number>,"i":"<id>"}.
type Cursor struct {
	// Kind is CursorKindTime or CursorKindSeq.
	Kind string
	// TimeMs is the last record's dispatched_at in Unix milliseconds (ts).
	TimeMs int64
	// Seq is the last record's sequence number (seq); nil when that record
	// had none, i.e. the page ended among the nulls sorted last.
	Seq *uint64
	// ID is the last record's id, the tie-breaker.
	ID string
}

type cursorWire struct {
	V int     `json:"v"`
	K string  `json:"k"`
	T *int64  `json:"t,omitempty"`
	S *uint64 `json:"s,omitempty"`
	I string  `json:"i"`
}

// EncodeCursor returns the opaque string form of c.
func EncodeCursor(c Cursor) string {
	w := cursorWire{V: 1, K: c.Kind, I: c.ID}
	switch c.Kind {
	case CursorKindSeq:
		w.S = c.Seq
	default:
		w.K = CursorKindTime
		t := c.TimeMs
		w.T = &t
	}
	b, _ := json.Marshal(w) // cannot fail: plain fields
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor string. Trailing '=' padding is tolerated.
// Any malformed input, a version other than 1, an unknown kind or a ts
// cursor without its time gives an error wrapping ErrBadCursor.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return Cursor{}, fmt.Errorf("audit: cursor is not base64url: %w", ErrBadCursor)
	}
	var w cursorWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Cursor{}, fmt.Errorf("audit: cursor is not JSON: %w", ErrBadCursor)
	}
	if w.V != 1 {
		return Cursor{}, fmt.Errorf("audit: cursor version %d, want 1: %w", w.V, ErrBadCursor)
	}
	c := Cursor{Kind: w.K, ID: w.I, Seq: w.S}
	switch w.K {
	case CursorKindTime:
		if w.T == nil {
			return Cursor{}, fmt.Errorf("audit: ts cursor without t: %w", ErrBadCursor)
		}
		c.TimeMs = *w.T
		c.Seq = nil
	case CursorKindSeq:
	default:
		return Cursor{}, fmt.Errorf("audit: unknown cursor kind %q: %w", w.K, ErrBadCursor)
	}
	return c, nil
}

// CursorFor returns the cursor positioned just after r in the order chosen
// by bySequence (see Query.SortBySequenceAsc).
func CursorFor(r Record, bySequence bool) Cursor {
	if bySequence {
		c := Cursor{Kind: CursorKindSeq, ID: r.ID}
		if r.SequenceNumber != nil {
			s := *r.SequenceNumber
			c.Seq = &s
		}
		return c
	}
	return Cursor{Kind: CursorKindTime, TimeMs: r.DispatchedAt.UnixMilli(), ID: r.ID}
}

// ParseCursor decodes q.Cursor and checks that its kind fits q's sort order.
// It reports ok=false when q has no cursor.
func (q Query) ParseCursor() (c Cursor, ok bool, err error) {
	if q.Cursor == "" {
		return Cursor{}, false, nil
	}
	c, err = DecodeCursor(q.Cursor)
	if err != nil {
		return Cursor{}, false, err
	}
	want := CursorKindTime
	if q.SortBySequenceAsc {
		want = CursorKindSeq
	}
	if c.Kind != want {
		return Cursor{}, false, fmt.Errorf("audit: %s cursor used with %s order: %w", c.Kind, want, ErrBadCursor)
	}
	return c, true, nil
}

// After reports whether r sorts strictly after the cursor position in the
// cursor's order: for ts, (dispatched_at ms, id) < (t, i) since the order is
// descending; for seq, (sequence_number, id) > (s, i) with nulls last.
func (c Cursor) After(r Record) bool {
	if c.Kind == CursorKindSeq {
		switch {
		case c.Seq == nil && r.SequenceNumber == nil:
			return r.ID > c.ID
		case c.Seq == nil:
			return false // r has a number, so it sorts before every null
		case r.SequenceNumber == nil:
			return true
		case *r.SequenceNumber != *c.Seq:
			return *r.SequenceNumber > *c.Seq
		}
		return r.ID > c.ID
	}
	ms := r.DispatchedAt.UnixMilli()
	if ms != c.TimeMs {
		return ms < c.TimeMs
	}
	return r.ID < c.ID
}
