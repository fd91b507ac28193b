package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/acteon/acteon-go/internal/api"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/filewatch"
	"github.com/acteon/acteon-go/internal/ratelimit"
)

// authWiring is what [auth], [rate_limit], [tls] and the [server] input
// limits add to an App.
type authWiring struct {
	cfg *config.Config
	// authn is nil when [auth] is disabled.
	authn *auth.Authenticator
	// limiter is nil when [rate_limit] is disabled.
	limiter *ratelimit.Limiter
	// tls is nil when [tls] is disabled.
	tls *tls.Config
}

// wireAuth builds the authenticator, the rate limiter and the TLS
// configuration. With [auth] enabled, ACTEON_AUTH_KEY must be set and
// auth.toml must load; ratelimit.toml must load when [rate_limit] is on;
// the certificate and CA files must load when [tls] is on.
func (a *App) wireAuth(cfg *config.Config, o Options) (*authWiring, error) {
	w := &authWiring{cfg: cfg}
	a.auth = w
	if cfg.Auth.Enabled {
		key, err := auth.MasterKeyFromEnv()
		if err != nil {
			return nil, fmt.Errorf("[auth] enabled = true: %w", err)
		}
		w.authn, err = auth.New(auth.Options{
			Path: cfg.Auth.ConfigPath, MasterKey: key, State: a.state, Clock: o.Clock,
			Logger: o.Logger, Registerer: a.Registry,
		})
		if err != nil {
			return nil, fmt.Errorf("[auth] config_path %s: %w", cfg.Auth.ConfigPath, err)
		}
	}
	if cfg.RateLimit.Enabled {
		rc, warns, err := ratelimit.LoadFile(cfg.RateLimit.ConfigPath)
		for _, wr := range warns {
			o.Logger.Warn("rate limit config warning", "warning", wr)
		}
		if err != nil {
			return nil, fmt.Errorf("[rate_limit] config_path %s: %w", cfg.RateLimit.ConfigPath, err)
		}
		w.limiter, err = ratelimit.New(ratelimit.Options{
			Config: rc, State: a.state, OnError: cfg.RateLimit.OnError, Logger: o.Logger, Registerer: a.Registry,
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.TLS.Enabled {
		tc, err := serverTLSConfig(cfg.TLS.Server)
		if err != nil {
			return nil, fmt.Errorf("[tls]: %w", err)
		}
		w.tls = tc
	}
	return w, nil
}

// serverTLSConfig loads the server certificate and, when client_ca_path is
// set, the CAs client certificates must chain to.
func serverTLSConfig(s config.TLSServer) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(s.CertPath, s.KeyPath)
	if err != nil {
		// The error names the files, never their contents.
		return nil, fmt.Errorf("loading server certificate %s and key %s: %w", s.CertPath, s.KeyPath, err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if s.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if s.ClientCAPath != "" {
		pem, err := os.ReadFile(s.ClientCAPath)
		if err != nil {
			return nil, fmt.Errorf("client_ca_path: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client_ca_path %s: no PEM certificate found", s.ClientCAPath)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		if s.ClientAuth == "verify_if_given" {
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return tc, nil
}

// chain is an api.Authenticator made of middlewares, outermost first.
type chain []func(http.Handler) http.Handler

func (c chain) Middleware(next http.Handler) http.Handler {
	for i := len(c) - 1; i >= 0; i-- {
		next = c[i](next)
	}
	return next
}

// apply adds authentication, the caller and tenant rate limits, the input
// limits and the auth routes to the API options.
func (w *authWiring) apply(o api.Options) api.Options {
	var c chain
	if w.authn != nil {
		c = append(c, w.authn.Middleware)
	}
	if w.limiter != nil {
		c = append(c, w.limiter.Middleware)
		o.TenantLimiter = w.limiter
	}
	if len(c) > 0 {
		o.Authenticator = c
	}
	o.MaxPayloadDepth = int(w.cfg.Server.MaxPayloadDepth)
	o.MaxMetadataLabels = int(w.cfg.Server.MaxMetadataLabels)
	routes := api.AuthRoutes{MaxBodyBytes: w.cfg.Server.MaxBodyBytes, Config: func() any { return w.cfg.Sanitized() }}
	if w.authn != nil {
		routes.Sessions = w.authn
	}
	o.Register = append(o.Register, routes.Register)
	return o
}

// startAuth starts the auth.toml watcher when [auth] watch is on and the
// ratelimit.toml watcher when [rate_limit] watch is on.
func (a *App) startAuth(ctx context.Context) error {
	if a.auth == nil {
		return nil
	}
	if a.auth.authn != nil && a.Config.Auth.Watch {
		if err := a.auth.authn.Watch(ctx); err != nil {
			return err
		}
	}
	if a.auth.limiter != nil && a.Config.RateLimit.Watch {
		o := filewatch.File(a.Config.RateLimit.ConfigPath, func() { a.reloadRateLimits() })
		o.Logger, o.Name = a.log, "rate_limit"
		if err := filewatch.Watch(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// reloadRateLimits loads ratelimit.toml again and swaps the limits in; a
// file that does not load leaves the previous limits in force.
func (a *App) reloadRateLimits() error {
	path := a.Config.RateLimit.ConfigPath
	rc, warns, err := ratelimit.LoadFile(path)
	for _, w := range warns {
		a.log.Warn("rate limit config warning", "file", path, "warning", w)
	}
	if err != nil {
		a.log.Error("rate limit config reload failed; the previous limits stay in force", "file", path, "err", err)
		return err
	}
	a.auth.limiter.Swap(rc)
	a.log.Info("rate limits reloaded", "file", path)
	return nil
}

// Authenticator returns the authenticator (nil when [auth] is disabled).
func (a *App) Authenticator() *auth.Authenticator {
	if a.auth == nil {
		return nil
	}
	return a.auth.authn
}

// listenTLS wraps the listener in TLS when [tls] is enabled.
func (a *App) listenTLS(ln net.Listener) net.Listener {
	if a.auth == nil || a.auth.tls == nil {
		return ln
	}
	return tls.NewListener(ln, a.auth.tls)
}

// applyServerLimits sets the header size and slow-client timeouts from
// [server].
func (a *App) applyServerLimits(hs *http.Server) {
	s := a.Config.Server
	if s.MaxHeaderBytes > 0 {
		hs.MaxHeaderBytes = int(min(s.MaxHeaderBytes, 1<<30))
	}
	sec := func(n uint64) time.Duration { return time.Duration(min(n, 1<<31)) * time.Second }
	if s.ReadHeaderTimeoutSeconds > 0 {
		hs.ReadHeaderTimeout = sec(s.ReadHeaderTimeoutSeconds)
	}
	if s.ReadTimeoutSeconds > 0 {
		hs.ReadTimeout = sec(s.ReadTimeoutSeconds)
	}
	if s.IdleTimeoutSeconds > 0 {
		hs.IdleTimeout = sec(s.IdleTimeoutSeconds)
	}
	if a.auth != nil && a.auth.tls != nil {
		hs.TLSConfig = a.auth.tls
	}
	// Handshake failures and the like go to the gateway's logger, not
	// the process-wide log package.
	if hs.ErrorLog == nil {
		hs.ErrorLog = slog.NewLogLogger(a.log.With("component", "http").Handler(), slog.LevelWarn)
	}
}
