package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// cheap argon2 parameters keep the tests fast.
var cheap = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashPassword(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func authTOML(t testing.TB, keys map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[settings]\njwt_secret = %q\njwt_expiry_seconds = 600\n\n", string(jwtSecret))
	fmt.Fprintf(&b, "[[users]]\nusername = \"alice\"\npassword_hash = %q\nrole = \"Operator\"\n", mustHash(t, "wonderland"))
	b.WriteString("[[users.grants]]\ntenants = [\"acme\"]\nnamespaces = [\"*\"]\nactions = [\"*\"]\n\n")
	for name, raw := range keys {
		fmt.Fprintf(&b, "[[api_keys]]\nname = %q\nkey_hash = %q\nrole = \"admin\"\ngrants = [{ tenants = [\"*\"], namespaces = [\"*\"], actions = [\"*\"] }]\n\n", name, HashAPIKey(raw))
	}
	return b.String()
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	a     *Authenticator
	st    state.Store
	clk   *clock.Fake
	path  string
	serve http.Handler
}

func newFixture(t testing.TB, keys map[string]string) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auth.toml")
	writeFile(t, path, authTOML(t, keys))
	st := memory.New(memory.Options{})
	clk := clock.NewFake(jwtNow)
	a, err := New(Options{Path: path, State: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := IdentityFrom(r.Context())
		fmt.Fprintf(w, "%s|%s|%s", id.CallerID, id.Method, id.Role)
	}))
	return &fixture{a: a, st: st, clk: clk, path: path, serve: h}
}

func (f *fixture) do(method, path string, hdr map[string]string) (int, string) {
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.serve.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String())
}

func TestCredentialResolution(t *testing.T) {
	f := newFixture(t, map[string]string{"ci-bot": "raw-key-1"})
	tok, exp, err := f.a.Login(t.Context(), "alice", "wonderland")
	if err != nil || exp != 600 {
		t.Fatalf("Login = %v, %d", err, exp)
	}
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
		body   string // substring
	}{
		{"bearer JWT", map[string]string{"Authorization": "Bearer " + tok}, 200, "alice|jwt|operator"},
		{"bearer raw API key", map[string]string{"Authorization": "Bearer raw-key-1"}, 200, "ci-bot|api_key|admin"},
		{"X-API-Key", map[string]string{"X-API-Key": "raw-key-1"}, 200, "ci-bot|api_key|admin"},
		{"bearer wins over X-API-Key", map[string]string{"Authorization": "Bearer " + tok, "X-API-Key": "raw-key-1"}, 200, "alice|jwt"},
		{"lower-case bearer is not Bearer", map[string]string{"Authorization": "bearer " + tok}, 401, "missing authentication credentials"},
		{"bad bearer gives the JWT error", map[string]string{"Authorization": "Bearer nope"}, 401, "invalid token: malformed token"},
		{"bad X-API-Key", map[string]string{"X-API-Key": "nope"}, 401, "invalid API key"},
		{"basic auth is not a credential", map[string]string{"Authorization": "Basic YTpi"}, 401, "missing authentication credentials"},
		{"nothing", nil, 401, "missing authentication credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do("GET", "/v1/audit", tt.hdr)
			if code != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tt.status, tt.body)
			}
			if code == 401 && (strings.Contains(body, "raw-key-1") || strings.Contains(body, "nope")) {
				t.Errorf("credential echoed in %s", body)
			}
		})
	}
}

func TestJWTExpiryRevocationAndLogout(t *testing.T) {
	f := newFixture(t, nil)
	tok, _, err := f.a.Login(t.Context(), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	if code, body := f.do("GET", "/v1/audit", bearer); code != 200 {
		t.Fatalf("fresh token: %d %s", code, body)
	}
	// Logout deletes the jti: the token is revoked.
	r := httptest.NewRequest("POST", "/v1/auth/logout", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	id, err := f.a.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.Logout(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("GET", "/v1/audit", bearer); code != 401 || !strings.Contains(body, "token has been revoked") {
		t.Fatalf("revoked token: %d %s", code, body)
	}
	// A second token expires with the clock.
	tok2, _, _ := f.a.Login(t.Context(), "alice", "wonderland")
	f.clk.Advance(10 * time.Minute)
	if code, body := f.do("GET", "/v1/audit", map[string]string{"Authorization": "Bearer " + tok2}); code != 401 || !strings.Contains(body, "token has expired") {
		t.Fatalf("expired token: %d %s", code, body)
	}
	// Logout with an API-key identity is refused.
	if err := f.a.Logout(t.Context(), &Identity{CallerID: "k", Method: "api_key"}); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("logout without JWT: %v", err)
	}
}

func TestReloadAppliesToIssuedTokens(t *testing.T) {
	f := newFixture(t, nil)
	tok, _, _ := f.a.Login(t.Context(), "alice", "wonderland")
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	// alice becomes a viewer: her token carries the new role at once.
	writeFile(t, f.path, strings.Replace(authTOML(t, nil), `role = "Operator"`, `role = "viewer"`, 1))
	if err := f.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("GET", "/v1/audit", bearer); code != 200 || body != "alice|jwt|viewer" {
		t.Fatalf("after the role change: %d %s", code, body)
	}
	// alice is removed: her token stops working.
	writeFile(t, f.path, fmt.Sprintf("[settings]\njwt_secret = %q\n", string(jwtSecret)))
	if err := f.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("GET", "/v1/audit", bearer); code != 401 || !strings.Contains(body, "revoked") {
		t.Fatalf("after removal: %d %s", code, body)
	}
}

func TestLoginWrongCredentials(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range [][2]string{{"alice", "wrong"}, {"bob", "wonderland"}, {"", ""}} {
		if _, _, err := f.a.Login(t.Context(), c[0], c[1]); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("Login(%q, %q) = %v", c[0], c[1], err)
		}
	}
}

// failingStore fails every read, like an unreachable backend.
type failingStore struct{ state.Store }

func (failingStore) Get(context.Context, state.Key) (string, error) { return "", state.ErrUnavailable }

func TestJWTStoreDownIs503(t *testing.T) {
	f := newFixture(t, nil)
	tok, _, _ := f.a.Login(t.Context(), "alice", "wonderland")
	f.a.o.State = failingStore{f.st}
	if code, body := f.do("GET", "/v1/audit", map[string]string{"Authorization": "Bearer " + tok}); code != 503 {
		t.Fatalf("store down: %d %s", code, body)
	}
}

func TestPublicRoutes(t *testing.T) {
	tests := []struct {
		method, path string
		public       bool
	}{
		{"GET", "/health", true},
		{"HEAD", "/health", true},
		{"GET", "/metrics", true},
		{"GET", "/metrics/prometheus", true},
		{"GET", "/.well-known/acteon-signing-keys", true},
		{"POST", "/v1/auth/login", true},
		{"POST", "/v1/approvals/ns/acme/abc/approve", true},
		{"POST", "/v1/approvals/ns/acme/abc/reject", true},
		{"GET", "/v1/approvals/ns/acme/abc", true},
		{"GET", "/a2a/ns/acme/.well-known/agent.json", true},
		{"GET", "/swagger-ui", true},
		{"GET", "/api-doc/openapi.json", true},
		{"POST", "/health", false},
		{"GET", "/v1/auth/login", false},
		{"POST", "/v1/auth/logout", false},
		{"GET", "/v1/approvals", false},
		{"GET", "/v1/approvals/ns/acme", false},
		{"POST", "/v1/approvals/ns/acme/abc/approve/x", false},
		{"GET", "/v1/approvals/ns/acme/abc/approve", false},
		{"POST", "/v1/approvals/ns//abc/approve", false},
		{"GET", "/health/../v1/audit", false},
		{"GET", "/metrics/", false},
		{"POST", "/v1/dispatch", false},
		{"GET", "/admin/config", false},
		{"GET", "", false},
	}
	for _, tt := range tests {
		if got := IsPublic(tt.method, tt.path); got != tt.public {
			t.Errorf("IsPublic(%s %s) = %v, want %v", tt.method, tt.path, got, tt.public)
		}
	}
	// Public routes carry no permissions when auth is on.
	f := newFixture(t, nil)
	if code, body := f.do("GET", "/health", nil); code != 200 || body != "|anonymous|" {
		t.Errorf("public route: %d %q", code, body)
	}
	if Unauthenticated.Has(PermAuditRead) || Unauthenticated.AllowsScope("acme", "") || Unauthenticated.InScope("acme") {
		t.Error("Unauthenticated may do something")
	}
}

func TestHotReloadRotatesKeys(t *testing.T) {
	f := newFixture(t, map[string]string{"ci-bot": "old-key"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := f.a.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.path, authTOML(t, map[string]string{"ci-bot": "new-key"}))
	waitFor(t, func() bool {
		c1, _ := f.do("GET", "/v1/audit", map[string]string{"X-API-Key": "new-key"})
		c2, _ := f.do("GET", "/v1/audit", map[string]string{"X-API-Key": "old-key"})
		return c1 == 200 && c2 == 401
	})
	// A broken file keeps the previous credentials.
	writeFile(t, f.path, "[settings]\njwt_secret = 5\n")
	if err := f.a.Reload(); err == nil {
		t.Fatal("broken file reloaded")
	}
	if code, _ := f.do("GET", "/v1/audit", map[string]string{"X-API-Key": "new-key"}); code != 200 {
		t.Errorf("after a failed reload the new key stopped working: %d", code)
	}
}

// waitFor polls cond until it holds or a generous deadline passes (the
// watcher reacts to file events; no timing is asserted).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParseFileErrors(t *testing.T) {
	const planted = "PLANTED-s3cret-value"
	enc, _ := Encrypt(testKey, string(jwtSecret), "")
	tests := []struct {
		name string
		doc  string
		key  []byte
		want string
	}{
		{"no secret", "[settings]\n", nil, "settings.jwt_secret: required"},
		{"short secret", "[settings]\njwt_secret = \"" + planted[:8] + "\"\n", nil, "at least 16 bytes"},
		{"ENC without key", "[settings]\njwt_secret = \"" + enc + "\"\n", nil, MasterKeyEnv + " is not set"},
		{"ENC with wrong key", "[settings]\njwt_secret = \"" + enc + "\"\n", make([]byte, 32), "cannot decrypt"},
		{"bad user role", "[settings]\njwt_secret = \"" + planted + "\"\n[[users]]\nusername = \"u\"\npassword_hash = \"x\"\nrole = \"root\"\n", nil, `users[0] (u).role: invalid role "root"`},
		{"bad hash", "[settings]\njwt_secret = \"" + planted + "\"\n[[users]]\nusername = \"u\"\npassword_hash = \"" + planted + "\"\nrole = \"viewer\"\n", nil, "users[0] (u).password_hash"},
		{"bad key hash", "[settings]\njwt_secret = \"" + planted + "\"\n[[api_keys]]\nname = \"k\"\nkey_hash = \"" + planted + "\"\nrole = \"viewer\"\n", nil, "api_keys[0] (k).key_hash: must be the SHA-256"},
		{"syntax", "[settings\n", nil, "syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseFile([]byte(tt.doc), "auth.toml", tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), planted) || strings.Contains(err.Error(), planted[:8]) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestParseFileEncryptedAndKeyRoleQuirk(t *testing.T) {
	secret, _ := Encrypt(testKey, string(jwtSecret), "k1")
	hash, _ := Encrypt(testKey, mustHash(t, "pw"), "")
	keyHash, _ := Encrypt(testKey, HashAPIKey("raw"), "")
	doc := fmt.Sprintf("[settings]\njwt_secret = %q\n[[users]]\nusername = \"u\"\npassword_hash = %q\nrole = \"viewer\"\n"+
		"[[api_keys]]\nname = \"k\"\nkey_hash = %q\nrole = \"superuser\"\n", secret, hash, keyHash)
	c, warns, err := ParseFile([]byte(doc), "auth.toml", testKey)
	if err != nil {
		t.Fatal(err)
	}
	if id := c.LookupAPIKey("raw"); id == nil || id.Role != RoleViewer {
		t.Errorf("key with an invalid role: %+v, want viewer", id)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "superuser") {
		t.Errorf("warnings = %v", warns)
	}
	if id := c.CheckPassword("u", "pw"); id == nil || id.CallerID != "u" {
		t.Errorf("encrypted password hash: %+v", id)
	}
	if c.LookupAPIKey("raw2") != nil {
		t.Error("unknown key accepted")
	}
}

func TestVerifyPassword(t *testing.T) {
	h := mustHash(t, "correct horse")
	if ok, err := VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "correct horsf"); ok {
		t.Error("wrong password accepted")
	}
	for _, bad := range []string{
		"", "plain", "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
		"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
		"$bcrypt$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
	} {
		if _, err := VerifyPassword(bad, "x"); !errors.Is(err, ErrBadPasswordHash) {
			t.Errorf("VerifyPassword(%q) err = %v", bad, err)
		}
	}
}

// FuzzAuthHeaders: whatever arrives in Authorization and X-API-Key, the
// middleware never panics and lets a request through only with the one
// configured key or a token it issued.
func FuzzAuthHeaders(f *testing.F) {
	fx := newFixture(f, map[string]string{"k": "the-key"})
	tok, _, _ := fx.a.Login(context.Background(), "alice", "wonderland")
	f.Add("Bearer "+tok, "")
	f.Add("Bearer the-key", "")
	f.Add("", "the-key")
	f.Add("Bearer ", "x")
	f.Add("Bearer a.b.c", "")
	f.Add("Bearer "+tok+"x", "")
	f.Fuzz(func(t *testing.T, authz, key string) {
		r := httptest.NewRequest("GET", "/v1/audit", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["X-Api-Key"] = []string{key}
		id, err := fx.a.Authenticate(r)
		if err != nil {
			if id != nil {
				t.Fatal("identity with an error")
			}
			return
		}
		bearer := strings.TrimSpace(strings.TrimPrefix(authz, "Bearer "))
		switch {
		case strings.HasPrefix(authz, "Bearer ") && (bearer == tok || bearer == "the-key"):
		case !strings.HasPrefix(authz, "Bearer ") && key == "the-key":
		default:
			t.Fatalf("authenticated %+v from Authorization=%q X-API-Key=%q", id, authz, key)
		}
	})
}

// TestLoginLockout: LoginFailureLimit wrong passwords for a user lock its
// password login (even with the right password) until the window ends; a
// successful login clears the count; unknown user names are never locked
// and API keys keep working.
func TestLoginLockout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.toml")
	writeFile(t, path, authTOML(t, map[string]string{"ci-bot": "raw-key-1"}))
	clk := clock.NewFake(jwtNow)
	st := memory.New(memory.Options{Clock: clk})
	a, err := New(Options{Path: path, State: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fail := func(n int) {
		t.Helper()
		for i := range n {
			if _, _, err := a.Login(ctx, "alice", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("wrong password #%d: %v, want ErrInvalidCredentials", i+1, err)
			}
		}
	}

	// Failures below the limit, then a success: the count starts over.
	fail(LoginFailureLimit - 1)
	if _, _, err := a.Login(ctx, "alice", "wonderland"); err != nil {
		t.Fatalf("right password after %d failures: %v", LoginFailureLimit-1, err)
	}
	fail(LoginFailureLimit - 1)
	if _, _, err := a.Login(ctx, "alice", "wonderland"); err != nil {
		t.Fatalf("the count was not cleared by the successful login: %v", err)
	}

	fail(LoginFailureLimit)
	clk.Advance(time.Minute)
	_, _, err = a.Login(ctx, "alice", "wonderland")
	var locked *LoginLockedError
	if !errors.As(err, &locked) {
		t.Fatalf("right password after %d failures: %v, want LoginLockedError", LoginFailureLimit, err)
	}
	if want := LoginFailureWindow - time.Minute; locked.RetryAfter != want {
		t.Errorf("RetryAfter = %s, want %s", locked.RetryAfter, want)
	}
	for range 3 * LoginFailureLimit {
		if _, _, err := a.Login(ctx, "nobody", "x"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("unknown user: %v, want ErrInvalidCredentials (never locked)", err)
		}
	}
	r := httptest.NewRequest("GET", "/v1/rules", nil)
	r.Header.Set("X-API-Key", "raw-key-1")
	if _, err := a.Authenticate(r); err != nil {
		t.Fatalf("an API key during alice's lock: %v", err)
	}

	clk.Advance(LoginFailureWindow - time.Minute)
	if _, _, err := a.Login(ctx, "alice", "wonderland"); err != nil {
		t.Fatalf("right password once the window has ended: %v", err)
	}
}
