package audit

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Matches reports whether r passes every filter of q: each non-empty string
// filter by exact equality, From and To inclusively on dispatched_at, and
// the tenant scope (see InTenantScope). Paging fields (Limit, Offset,
// Cursor) and the sort order are ignored.
//
// It is the reference the SQL backends' WHERE clauses are tested against.
func (q Query) Matches(r Record) bool {
	eq := func(filter, v string) bool { return filter == "" || filter == v }
	opt := func(filter string, v *string) bool { return filter == "" || (v != nil && *v == filter) }
	switch {
	case !eq(q.Namespace, r.Namespace), !eq(q.Tenant, r.Tenant),
		!eq(q.Provider, r.Provider), !eq(q.ActionType, r.ActionType),
		!eq(q.Outcome, r.Outcome), !eq(q.Verdict, r.Verdict),
		!eq(q.CallerID, r.CallerID),
		!opt(q.MatchedRule, r.MatchedRule), !opt(q.ChainID, r.ChainID),
		!opt(q.SignerID, r.SignerID), !opt(q.Kid, r.Kid):
		return false
	case q.From != nil && r.DispatchedAt.Before(*q.From),
		q.To != nil && r.DispatchedAt.After(*q.To):
		return false
	}
	return InTenantScope(r.Tenant, q.TenantScope)
}

// InTenantScope reports whether tenant is covered by scope: it equals a
// pattern p or starts with p + "." (so "acme" covers "acme" and "acme.us"
// but not "acme-corp"). A "*" pattern or an empty scope covers every
// tenant; an empty pattern covers nothing.
func InTenantScope(tenant string, scope []string) bool {
	if len(scope) == 0 {
		return true
	}
	for _, p := range scope {
		switch {
		case p == "*":
			return true
		case p == "":
		case tenant == p:
			return true
		case len(tenant) > len(p) && tenant[len(p)] == '.' && strings.HasPrefix(tenant, p):
			return true
		}
	}
	return false
}

// CompareRecords orders records as a query returns them: by default
// dispatched_at DESC then id DESC; with bySequence, sequence_number ASC
// (records without one last) then id ASC. Times compare at millisecond
// precision, as they are stored (D20).
func CompareRecords(a, b Record, bySequence bool) int {
	if bySequence {
		switch {
		case a.SequenceNumber == nil && b.SequenceNumber != nil:
			return 1
		case a.SequenceNumber != nil && b.SequenceNumber == nil:
			return -1
		case a.SequenceNumber != nil && *a.SequenceNumber != *b.SequenceNumber:
			return cmp.Compare(*a.SequenceNumber, *b.SequenceNumber)
		}
		return strings.Compare(a.ID, b.ID)
	}
	return cmp.Or(
		cmp.Compare(b.DispatchedAt.UnixMilli(), a.DispatchedAt.UnixMilli()),
		strings.Compare(b.ID, a.ID),
	)
}

// SortRecords sorts rs in query order (see CompareRecords).
func SortRecords(rs []Record, bySequence bool) {
	slices.SortFunc(rs, func(a, b Record) int { return CompareRecords(a, b, bySequence) })
}

// AtMillis returns r with dispatched_at, completed_at and expires_at
// truncated to milliseconds and in UTC, the precision every backend stores
// (D20). Fields other than times are shared with r, not copied.
func (r Record) AtMillis() Record {
	r.DispatchedAt = r.DispatchedAt.Truncate(time.Millisecond).UTC()
	r.CompletedAt = r.CompletedAt.Truncate(time.Millisecond).UTC()
	if r.ExpiresAt != nil {
		t := r.ExpiresAt.Truncate(time.Millisecond).UTC()
		r.ExpiresAt = &t
	}
	return r
}
