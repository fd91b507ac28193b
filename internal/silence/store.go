package silence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/statecache"
)

// ErrNotFound: no silence has that id.
var ErrNotFound = errors.New("silence: not found")

// Kind is the state kind of stored silences; the id is the silence id.
const Kind = "silence"

// VersionKey is the cross-node change counter: every write increments it,
// and each node's cache rescans the silences only when it changed.
var VersionKey = state.Key{Namespace: "_system", Tenant: "_global", Kind: "sync_version", ID: "silences:v"}

// Retention is how long an ended silence stays readable
// (GET ?include_expired=true) before the backend drops it, as
// Alertmanager's default data retention.
const Retention = 120 * time.Hour

// Store keeps silences in the state backend and serves the hot path from an
// in-memory snapshot that Refresh keeps current. All methods are safe for
// concurrent use.
type Store struct {
	st    state.Store
	clock clock.Clock
	cache *statecache.Cache[Silence, snapshot]
}

type snapshot struct {
	all  []*Silence
	byNS map[string][]*Silence
	byID map[string]*Silence
}

// NewStore returns a store over st. Call Refresh (or Reload) to fill the
// cache.
func NewStore(st state.Store, clk clock.Clock, log *slog.Logger) *Store {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{st: st, clock: clk, cache: statecache.New(statecache.Config[Silence, snapshot]{
		Store: st, Clock: clk, Log: log, Kind: Kind, VersionKey: VersionKey,
		Decode: decode, Build: buildSnapshot, ErrPrefix: "silence", Noun: "silence",
	})}
}

func keyOf(sl *Silence) state.Key {
	return state.Key{Namespace: sl.Namespace, Tenant: sl.Tenant, Kind: Kind, ID: sl.ID}
}

func buildSnapshot(list []*Silence) *snapshot {
	sort.Slice(list, func(i, j int) bool {
		if !list[i].CreatedAt.Equal(list[j].CreatedAt) {
			return list[i].CreatedAt.Before(list[j].CreatedAt)
		}
		return list[i].ID < list[j].ID
	})
	sn := &snapshot{all: list, byNS: map[string][]*Silence{}, byID: make(map[string]*Silence, len(list))}
	for _, s := range list {
		sn.byNS[s.Namespace] = append(sn.byNS[s.Namespace], s)
		sn.byID[s.ID] = s
	}
	return sn
}

// decode reads a stored silence; compile (not Validate) so that an expired
// silence, which may end where it starts, still loads.
var decode = statecache.DecodeJSON("silence", (*Silence).compile)

func (s *Store) scan(ctx context.Context) ([]*Silence, error) { return s.cache.Scan(ctx) }

// Reload rescans the backend and replaces the cache.
func (s *Store) Reload(ctx context.Context) error { return s.cache.Reload(ctx) }

// Refresh reads the change counter (one state read) and rescans only when
// it moved since the last scan, or when the last scan is older than 30 s.
// It reports whether it rescanned.
func (s *Store) Refresh(ctx context.Context) (bool, error) { return s.cache.Refresh(ctx) }

func (s *Store) bump(ctx context.Context) error { return s.cache.Bump(ctx) }

// Match returns the first active silence (oldest first) that covers the
// namespace and tenant and whose matchers all match labels, from the cache.
// It allocates nothing.
func (s *Store) Match(namespace, tenant string, labels map[string]string, now time.Time) *Silence {
	for _, sl := range s.cache.Snapshot().byNS[namespace] {
		if tenantCovers(sl.Tenant, tenant) && sl.ActiveAt(now) && sl.Matches(labels) {
			return sl
		}
	}
	return nil
}

// Cached returns the cached silences, oldest first.
func (s *Store) Cached() []*Silence { return s.cache.Snapshot().all }

func (s *Store) ttl(sl *Silence) time.Duration {
	const forever = 100 * 365 * 24 * time.Hour
	d := sl.EndsAt.Add(Retention).Sub(s.clock.Now())
	switch {
	case d > forever:
		return 0
	case d < time.Minute:
		return time.Minute
	}
	return d
}

func encode(sl *Silence) (string, error) { return statecache.EncodeJSON("silence", sl) }

// Create validates and stores a new silence with a fresh id; CreatedAt and
// UpdatedAt come from the clock.
func (s *Store) Create(ctx context.Context, sl Silence) (Silence, error) {
	sl.ID = action.UUIDv7()
	sl.Matchers = append([]Matcher(nil), sl.Matchers...)
	if err := sl.Validate(); err != nil {
		return Silence{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	sl.CreatedAt, sl.UpdatedAt = now, now
	val, err := encode(&sl)
	if err != nil {
		return Silence{}, err
	}
	if err := s.st.Set(ctx, keyOf(&sl), val, s.ttl(&sl)); err != nil {
		return Silence{}, fmt.Errorf("silence: create: %w", err)
	}
	return sl, s.bump(ctx)
}

// locate finds the key of a silence by id: from the cache, else by a scan
// of the backend (a silence created on another node a moment ago).
func (s *Store) locate(ctx context.Context, id string) (*Silence, error) {
	if sl := s.cache.Snapshot().byID[id]; sl != nil {
		return sl, nil
	}
	list, err := s.scan(ctx)
	if err != nil {
		return nil, err
	}
	for _, sl := range list {
		if sl.ID == id {
			return sl, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Get reads one silence from the backend.
func (s *Store) Get(ctx context.Context, id string) (Silence, error) {
	loc, err := s.locate(ctx, id)
	if err != nil {
		return Silence{}, err
	}
	key := keyOf(loc)
	v, err := s.st.Get(ctx, key)
	if errors.Is(err, state.ErrNotFound) {
		return Silence{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Silence{}, fmt.Errorf("silence: get: %w", err)
	}
	sl, err := decode(state.KV{Key: key.String(), Value: v})
	if err != nil {
		return Silence{}, err
	}
	return *sl, nil
}

// Update applies fn to the stored silence and writes it back with a
// compare-and-swap, retrying on concurrent changes. The id, namespace,
// tenant and matchers cannot change. With validate false the result is not
// re-validated (expiring a silence that has not started yet).
func (s *Store) Update(ctx context.Context, id string, validate bool, fn func(*Silence) error) (Silence, error) {
	loc, err := s.locate(ctx, id)
	if err != nil {
		return Silence{}, err
	}
	key := keyOf(loc)
	for attempt := 0; attempt < 16; attempt++ {
		e, err := s.st.GetVersioned(ctx, key)
		if errors.Is(err, state.ErrNotFound) {
			return Silence{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return Silence{}, fmt.Errorf("silence: update: %w", err)
		}
		cur, err := decode(state.KV{Key: key.String(), Value: e.Value})
		if err != nil {
			return Silence{}, err
		}
		keep := *cur
		if err := fn(cur); err != nil {
			return Silence{}, err
		}
		cur.ID, cur.Namespace, cur.Tenant, cur.Matchers = keep.ID, keep.Namespace, keep.Tenant, keep.Matchers
		cur.CreatedAt, cur.CreatedBy = keep.CreatedAt, keep.CreatedBy
		if validate {
			if err := cur.Validate(); err != nil {
				return Silence{}, err
			}
		}
		cur.UpdatedAt = s.clock.Now().UTC().Truncate(time.Millisecond)
		val, err := encode(cur)
		if err != nil {
			return Silence{}, err
		}
		err = s.st.CompareAndSwap(ctx, key, e.Version, val, s.ttl(cur))
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err != nil {
			return Silence{}, fmt.Errorf("silence: update: %w", err)
		}
		return *cur, s.bump(ctx)
	}
	return Silence{}, fmt.Errorf("silence: update %s: too many concurrent changes: %w", id, state.ErrConflict)
}

// Expire ends the silence now (a soft delete: the record stays readable
// for Retention). An already ended silence is left as it is.
func (s *Store) Expire(ctx context.Context, id string) (Silence, error) {
	return s.Update(ctx, id, false, func(sl *Silence) error {
		now := s.clock.Now().UTC().Truncate(time.Millisecond)
		if sl.EndsAt.After(now) {
			sl.EndsAt = now
		}
		if sl.StartsAt.After(sl.EndsAt) {
			sl.StartsAt = sl.EndsAt
		}
		return nil
	})
}

// List reads the stored silences from the backend (not the cache, so a
// write on another node is visible at once), oldest first, filtered by
// namespace and tenant (exact) when non-empty; ended silences only with
// includeExpired.
func (s *Store) List(ctx context.Context, namespace, tenant string, includeExpired bool) ([]Silence, error) {
	list, err := s.scan(ctx)
	if err != nil {
		return nil, err
	}
	sn := buildSnapshot(list)
	now := s.clock.Now()
	out := make([]Silence, 0, len(sn.all))
	for _, sl := range sn.all {
		if namespace != "" && sl.Namespace != namespace || tenant != "" && sl.Tenant != tenant {
			continue
		}
		if !includeExpired && !now.Before(sl.EndsAt) {
			continue
		}
		out = append(out, *sl)
	}
	return out, nil
}
