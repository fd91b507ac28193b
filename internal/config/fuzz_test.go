package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that it returns a config
// exactly when it returns no error, and that a parsed config can be
// sanitized and encoded.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*/*.toml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a = [{b = 1,\n c = 2}]\n[x]\ny.z = \"\"\"\n\"\"\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := Parse(data, "fuzz.toml")
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg=%v err=%v: want exactly one", cfg != nil, err)
		}
		for _, w := range warns {
			_ = w.String()
		}
		if cfg != nil {
			if _, err := json.Marshal(cfg.Sanitized()); err != nil {
				t.Fatalf("Sanitized() not encodable: %v", err)
			}
			_ = cfg.ListenAddr()
		}
	})
}
