// Package audit is the contract for the audit trail: one Record per
// dispatch that reached a decision, saying what was decided and why (the
// matched rule, the verdict, the outcome, the provider's answer, timings).
//
// In an action's path it is the last step: after the executor delivered (or
// a verdict stopped the action), the gateway appends the record through the
// asynchronous, batched Writer (decision D21) and the API answers. Backends
// implement Store and pass the conformance suite in audittest.
//
// Times are stored at millisecond precision on every backend (D20).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound: no record matches.
var ErrNotFound = errors.New("audit: not found")

// ErrBadCursor: the cursor is malformed or does not fit the query's sort.
var ErrBadCursor = errors.New("audit: invalid cursor")

// Record is one audit entry. JSON names are upstream's wire names.
type Record struct {
	ID                 string            `json:"id"`
	ActionID           string            `json:"action_id"`
	ChainID            *string           `json:"chain_id"`
	Namespace          string            `json:"namespace"`
	Tenant             string            `json:"tenant"`
	Provider           string            `json:"provider"`
	ActionType         string            `json:"action_type"`
	Verdict            string            `json:"verdict"`
	MatchedRule        *string           `json:"matched_rule"`
	Outcome            string            `json:"outcome"`
	ActionPayload      json.RawMessage   `json:"action_payload"`
	VerdictDetails     json.RawMessage   `json:"verdict_details"`
	OutcomeDetails     json.RawMessage   `json:"outcome_details"`
	Metadata           map[string]string `json:"metadata"`
	DispatchedAt       time.Time         `json:"dispatched_at"`
	CompletedAt        time.Time         `json:"completed_at"`
	DurationMs         uint64            `json:"duration_ms"`
	ExpiresAt          *time.Time        `json:"expires_at"`
	CallerID           string            `json:"caller_id"`
	AuthMethod         string            `json:"auth_method"`
	RecordHash         *string           `json:"record_hash"`
	PreviousHash       *string           `json:"previous_hash"`
	SequenceNumber     *uint64           `json:"sequence_number"`
	AttachmentMetadata []json.RawMessage `json:"attachment_metadata,omitempty"`
	Signature          *string           `json:"signature"`
	SignerID           *string           `json:"signer_id"`
	Kid                *string           `json:"kid"`
	CanonicalHash      *string           `json:"canonical_hash"`
}

// Query selects records. String filters are exact matches and apply when
// non-empty; From/To bound dispatched_at inclusively. TenantScope is set by
// the server from the caller's grants, never by the client: a record's
// tenant must equal one pattern or start with pattern + ".". A "*" pattern
// or an empty scope means unrestricted.
type Query struct {
	Namespace, Tenant, Provider, ActionType, Outcome, Verdict string
	MatchedRule, CallerID, ChainID, SignerID, Kid             string
	From, To                                                  *time.Time
	// Limit defaults to 50 and is clamped to 1..1000.
	Limit int
	// Offset applies only without a cursor.
	Offset int
	Cursor string
	// SortBySequenceAsc orders by sequence_number ascending instead of the
	// default dispatched_at DESC, id DESC.
	SortBySequenceAsc bool
	TenantScope       []string
}

// Page is one page of query results. Total is set only on offset pages;
// NextCursor is non-empty iff more records exist.
type Page struct {
	Records    []Record `json:"records"`
	Total      *int     `json:"total,omitempty"`
	Limit      int      `json:"limit"`
	Offset     int      `json:"offset"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// Store is the whole method set of an audit backend. Safe for concurrent use.
type Store interface {
	// Append stores a batch of records. It is all-or-nothing per call where
	// the backend allows, and idempotent on record id.
	Append(ctx context.Context, records []Record) error
	// GetByActionID returns the record with the latest dispatched_at for an
	// action id, or ErrNotFound.
	GetByActionID(ctx context.Context, actionID string) (Record, error)
	// GetByID returns one record by its id, or ErrNotFound.
	GetByID(ctx context.Context, id string) (Record, error)
	// Query returns one page of matching records.
	Query(ctx context.Context, q Query) (Page, error)
	// CleanupExpired deletes records whose expires_at <= now and returns how
	// many went.
	CleanupExpired(ctx context.Context, now time.Time) (int, error)
	// Close flushes and releases resources.
	Close() error
}

// ClampLimit applies the default (50) and bounds (1..1000) to a limit.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 1000:
		return 1000
	}
	return n
}
