package timeinterval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/statecache"
)

// Sentinel errors of the store.
var (
	ErrNotFound = errors.New("timeinterval: not found")
	ErrExists   = errors.New("timeinterval: already exists")
)

// Kind is the state kind of stored intervals; the id is the interval name.
const Kind = "time_interval"

// VersionKey is the cross-node change counter: every write increments it,
// and each node's cache rescans the intervals only when it changed.
var VersionKey = state.Key{Namespace: "_system", Tenant: "_global", Kind: "sync_version", ID: "time_intervals:v"}

// fullRescanEvery bounds how stale a cache can get if a version bump was
// lost (a backend restarted without persistence, say).
const fullRescanEvery = statecache.FullRescanEvery

// Store keeps time intervals in the state backend and serves the hot path
// from an in-memory snapshot that Refresh keeps current. All methods are
// safe for concurrent use.
type Store struct {
	st    state.Store
	clock clock.Clock
	cache *statecache.Cache[Interval, snapshot]
}

type snapshot struct {
	all []*Interval
	// byNS: namespace -> name -> intervals, most specific tenant first.
	byNS  map[string]map[string][]*Interval
	names map[string]bool
}

// NewStore returns a store over st. Call Refresh (or Reload) before the
// first Lookup; until then the cache is empty.
func NewStore(st state.Store, clk clock.Clock, log *slog.Logger) *Store {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Store{st: st, clock: clk, cache: statecache.New(statecache.Config[Interval, snapshot]{
		Store: st, Clock: clk, Log: log, Kind: Kind, VersionKey: VersionKey,
		Decode: decode, Build: buildSnapshot, ErrPrefix: "timeinterval", Noun: "time interval",
	})}
}

func keyOf(ns, tenant, name string) state.Key {
	return state.Key{Namespace: ns, Tenant: tenant, Kind: Kind, ID: name}
}

func buildSnapshot(list []*Interval) *snapshot {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		return a.Name < b.Name
	})
	sn := &snapshot{all: list, byNS: map[string]map[string][]*Interval{}, names: map[string]bool{}}
	for _, iv := range list {
		m := sn.byNS[iv.Namespace]
		if m == nil {
			m = map[string][]*Interval{}
			sn.byNS[iv.Namespace] = m
		}
		m[iv.Name] = append(m[iv.Name], iv)
		sn.names[iv.Name] = true
	}
	for _, m := range sn.byNS {
		for _, l := range m {
			sort.SliceStable(l, func(i, j int) bool { return len(l[i].Tenant) > len(l[j].Tenant) })
		}
	}
	return sn
}

var decode = statecache.DecodeJSON("timeinterval", (*Interval).Validate)

// scan reads every stored interval. Undecodable entries are logged and
// skipped.
func (s *Store) scan(ctx context.Context) ([]*Interval, error) { return s.cache.Scan(ctx) }

// Reload rescans the backend and replaces the cache.
func (s *Store) Reload(ctx context.Context) error { return s.cache.Reload(ctx) }

// Refresh reads the change counter (one state read) and rescans only when
// it moved since the last scan, or when the last scan is older than 30 s.
// It reports whether it rescanned.
func (s *Store) Refresh(ctx context.Context) (bool, error) { return s.cache.Refresh(ctx) }

// bump increments the change counter after a write, then refreshes the
// local cache so this node sees its own write at once.
func (s *Store) bump(ctx context.Context) error { return s.cache.Bump(ctx) }

// Lookup returns the interval named name that applies to an action of
// namespace and tenant (the most specific covering tenant wins), from the
// cache. It allocates nothing.
func (s *Store) Lookup(namespace, tenant, name string) *Interval {
	m := s.cache.Snapshot().byNS[namespace]
	if m == nil {
		return nil
	}
	for _, iv := range m[name] {
		if tenantCovers(iv.Tenant, tenant) {
			return iv
		}
	}
	return nil
}

// HasName reports whether an interval with that name exists in any
// namespace and tenant (the rule loader's reference check, D25).
func (s *Store) HasName(name string) bool { return s.cache.Snapshot().names[name] }

// Cached returns the cached intervals sorted by namespace, tenant, name.
func (s *Store) Cached() []*Interval { return s.cache.Snapshot().all }

func encode(iv *Interval) (string, error) { return statecache.EncodeJSON("timeinterval", iv) }

// Create stores a new interval; ErrExists if one with the same namespace,
// tenant and name exists. CreatedAt/UpdatedAt are set from the clock.
func (s *Store) Create(ctx context.Context, iv Interval) (Interval, error) {
	if err := iv.Validate(); err != nil {
		return Interval{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	iv.CreatedAt, iv.UpdatedAt = now, now
	val, err := encode(&iv)
	if err != nil {
		return Interval{}, err
	}
	ok, err := s.st.CheckAndSet(ctx, keyOf(iv.Namespace, iv.Tenant, iv.Name), val, 0)
	if err != nil {
		return Interval{}, fmt.Errorf("timeinterval: create: %w", err)
	}
	if !ok {
		return Interval{}, fmt.Errorf("%w: %s/%s/%s", ErrExists, iv.Namespace, iv.Tenant, iv.Name)
	}
	return iv, s.bump(ctx)
}

// Put creates or replaces an interval (used for intervals defined in
// files). CreatedAt is kept when the interval existed.
func (s *Store) Put(ctx context.Context, iv Interval) (Interval, error) {
	if err := iv.Validate(); err != nil {
		return Interval{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	key := keyOf(iv.Namespace, iv.Tenant, iv.Name)
	if old, err := s.Get(ctx, iv.Namespace, iv.Tenant, iv.Name); err == nil {
		iv.CreatedAt = old.CreatedAt
	} else if !errors.Is(err, ErrNotFound) {
		return Interval{}, err
	} else {
		iv.CreatedAt = now
	}
	iv.UpdatedAt = now
	val, err := encode(&iv)
	if err != nil {
		return Interval{}, err
	}
	if err := s.st.Set(ctx, key, val, 0); err != nil {
		return Interval{}, fmt.Errorf("timeinterval: put: %w", err)
	}
	return iv, s.bump(ctx)
}

// Get reads one interval from the backend.
func (s *Store) Get(ctx context.Context, namespace, tenant, name string) (Interval, error) {
	e, err := s.st.GetVersioned(ctx, keyOf(namespace, tenant, name))
	if errors.Is(err, state.ErrNotFound) {
		return Interval{}, fmt.Errorf("%w: %s/%s/%s", ErrNotFound, namespace, tenant, name)
	}
	if err != nil {
		return Interval{}, fmt.Errorf("timeinterval: get: %w", err)
	}
	iv, err := decode(state.KV{Key: keyOf(namespace, tenant, name).String(), Value: e.Value})
	if err != nil {
		return Interval{}, err
	}
	return *iv, nil
}

// Update applies fn to the stored interval and writes it back with a
// compare-and-swap, retrying on concurrent changes. Name, namespace and
// tenant cannot change.
func (s *Store) Update(ctx context.Context, namespace, tenant, name string, fn func(*Interval) error) (Interval, error) {
	key := keyOf(namespace, tenant, name)
	for attempt := 0; attempt < 16; attempt++ {
		e, err := s.st.GetVersioned(ctx, key)
		if errors.Is(err, state.ErrNotFound) {
			return Interval{}, fmt.Errorf("%w: %s/%s/%s", ErrNotFound, namespace, tenant, name)
		}
		if err != nil {
			return Interval{}, fmt.Errorf("timeinterval: update: %w", err)
		}
		cur, err := decode(state.KV{Key: key.String(), Value: e.Value})
		if err != nil {
			return Interval{}, err
		}
		if err := fn(cur); err != nil {
			return Interval{}, err
		}
		cur.Name, cur.Namespace, cur.Tenant = name, namespace, tenant
		if err := cur.Validate(); err != nil {
			return Interval{}, err
		}
		cur.UpdatedAt = s.clock.Now().UTC().Truncate(time.Millisecond)
		val, err := encode(cur)
		if err != nil {
			return Interval{}, err
		}
		err = s.st.CompareAndSwap(ctx, key, e.Version, val, 0)
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err != nil {
			return Interval{}, fmt.Errorf("timeinterval: update: %w", err)
		}
		return *cur, s.bump(ctx)
	}
	return Interval{}, fmt.Errorf("timeinterval: update %s: too many concurrent changes: %w", key, state.ErrConflict)
}

// Delete removes an interval; ErrNotFound if there was none.
func (s *Store) Delete(ctx context.Context, namespace, tenant, name string) error {
	ok, err := s.st.Delete(ctx, keyOf(namespace, tenant, name))
	if err != nil {
		return fmt.Errorf("timeinterval: delete: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: %s/%s/%s", ErrNotFound, namespace, tenant, name)
	}
	return s.bump(ctx)
}

// List reads every stored interval from the backend (not the cache, so a
// write on another node is visible at once), filtered by namespace and
// tenant when they are non-empty (exact match).
func (s *Store) List(ctx context.Context, namespace, tenant string) ([]Interval, error) {
	list, err := s.scan(ctx)
	if err != nil {
		return nil, err
	}
	sn := buildSnapshot(list)
	out := make([]Interval, 0, len(sn.all))
	for _, iv := range sn.all {
		if (namespace == "" || iv.Namespace == namespace) && (tenant == "" || iv.Tenant == tenant) {
			out = append(out, *iv)
		}
	}
	return out, nil
}
