package keylock

import "testing"

func TestForIsStablePerKey(t *testing.T) {
	s := New()
	tests := []string{"", "a", "group-key", "ns:tenant:kind:id"}
	for _, key := range tests {
		first, again := s.For(key), s.For(key)
		if first != again {
			t.Errorf("For(%q) returned different mutexes", key)
		}
	}
}

func TestForSpreadsKeys(t *testing.T) {
	s := New()
	seen := map[any]bool{}
	for i := range 1000 {
		seen[s.For(string(rune('a'+i%26))+string(rune(i)))] = true
	}
	if len(seen) < 2 {
		t.Errorf("1000 keys used %d stripes", len(seen))
	}
}
