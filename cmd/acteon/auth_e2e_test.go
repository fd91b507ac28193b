package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/auth"
)

// The auth end-to-end test runs the real binary with [auth] and
// [rate_limit] enabled: `acteon encrypt` produces the ENC[…] secrets of
// auth.toml, then every rule of issue 7 is checked over HTTP.

const e2eMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func encryptWithBinary(t *testing.T, plain string) string {
	t.Helper()
	cmd := exec.Command(binPath, "encrypt")
	cmd.Env = append(os.Environ(), auth.MasterKeyEnv+"="+e2eMasterKey)
	cmd.Stdin = strings.NewReader(plain + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("acteon encrypt: %v\n%s", err, errb.String())
	}
	v := strings.TrimSpace(out.String())
	if !strings.HasPrefix(v, "ENC[AES256-GCM,") || strings.Contains(v, plain) {
		t.Fatalf("acteon encrypt printed %q", v)
	}
	key, _ := auth.ParseMasterKey(e2eMasterKey)
	if got, err := auth.Decrypt(key, v); err != nil || got != plain {
		t.Fatalf("ENC value decrypts to %q, %v", got, err)
	}
	return v
}

type authClient struct {
	t    *testing.T
	base string
}

func (c authClient) do(cred, method, path, body string) resp {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(cred, "Bearer ") {
		req.Header.Set("Authorization", cred)
	} else if cred != "" {
		req.Header.Set("X-API-Key", cred)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, b}
}

func e2eAction(tenant string) string {
	return fmt.Sprintf(`{"namespace":"ns","tenant":%q,"provider":"email","action_type":"alert","payload":{"to":"u@example.com"}}`, tenant)
}

func e2eAuthFile(t *testing.T, jwtSecretENC, adminKeyHashENC string, extraKeys string) string {
	h, err := auth.HashPassword("alice-pw-e2e", auth.Argon2Params{MemoryKiB: 256, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`[settings]
jwt_secret = %q
jwt_expiry_seconds = 900

[[users]]
username = "alice"
password_hash = %q
role = "operator"
[[users.grants]]
tenants = ["acme"]
namespaces = ["*"]
actions = ["*"]

[[api_keys]]
name = "root"
key_hash = %q
role = "admin"
grants = [{ tenants = ["*"], namespaces = ["*"], actions = ["*"] }]

[[api_keys]]
name = "limited"
key_hash = %q
role = "viewer"
grants = [{ tenants = ["acme"], namespaces = ["*"], actions = ["*"] }]
%s`, jwtSecretENC, h, adminKeyHashENC, auth.HashAPIKey("e2e-limited-key"), extraKeys)
}

func TestEndToEndAuth(t *testing.T) {
	const (
		jwtSecret = "e2e-PLANTED-jwt-secret-5c1f"
		adminKey  = "e2e-PLANTED-admin-key-9d2e"
	)
	dir := t.TempDir()
	authPath := filepath.Join(dir, "auth.toml")
	jwtENC := encryptWithBinary(t, jwtSecret)
	keyENC := encryptWithBinary(t, auth.HashAPIKey(adminKey))
	if err := os.WriteFile(authPath, []byte(e2eAuthFile(t, jwtENC, keyENC, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	limits := "[callers.default]\nrequests_per_window = 1000\nwindow_seconds = 600\n[callers.overrides.limited]\nrequests_per_window = 3\nwindow_seconds = 600\n"
	if err := os.WriteFile(filepath.Join(dir, "ratelimit.toml"), []byte(limits), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `[audit]
enabled = true
sync = true

[auth]
enabled = true
config_path = "auth.toml"

[rate_limit]
enabled = true

[[providers]]
name = "email"
type = "log"
`
	cfgPath := filepath.Join(dir, "acteon.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// Without ACTEON_AUTH_KEY the server refuses to start.
	t.Setenv(auth.MasterKeyEnv, "")
	out, err := exec.Command(binPath, "serve", "-c", cfgPath, "--port", fmt.Sprint(freePort(t))).CombinedOutput()
	if err == nil || !strings.Contains(string(out), auth.MasterKeyEnv) {
		t.Fatalf("serve without %s: %v\n%s", auth.MasterKeyEnv, err, out)
	}

	t.Setenv(auth.MasterKeyEnv, e2eMasterKey)
	s := start(t, cfgPath, "--log-level", "debug")
	c := authClient{t: t, base: s.base}
	var bodies []string
	keep := func(r resp) resp { bodies = append(bodies, string(r.body)); return r }

	// Public and protected routes.
	expect(t, keep(c.do("", "GET", "/health", "")), 200, `"status":"ok"`)
	expect(t, keep(c.do("", "POST", "/v1/dispatch", e2eAction("acme"))), 401, "missing authentication credentials")
	expect(t, keep(c.do("wrong-key", "GET", "/v1/rules", "")), 401, "invalid API key")
	r := keep(c.do(adminKey, "POST", "/v1/dispatch", e2eAction("globex")))
	expect(t, r, 200, "Executed")
	if r.header.Get("X-RateLimit-Limit") != "1000" {
		t.Errorf("X-RateLimit-Limit = %q", r.header.Get("X-RateLimit-Limit"))
	}

	// JWT login, tenant grants, revocation.
	expect(t, keep(c.do("", "POST", "/v1/auth/login", `{"username":"alice","password":"nope"}`)), 401, "invalid credentials")
	r = keep(c.do("", "POST", "/v1/auth/login", `{"username":"alice","password":"alice-pw-e2e"}`))
	expect(t, r, 200, `"expires_in":900`)
	var login struct{ Token string }
	r.json(t, &login)
	tok := "Bearer " + login.Token
	expect(t, keep(c.do(tok, "POST", "/v1/dispatch", e2eAction("acme"))), 200, "Executed")
	expect(t, keep(c.do(tok, "POST", "/v1/dispatch", e2eAction("acme.eu"))), 200, "Executed")
	expect(t, keep(c.do(tok, "POST", "/v1/dispatch", e2eAction("globex"))), 403, "no grant covers tenant=globex")
	expect(t, keep(c.do(tok, "GET", "/v1/audit?tenant=globex", "")), 403)
	r = keep(c.do(tok, "GET", "/v1/audit?limit=1000", ""))
	expect(t, r, 200)
	var page struct{ Records []struct{ Tenant string } }
	r.json(t, &page)
	if len(page.Records) != 2 {
		t.Errorf("alice sees %d audit records, want her 2", len(page.Records))
	}
	for _, rec := range page.Records {
		if rec.Tenant != "acme" && rec.Tenant != "acme.eu" {
			t.Errorf("alice sees a record of tenant %q", rec.Tenant)
		}
	}
	expect(t, keep(c.do(tok, "GET", "/admin/config", "")), 403)
	r = keep(c.do(adminKey, "GET", "/admin/config", ""))
	expect(t, r, 200, `"auth"`, `"rate_limit"`)
	expect(t, keep(c.do(tok, "POST", "/v1/auth/logout", "")), 200, "logged_out")
	expect(t, keep(c.do(tok, "GET", "/v1/rules", "")), 401, "token has been revoked")

	// The viewer key: no dispatch, and 3 requests per window.
	expect(t, keep(c.do("e2e-limited-key", "POST", "/v1/dispatch", e2eAction("acme"))), 403, "dispatch requires admin or operator role")
	expect(t, keep(c.do("e2e-limited-key", "GET", "/v1/rules", "")), 200)
	expect(t, keep(c.do("e2e-limited-key", "GET", "/v1/rules", "")), 200)
	r = keep(c.do("e2e-limited-key", "GET", "/v1/rules", ""))
	expect(t, r, 429, "rate limit exceeded", `"limit":3`)
	if r.header.Get("Retry-After") == "" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 headers = %v", r.header)
	}

	// Input limits.
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	expect(t, keep(c.do(adminKey, "POST", "/v1/dispatch", `{"namespace":"ns","tenant":"acme","provider":"email","action_type":"x","payload":`+deep+`}`)), 422, "nesting depth")

	// Hot reload: a key added to auth.toml works without a restart.
	extra := fmt.Sprintf("\n[[api_keys]]\nname = \"late\"\nkey_hash = %q\nrole = \"operator\"\ngrants = [{ tenants = [\"acme\"], namespaces = [\"*\"], actions = [\"*\"] }]\n", auth.HashAPIKey("e2e-late-key"))
	tmp := authPath + ".new"
	if err := os.WriteFile(tmp, []byte(e2eAuthFile(t, jwtENC, keyENC, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, authPath); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.do("e2e-late-key", "GET", "/v1/rules", "").status != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("the key added to auth.toml was not picked up\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// No secret in any body or in the debug log.
	haystack := strings.Join(bodies, "\n") + s.logs.String()
	for _, secret := range []string{jwtSecret, adminKey, e2eMasterKey, hex.EncodeToString([]byte(jwtSecret)), "alice-pw-e2e"} {
		if strings.Contains(haystack, secret) {
			t.Errorf("secret %q appears in a response or the log", secret)
		}
	}
	var cfgSnap map[string]any
	_ = json.Unmarshal(c.do(adminKey, "GET", "/admin/config", "").body, &cfgSnap)
	if cfgSnap["auth"] == nil {
		t.Errorf("/admin/config lacks auth: %v", cfgSnap)
	}
}

func TestEncryptCommand(t *testing.T) {
	cmd := exec.Command(binPath, "encrypt")
	cmd.Env = append(os.Environ(), auth.MasterKeyEnv+"=")
	cmd.Stdin = strings.NewReader("x\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), auth.MasterKeyEnv) {
		t.Errorf("encrypt without a key: %v %s", err, out)
	}
	cmd = exec.Command(binPath, "encrypt", "--kid", "k7")
	cmd.Env = append(os.Environ(), auth.MasterKeyEnv+"="+e2eMasterKey)
	cmd.Stdin = strings.NewReader("hunter2\n")
	out, err = cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "ENC[AES256-GCM,kid:k7,data:") || strings.Contains(string(out), "hunter2") {
		t.Errorf("encrypt --kid: %v %s", err, out)
	}
}
