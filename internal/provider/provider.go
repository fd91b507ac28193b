// Package provider is the contract between the executor and the systems that
// actually deliver an action (a webhook, a log line, Slack, …). In an
// action's path it is the last stop: rules decided, the gateway applied
// state, the executor calls Provider.Execute with a per-attempt deadline and
// retries what the returned *Error says is retryable.
package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acteon/acteon-go/action"
)

// Provider delivers actions. Implementations must be safe for concurrent use
// and must honour ctx's deadline.
type Provider interface {
	// Name is the configured name the provider is registered under.
	Name() string
	// Execute delivers one action. A non-nil error should be an *Error so
	// the executor knows whether to retry; any other error is treated as a
	// non-retryable execution failure.
	Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error)
	// HealthCheck reports whether the provider can currently deliver.
	HealthCheck(ctx context.Context) error
}

// Kind classifies a provider error. It is a bounded set, safe as a metric
// label.
type Kind string

// Error kinds and their wire codes.
const (
	KindNotFound        Kind = "NOT_FOUND"
	KindExecutionFailed Kind = "EXECUTION_FAILED"
	KindTimeout         Kind = "TIMEOUT"
	KindConnection      Kind = "CONNECTION"
	KindConfiguration   Kind = "CONFIGURATION"
	KindRateLimited     Kind = "RATE_LIMITED"
	KindSerialization   Kind = "SERIALIZATION"
)

// Error is a provider failure.
type Error struct {
	Kind    Kind
	Message string
	// RetryAfter, when set, is the provider's own hint (e.g. an HTTP
	// Retry-After header); the executor waits at least this long.
	RetryAfter time.Duration
	// Timeout is the attempt timeout, for KindTimeout messages.
	Timeout time.Duration
}

// Retryable reports whether the executor may try again: timeouts,
// connection errors and rate limiting are retryable.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindTimeout, KindConnection, KindRateLimited:
		return true
	}
	return false
}

// Error renders upstream's display text for each kind.
func (e *Error) Error() string {
	switch e.Kind {
	case KindNotFound:
		return "not found: " + e.Message
	case KindExecutionFailed:
		return "execution failed: " + e.Message
	case KindTimeout:
		if e.Message != "" {
			return e.Message
		}
		return fmt.Sprintf("timeout after %s", formatSeconds(e.Timeout))
	case KindConnection:
		return "connection error: " + e.Message
	case KindConfiguration:
		return "invalid configuration: " + e.Message
	case KindRateLimited:
		return "rate limited"
	case KindSerialization:
		return "serialization error: " + e.Message
	}
	return e.Message
}

func formatSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

// Constructors for the common kinds.
func Connection(format string, args ...any) *Error {
	return &Error{Kind: KindConnection, Message: fmt.Sprintf(format, args...)}
}

// ExecutionFailed returns a non-retryable failure.
func ExecutionFailed(format string, args ...any) *Error {
	return &Error{Kind: KindExecutionFailed, Message: fmt.Sprintf(format, args...)}
}

// Timeout returns a retryable timeout error for an attempt limit d.
func Timeout(d time.Duration) *Error { return &Error{Kind: KindTimeout, Timeout: d} }

// RateLimited returns a retryable rate-limit error.
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, RetryAfter: retryAfter}
}

// AsError converts any error into an *Error (unknown errors become
// non-retryable execution failures).
func AsError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Kind: KindExecutionFailed, Message: err.Error()}
}

// Registry maps provider names to providers. It is built once at start-up
// and read concurrently afterwards.
type Registry struct {
	byName map[string]Provider
	names  []string
}

// NewRegistry builds a registry; a duplicate name is an error (D27).
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("provider: duplicate provider name %q", p.Name())
		}
		r.byName[p.Name()] = p
		r.names = append(r.names, p.Name())
	}
	sortStrings(r.names)
	return r, nil
}

// Get returns the provider registered under name.
func (r *Registry) Get(name string) (Provider, bool) {
	if r == nil {
		return nil, false
	}
	p, ok := r.byName[name]
	return p, ok
}

// Has reports whether name is registered.
func (r *Registry) Has(name string) bool { _, ok := r.Get(name); return ok }

// Names returns registered names in sorted order.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	return r.names
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
