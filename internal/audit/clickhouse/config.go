package clickhouse

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultURL       = "http://127.0.0.1:8123"
	DefaultDatabase  = "default"
	DefaultPrefix    = "acteon_"
	DefaultOpTimeout = 10 * time.Second
	DefaultMaxConns  = 16
)

// Config configures a Store. Zero fields take the defaults above.
type Config struct {
	// URL is ClickHouse's HTTP interface, e.g. http://user:pass@host:8123.
	// Credentials in it are sent as HTTP basic auth and never appear in
	// errors or logs; query parameters in it are passed on to every request
	// (ClickHouse settings) and never printed either.
	URL string `toml:"url"`
	// Database holds the table. Default "default".
	Database string `toml:"database"`
	// Prefix starts the table name: {Prefix}audit. Default "acteon_".
	Prefix string `toml:"prefix"`
	// OpTimeout bounds each operation, round trips included. Default 10s.
	OpTimeout time.Duration `toml:"op_timeout"`
	// MaxConns bounds the pooled HTTP connections. Default 16.
	MaxConns int `toml:"max_conns"`
	// Clock gives CleanupExpired's "now" when it is passed a zero time; nil
	// means clock.Real.
	Clock clock.Clock `toml:"-"`
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// Validate reports every problem with c (after defaults), joined. The
// URL's credentials never appear in the messages.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if u, err := url.Parse(c.URL); err != nil {
		errs = append(errs, errors.New("audit/clickhouse: url: not a valid URL"))
	} else if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("audit/clickhouse: url: want http(s)://host:port, got %s", redactURL(u)))
	}
	if !isIdent(c.Database) {
		errs = append(errs, fmt.Errorf("audit/clickhouse: database: want letters, digits and _, not starting with a digit, got %q", c.Database))
	}
	if !isIdent(c.Prefix + "audit") {
		errs = append(errs, fmt.Errorf("audit/clickhouse: prefix: want letters, digits and _, not starting with a digit, got %q", c.Prefix))
	}
	return errors.Join(errs...)
}

// redactURL returns u as scheme://host/path: no credentials, no query (which
// may carry a password parameter), no fragment.
func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// isIdent reports whether s is a plain SQL identifier: [A-Za-z_][A-Za-z0-9_]*.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
