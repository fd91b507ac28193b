package clickhouse

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `''`},
		{"plain", `'plain'`},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{`\'`, `'\\\''`},
		{"nul\x00byte", `'nul\0byte'`},
		{"tab\tnew\nline", "'tab\tnew\nline'"}, // raw inside a literal
		{"é \xff", "'é \xff'"},
		{"x' OR '1'='1", `'x\' OR \'1\'=\'1'`},
	} {
		if got := quote(c.in); got != c.want {
			t.Errorf("quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"acteon_audit", "`acteon_audit`"},
		{"a`b", "`a\\`b`"},
		{`a\b`, "`a\\\\b`"},
	} {
		if got := quoteIdent(c.in); got != c.want {
			t.Errorf("quoteIdent(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// quoteSamples are strings that have broken SQL quoting somewhere.
var quoteSamples = []string{
	"", "'", "''", `\`, `\\`, `\'`, `'\`, "\x00", "a\x00b", "\n\r\t\b\f\v\a",
	"x' OR '1'='1", `x\' OR 1=1 --`, "'); DROP TABLE t; --", "é 😀", "\xff\xfe\x80",
	"{\"json\":\"va\\\"lue\"}", "%_", "?", "{p:String}", "\\N", "\\x41",
}

// TestQuoteOnServer sends quoted strings to the real server and checks it
// reads back exactly the bytes that went in.
func TestQuoteOnServer(t *testing.T) {
	s := newStore(t, serverURL(t), uniquePrefix())
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, in := range append(quoteSamples, string(all)) {
		got := s.raw(t, "SELECT hex("+quote(in)+") FORMAT TabSeparated")
		if want := strings.ToUpper(hex.EncodeToString([]byte(in))); got != want {
			t.Errorf("server read quote(%q) as %s, want %s", in, got, want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, in := range append(quoteSamples, "\x01\x1f\x7f") {
		out := appendJSONString(nil, in)
		if !bytes.Equal(out, appendJSONBytes(nil, []byte(in))) {
			t.Errorf("appendJSONString and appendJSONBytes differ on %q", in)
		}
		if !utf8.ValidString(in) {
			continue // kept verbatim: not JSON any more, but ClickHouse reads it
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil || got != in {
			t.Errorf("appendJSONString(%q) = %s, decodes to %q, %v", in, out, got, err)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range quoteSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := appendJSONString(nil, in)
		if bytes.IndexFunc(out, func(r rune) bool { return r < 0x20 }) >= 0 {
			t.Fatalf("raw control byte in %q", out)
		}
		if !utf8.ValidString(in) {
			return
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil || got != in {
			t.Fatalf("appendJSONString(%q) = %s, decodes to %q, %v", in, out, got, err)
		}
	})
}

// escapeTSV writes s as ClickHouse writes a TabSeparated field.
func escapeTSV(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case 0:
			b = append(b, '\\', '0')
		case '\'':
			b = append(b, '\\', '\'')
		case '\\':
			b = append(b, '\\', '\\')
		default:
			b = append(b, c)
		}
	}
	return b
}

func TestUnescapeTSV(t *testing.T) {
	for _, c := range []struct {
		in, want string
		bad      bool
	}{
		{in: "plain", want: "plain"},
		{in: `a\tb\nc\\d\'e\0f`, want: "a\tb\nc\\d'e\x00f"},
		{in: `\b\f\r\a\v`, want: "\b\f\r\a\v"},
		{in: `\x41\x7a`, want: "Az"},
		{in: `\q`, want: "q"},
		{in: `end\`, bad: true},
		{in: `\x4`, bad: true},
		{in: `\xZZ`, bad: true},
	} {
		got, err := unescapeTSV([]byte(c.in))
		switch {
		case c.bad && err == nil:
			t.Errorf("unescapeTSV(%q) = %q, want an error", c.in, got)
		case !c.bad && (err != nil || string(got) != c.want):
			t.Errorf("unescapeTSV(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestUnescapeTSVOnServer checks the decoder against what the server
// actually writes.
func TestUnescapeTSVOnServer(t *testing.T) {
	s := newStore(t, serverURL(t), uniquePrefix())
	for _, in := range quoteSamples {
		out, err := s.c.exec(t.Context(), "test", "SELECT "+quote(in)+" FORMAT TabSeparated", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		field := bytes.TrimSuffix(out, []byte("\n"))
		if !bytes.Equal(field, escapeTSV(in)) {
			t.Errorf("server wrote %q as %q; escapeTSV gives %q", in, field, escapeTSV(in))
		}
		got, err := unescapeTSV(field)
		if err != nil || string(got) != in {
			t.Errorf("unescapeTSV(%q) = %q, %v; want %q", field, got, err, in)
		}
	}
}

func FuzzUnescapeTSV(f *testing.F) {
	for _, s := range quoteSamples {
		f.Add(s)
	}
	f.Add(`\x`)
	f.Add(`\x4g`)
	f.Fuzz(func(t *testing.T, in string) {
		// Round trip of what the server writes.
		got, err := unescapeTSV(escapeTSV(in))
		if err != nil || string(got) != in {
			t.Fatalf("unescapeTSV(escapeTSV(%q)) = %q, %v", in, got, err)
		}
		// Arbitrary input: an error or a result, never a panic, and never
		// longer than the input.
		if got, err := unescapeTSV([]byte(in)); err == nil && len(got) > len(in) {
			t.Fatalf("unescapeTSV(%q) grew to %q", in, got)
		}
	})
}

// FuzzParseRows feeds arbitrary answers to the row decoder: it may fail,
// never panic.
func FuzzParseRows(f *testing.F) {
	r := testRecord("ns", "id", testTime)
	f.Add(string(appendRow(nil, &r)))
	f.Add(strings.Repeat("x\t", len(columns)-1) + "x\n")
	f.Add(strings.Repeat(`\N`+"\t", len(columns)-1) + `\N`)
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = parseRows([]byte(body), nil)
	})
}
