package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

// Defaults for the zero values of Config.
const (
	DefaultURL          = "http://127.0.0.1:8123"
	DefaultDatabase     = "default"
	DefaultPrefix       = "acteon_"
	DefaultOpTimeout    = 5 * time.Second
	DefaultMaxConns     = 16
	DefaultPipelines    = 2
	DefaultMaxBatch     = 512
	DefaultCacheEntries = 1 << 17
)

// Config configures a Store. Zero values take the defaults above.
type Config struct {
	// URL of the HTTP interface, e.g. http://user:password@host:8123. The
	// password is sent as HTTP basic auth and never appears in errors.
	URL string `toml:"url"`
	// Database holding the tables (an identifier: letters, digits, '_').
	Database string `toml:"database"`
	// Prefix of every table name (letters, digits, '_').
	Prefix string `toml:"prefix"`
	// OpTimeout bounds every round trip, and so how long an operation can
	// wait on a hung server before failing with state.ErrUnavailable.
	OpTimeout time.Duration `toml:"op_timeout"`
	// MaxConns caps the HTTP connections to the server.
	MaxConns int `toml:"max_conns"`
	// Pipelines is the number of batching workers. Keys are spread over
	// them by hash; each serialises the operations on its keys and sends
	// the concurrent ones in one statement.
	Pipelines int `toml:"pipelines"`
	// MaxBatch caps the operations one worker sends in one statement.
	MaxBatch int `toml:"max_batch"`
	// CacheEntries bounds the in-process copy of the latest row of the
	// keys this Store wrote or read (all workers together).
	CacheEntries int `toml:"cache_entries"`
	// Clock tells the time used for expiry; nil means the wall clock.
	Clock clock.Clock `toml:"-"`
}

func (c *Config) withDefaults() {
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
	if c.Pipelines <= 0 {
		c.Pipelines = DefaultPipelines
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.CacheEntries <= 0 {
		c.CacheEntries = DefaultCacheEntries
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
}

// Validate reports every invalid field (after defaults are applied).
func (c Config) Validate() error {
	c.withDefaults()
	var errs []error
	if !validIdent(c.Database, false) {
		errs = append(errs, fmt.Errorf("state/clickhouse: database %q: must be letters, digits and '_'", c.Database))
	}
	if !validIdent(c.Prefix, false) {
		errs = append(errs, fmt.Errorf("state/clickhouse: prefix %q: must be letters, digits and '_'", c.Prefix))
	}
	return errors.Join(errs...)
}

// Store is the ClickHouse state backend. It is safe for concurrent use;
// see the package documentation for its consistency model.
type Store struct {
	cfg     Config
	cl      *client
	clock   clock.Clock
	tState  string // database.table names
	tLocks  string
	tTimeo  string
	workers []*worker
	lastTS  atomic.Uint64

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

var _ state.Store = (*Store)(nil)

// New connects to the server and checks that it answers (SELECT 1). It does
// not create tables; call Migrate. An unreachable server gives an error
// that names the address (without credentials) and wraps
// state.ErrUnavailable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:    cfg,
		cl:     cl,
		clock:  cfg.Clock,
		tState: cfg.Database + "." + cfg.Prefix + "state",
		tLocks: cfg.Database + "." + cfg.Prefix + "locks",
		tTimeo: cfg.Database + "." + cfg.Prefix + "timeout_index",
		closed: make(chan struct{}),
	}
	if err := s.Ping(ctx); err != nil {
		cl.close()
		return nil, err
	}
	per := max(cfg.CacheEntries/cfg.Pipelines, 16)
	s.workers = make([]*worker, cfg.Pipelines)
	for i := range s.workers {
		w := newWorker(s, per)
		s.workers[i] = w
		s.wg.Go(w.run)
	}
	return s, nil
}

// Ping runs SELECT 1: one bare round trip.
func (s *Store) Ping(ctx context.Context) error {
	out, err := s.cl.do(ctx, "SELECT 1", nil, true, "")
	if err != nil {
		return fmt.Errorf("state/clickhouse: ping: %w", err)
	}
	if strings.TrimSpace(string(out)) != "1" {
		return fmt.Errorf("state/clickhouse: ping: unexpected answer %q", out)
	}
	return nil
}

// Close stops the workers (pending operations fail) and drops idle
// connections. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.wg.Wait()
		s.cl.close()
	})
	return nil
}

// tables returns the short names (without database) and their DDL.
func (s *Store) tables() []struct{ name, ddl string } {
	p := s.cfg.Prefix
	db := s.cfg.Database
	return []struct{ name, ddl string }{
		{p + "state", "CREATE TABLE IF NOT EXISTS " + db + "." + p + "state (" +
			"key String, value String, version UInt64, " +
			"expires_at_ms Int64, is_deleted UInt8, ts UInt64" +
			") ENGINE = ReplacingMergeTree(ts) ORDER BY key"},
		{p + "locks", "CREATE TABLE IF NOT EXISTS " + db + "." + p + "locks (" +
			"name String, owner String, expires_at_ms Int64, is_deleted UInt8, ts UInt64" +
			") ENGINE = ReplacingMergeTree(ts) ORDER BY name"},
		{p + "timeout_index", "CREATE TABLE IF NOT EXISTS " + db + "." + p + "timeout_index (" +
			"key String, deadline_ms Int64, is_deleted UInt8, ts UInt64" +
			") ENGINE = ReplacingMergeTree(ts) ORDER BY key"},
	}
}

// Migrate creates the tables it needs if they do not exist (idempotent).
func (s *Store) Migrate(ctx context.Context) error {
	for _, t := range s.tables() {
		if _, err := s.cl.do(ctx, t.ddl, nil, false, ""); err != nil {
			return fmt.Errorf("state/clickhouse: migrate %s.%s: %w", s.cfg.Database, t.name, err)
		}
	}
	return nil
}

// CheckSchema returns nil when every table exists, else an error naming the
// missing ones.
func (s *Store) CheckSchema(ctx context.Context) error {
	q := appendQuoted([]byte("SELECT name FROM system.tables WHERE database = "), s.cfg.Database)
	q = append(q, " AND name IN ("...)
	ts := s.tables()
	for i, t := range ts {
		if i > 0 {
			q = append(q, ',')
		}
		q = appendQuoted(q, t.name)
	}
	q = append(q, ") FORMAT RowBinary"...)
	out, err := s.cl.do(ctx, string(q), nil, true, "")
	if err != nil {
		return fmt.Errorf("state/clickhouse: check schema: %w", err)
	}
	have := map[string]bool{}
	r := reader{b: out}
	for r.more() {
		have[r.string()] = true
	}
	if err := r.done(); err != nil {
		return fmt.Errorf("state/clickhouse: check schema: %w", err)
	}
	var missing []string
	for _, t := range ts {
		if !have[t.name] {
			missing = append(missing, s.cfg.Database+"."+t.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("state/clickhouse: schema not ready: missing table(s) %s (run migrate)", strings.Join(missing, ", "))
	}
	return nil
}

// nextTS returns a version for ReplacingMergeTree that is larger than
// every earlier one from this Store and than floor: the wall clock in
// nanoseconds, bumped when the clock stands still or steps back.
func (s *Store) nextTS(floor uint64) uint64 {
	for {
		last := s.lastTS.Load()
		n := uint64(time.Now().UnixNano())
		n = max(n, last+1, floor+1)
		if s.lastTS.CompareAndSwap(last, n) {
			return n
		}
	}
}

func (s *Store) nowNs() int64 { return s.clock.Now().UnixNano() }
