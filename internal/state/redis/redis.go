package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/acteon/acteon-go/internal/state"
)

// Store is the Redis state backend. It is safe for concurrent use.
type Store struct {
	client      *goredis.Client
	p           pipeliner
	addr        string // URL without user information, for messages
	entryPrefix string // "<prefix>:"
	lockPrefix  string // "<prefix>|lock:"
	timeoutKey  string // "<prefix>:timeout_index"
	opTimeout   time.Duration
}

var _ state.Store = (*Store)(nil)

// New connects to the server, checks that it answers and loads the Lua
// scripts. An unreachable server gives an error naming the address (never
// the password) and wrapping state.ErrUnavailable. New creates nothing:
// Redis has no schema.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	addr := redactURL(cfg.URL)
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("state/redis: invalid url %s: %v", addr, err)
	}
	opt.PoolSize = cfg.PoolSize
	opt.DialTimeout = cfg.DialTimeout
	opt.ReadTimeout = cfg.OpTimeout
	opt.WriteTimeout = cfg.OpTimeout
	opt.PoolTimeout = cfg.OpTimeout
	// Deadlines come from each operation's context (see pipeliner).
	opt.ContextTimeoutEnabled = true
	// No automatic retries: a retried CheckAndSet whose first attempt was
	// applied would report a duplicate that never happened.
	opt.MaxRetries = -1
	// One dial attempt per connection: a refused connection fails the
	// operation at once instead of after 5 backed-off attempts.
	opt.DialerRetries = 1
	// Skip CLIENT SETINFO and CLIENT MAINT_NOTIFICATIONS on every new
	// connection: two round trips we have no use for.
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if opt.PipelinePoolSize < cfg.Pipelines+1 {
		opt.PipelinePoolSize = cfg.Pipelines + 1
	}

	goredis.SetLogger(clientLogger{cfg.Logger})
	client := goredis.NewClient(opt)
	s := &Store{
		client:      client,
		addr:        addr,
		entryPrefix: cfg.Prefix + ":",
		lockPrefix:  cfg.Prefix + "|lock:",
		timeoutKey:  cfg.Prefix + ":timeout_index",
		opTimeout:   cfg.OpTimeout,
		p: pipeliner{
			client:    client,
			opTimeout: cfg.OpTimeout,
			max:       cfg.Pipelines,
			maxBatch:  cfg.MaxBatch,
		},
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout+cfg.OpTimeout)
	defer cancel()
	if err := s.loadScripts(cctx); err != nil {
		_ = client.Close()
		if unavailable(err) {
			return nil, fmt.Errorf("state/redis: cannot reach %s: %w (%w)", addr, err, state.ErrUnavailable)
		}
		return nil, fmt.Errorf("state/redis: connect to %s: %w", addr, err)
	}
	return s, nil
}

// loadScripts pings the server and caches every script (SCRIPT LOAD) in
// one round trip, so EVALSHA hits from the first call.
func (s *Store) loadScripts(ctx context.Context) error {
	pipe := s.client.Pipeline()
	ping := pipe.Ping(ctx)
	loads := make([]*goredis.StringCmd, len(allScripts))
	for i, sc := range allScripts {
		loads[i] = pipe.ScriptLoad(ctx, sc.src)
	}
	_, _ = pipe.Exec(ctx)
	if err := ping.Err(); err != nil {
		return err
	}
	for i, sc := range allScripts {
		sha, err := loads[i].Result()
		if err != nil {
			return fmt.Errorf("load script %s: %w", sc.name, err)
		}
		if sha != sc.sha {
			return fmt.Errorf("load script %s: server returned sha %s, want %s", sc.name, sha, sc.sha)
		}
	}
	return nil
}

// Migrate does nothing: Redis has no schema.
func (s *Store) Migrate(context.Context) error { return nil }

// CheckSchema pings the server; Redis has no schema to check.
func (s *Store) CheckSchema(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return s.fail(ctx, "check schema", "", err)
	}
	return nil
}

// Close waits for operations in flight, then closes the connections.
// Operations after Close fail with an error wrapping state.ErrUnavailable.
func (s *Store) Close() error {
	s.p.close()
	err := s.client.Close()
	if err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("state/redis: close: %w", err)
	}
	return nil
}

// entryKey is the physical key of an entry: "<prefix>:ns:tenant:kind:id".
func (s *Store) entryKey(k state.Key) string {
	ns, tenant := state.Segment(k.Namespace), state.Segment(k.Tenant)
	return s.entryPrefix + ns + ":" + tenant + ":" + k.Kind + ":" + k.ID
}

// ttlArg is a TTL as PX milliseconds; 0 means none. Redis keeps a key
// while now <= its expiry, at millisecond precision, so a key set at t with
// PX n lives between n and n+1 ms. To be gone at exactly t+ttl, as the
// memory backend is (decision D14), PX is floor(ttl) - 1 ms, at least 1:
// an entry lives between ttl-1ms and ttl.
func ttlArg(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(int64(d/time.Millisecond)-1, 1)
}

var bg = context.Background()

// run sends one command through the pipeliner and returns it with its
// reply. A non-nil error means it was never sent.
func (s *Store) run(ctx context.Context, sc *script, args ...any) (*goredis.Cmd, error) {
	c := getCall()
	c.sc = sc
	c.cmd = goredis.NewCmd(bg, args...)
	if err := s.p.do(ctx, c); err != nil {
		return nil, err
	}
	cmd := c.cmd
	putCall(c)
	return cmd, nil
}

// reply runs the command and returns its error alongside.
func (s *Store) reply(ctx context.Context, sc *script, args ...any) (*goredis.Cmd, error) {
	cmd, err := s.run(ctx, sc, args...)
	if err != nil {
		return nil, err
	}
	return cmd, cmd.Err()
}

// CheckAndSet stores value if the key has no live entry: one native
// SET NX, which Redis applies atomically with its expiry.
func (s *Store) CheckAndSet(ctx context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	var err error
	if ttl > 0 {
		_, err = s.reply(ctx, nil, "set", s.entryKey(key), "1:"+value, "nx", "px", ttlArg(ttl))
	} else {
		_, err = s.reply(ctx, nil, "set", s.entryKey(key), "1:"+value, "nx")
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, goredis.Nil):
		return false, nil
	default:
		return false, s.fail(ctx, "check-and-set", key.String(), err)
	}
}

// get reads the raw "<version>:<value>" string (one GET).
func (s *Store) get(ctx context.Context, op string, key state.Key) (version, value string, err error) {
	cmd, err := s.reply(ctx, nil, "get", s.entryKey(key))
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return "", "", state.ErrNotFound
		}
		return "", "", s.fail(ctx, op, key.String(), err)
	}
	raw, err := cmd.Text()
	if err != nil {
		return "", "", s.fail(ctx, op, key.String(), badReply(raw, err))
	}
	version, value, ok := strings.Cut(raw, ":")
	if !ok {
		return "", "", s.fail(ctx, op, key.String(), errMalformed)
	}
	return version, value, nil
}

// errMalformed is the error for a key under the prefix that does not hold
// "<version>:<value>" (written by something else).
var errMalformed = errors.New("entry is not a versioned value")

// Get returns the live value.
func (s *Store) Get(ctx context.Context, key state.Key) (string, error) {
	_, v, err := s.get(ctx, "get", key)
	return v, err
}

// GetVersioned returns the live value and version.
func (s *Store) GetVersioned(ctx context.Context, key state.Key) (state.Entry, error) {
	ver, v, err := s.get(ctx, "get versioned", key)
	if err != nil {
		return state.Entry{}, err
	}
	n, err := strconv.ParseUint(ver, 10, 64)
	if err != nil {
		return state.Entry{}, s.fail(ctx, "get versioned", key.String(), errMalformed)
	}
	return state.Entry{Value: v, Version: n}, nil
}

// Set upserts the value and bumps the version (one EVALSHA).
func (s *Store) Set(ctx context.Context, key state.Key, value string, ttl time.Duration) error {
	if _, err := s.reply(ctx, scriptSet, "evalsha", scriptSet.shaArg, 1, s.entryKey(key), value, ttlArg(ttl)); err != nil {
		return s.fail(ctx, "set", key.String(), err)
	}
	return nil
}

// Delete removes the entry: one DEL, which counts only live keys.
func (s *Store) Delete(ctx context.Context, key state.Key) (bool, error) {
	cmd, err := s.reply(ctx, nil, "del", s.entryKey(key))
	if err != nil {
		return false, s.fail(ctx, "delete", key.String(), err)
	}
	n, err := cmd.Int64()
	if err != nil {
		return false, s.fail(ctx, "delete", key.String(), badReply(n, err))
	}
	return n > 0, nil
}

// Increment adds delta to the decimal value (one EVALSHA).
func (s *Store) Increment(ctx context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	cmd, err := s.reply(ctx, scriptIncrement, "evalsha", scriptIncrement.shaArg, 1, s.entryKey(key), delta, ttlArg(ttl))
	if err != nil {
		return 0, s.fail(ctx, "increment", key.String(), err)
	}
	v, err := cmd.Text()
	if err != nil {
		return 0, s.fail(ctx, "increment", key.String(), badReply(v, err))
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, s.fail(ctx, "increment", key.String(), badReply(v, err))
	}
	return n, nil
}

// IncrementWindow counts one hit in a fixed window (one EVALSHA).
func (s *Store) IncrementWindow(ctx context.Context, key state.Key, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("state/redis: increment window %s: window must be > 0, got %s", key, window)
	}
	cmd, err := s.reply(ctx, scriptIncrementWindow, "evalsha", scriptIncrementWindow.shaArg, 1, s.entryKey(key), ttlArg(window))
	if err != nil {
		return 0, 0, s.fail(ctx, "increment window", key.String(), err)
	}
	vals, err := cmd.Int64Slice()
	if err != nil || len(vals) != 2 {
		return 0, 0, s.fail(ctx, "increment window", key.String(), badReply(vals, err))
	}
	var left time.Duration
	switch {
	case vals[1] == -3: // a new window
		left = window
	case vals[1] > 0:
		left = time.Duration(vals[1]) * time.Millisecond
	}
	return vals[0], left, nil
}

// CompareAndSwap writes value if the live version equals expected (one
// EVALSHA). A missing key is a conflict.
func (s *Store) CompareAndSwap(ctx context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	cmd, err := s.reply(ctx, scriptCompareAndSwap, "evalsha", scriptCompareAndSwap.shaArg, 1, s.entryKey(key), expected, value, ttlArg(ttl))
	if err != nil {
		return s.fail(ctx, "compare-and-swap", key.String(), err)
	}
	vals, err := cmd.Slice()
	if err != nil || len(vals) == 0 {
		return s.fail(ctx, "compare-and-swap", key.String(), badReply(vals, err))
	}
	switch vals[0] {
	case int64(0):
		return nil
	case int64(1):
		return fmt.Errorf("state/redis: compare-and-swap %s: expected version %d, key missing: %w", key, expected, state.ErrConflict)
	default:
		var found any
		if len(vals) > 1 {
			found = vals[1]
		}
		return fmt.Errorf("state/redis: compare-and-swap %s: expected version %d, found %v: %w", key, expected, found, state.ErrConflict)
	}
}

// ScanKeys returns the live entries under ns:tenant:kind:prefix, sorted.
func (s *Store) ScanKeys(ctx context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	want := state.ScanPrefix(namespace, tenant, kind, prefix)
	return s.scan(ctx, "scan keys "+want, globEscape(s.entryPrefix+want)+"*", func(k string) bool {
		return strings.HasPrefix(k, want)
	})
}

// ScanKeysByKind returns the live entries of one kind, sorted. The glob's
// '*' also matches ':', so every key is re-parsed and checked.
func (s *Store) ScanKeysByKind(ctx context.Context, kind string) ([]state.KV, error) {
	return s.scan(ctx, "scan kind "+kind, globEscape(s.entryPrefix)+"*:*:"+globEscape(kind)+":*", func(k string) bool {
		pk, err := state.ParseKey(k)
		return err == nil && pk.Kind == kind
	})
}

// scanPage is the SCAN COUNT hint and the number of values read per
// pipeline.
const scanPage = 1000

func (s *Store) scan(ctx context.Context, op, match string, keep func(canonical string) bool) ([]state.KV, error) {
	seen := make(map[string]struct{})
	var keys []string
	var cursor uint64
	for {
		page, next, err := s.client.Scan(ctx, cursor, match, scanPage).Result()
		if err != nil {
			return nil, s.fail(ctx, op, "", err)
		}
		for _, k := range page {
			canon, ok := strings.CutPrefix(k, s.entryPrefix)
			if !ok || !keep(canon) {
				continue
			}
			if _, dup := seen[canon]; dup { // SCAN may return a key twice
				continue
			}
			seen[canon] = struct{}{}
			keys = append(keys, canon)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(keys)
	out := make([]state.KV, 0, len(keys))
	for chunk := range slices.Chunk(keys, scanPage) {
		pipe := s.client.Pipeline()
		cmds := make([]*goredis.StringCmd, len(chunk))
		for i, k := range chunk {
			cmds[i] = pipe.Get(ctx, s.entryPrefix+k)
		}
		_, _ = pipe.Exec(ctx)
		for i, cmd := range cmds {
			raw, err := cmd.Result()
			_, v, ours := strings.Cut(raw, ":")
			switch {
			case err == nil && ours:
				out = append(out, state.KV{Key: chunk[i], Value: v})
			case err == nil, errors.Is(err, goredis.Nil), goredis.HasErrorPrefix(err, "WRONGTYPE"):
				// Expired since SCAN saw it, or not one of our entries.
			default:
				return nil, s.fail(ctx, op, "", err)
			}
		}
	}
	return out, nil
}

// globEscape quotes the characters SCAN MATCH treats specially.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IndexTimeout puts the key in the timeout index (ZADD replaces the score).
func (s *Store) IndexTimeout(ctx context.Context, key state.Key, deadlineMs int64) error {
	if _, err := s.reply(ctx, nil, "zadd", s.timeoutKey, deadlineMs, key.String()); err != nil {
		return s.fail(ctx, "index timeout", key.String(), err)
	}
	return nil
}

// RemoveTimeoutIndex removes the key from the timeout index (ZREM).
func (s *Store) RemoveTimeoutIndex(ctx context.Context, key state.Key) error {
	if _, err := s.reply(ctx, nil, "zrem", s.timeoutKey, key.String()); err != nil {
		return s.fail(ctx, "remove timeout index", key.String(), err)
	}
	return nil
}

// GetExpiredTimeouts returns the keys due at nowMs, by deadline
// (ZRANGEBYSCORE -inf nowMs).
func (s *Store) GetExpiredTimeouts(ctx context.Context, nowMs int64) ([]string, error) {
	cmd, err := s.reply(ctx, nil, "zrangebyscore", s.timeoutKey, "-inf", nowMs)
	if err != nil {
		return nil, s.fail(ctx, "get expired timeouts", "", err)
	}
	keys, err := cmd.StringSlice()
	if err != nil {
		return nil, s.fail(ctx, "get expired timeouts", "", badReply(keys, err))
	}
	return keys, nil
}

// TryLock takes the named lock with a fresh owner token (SET NX PX).
func (s *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (state.Lock, error) {
	l := &lock{s: s, name: name, key: s.lockPrefix + name, owner: newToken()}
	var err error
	if ttl > 0 {
		_, err = s.reply(ctx, nil, "set", l.key, l.owner, "nx", "px", ttlArg(ttl))
	} else {
		_, err = s.reply(ctx, nil, "set", l.key, l.owner, "nx")
	}
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("state/redis: lock %s: %w", name, state.ErrLockHeld)
	}
	if err != nil {
		return nil, s.fail(ctx, "lock", name, err)
	}
	return l, nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}

// lock is a held lock; only its owner token can extend or release it.
type lock struct {
	s     *Store
	name  string
	key   string
	owner string
}

func (l *lock) Extend(ctx context.Context, ttl time.Duration) error {
	cmd, err := l.s.reply(ctx, scriptExtendLock, "evalsha", scriptExtendLock.shaArg, 1, l.key, l.owner, ttlArg(ttl))
	if err != nil {
		return l.s.fail(ctx, "extend lock", l.name, err)
	}
	if n, _ := cmd.Int64(); n != 1 {
		return fmt.Errorf("state/redis: extend lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

func (l *lock) Release(ctx context.Context) error {
	cmd, err := l.s.reply(ctx, scriptUnlock, "evalsha", scriptUnlock.shaArg, 1, l.key, l.owner)
	if err != nil {
		return l.s.fail(ctx, "release lock", l.name, err)
	}
	if n, _ := cmd.Int64(); n != 1 {
		return fmt.Errorf("state/redis: release lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

func (l *lock) Held(ctx context.Context) (bool, error) {
	cmd, err := l.s.reply(ctx, nil, "get", l.key)
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, l.s.fail(ctx, "lock held", l.name, err)
	}
	v, _ := cmd.Text()
	return v == l.owner, nil
}

// clientLogger routes the Redis client's messages to a slog.Logger at
// debug level (see Config.Logger); without one they are dropped instead of
// going to the standard logger's stderr.
type clientLogger struct{ log *slog.Logger }

func (l clientLogger) Printf(ctx context.Context, format string, v ...any) {
	if l.log == nil || !l.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "state/redis")
}
