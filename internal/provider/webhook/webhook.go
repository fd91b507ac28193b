package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/provider"
)

// Type is the provider type name in `[[providers]] type = "webhook"`.
const Type = "webhook"

// Limits on what is read from responses (spec 03 §5.1).
const (
	// MaxResponseBody caps the success body that is read.
	MaxResponseBody = 1 << 20
	// maxErrorRead caps the error body that is read.
	maxErrorRead = 2048
	// MaxErrorBody caps the error body quoted in error messages.
	MaxErrorBody = 256
	// maxDrain is how much of an unread body is drained so the connection
	// can be reused; beyond it the connection is closed.
	maxDrain = 64 << 10

	DefaultTimeoutSeconds = 30
	DefaultMethod         = http.MethodPost
)

// ResponseHeaders are the answer headers copied into the provider response
// (lower-cased keys).
var ResponseHeaders = []string{"Content-Type", "Location", "ETag", "X-Request-Id", "X-Correlation-Id"}

// Config configures one webhook provider.
type Config struct {
	Name string `toml:"name"`
	// URL receives the requests; it may carry secrets and is never logged
	// or quoted in errors.
	URL string `toml:"url"`
	// Headers are added to every request (after Content-Type, so they can
	// override it).
	Headers map[string]string `toml:"headers"`
	// TimeoutSeconds bounds each request (default 30).
	TimeoutSeconds int `toml:"timeout_seconds"`
	// Method is the HTTP method (default POST).
	Method string `toml:"method"`
	// Client overrides the shared HTTP client (tests, custom TLS).
	Client *http.Client `toml:"-"`
}

// Validate checks the config and reports every problem.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	if c.URL == "" {
		errs = append(errs, errors.New("url: must not be empty"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not quoted: it may contain a secret.
		errs = append(errs, errors.New("url: must be an absolute http or https URL"))
	}
	if c.TimeoutSeconds < 0 {
		errs = append(errs, fmt.Errorf("timeout_seconds: must be >= 0, got %d", c.TimeoutSeconds))
	}
	if c.Method != "" && !validToken(c.Method) {
		errs = append(errs, fmt.Errorf("method: invalid HTTP method %q", c.Method))
	}
	keys := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validToken(k) {
			errs = append(errs, fmt.Errorf("headers: invalid header name %q", k))
		}
		if strings.ContainsAny(c.Headers[k], "\r\n\x00") {
			errs = append(errs, fmt.Errorf("headers.%s: value must not contain CR, LF or NUL", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		name := c.Name
		if name == "" {
			name = "?"
		}
		return fmt.Errorf("webhook %s: %w", name, err)
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// sharedClient is used by every webhook provider without Config.Client, so
// they share one keep-alive pool. Timeouts come from request contexts.
var sharedClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}()

// errRequestTimeout is the cause of a request's own deadline.
var errRequestTimeout = errors.New("webhook: request timeout")

// Provider sends actions to a URL. It is safe for concurrent use.
type Provider struct {
	name    string
	url     string
	method  string
	headers http.Header
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

// New builds a webhook provider.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		name:    cfg.Name,
		url:     cfg.URL,
		method:  cfg.Method,
		headers: make(http.Header, len(cfg.Headers)+2),
		timeout: time.Duration(cfg.TimeoutSeconds) * time.Second,
		client:  cfg.Client,
		now:     time.Now,
	}
	if p.method == "" {
		p.method = DefaultMethod
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeoutSeconds * time.Second
	}
	if p.client == nil {
		p.client = sharedClient
	}
	p.headers.Set("Content-Type", "application/json")
	p.headers.Set("User-Agent", "acteon-go")
	for k, v := range cfg.Headers {
		p.headers.Set(k, v)
	}
	return p, nil
}

// Name returns the configured name.
func (p *Provider) Name() string { return p.name }

// Execute sends a's JSON and maps the answer as the package doc describes.
func (p *Provider) Execute(ctx context.Context, a *action.Action) (*action.ProviderResponse, error) {
	if a == nil {
		return nil, &provider.Error{Kind: provider.KindSerialization, Message: "nil action"}
	}
	body, err := a.MarshalJSON()
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindSerialization, Message: err.Error()}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, bytes.NewReader(body))
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindConfiguration, Message: "cannot build request"}
	}
	req.Header = p.headers.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	defer drainClose(resp.Body)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
		if err != nil {
			return nil, p.transportError(ctx, err)
		}
		return &action.ProviderResponse{
			Status:  action.StatusSuccess,
			Body:    decodeBody(raw),
			Headers: selectHeaders(resp.Header),
		}, nil
	}
	return nil, p.statusError(resp)
}

// statusError maps a non-2xx answer.
func (p *Provider) statusError(resp *http.Response) *provider.Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorRead))
	msg := fmt.Sprintf("HTTP %d: %s", resp.StatusCode, truncateBody(raw))
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return &provider.Error{Kind: provider.KindRateLimited, Message: msg, RetryAfter: p.retryAfter(resp.Header)}
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooEarly:
		return &provider.Error{Kind: provider.KindConnection, Message: msg, RetryAfter: p.retryAfter(resp.Header)}
	default:
		return &provider.Error{Kind: provider.KindExecutionFailed, Message: msg}
	}
}

// transportError maps a failed round trip. The URL is stripped: *url.Error
// quotes it.
func (p *Provider) transportError(ctx context.Context, err error) *provider.Error {
	if context.Cause(ctx) == errRequestTimeout {
		return provider.Timeout(p.timeout)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &provider.Error{Kind: provider.KindTimeout, Message: "request timed out"}
	}
	if errors.Is(err, context.Canceled) {
		return provider.Connection("request cancelled")
	}
	return provider.Connection("request failed: %s", p.redact(err))
}

// redact renders err without the request URL.
func (p *Provider) redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if p.url != "" {
		s = strings.ReplaceAll(s, p.url, "[url]")
	}
	if u, perr := url.Parse(p.url); perr == nil {
		if u.RawQuery != "" {
			s = strings.ReplaceAll(s, u.RawQuery, "[query]")
		}
		if u.User != nil {
			s = strings.ReplaceAll(s, u.User.String(), "[userinfo]")
		}
		if len(u.Path) > 1 {
			s = strings.ReplaceAll(s, u.Path, "[path]")
		}
	}
	return s
}

// retryAfter parses Retry-After as delay-seconds or an HTTP date; anything
// else (or a date in the past) is zero. Hints are capped at 24 h.
func (p *Provider) retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(p.now()); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// HealthCheck sends HEAD to the URL; any answer below 500 is healthy.
func (p *Provider) HealthCheck(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, p.url, nil)
	if err != nil {
		return &provider.Error{Kind: provider.KindConfiguration, Message: "cannot build request"}
	}
	for k, v := range p.headers {
		if k != "Content-Type" {
			req.Header[k] = v
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return p.transportError(ctx, err)
	}
	drainClose(resp.Body)
	if resp.StatusCode >= 500 {
		return provider.Connection("health check: HTTP %d", resp.StatusCode)
	}
	return nil
}

func decodeBody(raw []byte) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if json.Valid(raw) {
		if v, err := action.DecodeJSONValue(raw); err == nil {
			return v
		}
	}
	return string(raw)
}

func selectHeaders(h http.Header) map[string]string {
	out := make(map[string]string, 2)
	for _, k := range ResponseHeaders {
		if v := h.Get(k); v != "" {
			out[strings.ToLower(k)] = v
		}
	}
	return out
}

// truncateBody quotes at most MaxErrorBody bytes of an error body, cut on
// a character boundary, with "...[truncated]" when cut.
func truncateBody(b []byte) string {
	if len(b) <= MaxErrorBody {
		return string(b)
	}
	cut := MaxErrorBody
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "...[truncated]"
}

func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

var _ provider.Provider = (*Provider)(nil)
