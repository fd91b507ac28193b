package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/internal/audit"
)

// copyEdgeRecords returns n records (n >= copyMinRecords, so that one
// Append sends them with COPY) with values at the edges of each column:
// NULLs and non-NULLs of every optional column, odd text, extreme times
// and integers.
func copyEdgeRecords(n int) []audit.Record {
	rs := make([]audit.Record, n)
	for i := range rs {
		r := testRecord(fmt.Sprintf("edge-%03d", i), time.Duration(i)*time.Millisecond)
		switch i % 6 {
		case 0:
			r.ID = fmt.Sprintf(`id %d with 'quotes', "dq", \back\ and ünïcödé ☃`, i)
			r.Tenant = `a%b_c\d`
			r.ActionPayload = json.RawMessage(`null`)
			r.VerdictDetails, r.OutcomeDetails = nil, nil
			r.Metadata = map[string]string{`quo"te`: "line\nbreak\ttab\\ \x01\x1f ☃ </script>", "": ""}
			r.SequenceNumber = ptr(uint64(math.MaxInt64 - i))
			r.DurationMs = math.MaxInt64
			r.DispatchedAt = time.Time{}
			r.CompletedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600))
		case 1:
			r.ActionPayload = json.RawMessage(`{"to":"ops@example.com","n":1.5e300,"deep":[{"a":[null,true,false,"\u00e9\ud834\udd1e"]}]}`)
			r.ChainID, r.MatchedRule = ptr("chain-1"), ptr("rule ☃")
			r.ExpiresAt = ptr(testBase.Add(time.Hour + 123456789*time.Nanosecond))
			r.SequenceNumber = ptr(uint64(i))
			r.DispatchedAt = time.Date(-4000, 3, 1, 12, 0, 0, 1_500_000, time.UTC) // before 1 BC
			r.CompletedAt = time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
		case 2:
			r.RecordHash, r.PreviousHash = ptr("hash"), ptr("")
			r.Signature, r.SignerID, r.Kid, r.CanonicalHash = ptr("sig"), ptr("signer"), ptr("k1"), ptr("ch")
			r.AttachmentMetadata = []json.RawMessage{json.RawMessage(`{"name":"a.txt","size":3}`), json.RawMessage(`[]`)}
			r.CallerID, r.AuthMethod = "svc", "jwt"
			r.Metadata = nil
		case 3:
			r.DispatchedAt = time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
			r.CompletedAt = time.Date(2000, 1, 1, 0, 0, 0, 1_000_000, time.FixedZone("y", -7*3600))
			r.ActionPayload = json.RawMessage(`"just a string"`)
		case 4:
			r.Namespace, r.Provider, r.ActionType, r.Verdict, r.Outcome = "", "", "", "", ""
			r.ActionID = ""
		}
		rs[i] = r
	}
	return rs
}

// TestAppendCopyAgreesWithInsert stores the same records once with COPY
// (one large batch) and once with the INSERT (one record per call) and
// requires every record to read back identically from both tables, and as
// the record truncated to milliseconds.
func TestAppendCopyAgreesWithInsert(t *testing.T) {
	url := testURL(t)
	viaCopy := openStore(t, url, Config{})
	dropAtEnd(t, viaCopy)
	viaInsert := openStore(t, url, Config{})
	dropAtEnd(t, viaInsert)
	ctx := t.Context()
	for _, s := range []*Store{viaCopy, viaInsert} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	rs := copyEdgeRecords(4 * copyMinRecords)
	if err := viaCopy.Append(ctx, rs); err != nil {
		t.Fatalf("Append (COPY): %v", err)
	}
	for _, r := range rs {
		if err := viaInsert.Append(ctx, []audit.Record{r}); err != nil {
			t.Fatalf("Append (INSERT) %s: %v", r.ID, err)
		}
	}
	for _, r := range rs {
		a, err := viaCopy.GetByID(ctx, r.ID)
		if err != nil {
			t.Fatalf("GetByID %s after COPY: %v", r.ID, err)
		}
		b, err := viaInsert.GetByID(ctx, r.ID)
		if err != nil {
			t.Fatalf("GetByID %s after INSERT: %v", r.ID, err)
		}
		if diff := cmp.Diff(b, a); diff != "" {
			t.Fatalf("record %s: COPY and INSERT differ (-insert +copy):\n%s", r.ID, diff)
		}
		want := r.AtMillis()
		if !a.DispatchedAt.Equal(want.DispatchedAt) || !a.CompletedAt.Equal(want.CompletedAt) ||
			(want.ExpiresAt != nil) != (a.ExpiresAt != nil) || (want.ExpiresAt != nil && !a.ExpiresAt.Equal(*want.ExpiresAt)) {
			t.Fatalf("record %s: times %v %v %v, want %v %v %v", r.ID, a.DispatchedAt, a.CompletedAt, a.ExpiresAt,
				want.DispatchedAt, want.CompletedAt, want.ExpiresAt)
		}
	}
	if n := rawCount(t, viaCopy, "count(*)", ""); n != len(rs) {
		t.Fatalf("rows after COPY = %d, want %d", n, len(rs))
	}
}

// TestAppendLargeBatchSkipsStoredIDs: a batch large enough for COPY that
// holds an id already stored and an id twice still stores each new record
// once and leaves the stored one as it was.
func TestAppendLargeBatchSkipsStoredIDs(t *testing.T) {
	s := newTestStore(t, Config{})
	ctx := t.Context()
	first := testRecord("r000", 0)
	if err := s.Append(ctx, []audit.Record{first}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	var batch []audit.Record
	for i := range 2 * copyMinRecords {
		batch = append(batch, testRecord(fmt.Sprintf("r%03d", i), time.Duration(i)*time.Millisecond))
	}
	batch[0].Outcome = "failed" // the stored copy wins
	batch = append(batch, batch[5])
	if err := s.Append(ctx, batch); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if n := rawCount(t, s, "count(*)", ""); n != 2*copyMinRecords {
		t.Fatalf("rows = %d, want %d", n, 2*copyMinRecords)
	}
	got, err := s.GetByID(ctx, "r000")
	if err != nil || got.Outcome != "executed" {
		t.Fatalf("GetByID(r000) = %+v, %v; want the first stored copy", got.Outcome, err)
	}
	// The same batch again (a retry whose first try succeeded unseen).
	if err := s.Append(ctx, batch); err != nil {
		t.Fatalf("Append of the same batch again: %v", err)
	}
	if n := rawCount(t, s, "count(*)", ""); n != 2*copyMinRecords {
		t.Fatalf("rows after the retry = %d, want %d", n, 2*copyMinRecords)
	}
}

// TestAppendLargeBatchIsAllOrNothing: a COPY-sized batch that breaks a
// constraint other than the id (two records with one hash-chain sequence
// number) stores nothing.
func TestAppendLargeBatchIsAllOrNothing(t *testing.T) {
	s := newTestStore(t, Config{})
	var batch []audit.Record
	for i := range 2 * copyMinRecords {
		batch = append(batch, testRecord(fmt.Sprintf("r%03d", i), time.Duration(i)*time.Millisecond))
	}
	batch[3].SequenceNumber = ptr(uint64(7))
	batch[40].SequenceNumber = ptr(uint64(7))
	if err := s.Append(t.Context(), batch); err == nil {
		t.Fatal("Append of a batch breaking the hash-chain uniqueness succeeded")
	}
	if n := rawCount(t, s, "count(*)", ""); n != 0 {
		t.Fatalf("rows = %d after a failed Append, want 0", n)
	}
}
