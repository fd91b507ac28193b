package webhook

import (
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzResponseParsing feeds arbitrary Retry-After values and bodies through
// the answer parsers: they must never panic, never return a negative wait,
// and never quote more than MaxErrorBody bytes plus the marker.
func FuzzResponseParsing(f *testing.F) {
	for _, s := range []string{"7", "-1", "Fri, 02 Jan 2026 03:05:05 GMT", "", "99999999999999999999", `{"a":1}`, "\xff\xfe"} {
		f.Add(s, []byte(s))
	}
	p := &Provider{now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		if d := p.retryAfter(h); d < 0 {
			t.Errorf("retryAfter(%q) = %s", retryAfter, d)
		}
		_ = decodeBody(body)
		q := truncateBody(body)
		if len(q) > MaxErrorBody+len("...[truncated]") {
			t.Errorf("quoted %d bytes", len(q))
		}
		if utf8.Valid(body) && !utf8.ValidString(q) {
			t.Errorf("truncation broke UTF-8: %q", q)
		}
	})
}
