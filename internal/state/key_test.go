package state

import (
	"testing"
)

// TestKeyCanonicalForm: a key whose namespace and tenant hold no ':' or '%'
// is written "ns:tenant:kind:id" as upstream writes it; ':' and '%' in them
// are escaped, so every key splits back into the same four parts.
func TestKeyCanonicalForm(t *testing.T) {
	for _, tc := range []struct {
		key  Key
		want string
	}{
		{Key{"alerts", "acme.us-east", "dedup", "cpu:db-1"}, "alerts:acme.us-east:dedup:cpu:db-1"},
		{Key{"a:b", "t", "group", "k"}, "a%3Ab:t:group:k"},
		{Key{"ns", "acme:prod", "pending_groups", "x:y"}, "ns:acme%3Aprod:pending_groups:x:y"},
		{Key{"100%", "%3A", "k", ""}, "100%25:%253A:k:"},
		{Key{"", "", "kind", "id"}, "::kind:id"},
	} {
		got := tc.key.String()
		if got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.key, got, tc.want)
		}
		if b := string(AppendKey([]byte("pfx|"), tc.key)); b != "pfx|"+tc.want {
			t.Errorf("AppendKey = %q", b)
		}
		back, err := ParseKey(got)
		if err != nil || back != tc.key {
			t.Errorf("ParseKey(%q) = %#v, %v; want %#v", got, back, err, tc.key)
		}
	}
	if got, want := ScanPrefix("a:b", "t%", "group", "p"), "a%3Ab:t%25:group:p"; got != want {
		t.Errorf("ScanPrefix = %q, want %q", got, want)
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, s := range []string{"", "a", "a:b", "a:b:c", "a%:b:c:d", "a:b%2:c:d", "a:%41:c:d"} {
		if k, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = %#v, want an error", s, k)
		}
	}
}

// FuzzKeyRoundTrip: every key with a ':'-free kind survives String and
// ParseKey.
func FuzzKeyRoundTrip(f *testing.F) {
	f.Add("ns", "tenant", "dedup", "id")
	f.Add("a:b", "%", "group", "x:y:z")
	f.Fuzz(func(t *testing.T, ns, tenant, kind, id string) {
		for i := 0; i < len(kind); i++ {
			if kind[i] == ':' {
				return
			}
		}
		k := Key{ns, tenant, kind, id}
		back, err := ParseKey(k.String())
		if err != nil || back != k {
			t.Fatalf("ParseKey(%q) = %#v, %v; want %#v", k.String(), back, err, k)
		}
	})
}
