package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	approvalHex = "5ec7e75ec7e75ec7e7"
	redisPass   = "hunter2-redis"
	auditPass   = "s3cret-audit"
	hookToken   = "Bearer tok-123"
	keyHex      = "abcdef0123"
)

var secretSrc = `[server]
approval_secret = "` + approvalHex + `"
approval_keys = [{ id = "k1", secret = "` + keyHex + `" }]

[state]
backend = "redis"
url = "redis://:` + redisPass + `@redis:6379"

[audit]
enabled = true
backend = "postgres"
url = "postgres://u:` + auditPass + `@db/acteon"

[[providers]]
name = "hook"
type = "webhook"
url = "https://user:` + "pw-in-url" + `@hooks.example.com/x"
headers = { Authorization = "` + hookToken + `" }
api_token = "tok-abc"
`

var leaked = []string{approvalHex, redisPass, auditPass, hookToken, keyHex, "pw-in-url", "tok-abc"}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range leaked {
		if strings.Contains(out, s) {
			t.Errorf("%s leaks %q:\n%s", what, s, out)
		}
	}
}

func TestSecretMethods(t *testing.T) {
	s := Secret("hunter2")
	if s.Reveal() != "hunter2" {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
	for _, verb := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x", "%X", "%d", "%10s"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, "hunter2") || strings.Contains(out, "68756e74657232") {
			t.Errorf("fmt %s prints %q", verb, out)
		}
	}
	if got := s.String(); got != Redacted {
		t.Errorf("String() = %q", got)
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty String() = %q, want empty", got)
	}
	b, err := json.Marshal(map[string]Secret{"k": s})
	if err != nil || string(b) != `{"k":"[REDACTED]"}` {
		t.Errorf("json = %s, %v", b, err)
	}
}

// TestConfigNeverLeaksSecrets: neither fmt, JSON, slog nor Sanitized shows a
// secret from a loaded config.
func TestConfigNeverLeaksSecrets(t *testing.T) {
	cfg, _ := mustParse(t, secretSrc)
	if cfg.State.URL.Reveal() != "redis://:"+redisPass+"@redis:6379" {
		t.Fatalf("state url not decoded: %q", cfg.State.URL.Reveal())
	}

	assertNoSecret(t, "fmt %v", fmt.Sprintf("%v", cfg.Server))
	assertNoSecret(t, "fmt %+v", fmt.Sprintf("%+v", cfg.State))
	assertNoSecret(t, "fmt %#v", fmt.Sprintf("%#v", cfg.Audit))

	b, err := json.Marshal(cfg.Server)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "json.Marshal(Server)", string(b))

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("cfg", "approval_secret", cfg.Server.ApprovalSecret, "url", cfg.State.URL, "audit", cfg.Audit.URL)
		log.Info("cfg", "server", cfg.Server, "state", cfg.State)
	}
	assertNoSecret(t, "slog", buf.String())
	if !strings.Contains(buf.String(), Redacted) {
		t.Errorf("slog output does not show %s:\n%s", Redacted, buf.String())
	}

	san := cfg.Sanitized()
	sb, err := json.Marshal(san)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "Sanitized()", string(sb))
	srv := san["server"].(map[string]any)
	if srv["approval_secret"] != Redacted || srv["port"] != uint64(8080) {
		t.Errorf("sanitized server = %v", srv)
	}
	prov := san["providers"].([]any)[0].(map[string]any)
	if prov["name"] != "hook" || prov["type"] != "webhook" || prov["api_token"] != Redacted || prov["headers"] != Redacted {
		t.Errorf("sanitized provider = %v", prov)
	}
	if u, _ := prov["url"].(string); !strings.Contains(u, "hooks.example.com") {
		t.Errorf("sanitized provider url = %q, want the host kept", u)
	}
	// Sanitized shares nothing with the config.
	prov["name"] = "changed"
	if cfg.Providers[0].Raw["name"] != "hook" {
		t.Error("Sanitized() aliases provider Raw")
	}
}

func TestSanitizedShape(t *testing.T) {
	cfg, _ := mustParse(t, "[audit]\nenabled = true\n[[state_machines]]\nname = \"a\"\ninitial_state = \"x\"\ntimeouts = [{ state = \"x\", after_seconds = 1, transition_to = \"x\" }]\n")
	san := cfg.Sanitized()
	if _, ok := san["audit"].(map[string]any)["ttl_seconds"]; ok {
		t.Error("nil ttl_seconds is present in Sanitized()")
	}
	to := san["state_machines"].([]any)[0].(map[string]any)["timeouts"].([]any)[0].(map[string]any)
	if to["in_state"] != "x" {
		t.Errorf("timeout = %v", to)
	}
	if _, ok := to["state"]; ok {
		t.Error("alias key emitted in Sanitized()")
	}
	if _, err := json.Marshal(san); err != nil {
		t.Errorf("Sanitized() is not JSON-encodable: %v", err)
	}
}
