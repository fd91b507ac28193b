package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/filewatch"
	"github.com/acteon/acteon-go/internal/httpjson"
	"github.com/acteon/acteon-go/internal/state"
)

// Sentinel errors of authentication.
var (
	// ErrUnauthenticated: no or bad credentials (HTTP 401). The wrapped
	// message is safe to show the client.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrInvalidCredentials: a login with a wrong user name or password.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrBackend: the state store holding token ids cannot be read (503).
	ErrBackend = errors.New("authentication backend unavailable")
)

// Unauthenticated is the identity public routes see when authentication is
// enabled: no role, no grants, so it may do nothing a handler checks.
var Unauthenticated = &Identity{Method: "anonymous"}

// TokenKey is the state key under which a JWT id lives while the token is
// valid; deleting it revokes the token.
func TokenKey(jti string) state.Key {
	return state.Key{Namespace: "auth", Tenant: "tokens", Kind: "token", ID: jti}
}

// Password logins of one configured user are locked for the rest of the
// window once LoginFailureLimit of them have failed within
// LoginFailureWindow; a successful login clears the count. The counter and
// the lock live in the state store, so the limit holds across nodes. API
// keys and JWTs already issued are not affected.
const (
	LoginFailureLimit  = 10
	LoginFailureWindow = 15 * time.Minute
)

// LoginLockedError is returned by Login while the user's password login is
// locked (HTTP 429); RetryAfter is the time left.
type LoginLockedError struct{ RetryAfter time.Duration }

func (e *LoginLockedError) Error() string {
	return "too many failed logins for this user; try again later"
}

func loginFailuresKey(user string) state.Key {
	return state.Key{Namespace: "auth", Tenant: "login", Kind: "login_failures", ID: user}
}

func loginLockKey(user string) state.Key {
	return state.Key{Namespace: "auth", Tenant: "login", Kind: "login_lock", ID: user}
}

// checkLoginLock returns a *LoginLockedError while user is locked.
func (a *Authenticator) checkLoginLock(ctx context.Context, user string) error {
	v, err := a.o.State.Get(ctx, loginLockKey(user))
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBackend, err)
	}
	until, perr := strconv.ParseInt(v, 10, 64)
	left := time.UnixMilli(until).Sub(a.o.Clock.Now())
	if perr != nil || left <= 0 {
		return nil
	}
	a.failures.WithLabelValues("login_locked").Inc()
	return &LoginLockedError{RetryAfter: left}
}

// countLoginFailure counts a failed password login and locks the user
// when the count reaches the limit. A store error is logged: the login
// has failed anyway.
func (a *Authenticator) countLoginFailure(ctx context.Context, user string) {
	n, left, err := a.o.State.IncrementWindow(ctx, loginFailuresKey(user), LoginFailureWindow)
	if err == nil && n >= LoginFailureLimit && left > 0 {
		until := a.o.Clock.Now().Add(left).UnixMilli()
		err = a.o.State.Set(ctx, loginLockKey(user), strconv.FormatInt(until, 10), left)
		if err == nil && n == LoginFailureLimit {
			a.log.Warn("password login locked after repeated failures", "caller", user,
				"failures", n, "for", left.Round(time.Second).String())
		}
	}
	if err != nil {
		a.log.Warn("counting a failed login failed", "caller", user, "err", err)
	}
}

// Options configures an Authenticator.
type Options struct {
	// Path is auth.toml.
	Path string
	// MasterKey decrypts ENC[…] values (ACTEON_AUTH_KEY).
	MasterKey []byte
	// State holds the ids of live JWTs (revocation).
	State  state.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Registerer receives acteon_auth_* metrics (nil: none).
	Registerer prometheus.Registerer
}

// Authenticator resolves the caller of each request from auth.toml's users
// and API keys. It is safe for concurrent use; Reload swaps the
// credentials atomically.
type Authenticator struct {
	o     Options
	log   *slog.Logger
	creds atomic.Pointer[Credentials]
	mu    sync.Mutex // serialises reloads

	reloadOK prometheus.Gauge
	failures *prometheus.CounterVec
	reloadAt prometheus.Gauge
}

// New loads auth.toml and returns the Authenticator. A file that does not
// load is an error naming every problem (never a secret value).
func New(o Options) (*Authenticator, error) {
	if o.State == nil {
		return nil, errors.New("auth: a state store is required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{o: o, log: o.Logger.With("component", "auth")}
	a.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "acteon_auth_config_last_reload_successful", Help: "1 when the last load of auth.toml succeeded."})
	a.reloadAt = prometheus.NewGauge(prometheus.GaugeOpts{Name: "acteon_auth_config_last_reload_success_timestamp_seconds", Help: "When auth.toml was last loaded successfully."})
	a.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "acteon_auth_failures_total", Help: "Rejected authentication attempts by reason."}, []string{"reason"})
	for _, r := range []string{"missing", "invalid_api_key", "invalid_token", "revoked", "backend", "login"} {
		a.failures.WithLabelValues(r)
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.reloadOK, a.reloadAt, a.failures)
	}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Credentials returns the current snapshot.
func (a *Authenticator) Credentials() *Credentials { return a.creds.Load() }

// Reload reads auth.toml again and swaps it in. On failure the previous
// credentials stay active and the error is returned (and logged).
func (a *Authenticator) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, warns, err := LoadFile(a.o.Path, a.o.MasterKey)
	for _, w := range warns {
		a.log.Warn("auth config warning", "warning", w)
	}
	if err != nil {
		a.reloadOK.Set(0)
		if a.creds.Load() != nil {
			a.log.Error("auth config reload failed; the previous users and keys stay active", "file", a.o.Path, "err", err)
		}
		return err
	}
	a.creds.Store(c)
	a.reloadOK.Set(1)
	a.reloadAt.SetToCurrentTime()
	a.log.Info("auth config loaded", "file", a.o.Path, "users", c.Users(), "api_keys", c.APIKeys())
	return nil
}

// Watch reloads auth.toml when it changes (200 ms debounce) until ctx is
// done. The directory is watched, so editors that replace the file by
// renaming are seen too.
func (a *Authenticator) Watch(ctx context.Context) error {
	o := filewatch.File(a.o.Path, func() { _ = a.Reload() })
	o.Logger, o.Name = a.log, "auth"
	return filewatch.Watch(ctx, o)
}

// IsPublic reports whether a route needs no authentication (spec 01 §2.1):
// health and metrics, the signing-key document, login, the three
// HMAC-signed approval routes, A2A discovery and the API docs. The path must
// be clean; anything else is protected.
func IsPublic(method, p string) bool {
	if p == "" || path.Clean(p) != p {
		return false
	}
	get := method == http.MethodGet || method == http.MethodHead
	switch p {
	case "/health", "/metrics", "/metrics/prometheus", "/.well-known/acteon-signing-keys", "/api-doc/openapi.json", "/swagger-ui":
		return get
	case "/v1/auth/login":
		return method == http.MethodPost
	}
	if strings.HasPrefix(p, "/swagger-ui/") {
		return get
	}
	if !strings.HasPrefix(p, "/v1/approvals/") && !strings.HasPrefix(p, "/a2a/") {
		return false
	}
	seg := strings.Split(p[1:], "/")
	for _, s := range seg {
		if s == "" {
			return false
		}
	}
	// /v1/approvals/{ns}/{tenant}/{id}[/approve|/reject]
	if len(seg) >= 5 && seg[0] == "v1" && seg[1] == "approvals" {
		switch {
		case len(seg) == 5:
			return get
		case len(seg) == 6 && (seg[5] == "approve" || seg[5] == "reject"):
			return method == http.MethodPost
		}
		return false
	}
	// /a2a/{ns}/{tenant}/.well-known/agent.json
	if len(seg) == 5 && seg[0] == "a2a" && seg[3] == ".well-known" && seg[4] == "agent.json" {
		return get
	}
	return false
}

// Authenticate resolves the caller of r (spec 01 §2.2):
//  1. "Authorization: Bearer <t>": t as a JWT (HS256, unexpired, its jti
//     still in the state store), else as a raw API key; both failing is the
//     JWT's error;
//  2. else "X-API-Key: <k>";
//  3. else "missing authentication credentials".
//
// Errors wrap ErrUnauthenticated (401) or ErrBackend (503); their text is
// safe to show and never contains the credential.
func (a *Authenticator) Authenticate(r *http.Request) (*Identity, error) {
	c := a.creds.Load()
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		tok := strings.TrimSpace(h[len("Bearer "):])
		id, jerr := a.fromJWT(r.Context(), c, tok)
		if jerr == nil {
			return id, nil
		}
		if errors.Is(jerr, ErrBackend) {
			a.failures.WithLabelValues("backend").Inc()
			return nil, jerr
		}
		if id := c.LookupAPIKey(tok); id != nil {
			return id, nil
		}
		if errors.Is(jerr, ErrTokenRevoked) {
			a.failures.WithLabelValues("revoked").Inc()
			return nil, fmt.Errorf("%w: token has been revoked", ErrUnauthenticated)
		}
		a.failures.WithLabelValues("invalid_token").Inc()
		return nil, fmt.Errorf("%w: invalid token: %s", ErrUnauthenticated, jerr.Error())
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		if id := c.LookupAPIKey(k); id != nil {
			return id, nil
		}
		a.failures.WithLabelValues("invalid_api_key").Inc()
		return nil, fmt.Errorf("%w: invalid API key", ErrUnauthenticated)
	}
	a.failures.WithLabelValues("missing").Inc()
	return nil, fmt.Errorf("%w: missing authentication credentials", ErrUnauthenticated)
}

func (a *Authenticator) fromJWT(ctx context.Context, c *Credentials, tok string) (*Identity, error) {
	claims, err := ParseJWT(tok, c.jwtSecret, a.o.Clock.Now())
	if err != nil {
		return nil, err
	}
	if _, err := a.o.State.Get(ctx, TokenKey(claims.JTI)); err != nil {
		if errors.Is(err, state.ErrNotFound) {
			return nil, ErrTokenRevoked
		}
		return nil, fmt.Errorf("%w: %v", ErrBackend, err)
	}
	// The role and grants come from the current auth.toml, not from the
	// token: a hot reload that removes a user or narrows its grants takes
	// effect on tokens already issued.
	u, ok := c.users[claims.Sub]
	if !ok {
		return nil, ErrTokenRevoked
	}
	return &Identity{CallerID: claims.Sub, Method: "jwt", Role: u.id.Role, Grants: u.id.Grants, TokenID: claims.JTI}, nil
}

// Middleware authenticates every protected request and stores the
// Identity in its context; public routes pass with Unauthenticated. A
// failure is answered here: 401 (with WWW-Authenticate) or 503.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsPublic(r.Method, r.URL.Path) {
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), Unauthenticated)))
			return
		}
		id, err := a.Authenticate(r)
		if err != nil {
			WriteAuthError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// WriteAuthError answers an Authenticate error: 503 for ErrBackend, else
// 401 with the error's client-safe text.
func WriteAuthError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrBackend) {
		httpjson.Error(w, http.StatusServiceUnavailable, "AUTH_UNAVAILABLE", "authentication backend unavailable; try again", true)
		return
	}
	msg := strings.TrimPrefix(err.Error(), ErrUnauthenticated.Error()+": ")
	w.Header().Set("WWW-Authenticate", `Bearer realm="acteon"`)
	httpjson.Error(w, http.StatusUnauthorized, "UNAUTHORIZED", msg, false)
}

// Login checks a user's password and issues a JWT whose id is stored in the
// state store for the token's lifetime. It returns the token and its
// lifetime in seconds; a wrong user name or password is
// ErrInvalidCredentials.
func (a *Authenticator) Login(ctx context.Context, username, password string) (string, int64, error) {
	c := a.creds.Load()
	_, known := c.users[username]
	if known {
		if err := a.checkLoginLock(ctx, username); err != nil {
			return "", 0, err
		}
	}
	id := c.CheckPassword(username, password)
	if id == nil {
		a.failures.WithLabelValues("login").Inc()
		// The user name is logged only when it is a configured user: a
		// password typed into the user name field must not reach the log.
		if known {
			a.log.Info("login failed", "caller", username)
			a.countLoginFailure(ctx, username)
		} else {
			a.log.Info("login failed for an unknown user name")
		}
		return "", 0, ErrInvalidCredentials
	}
	if _, err := a.o.State.Delete(ctx, loginFailuresKey(username)); err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBackend, err)
	}
	now := a.o.Clock.Now()
	claims := Claims{
		Sub: id.CallerID, JTI: action.UUIDv4(), Role: id.Role, Grants: id.Grants,
		Iat: now.Unix(), Exp: now.Add(c.expiry).Unix(),
	}
	tok, err := SignJWT(claims, c.jwtSecret)
	if err != nil {
		return "", 0, err
	}
	if err := a.o.State.Set(ctx, TokenKey(claims.JTI), id.CallerID, c.expiry); err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBackend, err)
	}
	a.log.Info("login", "caller", id.CallerID)
	return tok, int64(c.expiry / time.Second), nil
}

// Logout revokes the JWT the identity authenticated with. An identity that
// did not come from a JWT is ErrUnauthenticated ("missing Bearer token").
func (a *Authenticator) Logout(ctx context.Context, id *Identity) error {
	if id == nil || id.TokenID == "" {
		return fmt.Errorf("%w: missing Bearer token", ErrUnauthenticated)
	}
	if _, err := a.o.State.Delete(ctx, TokenKey(id.TokenID)); err != nil {
		return fmt.Errorf("%w: %v", ErrBackend, err)
	}
	a.log.Info("logout", "caller", id.CallerID)
	return nil
}
