package config

import (
	"os"
	"testing"
)

// BenchmarkParseFull measures a full load of the upstream-style example
// (start-up and reload cost; not on the dispatch path).
func BenchmarkParseFull(b *testing.B) {
	data, err := os.ReadFile("testdata/config/good/full.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(data, "full.toml"); err != nil {
			b.Fatal(err)
		}
	}
}
