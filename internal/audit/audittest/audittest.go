package audittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/acteon/acteon-go/internal/audit"
)

// base is the dispatch time the suite's records start from.
var base = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// env is what one case runs against.
type env struct {
	t   *testing.T
	ctx context.Context
	s   audit.Store
	ns  string // random namespace owned by this case
}

type testCase struct {
	name string
	rule string
	run  func(e *env)
}

// Run runs the conformance suite against the stores newStore builds (one
// per case; newStore registers its own cleanup). Cases run as parallel
// subtests.
func Run(t *testing.T, newStore func(t *testing.T) audit.Store) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("rule: %s", tc.rule)
				}
			})
			e := &env{t: t, ctx: t.Context(), s: newStore(t), ns: "at" + randomHex()}
			tc.run(e)
		})
	}
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }

// rec returns a plain record of this case's namespace dispatched at base+at.
func (e *env) rec(id string, at time.Duration) audit.Record {
	return audit.Record{
		ID:             e.ns + "-" + id,
		ActionID:       e.ns + "-action-" + id,
		Namespace:      e.ns,
		Tenant:         "tenant-1",
		Provider:       "webhook",
		ActionType:     "alert",
		Verdict:        "allow",
		Outcome:        "executed",
		VerdictDetails: json.RawMessage(`{"verdict":"allow"}`),
		OutcomeDetails: json.RawMessage(`{"status":"Success"}`),
		DispatchedAt:   base.Add(at),
		CompletedAt:    base.Add(at + 5*time.Millisecond),
		DurationMs:     5,
	}
}

func (e *env) id(short string) string { return e.ns + "-" + short }

func (e *env) ids(shorts ...string) []string {
	out := make([]string, len(shorts))
	for i, s := range shorts {
		out[i] = e.id(s)
	}
	return out
}

func (e *env) append(rs ...audit.Record) {
	e.t.Helper()
	if err := e.s.Append(e.ctx, rs); err != nil {
		e.t.Fatalf("Append(%d records): %v", len(rs), err)
	}
}

// query runs q restricted to this case's namespace.
func (e *env) query(q audit.Query) audit.Page {
	e.t.Helper()
	q.Namespace = e.ns
	p, err := e.s.Query(e.ctx, q)
	if err != nil {
		e.t.Fatalf("Query(%+v): %v", q, err)
	}
	return p
}

func pageIDs(p audit.Page) []string {
	out := make([]string, len(p.Records))
	for i, r := range p.Records {
		out[i] = r.ID
	}
	return out
}

// wantIDs checks the ids of a page, in order.
func (e *env) wantIDs(what string, p audit.Page, want []string) {
	e.t.Helper()
	if diff := cmp.Diff(want, pageIDs(p), cmpopts.EquateEmpty()); diff != "" {
		e.t.Fatalf("%s: record ids (-want +got):\n%s", what, diff)
	}
}

// recordOpts compares records as a backend may legitimately return them:
// JSON by meaning, times by instant, nil and empty alike.
var recordOpts = cmp.Options{
	cmp.Transformer("json", func(m json.RawMessage) any {
		if len(m) == 0 {
			return nil
		}
		var v any
		if err := json.Unmarshal(m, &v); err != nil {
			return "invalid JSON: " + string(m)
		}
		return v
	}),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b map[string]string) bool { return maps.Equal(a, b) }),
	cmp.FilterValues(func(a, b []json.RawMessage) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore()),
}

// stored is what a backend must return for r: times truncated to ms.
func stored(r audit.Record) audit.Record { return r.AtMillis() }

// walk follows cursors from the first page of q and returns every page.
func (e *env) walk(q audit.Query) []audit.Page {
	e.t.Helper()
	var pages []audit.Page
	for {
		p := e.query(q)
		pages = append(pages, p)
		if p.Total != nil && q.Cursor != "" {
			e.t.Fatalf("cursor page %d has Total %d, want none", len(pages), *p.Total)
		}
		if p.NextCursor == "" {
			return pages
		}
		if len(pages) > 1000 {
			e.t.Fatal("cursor walk does not end")
		}
		q.Cursor = p.NextCursor
		q.Offset = 0
	}
}

var cases = []testCase{
	{
		name: "append_get_by_id",
		rule: "A record appended is read back by GetByID with every field as appended, its times truncated to milliseconds",
		run: func(e *env) {
			r := e.rec("full", 123456789*time.Nanosecond)
			r.ChainID = ptr("chain-1")
			r.MatchedRule = ptr("block-spam")
			r.ActionPayload = json.RawMessage(`{"to":"ops@example.com","n":1.5,"nested":{"a":[1,2,3]}}`)
			r.Metadata = map[string]string{"env": "prod", "__dedup_key": "k1"}
			r.ExpiresAt = ptr(base.Add(30*24*time.Hour + 987654321))
			r.CallerID = "user-7"
			r.AuthMethod = "api_key"
			r.RecordHash = ptr("aa11")
			r.PreviousHash = ptr("bb22")
			r.SequenceNumber = ptr(uint64(7))
			r.AttachmentMetadata = []json.RawMessage{json.RawMessage(`{"id":"att-1","name":"log","filename":"log.txt","content_type":"text/plain","size_bytes":12}`)}
			r.Signature = ptr("sig")
			r.SignerID = ptr("signer-1")
			r.Kid = ptr("kid-1")
			r.CanonicalHash = ptr("cc33")
			e.append(r)
			got, err := e.s.GetByID(e.ctx, r.ID)
			if err != nil {
				e.t.Fatalf("GetByID: %v", err)
			}
			if diff := cmp.Diff(stored(r), got, recordOpts); diff != "" {
				e.t.Fatalf("GetByID (-want +got):\n%s", diff)
			}
			if ns := got.DispatchedAt.Nanosecond(); ns%int(time.Millisecond) != 0 {
				e.t.Fatalf("dispatched_at keeps sub-millisecond digits: %v", got.DispatchedAt)
			}
		},
	},
	{
		name: "get_missing",
		rule: "GetByID and GetByActionID of unknown ids return ErrNotFound",
		run: func(e *env) {
			if _, err := e.s.GetByID(e.ctx, e.id("nope")); !errors.Is(err, audit.ErrNotFound) {
				e.t.Fatalf("GetByID(unknown) = %v, want ErrNotFound", err)
			}
			if _, err := e.s.GetByActionID(e.ctx, e.id("nope")); !errors.Is(err, audit.ErrNotFound) {
				e.t.Fatalf("GetByActionID(unknown) = %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "get_by_action_id_latest",
		rule: "GetByActionID returns the action's record with the latest dispatched_at",
		run: func(e *env) {
			var rs []audit.Record
			for i, at := range []time.Duration{time.Second, 3 * time.Second, 2 * time.Second} {
				r := e.rec(fmt.Sprint("r", i), at)
				r.ActionID = e.id("act")
				rs = append(rs, r)
			}
			other := e.rec("other", time.Hour)
			e.append(append(rs, other)...)
			got, err := e.s.GetByActionID(e.ctx, e.id("act"))
			if err != nil {
				e.t.Fatalf("GetByActionID: %v", err)
			}
			if got.ID != e.id("r1") {
				e.t.Fatalf("GetByActionID = record %s, want %s (latest dispatched_at)", got.ID, e.id("r1"))
			}
		},
	},
	{
		name: "filters",
		rule: "Each string filter of Query selects exactly the records whose field equals it, and filters are AND-ed",
		run: func(e *env) {
			type filter struct {
				name  string
				onRec func(r *audit.Record, v string)
				onQ   func(q *audit.Query, v string)
			}
			filters := []filter{
				{"tenant", func(r *audit.Record, v string) { r.Tenant = v }, func(q *audit.Query, v string) { q.Tenant = v }},
				{"provider", func(r *audit.Record, v string) { r.Provider = v }, func(q *audit.Query, v string) { q.Provider = v }},
				{"action_type", func(r *audit.Record, v string) { r.ActionType = v }, func(q *audit.Query, v string) { q.ActionType = v }},
				{"outcome", func(r *audit.Record, v string) { r.Outcome = v }, func(q *audit.Query, v string) { q.Outcome = v }},
				{"verdict", func(r *audit.Record, v string) { r.Verdict = v }, func(q *audit.Query, v string) { q.Verdict = v }},
				{"matched_rule", func(r *audit.Record, v string) { r.MatchedRule = &v }, func(q *audit.Query, v string) { q.MatchedRule = v }},
				{"caller_id", func(r *audit.Record, v string) { r.CallerID = v }, func(q *audit.Query, v string) { q.CallerID = v }},
				{"chain_id", func(r *audit.Record, v string) { r.ChainID = &v }, func(q *audit.Query, v string) { q.ChainID = v }},
				{"signer_id", func(r *audit.Record, v string) { r.SignerID = &v }, func(q *audit.Query, v string) { q.SignerID = v }},
				{"kid", func(r *audit.Record, v string) { r.Kid = &v }, func(q *audit.Query, v string) { q.Kid = v }},
			}
			// For every filter: one record with value "x", one with "xy"
			// (a prefix must not match), one without the field set.
			var rs []audit.Record
			for i, f := range filters {
				at := time.Duration(i) * time.Second
				x, xy := e.rec(f.name+"-x", at), e.rec(f.name+"-xy", at+time.Millisecond)
				f.onRec(&x, "x")
				f.onRec(&xy, "xy")
				rs = append(rs, x, xy, e.rec(f.name+"-none", at+2*time.Millisecond))
			}
			e.append(rs...)
			for _, f := range filters {
				var q audit.Query
				f.onQ(&q, "x")
				e.wantIDs("filter "+f.name, e.query(q), e.ids(f.name+"-x"))
			}
			// AND: tenant "x" and provider "x" together match nothing, as no
			// record has both.
			e.wantIDs("tenant AND provider", e.query(audit.Query{Tenant: "x", Provider: "x"}), nil)
			// The namespace filter alone isolates this case's records.
			if p := e.query(audit.Query{Limit: 1000}); len(p.Records) != len(rs) {
				e.t.Fatalf("namespace filter: %d records, want %d", len(p.Records), len(rs))
			}
		},
	},
	{
		name: "time_range_inclusive",
		rule: "From and To bound dispatched_at inclusively",
		run: func(e *env) {
			for i := range 5 {
				e.append(e.rec(fmt.Sprint("t", i), time.Duration(i)*time.Millisecond))
			}
			from, to := base.Add(time.Millisecond), base.Add(3*time.Millisecond)
			e.wantIDs("from..to", e.query(audit.Query{From: &from, To: &to}), e.ids("t3", "t2", "t1"))
			e.wantIDs("from only", e.query(audit.Query{From: &to}), e.ids("t4", "t3"))
			e.wantIDs("to only", e.query(audit.Query{To: &from}), e.ids("t1", "t0"))
		},
	},
	{
		name: "default_order",
		rule: "Without a sort option records come by dispatched_at descending, then id descending",
		run: func(e *env) {
			e.append(
				e.rec("a", time.Second),
				e.rec("b", 3*time.Second),
				e.rec("c", time.Second),
				e.rec("d", 2*time.Second+300*time.Microsecond), // same ms as e after truncation
				e.rec("e", 2*time.Second+700*time.Microsecond),
			)
			e.wantIDs("default order", e.query(audit.Query{}), e.ids("b", "e", "d", "c", "a"))
		},
	},
	{
		name: "sequence_order",
		rule: "SortBySequenceAsc orders by sequence_number ascending, records without one last, ties by id ascending",
		run: func(e *env) {
			withSeq := func(id string, seq *uint64) audit.Record {
				r := e.rec(id, 0)
				r.SequenceNumber = seq
				return r
			}
			e.append(
				withSeq("n2", nil),
				withSeq("s2", ptr(uint64(2))),
				withSeq("s0", ptr(uint64(0))),
				withSeq("n1", nil),
				withSeq("s1", ptr(uint64(1))),
			)
			e.wantIDs("sequence order", e.query(audit.Query{SortBySequenceAsc: true}), e.ids("s0", "s1", "s2", "n1", "n2"))
		},
	},
	{
		name: "offset_paging",
		rule: "Offset pages skip Offset records, report Total and the clamped Limit, and set NextCursor iff more records follow",
		run: func(e *env) {
			var want []string
			for i := range 7 {
				e.append(e.rec(fmt.Sprint("o", i), time.Duration(i)*time.Second))
				want = append([]string{e.id(fmt.Sprint("o", i))}, want...)
			}
			for _, off := range []int{0, 3, 6, 9} {
				p := e.query(audit.Query{Limit: 3, Offset: off})
				e.wantIDs(fmt.Sprintf("offset %d", off), p, want[min(off, 7):min(off+3, 7)])
				if p.Total == nil || *p.Total != 7 {
					e.t.Fatalf("offset %d: Total = %v, want 7", off, p.Total)
				}
				if p.Limit != 3 || p.Offset != off {
					e.t.Fatalf("offset %d: page Limit, Offset = %d, %d; want 3, %d", off, p.Limit, p.Offset, off)
				}
				if more := off+3 < 7; (p.NextCursor != "") != more {
					e.t.Fatalf("offset %d: NextCursor = %q, want one: %v", off, p.NextCursor, more)
				}
			}
		},
	},
	{
		name: "cursor_paging",
		rule: "Following NextCursor visits every matching record exactly once in order, records sharing a millisecond included; cursor pages carry no Total and the last page no NextCursor",
		run: func(e *env) {
			var rs []audit.Record
			for i := range 23 {
				// Groups of four records share each millisecond, with
				// sub-millisecond parts a µs backend would keep apart.
				at := time.Duration(i/4)*time.Millisecond + time.Duration(i%4)*100*time.Microsecond
				rs = append(rs, e.rec(fmt.Sprintf("c%02d", i), at))
			}
			e.append(rs...)
			want := make([]audit.Record, len(rs))
			for i, r := range rs {
				want[i] = stored(r)
			}
			audit.SortRecords(want, false)
			for _, limit := range []int{1, 3, 4, 5, 23, 50} {
				var got []string
				pages := e.walk(audit.Query{Limit: limit})
				for _, p := range pages {
					if len(p.Records) > limit {
						e.t.Fatalf("limit %d: page of %d records", limit, len(p.Records))
					}
					got = append(got, pageIDs(p)...)
				}
				var wantIDs []string
				for _, r := range want {
					wantIDs = append(wantIDs, r.ID)
				}
				if diff := cmp.Diff(wantIDs, got); diff != "" {
					e.t.Fatalf("limit %d: ids over all pages (-want +got):\n%s", limit, diff)
				}
				if n := (23 + limit - 1) / limit; len(pages) != n {
					e.t.Fatalf("limit %d: %d pages, want %d", limit, len(pages), n)
				}
			}
		},
	},
	{
		name: "cursor_paging_filtered",
		rule: "Cursor paging keeps the query's filters on every page",
		run: func(e *env) {
			for i := range 12 {
				r := e.rec(fmt.Sprintf("f%02d", i), time.Duration(i)*time.Millisecond)
				if i%3 == 0 {
					r.Outcome = "failed"
				}
				e.append(r)
			}
			var got []string
			for _, p := range e.walk(audit.Query{Outcome: "failed", Limit: 1}) {
				got = append(got, pageIDs(p)...)
			}
			if diff := cmp.Diff(e.ids("f09", "f06", "f03", "f00"), got); diff != "" {
				e.t.Fatalf("filtered walk (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "cursor_paging_sequence",
		rule: "Cursor paging in sequence order visits every record once, those without a sequence number last",
		run: func(e *env) {
			var want []string
			for i := range 7 {
				r := e.rec(fmt.Sprintf("s%d", i), 0)
				r.SequenceNumber = ptr(uint64(i))
				e.append(r)
				want = append(want, r.ID)
			}
			for _, id := range []string{"u0", "u1", "u2"} {
				e.append(e.rec(id, 0))
				want = append(want, e.id(id))
			}
			var got []string
			for _, p := range e.walk(audit.Query{SortBySequenceAsc: true, Limit: 2}) {
				got = append(got, pageIDs(p)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				e.t.Fatalf("sequence walk (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "bad_cursor",
		rule: "A malformed cursor, a version other than 1, or a cursor of the other sort order is rejected with ErrBadCursor",
		run: func(e *env) {
			e.append(e.rec("x", 0))
			ts := audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindTime, TimeMs: 1, ID: "x"})
			seq := audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindSeq, Seq: ptr(uint64(1)), ID: "x"})
			for _, c := range []struct {
				name   string
				cursor string
				bySeq  bool
			}{
				{"not base64", "!!!", false},
				{"not json", "bm90IGpzb24", false},
				{"version 2", "eyJ2IjoyLCJrIjoidHMiLCJ0IjoxLCJpIjoieCJ9", false},
				{"seq cursor, time order", seq, false},
				{"ts cursor, sequence order", ts, true},
			} {
				_, err := e.s.Query(e.ctx, audit.Query{Namespace: e.ns, Cursor: c.cursor, SortBySequenceAsc: c.bySeq})
				if !errors.Is(err, audit.ErrBadCursor) {
					e.t.Errorf("%s: Query = %v, want ErrBadCursor", c.name, err)
				}
			}
		},
	},
	{
		name: "limit_clamping",
		rule: "A limit of 0 or less means 50 and a limit over 1000 means 1000; the page reports the limit it used",
		run: func(e *env) {
			rs := make([]audit.Record, 1001)
			for i := range rs {
				rs[i] = e.rec(fmt.Sprintf("l%04d", i), time.Duration(i)*time.Millisecond)
			}
			e.append(rs...)
			for _, c := range []struct{ limit, want int }{{0, 50}, {-3, 50}, {7, 7}, {1000, 1000}, {5000, 1000}} {
				p := e.query(audit.Query{Limit: c.limit})
				if p.Limit != c.want || len(p.Records) != c.want || p.NextCursor == "" {
					e.t.Fatalf("limit %d: page Limit %d with %d records, NextCursor %q; want %d, %d, a cursor",
						c.limit, p.Limit, len(p.Records), p.NextCursor, c.want, c.want)
				}
			}
		},
	},
	{
		name: "tenant_scope",
		rule: "TenantScope admits a tenant equal to a pattern or under it after a '.', never a mere string prefix; \"*\" admits all",
		run: func(e *env) {
			tenants := []string{"acme", "acme.us", "acme.us.east", "acme-corp", "acmex", "globex"}
			for i, tn := range tenants {
				r := e.rec(tn, time.Duration(i)*time.Millisecond)
				r.Tenant = tn
				e.append(r)
			}
			for _, c := range []struct {
				scope []string
				want  []string
			}{
				{[]string{"acme"}, []string{"acme.us.east", "acme.us", "acme"}},
				{[]string{"acme.us"}, []string{"acme.us.east", "acme.us"}},
				{[]string{"acme-corp", "globex"}, []string{"globex", "acme-corp"}},
				{[]string{"*"}, []string{"globex", "acmex", "acme-corp", "acme.us.east", "acme.us", "acme"}},
				{[]string{"initech"}, nil},
			} {
				e.wantIDs(fmt.Sprintf("scope %v", c.scope), e.query(audit.Query{TenantScope: c.scope}), e.ids(c.want...))
			}
			// The scope also applies on top of an explicit tenant filter.
			e.wantIDs("tenant acme-corp in scope acme", e.query(audit.Query{Tenant: "acme-corp", TenantScope: []string{"acme"}}), nil)
		},
	},
	{
		name: "idempotent_append",
		rule: "Appending a record whose id is already stored, in a later call or twice in one call, leaves exactly one copy",
		run: func(e *env) {
			r := e.rec("dup", 0)
			e.append(r)
			e.append(r)
			e.append(r, e.rec("other", time.Millisecond), r)
			p := e.query(audit.Query{})
			e.wantIDs("after duplicate appends", p, e.ids("other", "dup"))
			if p.Total == nil || *p.Total != 2 {
				e.t.Fatalf("Total = %v, want 2", p.Total)
			}
			got, err := e.s.GetByID(e.ctx, r.ID)
			if err != nil {
				e.t.Fatalf("GetByID: %v", err)
			}
			if diff := cmp.Diff(stored(r), got, recordOpts); diff != "" {
				e.t.Fatalf("GetByID after duplicate appends (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "cleanup_expired",
		rule: "CleanupExpired(now) removes records whose expires_at <= now and keeps later or never-expiring ones",
		run: func(e *env) {
			now := time.Now().Truncate(time.Millisecond).UTC()
			exp := func(id string, at *time.Time) audit.Record {
				r := e.rec(id, 0)
				r.ExpiresAt = at
				return r
			}
			e.append(
				exp("past", ptr(now.Add(-time.Hour))),
				exp("exact", ptr(now)),
				exp("future", ptr(now.Add(time.Hour))),
				exp("never", nil),
			)
			n, err := e.s.CleanupExpired(e.ctx, now)
			if err != nil {
				e.t.Fatalf("CleanupExpired: %v", err)
			}
			if n < 2 { // a shared database may hold other expired records
				e.t.Fatalf("CleanupExpired removed %d, want at least 2", n)
			}
			got := pageIDs(e.query(audit.Query{}))
			slices.Sort(got)
			if diff := cmp.Diff(e.ids("future", "never"), got); diff != "" {
				e.t.Fatalf("after cleanup (-want +got):\n%s", diff)
			}
			if _, err := e.s.GetByID(e.ctx, e.id("exact")); !errors.Is(err, audit.ErrNotFound) {
				e.t.Fatalf("GetByID(expired) = %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "ms_precision",
		rule: "dispatched_at, completed_at and expires_at are stored at millisecond precision (D20), and a From bound at a millisecond matches records inside it",
		run: func(e *env) {
			r := e.rec("ms", 1500*time.Microsecond+999) // 1.500999 ms
			r.ExpiresAt = ptr(base.Add(time.Hour + 1234567))
			e.append(r)
			got, err := e.s.GetByID(e.ctx, r.ID)
			if err != nil {
				e.t.Fatalf("GetByID: %v", err)
			}
			for _, c := range []struct {
				name      string
				got, want time.Time
			}{
				{"dispatched_at", got.DispatchedAt, base.Add(time.Millisecond)},
				{"completed_at", got.CompletedAt, base.Add(6 * time.Millisecond)},
				{"expires_at", *got.ExpiresAt, base.Add(time.Hour + time.Millisecond)},
			} {
				if !c.got.Equal(c.want) {
					e.t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			from := base.Add(time.Millisecond)
			e.wantIDs("from = stored ms", e.query(audit.Query{From: &from, To: &from}), e.ids("ms"))
		},
	},
	{
		name: "append_empty",
		rule: "Appending no records succeeds and stores nothing",
		run: func(e *env) {
			if err := e.s.Append(e.ctx, nil); err != nil {
				e.t.Fatalf("Append(nil): %v", err)
			}
			if p := e.query(audit.Query{}); len(p.Records) != 0 {
				e.t.Fatalf("records after empty append: %v", pageIDs(p))
			}
		},
	},
}
