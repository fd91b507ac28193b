package dynamodb

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRegion      = "us-east-1"
	DefaultTableName   = "acteon_state"
	DefaultPrefix      = "acteon"
	DefaultOpTimeout   = 2 * time.Second
	DefaultMaxAttempts = 2
	DefaultMaxConns    = 256
)

// Config configures a Store. The zero value talks to AWS DynamoDB in
// us-east-1 with the standard credential chain, table acteon_state.
type Config struct {
	// URL overrides the DynamoDB endpoint (DynamoDB Local, dynalite:
	// "http://127.0.0.1:4567"); empty means AWS's regional endpoint. When
	// URL is set and neither AWS_ACCESS_KEY_ID nor AWS_PROFILE is in the
	// environment, the static credentials "local"/"local" are used so a
	// local emulator works out of the box.
	URL string `toml:"url"`
	// Region is the AWS region; default us-east-1.
	Region string `toml:"region"`
	// TableName is the single table every entry, lock and index item lives
	// in; default acteon_state.
	TableName string `toml:"table_name"`
	// Prefix starts every partition key ("{prefix}:{ns}:{tenant}"), so
	// several deployments can share a table; default "acteon". It must not
	// contain ':'.
	Prefix string `toml:"prefix"`
	// OpTimeout bounds each operation, SDK retries included; default 2 s.
	// An operation that runs out of time fails with state.ErrUnavailable.
	OpTimeout time.Duration `toml:"op_timeout"`
	// MaxAttempts is how many times one request is tried (first try
	// included) on a retryable failure, all within OpTimeout; default 2, so
	// a dead endpoint fails fast. Writes that a retry could get wrong are
	// not retried (see the package documentation).
	MaxAttempts int `toml:"max_attempts"`
	// MaxConns caps idle HTTP connections kept to the endpoint; default 256.
	// Concurrent operations each use their own connection.
	MaxConns int `toml:"max_conns"`
	// PurgeInterval is how often the purger started by Start deletes
	// expired entries, locks and stale index items; zero disables it
	// (expired entries stay invisible either way).
	PurgeInterval time.Duration `toml:"purge_interval"`
	// Clock is the source of "now" for every expiry; nil means the real
	// clock. Every expiry condition is evaluated against this client-side
	// time (see the package documentation on clock skew).
	Clock clock.Clock `toml:"-"`
}

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.TableName == "" {
		c.TableName = DefaultTableName
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// Validate reports every problem with the configuration (zero values are
// fine: they get defaults).
func (c Config) Validate() error {
	var errs []error
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("state/dynamodb: url: want http(s)://host[:port], got %q", redact(c.URL)))
		}
	}
	if strings.Contains(c.Prefix, ":") {
		errs = append(errs, fmt.Errorf("state/dynamodb: prefix: must not contain ':', got %q", c.Prefix))
	}
	if n := len(c.TableName); n != 0 && (n < 3 || n > 255 || strings.IndexFunc(c.TableName, badTableRune) >= 0) {
		errs = append(errs, fmt.Errorf("state/dynamodb: table_name: want 3-255 characters of [a-zA-Z0-9_.-], got %q", c.TableName))
	}
	if c.OpTimeout < 0 {
		errs = append(errs, fmt.Errorf("state/dynamodb: op_timeout: must be >= 0, got %s", c.OpTimeout))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("state/dynamodb: max_attempts: must be >= 0, got %d", c.MaxAttempts))
	}
	if c.PurgeInterval < 0 {
		errs = append(errs, fmt.Errorf("state/dynamodb: purge_interval: must be >= 0, got %s", c.PurgeInterval))
	}
	return errors.Join(errs...)
}

func badTableRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
}

// redact removes any user information from an endpoint URL so it can be
// printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	u.User = nil
	return u.String()
}
