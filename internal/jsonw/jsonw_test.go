package jsonw

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\n\r\t", "é✓", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString([]byte("x"), s)
		if b[0] != 'x' {
			t.Fatal("prefix lost")
		}
		if !utf8.ValidString(s) {
			return
		}
		var got string
		if err := json.Unmarshal(b[1:], &got); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, b[1:], err)
		}
		if got != s {
			t.Fatalf("round trip %q → %q", s, got)
		}
	})
}
