package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acteon/acteon-go/internal/state"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultPrefix         = "acteon_"
	DefaultMaxConns       = 10
	DefaultConnectTimeout = 5 * time.Second
	DefaultOpTimeout      = 2 * time.Second
	DefaultPurgeInterval  = 60 * time.Second
)

// purgeBatch is how many expired rows one purge statement deletes; the purge
// loops until a statement deletes fewer, so no single transaction grows large.
const purgeBatch = 5000

// Config configures a Store. Only URL is required.
type Config struct {
	// URL is the server address, postgres://user:password@host:port/db?…
	// (any form pgx accepts). It may contain a password; the Store never
	// prints it.
	URL string
	// Prefix is prepended to every table and index name (default
	// "acteon_"). It must be a lowercase SQL identifier: letters, digits and
	// '_', not starting with a digit.
	Prefix string
	// MaxConns caps the connection pool (default 10).
	MaxConns int32
	// ConnectTimeout bounds establishing one connection, and the reachability
	// check in New (default 5 s).
	ConnectTimeout time.Duration
	// OpTimeout bounds every operation, connection wait included (default 2 s).
	OpTimeout time.Duration
	// PurgeInterval is how often the background purge deletes expired rows
	// (default 60 s; negative disables it). The first purge runs one interval
	// after New.
	PurgeInterval time.Duration
	// SynchronousCommit keeps PostgreSQL's durable commit for the store's
	// connections. The default (false) sets synchronous_commit = off: a
	// commit returns before its WAL reaches disk, which is much faster and
	// never corrupts anything, but a server crash may forget the last few
	// hundred milliseconds of writes (see the package documentation).
	SynchronousCommit bool
	// Logger receives purge failures. Nil discards them.
	Logger *slog.Logger
}

// Store is the PostgreSQL state backend. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	opTO    time.Duration
	addr    string // redacted address for error messages
	prefix  string
	tables  tableNames
	q       queries
	log     *slog.Logger
	cas     *batcher
	win     *batcher
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.Once
}

var _ state.Store = (*Store)(nil)

type tableNames struct {
	state, locks, timeouts string
}

// New connects to the server and checks that it answers. It does not create
// the schema (see Migrate and CheckSchema). An unreachable server is an error
// that names the address without its password and wraps
// state.ErrUnavailable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("state/postgres: config: url is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("state/postgres: config: prefix %q is not a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 40 characters)", cfg.Prefix)
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
	if cfg.PurgeInterval == 0 {
		cfg.PurgeInterval = DefaultPurgeInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	addr, password := redact(cfg.URL)

	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's parse errors redact the password, but scrub anyway.
		return nil, scrub(fmt.Errorf("state/postgres: invalid url %s: %w", addr, err), password)
	}
	pc.MaxConns = cfg.MaxConns
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "acteon-state"
	}
	if !cfg.SynchronousCommit {
		// Sent in the startup packet: no extra round trip per connection.
		pc.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}

	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, scrub(fmt.Errorf("state/postgres: cannot reach %s: %w: %w", addr, err, state.ErrUnavailable), password)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, scrub(fmt.Errorf("state/postgres: cannot reach %s: %w: %w", addr, err, state.ErrUnavailable), password)
	}

	s := &Store{
		pool:   pool,
		opTO:   cfg.OpTimeout,
		addr:   addr,
		prefix: cfg.Prefix,
		tables: tableNames{
			state:    cfg.Prefix + "state",
			locks:    cfg.Prefix + "locks",
			timeouts: cfg.Prefix + "timeout_index",
		},
		log:  logger,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	s.q = buildQueries(s.tables)
	// Concurrent batches: enough to keep a few connections busy while the
	// rest of the pool serves the other operations.
	par := max(1, int(cfg.MaxConns)/2)
	s.cas = newBatcher(par, maxBatch, s.execCheckAndSet)
	s.win = newBatcher(par, maxBatch, s.execIncrementWindow)
	if cfg.PurgeInterval > 0 {
		go s.purgeLoop(cfg.PurgeInterval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background purge and closes the pool. It is idempotent.
// Operations after Close fail.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		close(s.stop)
		<-s.done
		s.pool.Close()
	})
	return nil
}

func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 40 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// redact returns a printable form of the address without its password, and
// the password (empty if none) so that error texts can be scrubbed.
func redact(raw string) (addr, password string) {
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if u.User != nil {
			password, _ = u.User.Password()
		}
		q := u.Query()
		if p := q.Get("password"); p != "" {
			password = p
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted(), password
	}
	// Keyword/value form: show host and port only.
	host, port := "?", "5432"
	for _, f := range strings.Fields(raw) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		switch k {
		case "host":
			host = v
		case "port":
			port = v
		case "password":
			password = v
		}
	}
	return "postgres://" + host + ":" + port, password
}

// scrubbedError carries a message with the password removed while keeping
// the original chain for errors.Is.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrub(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

// opCtx bounds one operation by OpTimeout.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTO)
}

// wrap turns a driver error into the package's error: connectivity
// failures and timeouts wrap state.ErrUnavailable, a cancelled caller
// context is passed through, server-side errors are reported as is.
func (s *Store) wrap(parent context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if perr := parent.Err(); perr != nil && !errors.Is(perr, context.DeadlineExceeded) {
		return fmt.Errorf("state/postgres: %s: %w", op, perr)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "42P01": // undefined_table
			return fmt.Errorf("state/postgres: %s: %w (run `acteon migrate` or set auto_migrate = true)", op, err)
		case strings.HasPrefix(pg.Code, "08"), // connection exception
			pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03", // shutdown, cannot connect now
			pg.Code == "53300", // too many connections
			pg.Code == "57014": // query canceled (statement timeout)
			return fmt.Errorf("state/postgres: %s: %s: %w: %w", op, s.addr, state.ErrUnavailable, err)
		case pg.Code == "22P02" || pg.Code == "22003":
			return fmt.Errorf("state/postgres: %s: value is not an integer in range: %w", op, err)
		}
		return fmt.Errorf("state/postgres: %s: %w", op, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return fmt.Errorf("state/postgres: %s: %s: timed out: %w: %w", op, s.addr, state.ErrUnavailable, err)
	}
	return fmt.Errorf("state/postgres: %s: %s: %w: %w", op, s.addr, state.ErrUnavailable, err)
}

// Migrate creates every table and index the store needs. It is idempotent
// and safe to run from several nodes at once (it serialises on an advisory
// lock).
func (s *Store) Migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(s.opTO, 30*time.Second))
	defer cancel()
	t := s.tables
	stmts := []string{
		`SELECT pg_advisory_xact_lock(` + strconv.FormatInt(int64(advisoryKey(s.prefix)), 10) + `)`,
		`CREATE TABLE IF NOT EXISTS ` + t.state + ` (
			key TEXT COLLATE "C" PRIMARY KEY,
			value TEXT NOT NULL,
			version BIGINT NOT NULL DEFAULT 1,
			expires_at TIMESTAMPTZ)`,
		// BRIN: next to nothing to maintain on the insert path (dedup
		// markers), enough for the purge to skip ranges without expired rows.
		`CREATE INDEX IF NOT EXISTS ` + s.prefix + `state_expires_at_idx ON ` + t.state + ` USING brin (expires_at)`,
		`CREATE TABLE IF NOT EXISTS ` + t.locks + ` (
			name TEXT PRIMARY KEY,
			owner TEXT NOT NULL,
			expires_at TIMESTAMPTZ NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + t.timeouts + ` (
			key TEXT COLLATE "C" PRIMARY KEY,
			expires_at_ms BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + s.prefix + `_expires_at_idx ON ` + t.timeouts + ` (expires_at_ms)`,
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.wrap(ctx, "migrate", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return s.wrap(ctx, "migrate", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.wrap(ctx, "migrate", err)
	}
	return nil
}

// advisoryKey derives the advisory lock id Migrate takes from the prefix
// (FNV-1a), so stores with different prefixes do not wait on each other.
func advisoryKey(prefix string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(prefix); i++ {
		h ^= uint32(prefix[i])
		h *= 16777619
	}
	return h
}

// CheckSchema returns nil if every table exists in the current schema, else
// an error naming each missing one.
func (s *Store) CheckSchema(ctx context.Context) error {
	ctx2, cancel := s.opCtx(ctx)
	defer cancel()
	want := []string{s.tables.state, s.tables.locks, s.tables.timeouts}
	rows, err := s.pool.Query(ctx2,
		`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1::text[])`, want)
	if err != nil {
		return s.wrap(ctx, "check schema", err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return s.wrap(ctx, "check schema", err)
		}
		have[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap(ctx, "check schema", err)
	}
	var missing []string
	for _, t := range want {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("state/postgres: missing table %s (run `acteon migrate` or set auto_migrate = true)", missing[0])
	default:
		return fmt.Errorf("state/postgres: missing tables %s (run `acteon migrate` or set auto_migrate = true)", strings.Join(missing, ", "))
	}
}

// DropTables removes the store's tables (for tests and `acteon migrate
// --drop`-style tooling). Data is lost.
func (s *Store) DropTables(ctx context.Context) error {
	ctx2, cancel := context.WithTimeout(ctx, max(s.opTO, 30*time.Second))
	defer cancel()
	_, err := s.pool.Exec(ctx2, `DROP TABLE IF EXISTS `+s.tables.state+`, `+s.tables.locks+`, `+s.tables.timeouts)
	return s.wrap(ctx, "drop tables", err)
}

func (s *Store) purgeLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			n, err := s.Purge(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("state/postgres: purge of expired rows failed", "err", err)
				}
				continue
			}
			if n > 0 {
				s.log.Debug("state/postgres: purged expired rows", "rows", n)
			}
		}
	}
}

// Purge deletes expired state rows and expired locks now and returns how
// many state rows it removed. The background purge calls it; tests may too.
// Rows are deleted in batches, each its own statement.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	var total int64
	for {
		ctx2, cancel := context.WithTimeout(ctx, max(s.opTO, 10*time.Second))
		tag, err := s.pool.Exec(ctx2, s.q.purge)
		cancel()
		if err != nil {
			return total, s.wrap(ctx, "purge", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatch {
			break
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, max(s.opTO, 10*time.Second))
	_, err := s.pool.Exec(ctx2, s.q.purgeLocks)
	cancel()
	return total, s.wrap(ctx, "purge locks", err)
}
