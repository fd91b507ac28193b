package config

import "testing"

func TestPositions(t *testing.T) {
	src := `# comment [not.a.table]
top = 1 # trailing [x]
[server]
host = "a # not a comment"
port = 8080
quote = "say \"hi\" = 1"
lit = 'C:\path "x"'
"quoted.key" = true
a.b.c = 3

[[providers]]
name = "one"
body = """
[fake]
fake_key = 1 \"""
"""
[[providers]]
name = "two"
list = [
  "x",
  # comment in array
  "y", "z",
]
nested = [[1, 2], [
  3]]

[[state_machines]]
name = "sm"
[[state_machines.transitions]]
from = "a"
[state_machines.transitions.on_transition]
notify = true
[[state_machines.transitions]]
from = "b"
[[state_machines]]
name = "sm2"
transitions = [
  { from = "a", to = "b" },
  { from = "b",
    to = "c" },
]
inline = { x = 1, y = { z = 2 } }
`
	p := scanPositions(src)
	tests := []struct {
		path string
		want int
	}{
		{"top", 2},
		{"server", 3},
		{"server.host", 4},
		{"server.port", 5},
		{"server.quote", 6},
		{"server.lit", 7},
		{`server."quoted.key"`, 8},
		{"server.a", 9},
		{"server.a.b.c", 9},
		{"providers", 11},
		{"providers[0]", 11},
		{"providers[0].name", 12},
		{"providers[0].body", 13},
		{"fake", 0},
		{"fake_key", 0},
		{"providers[1]", 17},
		{"providers[1].name", 18},
		{"providers[1].list", 19},
		{"providers[1].list[0]", 20},
		{"providers[1].list[1]", 22},
		{"providers[1].list[2]", 22},
		{"providers[1].nested[1][0]", 25},
		{"state_machines[0]", 27},
		{"state_machines[0].name", 28},
		{"state_machines[0].transitions[0]", 29},
		{"state_machines[0].transitions[0].from", 30},
		{"state_machines[0].transitions[0].on_transition.notify", 32},
		{"state_machines[0].transitions[1]", 33},
		{"state_machines[0].transitions[1].from", 34},
		{"state_machines[1]", 35},
		{"state_machines[1].transitions[0].from", 38},
		{"state_machines[1].transitions[1]", 39},
		{"state_machines[1].transitions[1].to", 40},
		{"state_machines[1].inline.y.z", 42},
		// Lookups fall back to the nearest ancestor.
		{"state_machines[1].transitions[1].missing", 39},
		{"server.nope", 3},
		{"nothing.here", 0},
	}
	for _, tt := range tests {
		if got := p.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a.b.c", "a.b"},
		{"a.b[2]", "a.b"},
		{"a[1].b", "a[1]"},
		{`a."x.y"`, "a"},
		{`a."x.y".z`, `a."x.y"`},
		{"a", ""},
	}
	for _, tt := range tests {
		if got := parentPath(tt.in); got != tt.want {
			t.Errorf("parentPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPositionsTolerant feeds the scanner text that is not valid TOML; it
// must stop without panicking or looping.
func TestPositionsTolerant(t *testing.T) {
	for _, src := range []string{
		"[", "[[", "[a", "a =", "a = [", "a = {", `a = "`, "a = '''", `a = """`, "= 1",
		"a = [1,,]", "a = {b = }", "[[a]]\n[[a.b]]\n[a.b.c]", "a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1",
		"\x00\xff", "a = 1 2 3 ]]]",
	} {
		_ = scanPositions(src)
	}
}
