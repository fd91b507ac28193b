package bench

import "testing"

// FuzzOutcomeName: reading the outcome variant of any response body never
// panics and yields a lower-case name.
func FuzzOutcomeName(f *testing.F) {
	for _, s := range []string{`{"Executed":{}}`, `"Deduplicated"`, `{"error":"x"}`, ``, `{`, `"`, `{"`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		name := outcomeName(b)
		for _, c := range []byte(name) {
			if c >= 'A' && c <= 'Z' {
				t.Fatalf("outcomeName(%q) = %q has upper case", b, name)
			}
		}
	})
}
