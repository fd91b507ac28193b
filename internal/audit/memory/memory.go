package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/clock"
)

// Options configures a Store.
type Options struct {
	// Clock is used by CleanupExpired when it is given a zero time; nil
	// means clock.Real.
	Clock clock.Clock
}

// Store is the memory audit backend. It is safe for concurrent use; the
// zero value is not usable, call New.
type Store struct {
	clock clock.Clock

	mu   sync.RWMutex
	byID map[string]*audit.Record
	// byAction lists each action's records (almost always one: a slice
	// costs a few bytes where a set per action cost ~200 B per record).
	byAction map[string][]*audit.Record
}

var _ audit.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	c := opts.Clock
	if c == nil {
		c = clock.Real{}
	}
	return &Store{
		clock:    c,
		byID:     make(map[string]*audit.Record),
		byAction: make(map[string][]*audit.Record),
	}
}

// errNoID rejects a record without an id: ids are what makes Append
// idempotent.
var errNoID = errors.New("audit/memory: record without id")

// Append stores copies of records with their times truncated to
// milliseconds (D20). A record whose id is already stored is skipped, so
// retrying a batch never duplicates. A record without an id fails the whole
// call and nothing is stored.
func (s *Store) Append(_ context.Context, records []audit.Record) error {
	for i := range records {
		if records[i].ID == "" {
			return fmt.Errorf("audit/memory: append record %d of %d: %w", i+1, len(records), errNoID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range records {
		if _, ok := s.byID[records[i].ID]; ok {
			continue
		}
		r := clone(records[i].AtMillis())
		s.byID[r.ID] = &r
		s.byAction[r.ActionID] = append(s.byAction[r.ActionID], &r)
	}
	return nil
}

// GetByID returns a copy of the record with that id, or audit.ErrNotFound.
func (s *Store) GetByID(_ context.Context, id string) (audit.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.byID[id]
	if !ok {
		return audit.Record{}, fmt.Errorf("audit/memory: record %s: %w", id, audit.ErrNotFound)
	}
	return clone(*r), nil
}

// GetByActionID returns the action's record with the latest dispatched_at
// (ties: the greatest id), or audit.ErrNotFound.
func (s *Store) GetByActionID(_ context.Context, actionID string) (audit.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *audit.Record
	for _, r := range s.byAction[actionID] {
		if best == nil || audit.CompareRecords(*r, *best, false) < 0 {
			best = r
		}
	}
	if best == nil {
		return audit.Record{}, fmt.Errorf("audit/memory: action %s: %w", actionID, audit.ErrNotFound)
	}
	return clone(*best), nil
}

// Query returns one page of matching records. With a cursor it continues
// after the cursor's position and leaves Total nil; without one it skips
// Offset records and sets Total. NextCursor is set iff more records follow.
// A bad cursor gives an error wrapping audit.ErrBadCursor.
func (s *Store) Query(_ context.Context, q audit.Query) (audit.Page, error) {
	c, hasCursor, err := q.ParseCursor()
	if err != nil {
		return audit.Page{}, err
	}
	limit := audit.ClampLimit(q.Limit)

	s.mu.RLock()
	var rs []audit.Record
	for _, r := range s.byID {
		if q.Matches(*r) {
			rs = append(rs, *r) // shallow; cloned below once paged
		}
	}
	s.mu.RUnlock()
	audit.SortRecords(rs, q.SortBySequenceAsc)

	page := audit.Page{Limit: limit}
	if hasCursor {
		// Records after the cursor form a suffix of the sorted slice.
		rs = rs[sort.Search(len(rs), func(i int) bool { return c.After(rs[i]) }):]
	} else {
		total := len(rs)
		page.Total = &total
		page.Offset = max(q.Offset, 0)
		rs = rs[min(page.Offset, len(rs)):]
	}
	if len(rs) > limit {
		rs = rs[:limit]
		page.NextCursor = audit.EncodeCursor(audit.CursorFor(rs[limit-1], q.SortBySequenceAsc))
	}
	page.Records = make([]audit.Record, len(rs))
	for i := range rs {
		page.Records[i] = clone(rs[i])
	}
	return page, nil
}

// CleanupExpired deletes records whose expires_at <= now and returns how
// many went. A zero now means the store's clock.
func (s *Store) CleanupExpired(_ context.Context, now time.Time) (int, error) {
	if now.IsZero() {
		now = s.clock.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, r := range s.byID {
		if r.ExpiresAt == nil || r.ExpiresAt.After(now) {
			continue
		}
		delete(s.byID, id)
		if rs := slices.DeleteFunc(s.byAction[r.ActionID], func(x *audit.Record) bool { return x == r }); len(rs) > 0 {
			s.byAction[r.ActionID] = rs
		} else {
			delete(s.byAction, r.ActionID)
		}
		n++
	}
	return n, nil
}

// Close does nothing; the store stays usable.
func (s *Store) Close() error { return nil }

// clone deep-copies r so that neither the caller nor the store can change
// the other's record.
func clone(r audit.Record) audit.Record {
	r.ChainID = cloneP(r.ChainID)
	r.MatchedRule = cloneP(r.MatchedRule)
	r.ActionPayload = cloneRaw(r.ActionPayload)
	r.VerdictDetails = cloneRaw(r.VerdictDetails)
	r.OutcomeDetails = cloneRaw(r.OutcomeDetails)
	r.Metadata = maps.Clone(r.Metadata)
	r.ExpiresAt = cloneP(r.ExpiresAt)
	r.RecordHash = cloneP(r.RecordHash)
	r.PreviousHash = cloneP(r.PreviousHash)
	r.SequenceNumber = cloneP(r.SequenceNumber)
	if r.AttachmentMetadata != nil {
		a := make([]json.RawMessage, len(r.AttachmentMetadata))
		for i, m := range r.AttachmentMetadata {
			a[i] = cloneRaw(m)
		}
		r.AttachmentMetadata = a
	}
	r.Signature = cloneP(r.Signature)
	r.SignerID = cloneP(r.SignerID)
	r.Kid = cloneP(r.Kid)
	r.CanonicalHash = cloneP(r.CanonicalHash)
	return r
}

func cloneP[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneRaw(m json.RawMessage) json.RawMessage {
	if m == nil {
		return nil
	}
	return append(json.RawMessage{}, m...)
}
