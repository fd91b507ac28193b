package clickhouse

import (
	"strconv"
	"testing"
)

// unquote decodes a literal produced by appendQuoted (only the escapes it
// writes), for checking the quoting without a server.
func unquote(t *testing.T, q string) string {
	t.Helper()
	if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
		t.Fatalf("literal %q is not single-quoted", q)
	}
	body := q[1 : len(q)-1]
	var out []byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\'':
			t.Fatalf("literal %q has a bare quote", q)
		case c < 0x20 || c >= 0x7f:
			t.Fatalf("literal %q has a non-printable byte %#x", q, c)
		case c == '\\':
			if i+3 >= len(body) || body[i+1] != 'x' {
				t.Fatalf("literal %q has a bad escape at %d", q, i)
			}
			v, err := strconv.ParseUint(body[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatalf("literal %q has a bad escape at %d", q, i)
			}
			out = append(out, byte(v))
			i += 3
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// FuzzQuote: every string quotes to printable ASCII with no bare quote and
// decodes back to itself (TestOddBytes checks the server agrees).
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "'", `\`, "a\x00b", "\xff", "žluť", "'; DROP TABLE t; --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unquote(t, quote(s)); got != s {
			t.Fatalf("quote(%q) decodes to %q", s, got)
		}
	})
}

// FuzzReader: decoding arbitrary bytes as RowBinary rows never panics and
// never loops forever.
func FuzzReader(f *testing.F) {
	f.Add(appendU64(appendString(appendString(nil, "k"), "v"), 1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := reader{b: b}
		for n := 0; r.more(); n++ {
			if n > len(b) {
				t.Fatal("reader does not advance")
			}
			_ = r.string()
			_ = r.string()
			_ = r.u64()
			_ = r.i64()
			_ = r.u8()
		}
		_ = r.done()
	})
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ns:t:k:", "ns:t:k;", true},
		{"a\xff", "b", true},
		{"\xff\xff", "", false},
		{"", "", false},
	} {
		got, ok := prefixEnd(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
