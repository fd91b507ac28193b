package statecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

// FullRescanEvery bounds how stale a cache can get when a version bump was
// lost: Refresh rescans at least this often.
const FullRescanEvery = 30 * time.Second

// Config describes one cached state kind.
type Config[T, S any] struct {
	Store state.Store
	Clock clock.Clock // nil = clock.Real
	Log   *slog.Logger
	// Kind is the state kind scanned.
	Kind string
	// VersionKey is the cross-node change counter.
	VersionKey state.Key
	// Decode turns one stored entry into a value; entries it rejects are
	// logged and skipped by Scan.
	Decode func(state.KV) (*T, error)
	// Build indexes a scan into a snapshot; it may reorder list. It is
	// called with nil for the initial, empty snapshot.
	Build func(list []*T) *S
	// ErrPrefix starts error messages ("silence" gives "silence: scan: …").
	ErrPrefix string
	// Noun names one entry in log messages ("silence", "time interval").
	Noun string
}

// Cache holds the latest snapshot of one state kind. All methods are safe
// for concurrent use.
type Cache[T, S any] struct {
	cfg  Config[T, S]
	snap atomic.Pointer[S]

	mu       sync.Mutex // serialises refreshes
	lastVer  string
	lastFull time.Time
	loaded   bool
}

// New returns a cache holding the empty snapshot (Build(nil)). Call Refresh
// or Reload to fill it.
func New[T, S any](cfg Config[T, S]) *Cache[T, S] {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Cache[T, S]{cfg: cfg}
	c.snap.Store(cfg.Build(nil))
	return c
}

// Snapshot returns the current snapshot. It allocates nothing.
func (c *Cache[T, S]) Snapshot() *S { return c.snap.Load() }

// Scan reads and decodes every stored entry of the kind from the backend
// (not the cache). Undecodable entries are logged and skipped.
func (c *Cache[T, S]) Scan(ctx context.Context) ([]*T, error) {
	kvs, err := c.cfg.Store.ScanKeysByKind(ctx, c.cfg.Kind)
	if err != nil {
		return nil, fmt.Errorf("%s: scan: %w", c.cfg.ErrPrefix, err)
	}
	out := make([]*T, 0, len(kvs))
	for _, kv := range kvs {
		v, err := c.cfg.Decode(kv)
		if err != nil {
			c.cfg.Log.Warn("skipping a stored "+c.cfg.Noun, "key", kv.Key, "err", err)
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

func (c *Cache[T, S]) readVersion(ctx context.Context) (string, error) {
	v, err := c.cfg.Store.Get(ctx, c.cfg.VersionKey)
	if errors.Is(err, state.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: read sync version: %w", c.cfg.ErrPrefix, err)
	}
	return v, nil
}

// Reload rescans the backend and replaces the snapshot.
func (c *Cache[T, S]) Reload(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ver, err := c.readVersion(ctx)
	if err != nil {
		return err
	}
	return c.reloadLocked(ctx, ver)
}

func (c *Cache[T, S]) reloadLocked(ctx context.Context, ver string) error {
	list, err := c.Scan(ctx)
	if err != nil {
		return err
	}
	c.snap.Store(c.cfg.Build(list))
	c.lastVer, c.lastFull, c.loaded = ver, c.cfg.Clock.Now(), true
	return nil
}

// Refresh reads the change counter (one state read) and rescans only when
// it moved since the last scan, or when the last scan is older than
// FullRescanEvery. It reports whether it rescanned.
func (c *Cache[T, S]) Refresh(ctx context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ver, err := c.readVersion(ctx)
	if err != nil {
		return false, err
	}
	if c.loaded && ver == c.lastVer && c.cfg.Clock.Now().Sub(c.lastFull) < FullRescanEvery {
		return false, nil
	}
	return true, c.reloadLocked(ctx, ver)
}

// Bump increments the change counter after a write, then reloads the local
// snapshot so this node sees its own write at once. A failed reload is only
// logged: the poller will retry.
func (c *Cache[T, S]) Bump(ctx context.Context) error {
	if _, err := c.cfg.Store.Increment(ctx, c.cfg.VersionKey, 1, 0); err != nil {
		return fmt.Errorf("%s: bump sync version: %w", c.cfg.ErrPrefix, err)
	}
	if err := c.Reload(ctx); err != nil {
		c.cfg.Log.Warn(c.cfg.Noun+" cache refresh after a write failed; the poller will retry", "err", err)
	}
	return nil
}

// DecodeJSON returns a Config.Decode that unmarshals an entry's JSON value
// into a T and checks it with check (nil = no check). Errors read
// "<prefix>: decode <key>: …" and "<prefix>: stored <key>: …".
func DecodeJSON[T any](prefix string, check func(*T) error) func(state.KV) (*T, error) {
	return func(kv state.KV) (*T, error) {
		var v T
		if err := json.Unmarshal([]byte(kv.Value), &v); err != nil {
			return nil, fmt.Errorf("%s: decode %s: %w", prefix, kv.Key, err)
		}
		if check != nil {
			if err := check(&v); err != nil {
				return nil, fmt.Errorf("%s: stored %s: %w", prefix, kv.Key, err)
			}
		}
		return &v, nil
	}
}

// EncodeJSON marshals v for storage; errors read "<prefix>: encode: …".
func EncodeJSON(prefix string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: encode: %w", prefix, err)
	}
	return string(b), nil
}
