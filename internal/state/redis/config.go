package redis

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultURL         = "redis://127.0.0.1:6379"
	DefaultPrefix      = "acteon"
	DefaultDialTimeout = 2 * time.Second
	DefaultOpTimeout   = 2 * time.Second
	DefaultPipelines   = 2
	DefaultMaxBatch    = 512
)

// Config says where the server is and how hard to use it. The zero value is
// usable: every zero field takes its default.
type Config struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS.
	// It may carry a password; the store never prints it. Default
	// DefaultURL.
	URL string `toml:"url"`
	// Prefix is put in front of every key the store writes, followed by ':'
	// for entries and '|' for locks. Default "acteon".
	Prefix string `toml:"prefix"`
	// PoolSize is the number of connections. Default 10 × GOMAXPROCS.
	PoolSize int `toml:"pool_size"`
	// DialTimeout bounds one connection attempt. Default 2 s.
	DialTimeout time.Duration `toml:"dial_timeout"`
	// OpTimeout bounds one operation, from the call until its reply
	// (including time spent queued behind other pipelines). A server that
	// does not answer within it yields an error wrapping
	// state.ErrUnavailable. Default 2 s.
	OpTimeout time.Duration `toml:"op_timeout"`
	// Pipelines is how many batches of coalesced commands may be on the
	// wire at once. Default 2.
	Pipelines int `toml:"pipelines"`
	// MaxBatch caps the number of commands sent in one pipeline. Default
	// 512.
	MaxBatch int `toml:"max_batch"`
	// Logger receives the Redis client's own messages (dial failures,
	// dropped connections) at debug level: the store reports every failed
	// operation through its errors, which callers log. Nil discards them.
	// The client library has one process-wide logger, so the last store
	// created decides where they go.
	Logger *slog.Logger `toml:"-"`
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.PoolSize == 0 {
		c.PoolSize = 10 * runtime.GOMAXPROCS(0)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.Pipelines == 0 {
		c.Pipelines = DefaultPipelines
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c
}

// Validate reports every field that is out of range (zero fields are fine:
// they take defaults). It never includes the URL's password.
func (c Config) Validate() error {
	var errs []error
	if c.URL != "" {
		if _, err := parseURL(c.URL); err != nil {
			errs = append(errs, err)
		}
	}
	if strings.ContainsAny(c.Prefix, " \t\r\n") {
		errs = append(errs, fmt.Errorf("state/redis: prefix must not contain white space, got %q", c.Prefix))
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("state/redis: pool_size must be >= 0, got %d", c.PoolSize))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("state/redis: dial_timeout must be >= 0, got %s", c.DialTimeout))
	}
	if c.OpTimeout < 0 {
		errs = append(errs, fmt.Errorf("state/redis: op_timeout must be >= 0, got %s", c.OpTimeout))
	}
	if c.Pipelines < 0 {
		errs = append(errs, fmt.Errorf("state/redis: pipelines must be >= 0, got %d", c.Pipelines))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("state/redis: max_batch must be >= 0, got %d", c.MaxBatch))
	}
	return errors.Join(errs...)
}

// parseURL checks the scheme and returns the URL. Its errors never contain
// the URL itself (url.Parse's do, password included).
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("state/redis: invalid url: %v", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("state/redis: invalid url: scheme must be redis or rediss, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("state/redis: invalid url: no host")
	}
	return u, nil
}

// redactURL returns scheme://host[/db] without user information, for
// messages. An unparsable URL becomes "redis://<invalid url>".
func redactURL(raw string) string {
	u, err := parseURL(raw)
	if err != nil {
		return "redis://<invalid url>"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" {
		s += u.Path
	}
	return s
}
