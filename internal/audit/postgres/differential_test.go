package postgres

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/audit/memory"
)

// TestQueryAgreesWithMemory runs random queries (filters, time bounds,
// tenant scopes with LIKE metacharacters, both orders, offset and cursor
// paging) against this store and the memory backend holding the same
// records, and requires identical pages: ids in order, Total, Limit, Offset
// and NextCursor.
func TestQueryAgreesWithMemory(t *testing.T) {
	s := newTestStore(t, Config{})
	mem := memory.New(memory.Options{})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	tenants := []string{"acme", "acme.us", "acme.us.east", "acme-corp", "acmex", "a_c", "abc", "a%c.x", "a%cd", `a\c`, `a\c.y`, "ACME", ""}
	var rs []audit.Record
	seqs := map[string]uint64{}
	for i := range 400 {
		// Ids mix cases and punctuation so that a collation-aware sort
		// would disagree with the bytewise one.
		id := fmt.Sprintf("%s%03d%s", pick("a", "B", "-", "_", "a-", "Z", "é"), rng.IntN(1000), pick("", "x", "-y", "Y"))
		r := testRecord(fmt.Sprintf("%s.%d", id, i), time.Duration(rng.IntN(40))*time.Millisecond+time.Duration(rng.IntN(1000))*time.Microsecond)
		r.Tenant = pick(tenants...)
		r.Provider = pick("webhook", "slack", "email")
		r.Outcome = pick("executed", "failed", "throttled")
		r.Verdict = pick("allow", "deny")
		r.CallerID = pick("", "u1", "u2")
		if rng.IntN(2) == 0 {
			r.MatchedRule = ptr(pick("r1", "r2"))
		}
		if rng.IntN(3) == 0 {
			r.ChainID = ptr(pick("c1", "c2"))
		}
		if rng.IntN(4) == 0 {
			r.SignerID, r.Kid = ptr(pick("s1", "s2")), ptr(pick("k1", "k2"))
		}
		if rng.IntN(2) == 0 { // unique per (namespace, tenant), with gaps
			seqs[r.Tenant] += uint64(1 + rng.IntN(3))
			n := seqs[r.Tenant]
			r.SequenceNumber = &n
		}
		rs = append(rs, r)
	}
	for _, st := range []audit.Store{s, mem} {
		for i := 0; i < len(rs); i += 100 {
			if err := st.Append(ctx, rs[i:i+100]); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
	}
	scopes := [][]string{nil, {"*"}, {"acme"}, {"acme.us"}, {"a_c"}, {"a%c"}, {`a\c`}, {""}, {"", "abc"}, {"acme-corp", "ACME"}, {"ac"}}
	randTime := func() *time.Time {
		if rng.IntN(3) > 0 {
			return nil
		}
		t := testBase.Add(time.Duration(rng.Int64N(int64(42 * time.Millisecond))))
		return &t
	}
	for i := range 300 {
		q := audit.Query{
			Tenant:            pick(append(make([]string, 8), "acme", "a_c", "acme.us")...),
			Provider:          pick("", "", "", "slack"),
			Outcome:           pick("", "", "failed"),
			Verdict:           pick("", "", "", "deny"),
			MatchedRule:       pick("", "", "", "r1"),
			CallerID:          pick("", "", "", "u2"),
			ChainID:           pick("", "", "", "c2"),
			SignerID:          pick("", "", "", "s1"),
			Kid:               pick("", "", "", "k2"),
			From:              randTime(),
			To:                randTime(),
			Limit:             rng.IntN(12) - 1,
			Offset:            rng.IntN(10) - 1,
			SortBySequenceAsc: rng.IntN(3) == 0,
			TenantScope:       scopes[rng.IntN(len(scopes))],
		}
		for page := 0; ; page++ {
			want, err := mem.Query(ctx, q)
			if err != nil {
				t.Fatalf("memory Query: %v", err)
			}
			got, err := s.Query(ctx, q)
			if err != nil {
				t.Fatalf("Query(%+v): %v", q, err)
			}
			if diff := cmp.Diff(summary(want), summary(got)); diff != "" {
				t.Fatalf("query %d page %d %+v: (-memory +postgres)\n%s", i, page, q, diff)
			}
			if got.NextCursor == "" || page == 50 {
				break
			}
			q.Cursor, q.Offset = got.NextCursor, 0
		}
	}
	for _, r := range rs[:50] {
		want, _ := mem.GetByActionID(ctx, r.ActionID)
		got, err := s.GetByActionID(ctx, r.ActionID)
		if err != nil || got.ID != want.ID {
			t.Fatalf("GetByActionID(%s) = %s, %v; want %s", r.ActionID, got.ID, err, want.ID)
		}
	}
}

type pageSummary struct {
	IDs           []string
	Total         *int
	Limit, Offset int
	NextCursor    string
	RecordsNil    bool
}

func summary(p audit.Page) pageSummary {
	ps := pageSummary{Total: p.Total, Limit: p.Limit, Offset: p.Offset, NextCursor: p.NextCursor, RecordsNil: p.Records == nil}
	for _, r := range p.Records {
		ps.IDs = append(ps.IDs, r.ID)
	}
	return ps
}
