package audit_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/audit"
)

func u64(v uint64) *uint64 { return &v }

func TestCursorWireFormat(t *testing.T) {
	tests := []struct {
		name string
		c    audit.Cursor
		json string // the decoded wire form, exactly
	}{
		{"ts", audit.Cursor{Kind: audit.CursorKindTime, TimeMs: 1712000000123, ID: "0190-abc"}, `{"v":1,"k":"ts","t":1712000000123,"i":"0190-abc"}`},
		{"seq", audit.Cursor{Kind: audit.CursorKindSeq, Seq: u64(42), ID: "r1"}, `{"v":1,"k":"seq","s":42,"i":"r1"}`},
		{"seq without number", audit.Cursor{Kind: audit.CursorKindSeq, ID: "r1"}, `{"v":1,"k":"seq","i":"r1"}`},
		{"ts at epoch", audit.Cursor{Kind: audit.CursorKindTime, ID: "x"}, `{"v":1,"k":"ts","t":0,"i":"x"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := audit.EncodeCursor(tc.c)
			raw, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("cursor %q is not unpadded base64url: %v", s, err)
			}
			if string(raw) != tc.json {
				t.Fatalf("wire JSON = %s, want %s", raw, tc.json)
			}
			got, err := audit.DecodeCursor(s)
			if err != nil {
				t.Fatalf("DecodeCursor: %v", err)
			}
			if diff := cmp.Diff(tc.c, got); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			// Padding added by a lenient client is tolerated.
			if _, err := audit.DecodeCursor(base64.URLEncoding.EncodeToString(raw)); err != nil {
				t.Fatalf("padded cursor rejected: %v", err)
			}
		})
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, s := range map[string]string{
		"empty":         "",
		"not base64":    "***",
		"not json":      enc("hello"),
		"version 2":     enc(`{"v":2,"k":"ts","t":1,"i":"x"}`),
		"no version":    enc(`{"k":"ts","t":1,"i":"x"}`),
		"unknown kind":  enc(`{"v":1,"k":"offset","t":1,"i":"x"}`),
		"ts without t":  enc(`{"v":1,"k":"ts","i":"x"}`),
		"wrong t type":  enc(`{"v":1,"k":"ts","t":"1","i":"x"}`),
		"negative seq":  enc(`{"v":1,"k":"seq","s":-1,"i":"x"}`),
		"json array":    enc(`[1]`),
		"standard b64+": "eyJ2IjoxfQ+/",
	} {
		if _, err := audit.DecodeCursor(s); !errors.Is(err, audit.ErrBadCursor) {
			t.Errorf("%s: DecodeCursor(%q) = %v, want ErrBadCursor", name, s, err)
		}
	}
}

func TestParseCursorChecksSort(t *testing.T) {
	ts := audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindTime, TimeMs: 5, ID: "a"})
	seq := audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindSeq, Seq: u64(5), ID: "a"})
	if _, ok, err := (audit.Query{}).ParseCursor(); ok || err != nil {
		t.Fatalf("no cursor: ok=%v err=%v", ok, err)
	}
	if _, ok, err := (audit.Query{Cursor: ts}).ParseCursor(); !ok || err != nil {
		t.Fatalf("ts cursor, time order: ok=%v err=%v", ok, err)
	}
	if _, ok, err := (audit.Query{Cursor: seq, SortBySequenceAsc: true}).ParseCursor(); !ok || err != nil {
		t.Fatalf("seq cursor, sequence order: ok=%v err=%v", ok, err)
	}
	if _, _, err := (audit.Query{Cursor: seq}).ParseCursor(); !errors.Is(err, audit.ErrBadCursor) {
		t.Fatalf("seq cursor, time order: %v, want ErrBadCursor", err)
	}
	if _, _, err := (audit.Query{Cursor: ts, SortBySequenceAsc: true}).ParseCursor(); !errors.Is(err, audit.ErrBadCursor) {
		t.Fatalf("ts cursor, sequence order: %v, want ErrBadCursor", err)
	}
}

func TestCursorAfter(t *testing.T) {
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	rec := func(id string, ms int64, seq *uint64) audit.Record {
		return audit.Record{ID: id, DispatchedAt: at(ms), SequenceNumber: seq}
	}
	ts := audit.CursorFor(rec("m", 100, nil), false)
	seq := audit.CursorFor(rec("m", 0, u64(5)), true)
	seqNull := audit.CursorFor(rec("m", 0, nil), true)
	tests := []struct {
		name string
		c    audit.Cursor
		r    audit.Record
		want bool
	}{
		{"ts: earlier ms", ts, rec("z", 99, nil), true},
		{"ts: later ms", ts, rec("a", 101, nil), false},
		{"ts: same ms, smaller id", ts, rec("a", 100, nil), true},
		{"ts: same ms, larger id", ts, rec("z", 100, nil), false},
		{"ts: the record itself", ts, rec("m", 100, nil), false},
		{"ts: sub-ms part ignored", ts, audit.Record{ID: "a", DispatchedAt: at(100).Add(999 * time.Microsecond)}, true},
		{"seq: higher number", seq, rec("a", 0, u64(6)), true},
		{"seq: lower number", seq, rec("z", 0, u64(4)), false},
		{"seq: same number, larger id", seq, rec("z", 0, u64(5)), true},
		{"seq: same number, smaller id", seq, rec("a", 0, u64(5)), false},
		{"seq: null after numbers", seq, rec("a", 0, nil), true},
		{"seq null: number before", seqNull, rec("z", 0, u64(9)), false},
		{"seq null: null larger id", seqNull, rec("z", 0, nil), true},
		{"seq null: null smaller id", seqNull, rec("a", 0, nil), false},
	}
	for _, tc := range tests {
		if got := tc.c.After(tc.r); got != tc.want {
			t.Errorf("%s: After = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindTime, TimeMs: 1, ID: "x"}))
	f.Add(audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindSeq, Seq: u64(3), ID: "y"}))
	f.Add("")
	f.Add("eyJ2IjoxfQ==")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := audit.DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, audit.ErrBadCursor) {
				t.Fatalf("error %v does not wrap ErrBadCursor", err)
			}
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := audit.DecodeCursor(audit.EncodeCursor(c))
		if err != nil {
			t.Fatalf("re-encoded cursor rejected: %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("re-encode round trip (-first +second):\n%s", diff)
		}
	})
}
