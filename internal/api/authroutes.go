package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/httpjson"
)

// Sessions issues and revokes login tokens; *auth.Authenticator satisfies
// it.
type Sessions interface {
	// Login returns a token and its lifetime in seconds, or
	// auth.ErrInvalidCredentials.
	Login(ctx context.Context, username, password string) (string, int64, error)
	// Logout revokes the token the identity authenticated with.
	Logout(ctx context.Context, id *auth.Identity) error
}

// AuthRoutes serves POST /v1/auth/login (public), POST /v1/auth/logout and
// GET /admin/config (admin only). Add its Register to Options.Register.
type AuthRoutes struct {
	// Sessions is nil when authentication is disabled: login and logout
	// answer 404 "authentication is not enabled".
	Sessions Sessions
	// Config returns the sanitized configuration snapshot (secrets
	// redacted); nil leaves GET /admin/config unregistered.
	Config       func() any
	MaxBodyBytes int64
}

// Register adds the routes to mux.
func (ar AuthRoutes) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/auth/login", ar.login)
	mux.HandleFunc("POST /v1/auth/logout", ar.logout)
	if ar.Config != nil {
		mux.HandleFunc("GET /admin/config", ar.adminConfig)
	}
}

func (ar AuthRoutes) login(w http.ResponseWriter, r *http.Request) {
	if ar.Sessions == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "authentication is not enabled")
		return
	}
	var req struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if !httpjson.ReadJSON(w, r, ar.MaxBodyBytes, &req) {
		return
	}
	if req.Username == nil || req.Password == nil {
		field := "username"
		if req.Username != nil {
			field = "password"
		}
		writeError(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", field+": missing field `"+field+"`")
		return
	}
	tok, exp, err := ar.Sessions.Login(r.Context(), *req.Username, *req.Password)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="acteon"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid credentials")
			return
		}
		if locked, ok := errors.AsType[*auth.LoginLockedError](err); ok {
			secs := int64((locked.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			writeErrorRetry(w, http.StatusTooManyRequests, "TOO_MANY_LOGIN_ATTEMPTS", locked.Error(), true)
			return
		}
		writeErrorRetry(w, http.StatusServiceUnavailable, "AUTH_UNAVAILABLE", "authentication backend unavailable; try again", true)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_in": exp})
}

func (ar AuthRoutes) logout(w http.ResponseWriter, r *http.Request) {
	if ar.Sessions == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "authentication is not enabled")
		return
	}
	if err := ar.Sessions.Logout(r.Context(), auth.IdentityFrom(r.Context())); err != nil {
		auth.WriteAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "logged_out"})
}

func (ar AuthRoutes) adminConfig(w http.ResponseWriter, r *http.Request) {
	if !requirePerm(w, r, auth.PermAdmin) {
		return
	}
	writeJSON(w, http.StatusOK, ar.Config())
}
