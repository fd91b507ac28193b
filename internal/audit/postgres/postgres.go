package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/clock"
)

// Defaults for Config.
const (
	DefaultPrefix         = "acteon_"
	DefaultMaxConns       = 10
	DefaultConnectTimeout = 5 * time.Second
	DefaultOpTimeout      = 5 * time.Second
	DefaultMigrateTimeout = 5 * time.Minute
)

// ErrInvalidRecord: Append was given a record PostgreSQL cannot store (no
// id, text that is not UTF-8 or holds a NUL, JSON that is not valid, a time
// or number out of range). The whole batch is refused.
var ErrInvalidRecord = errors.New("audit/postgres: record cannot be stored")

// ErrSchema: the table or one of its columns or indexes is missing or wrong
// (see CheckSchema); run Migrate.
var ErrSchema = errors.New("audit/postgres: schema not ready")

// Config configures a Store. Zero values take the defaults.
type Config struct {
	// URL is a PostgreSQL connection string (postgres://user:pass@host:port/db?…
	// or key=value form). It may hold a password; the store never prints it.
	URL string
	// Prefix starts the table name: {Prefix}audit. Default "acteon_". It
	// must be a lower-case SQL identifier: letters, digits and '_', not
	// starting with a digit, at most 38 characters.
	Prefix string
	// MaxConns bounds the pool. Default 10.
	MaxConns int
	// ConnectTimeout bounds one connection attempt. Default 5s.
	ConnectTimeout time.Duration
	// OpTimeout bounds every operation (one Append, one Query, one chunk of
	// CleanupExpired, Migrate, CheckSchema). Default 5s.
	OpTimeout time.Duration
	// MigrateTimeout bounds Migrate, which may build indexes on a large
	// existing table. Default 5m.
	MigrateTimeout time.Duration
	// Clock gives "now" to CleanupExpired when it is passed a zero time;
	// nil means clock.Real.
	Clock clock.Clock
}

// String renders the configuration with the URL's password masked, so that
// logging a Config never reveals it.
func (c Config) String() string {
	return fmt.Sprintf("{URL:%s Prefix:%s MaxConns:%d ConnectTimeout:%s OpTimeout:%s}",
		redactURL(c.URL), c.Prefix, c.MaxConns, c.ConnectTimeout, c.OpTimeout)
}

// GoString is String for %#v.
func (c Config) GoString() string { return "postgres.Config" + c.String() }

// LogValue is String for log/slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(c.URL)),
		slog.String("prefix", c.Prefix),
		slog.Int("max_conns", c.MaxConns),
		slog.Duration("connect_timeout", c.ConnectTimeout),
		slog.Duration("op_timeout", c.OpTimeout),
	)
}

var kvPasswordRE = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactURL masks the password of a URL or key=value connection string.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return kvPasswordRE.ReplaceAllString(raw, "${1}xxxxx")
}

// Store is the PostgreSQL audit store. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	addr  string // URL without password, for messages
	table string
	opTO  time.Duration
	migTO time.Duration
	clock clock.Clock
	sql   statements
}

var _ audit.Store = (*Store)(nil)

var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,37}$`)

// New connects to PostgreSQL and checks that it answers. It creates no
// schema (see Migrate). If the server cannot be reached the error names the
// address (without password) and wraps audit.ErrUnavailable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("audit/postgres: table prefix %q is not a lower-case SQL identifier of at most 38 characters", cfg.Prefix)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.MigrateTimeout <= 0 {
		cfg.MigrateTimeout = DefaultMigrateTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("audit/postgres: bad URL: %w", hidePassword(err, cfg.URL))
	}
	addr := address(pcfg)
	pcfg.MaxConns = int32(min(cfg.MaxConns, 1<<20))
	pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if pcfg.ConnConfig.RuntimeParams == nil {
		pcfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	pcfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("audit/postgres: cannot reach %s: %w: %w", addr, audit.ErrUnavailable, hidePassword(err, cfg.URL))
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("audit/postgres: cannot reach %s: %w", addr, hidePassword(err, cfg.URL))
		}
		if !unavailable(err) && !errors.Is(err, context.DeadlineExceeded) {
			// The server answered and refused us (bad password, no such
			// database): not an outage.
			return nil, fmt.Errorf("audit/postgres: cannot use %s: %w", addr, hidePassword(err, cfg.URL))
		}
		return nil, fmt.Errorf("audit/postgres: cannot reach %s: %w: %w", addr, audit.ErrUnavailable, hidePassword(err, cfg.URL))
	}
	table := cfg.Prefix + "audit"
	return &Store{
		pool:  pool,
		addr:  addr,
		table: table,
		opTO:  cfg.OpTimeout,
		migTO: cfg.MigrateTimeout,
		clock: cfg.Clock,
		sql:   newStatements(table),
	}, nil
}

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// Close releases the pool. It waits for connections in use to be returned.
// It is idempotent; the store must not be used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// op returns the context one operation runs under.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTO)
}

// fail wraps err from operation what. Connectivity failures (and our own
// operation timeout, while the caller's context is still live) wrap
// audit.ErrUnavailable.
func (s *Store) fail(parent context.Context, what string, err error) error {
	if parent.Err() == nil && (unavailable(err) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("audit/postgres: %s at %s: %w: %w", what, s.addr, audit.ErrUnavailable, err)
	}
	return fmt.Errorf("audit/postgres: %s: %w", what, err)
}

// unavailable reports whether err means the server could not be reached or
// the connection broke, as opposed to the server answering with an error.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now
			pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// address renders where the pool connects, without any password.
func address(c *pgxpool.Config) string {
	cc := c.ConnConfig
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), Path: "/" + cc.Database}
	if cc.User != "" {
		u.User = url.User(cc.User)
	}
	return u.String()
}

// hidePassword returns err with every occurrence of the URL's password
// masked in its message; errors.Is and errors.As still see err.
func hidePassword(err error, rawURL string) error {
	pw := password(rawURL)
	if pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return &maskedError{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

// password finds the password in a URL or key=value connection string.
func password(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
	}
	if m := kvPasswordRE.FindStringSubmatch(raw); m != nil {
		v := m[2]
		if strings.HasPrefix(v, "'") {
			v = strings.NewReplacer(`\'`, "'", `\\`, `\`).Replace(strings.Trim(v, "'"))
		}
		return v
	}
	return ""
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
