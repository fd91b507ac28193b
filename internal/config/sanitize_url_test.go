package config

import "testing"

func TestRedactURLQuerySecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://h.example/x?token=abc&team=ops", "https://h.example/x?team=ops&token=xxxxx"},
		{"https://h.example/x?api_key=abc", "https://h.example/x?api_key=xxxxx"},
		{"https://h.example/x?sig=abc", "https://h.example/x?sig=xxxxx"},
		{"https://u:pw@h.example/x?token=abc", "https://u:xxxxx@h.example/x?token=xxxxx"},
		{"https://h.example/x?team=ops", "https://h.example/x?team=ops"},
		{"https://h.example/x?%zz=1", "https://h.example/x?" + Redacted},
		{"not a url ?token=x", "not a url ?token=x"},
	}
	for _, tt := range tests {
		if got := redactURLPassword(tt.in); got != tt.want {
			t.Errorf("redactURLPassword(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
