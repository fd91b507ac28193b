package logprov

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/provider"
)

// Type is the provider type name in `[[providers]] type = "log"`.
const Type = "log"

// Config configures a log provider. It has no keys beyond the name.
type Config struct {
	Name string `toml:"name"`
	// Logger receives the debug lines; nil discards them.
	Logger *slog.Logger `toml:"-"`
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("logprov: name: must not be empty")
	}
	return nil
}

// Provider logs actions. It is safe for concurrent use.
type Provider struct {
	name string
	log  *slog.Logger
	// body is shared by every response: it is the same for every call, and
	// building it per call cost more than the executor's whole hot path.
	body map[string]any
}

// New builds a log provider.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := cfg.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		name: cfg.Name,
		log:  l.With("component", "provider", "provider", cfg.Name),
		body: map[string]any{"provider": cfg.Name, "logged": true},
	}, nil
}

// Name returns the configured name.
func (p *Provider) Name() string { return p.name }

// Execute logs a at debug level and returns
// {"status":"success","body":{"provider":<name>,"logged":true},"headers":{}}.
// The Body map is shared between calls and must be treated as read-only;
// Headers is nil (it encodes as {}).
func (p *Provider) Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error) {
	if a == nil {
		return nil, &provider.Error{Kind: provider.KindSerialization, Message: "nil action"}
	}
	// Check first: building the attributes allocates even when debug is off.
	if p.log.Enabled(ctx, slog.LevelDebug) {
		p.log.LogAttrs(ctx, slog.LevelDebug, "action logged",
			slog.String("action_id", a.ID),
			slog.String("namespace", a.Namespace),
			slog.String("tenant", a.Tenant),
			slog.String("action_type", a.ActionType),
			slog.Any("payload", a.Payload),
		)
	}
	return &action.ProviderResponse{Status: action.StatusSuccess, Body: p.body}, nil
}

// HealthCheck always succeeds.
func (p *Provider) HealthCheck(context.Context) error { return nil }

// String names the provider for logs.
func (p *Provider) String() string { return fmt.Sprintf("log provider %q", p.name) }

var _ provider.Provider = (*Provider)(nil)
