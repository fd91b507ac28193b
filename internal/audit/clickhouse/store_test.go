package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/audit/audittest"
	"github.com/acteon/acteon-go/internal/clock"
)

// noClose lets the conformance cases share one store: each case closes
// what newStore returned.
type noClose struct{ *Store }

func (noClose) Close() error { return nil }

func TestConformance(t *testing.T) {
	s := migratedStore(t)
	audittest.Run(t, func(t *testing.T) audit.Store { return noClose{s} })
}

func TestNewUnreachable(t *testing.T) {
	// A port nobody listens on: listen, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	_, err = New(t.Context(), Config{URL: "http://acteon:s3cret-pw@" + addr + "/?password=s3cret-q", OpTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("New against a closed port succeeded")
	}
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("New error %q does not wrap audit.ErrUnavailable", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "clickhouse") || !strings.Contains(msg, addr) {
		t.Errorf("New error %q does not name clickhouse and %s", msg, addr)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("New error %q reveals a credential", msg)
	}
}

func TestNewBadPasswordNotPrinted(t *testing.T) {
	url := strings.Replace(serverURL(t), "://", "://default:wrong-s3cret@", 1)
	_, err := New(t.Context(), Config{URL: url})
	if err == nil {
		t.Skip("the server accepts any password for user default")
	}
	if errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("a rejected password is reported as unavailable: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-s3cret") {
		t.Errorf("error %q reveals the password", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"defaults", Config{}, ""},
		{"https", Config{URL: "https://ch.example:8443"}, ""},
		{"bad scheme", Config{URL: "tcp://u:pw@ch:9000"}, "want http(s)://host:port, got tcp://ch:9000"},
		{"bad database", Config{Database: "a-b"}, `database: want letters`},
		{"bad prefix", Config{Prefix: "x; DROP"}, `prefix: want letters`},
		{"prefix with digit first", Config{Prefix: "1_"}, `prefix`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), "pw"):
				t.Fatalf("Validate = %v reveals the password", err)
			}
		})
	}
}

func TestMigrateAndCheckSchema(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, serverURL(t), uniquePrefix())
	t.Cleanup(func() { _ = s.drop(context.Background()) })

	err := s.CheckSchema(ctx)
	if err == nil || !strings.Contains(err.Error(), s.name+" is missing") {
		t.Fatalf("CheckSchema before Migrate = %v, want the table named as missing", err)
	}
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}

	// A table from an older schema lacks columns: CheckSchema names them,
	// Migrate adds them back.
	s.raw(t, "ALTER TABLE "+s.table+" DROP COLUMN kid")
	s.raw(t, "ALTER TABLE "+s.table+" DROP COLUMN canonical_hash")
	err = s.CheckSchema(ctx)
	for _, want := range []string{"column kid Nullable(String) is missing", "column canonical_hash Nullable(String) is missing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema without two columns = %v, want it to say %q", err, want)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate adding columns: %v", err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after re-Migrate: %v", err)
	}
	if got := s.raw(t, "SELECT name FROM system.columns WHERE database = "+quote(s.db)+" AND table = "+quote(s.name)+" FORMAT TabSeparated"); got != strings.ReplaceAll(columnList, ", ", "\n") {
		t.Errorf("columns after re-Migrate, in order:\n%s\nwant:\n%s", got, columnList)
	}
}

func TestCheckSchemaWrongEngine(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, serverURL(t), uniquePrefix())
	t.Cleanup(func() { _ = s.drop(context.Background()) })
	// A table as an older, non-deduplicating schema would have made it.
	s.raw(t, "CREATE TABLE "+s.table+" (id String, namespace String, tenant String, dispatched_at_ms String) ENGINE = MergeTree() ORDER BY (namespace, tenant, dispatched_at_ms)")
	err := s.CheckSchema(ctx)
	for _, want := range []string{
		"engine MergeTree, want ReplacingMergeTree",
		"sorting key (namespace, tenant, dispatched_at_ms), want (namespace, tenant, dispatched_at_ms, id)",
		"column dispatched_at_ms is String, want Int64",
		"column action_id String is missing",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema = %v\nwant it to say %q", err, want)
		}
	}
	if err := s.Migrate(ctx); err == nil {
		t.Error("Migrate over a table with the wrong engine succeeded")
	}
}

// TestReappendSeenOnce re-appends stored records (as the writer does after
// a timeout whose insert had succeeded) and checks that every read sees
// each record once while the table physically holds the copies.
func TestReappendSeenOnce(t *testing.T) {
	ctx := t.Context()
	s := migratedStore(t)
	ns := randomNS()
	// Keep the copies apart until the test merges them itself.
	s.raw(t, "SYSTEM STOP MERGES "+s.table)
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	var batch []audit.Record
	for i := range 10 {
		batch = append(batch, testRecord(ns, fmt.Sprintf("%s-r%02d", ns, i), at.Add(time.Duration(i)*time.Millisecond)))
	}
	for range 3 {
		if err := s.Append(ctx, batch); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := s.Append(ctx, batch[3:5]); err != nil {
		t.Fatalf("Append: %v", err)
	}

	where := " WHERE namespace = " + quote(ns)
	if got := s.raw(t, "SELECT count() FROM "+s.table+where); got != "32" {
		t.Errorf("physical rows = %s, want 32 (3 × 10 + 2 copies)", got)
	}
	if got := s.raw(t, "SELECT count() FROM "+s.table+" FINAL"+where); got != "10" {
		t.Errorf("count() FINAL = %s, want 10", got)
	}
	p, err := s.Query(ctx, audit.Query{Namespace: ns, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total == nil || *p.Total != 10 || len(p.Records) != 10 {
		t.Fatalf("Query: %d records, Total %v; want 10, 10", len(p.Records), p.Total)
	}
	seen := map[string]bool{}
	for _, r := range p.Records {
		if seen[r.ID] {
			t.Errorf("record %s listed twice", r.ID)
		}
		seen[r.ID] = true
	}
	// Cursor pages too.
	var ids []string
	q := audit.Query{Namespace: ns, Limit: 3}
	for {
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			ids = append(ids, r.ID)
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if len(ids) != 10 {
		t.Errorf("cursor walk: %d records, want 10: %v", len(ids), ids)
	}
	// Merging the parts leaves one physical row per record.
	s.raw(t, "SYSTEM START MERGES "+s.table)
	s.raw(t, "OPTIMIZE TABLE "+s.table+" FINAL")
	if got := s.raw(t, "SELECT count() FROM "+s.table+where); got != "10" {
		t.Errorf("physical rows after OPTIMIZE FINAL = %s, want 10", got)
	}
}

// TestRedactedSecretNeverStored appends through the Redacting decorator and
// reads the raw table: the secret is in no column of any row.
func TestRedactedSecretNeverStored(t *testing.T) {
	ctx := t.Context()
	s := migratedStore(t)
	ns := randomNS()
	const secret = "hunter2-Sup3rSecret"
	st := audit.NewRedacting(s, []string{"password", "auth.token"}, "[REDACTED]")
	r := testRecord(ns, ns+"-red", time.Now())
	r.ActionPayload = []byte(`{"user":"ops","password":"` + secret + `","auth":{"token":"` + secret + `","kind":"bearer"},"list":[{"Password":"` + secret + `"}]}`)
	if err := st.Append(ctx, []audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	// Every column as text, so nothing escapes the search.
	var cols []string
	for _, c := range columns {
		cols = append(cols, "ifNull(toString("+c.name+"), '')")
	}
	row := s.raw(t, "SELECT concat("+strings.Join(cols, ", '|', ")+") FROM "+s.table+" WHERE namespace = "+quote(ns)+" FORMAT TabSeparated")
	if row == "" {
		t.Fatal("the record is not in the table")
	}
	if strings.Contains(row, "hunter2") {
		t.Fatalf("raw row holds the secret:\n%s", row)
	}
	if got := s.raw(t, "SELECT count() FROM "+s.table+" WHERE position(action_payload, 'hunter2') > 0"); got != "0" {
		t.Fatalf("%s rows hold the secret", got)
	}
	if !strings.Contains(row, `"password":"[REDACTED]"`) || !strings.Contains(row, `"user":"ops"`) {
		t.Fatalf("payload not redacted as configured:\n%s", row)
	}
	got, err := s.GetByID(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got.ActionPayload), "hunter2") {
		t.Fatalf("GetByID returns the secret: %s", got.ActionPayload)
	}
}

// TestExactBytes stores strings holding every byte value, quotes,
// backslashes, tabs, newlines and invalid UTF-8 in every kind of column and
// reads them back unchanged; it also filters on them.
func TestExactBytes(t *testing.T) {
	ctx := t.Context()
	s := migratedStore(t)
	ns := randomNS()
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	nasty := "it's \"quoted\" \\ back\\slash\t\n\r\x00 é 😀 \xff\xfe '; DROP TABLE x; -- " + string(all)
	r := testRecord(ns, ns+"-"+nasty, time.Now())
	r.Tenant = nasty
	r.MatchedRule = &nasty
	r.CallerID = nasty
	r.ActionPayload = []byte(`{"s":"` + strings.ReplaceAll(nasty, `"`, `'`) + `"}`) // not valid JSON: stored as is
	r.Metadata = map[string]string{"k\t'": "v\\\"\n"}
	if err := s.Append(ctx, []audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetByID(ctx, r.ID)
	if err != nil {
		t.Fatalf("GetByID(nasty id): %v", err)
	}
	if got.ID != r.ID || got.Tenant != nasty || *got.MatchedRule != nasty || got.CallerID != nasty {
		t.Errorf("strings changed on the way:\n got %q\nwant %q", got.Tenant, nasty)
	}
	if string(got.ActionPayload) != string(r.ActionPayload) {
		t.Errorf("payload changed:\n got %q\nwant %q", got.ActionPayload, r.ActionPayload)
	}
	if got.Metadata["k\t'"] != "v\\\"\n" {
		t.Errorf("metadata = %q", got.Metadata)
	}
	p, err := s.Query(ctx, audit.Query{Namespace: ns, Tenant: nasty, MatchedRule: nasty, CallerID: nasty, TenantScope: []string{nasty}})
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("Query filtering on the nasty strings: %d records, %v", len(p.Records), err)
	}
	// Injection attempts match nothing and break nothing.
	for _, v := range []string{"x' OR '1'='1", `x\' OR 1=1 --`, "tenant-1' OR tenant != '"} {
		p, err := s.Query(ctx, audit.Query{Namespace: ns, Tenant: v, TenantScope: []string{v}})
		if err != nil || len(p.Records) != 0 {
			t.Errorf("Query(tenant %q) = %d records, %v; want none", v, len(p.Records), err)
		}
	}
}

func TestAppendWithoutID(t *testing.T) {
	s := migratedStore(t)
	ns := randomNS()
	err := s.Append(t.Context(), []audit.Record{testRecord(ns, ns+"-ok", time.Now()), {}})
	if err == nil {
		t.Fatal("Append of a record without id succeeded")
	}
	if _, err := s.GetByID(t.Context(), ns+"-ok"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("a failed Append stored part of its batch: %v", err)
	}
}

func TestScopeWithEmptyPatterns(t *testing.T) {
	ctx := t.Context()
	s := migratedStore(t)
	ns := randomNS()
	if err := s.Append(ctx, []audit.Record{testRecord(ns, ns+"-1", time.Now())}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scope []string
		want  int
	}{
		{[]string{""}, 0},             // an empty pattern covers nothing
		{[]string{"", "tenant-1"}, 1}, // … and does not spoil the others
		{[]string{"", "*"}, 1},
		{[]string{"tenant"}, 0}, // a string prefix is not a parent tenant
	} {
		p, err := s.Query(ctx, audit.Query{Namespace: ns, TenantScope: c.scope})
		if err != nil || len(p.Records) != c.want || p.Total == nil || *p.Total != c.want {
			t.Errorf("scope %q: %d records, Total %v, %v; want %d", c.scope, len(p.Records), p.Total, err, c.want)
		}
	}
}

// TestCleanupCountsRecordsOnce re-appends an expired record and checks that
// CleanupExpired counts it once and removes every copy; a zero now means
// the configured clock.
func TestCleanupCountsRecordsOnce(t *testing.T) {
	ctx := t.Context()
	owner := migratedStore(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := clock.NewFake(now)
	s, err := New(ctx, Config{URL: serverURL(t), Prefix: strings.TrimSuffix(owner.name, "audit"), Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.raw(t, "SYSTEM STOP MERGES "+s.table)
	ns := randomNS()
	r := testRecord(ns, ns+"-exp", now.Add(-time.Hour))
	exp := now.Add(time.Minute)
	r.ExpiresAt = &exp
	keep := testRecord(ns, ns+"-keep", now.Add(-time.Hour))
	for range 3 {
		if err := s.Append(ctx, []audit.Record{r, keep}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.CleanupExpired(ctx, time.Time{}); err != nil || n != 0 {
		t.Fatalf("CleanupExpired before expiry = %d, %v; want 0", n, err)
	}
	if got := s.raw(t, "SELECT count() FROM "+s.table+" WHERE namespace = "+quote(ns)); got != "6" {
		t.Fatalf("physical rows = %s, want 6 (three copies of two records)", got)
	}
	// Mutations run as merges: start them again.
	s.raw(t, "SYSTEM START MERGES "+s.table)
	fake.Advance(time.Minute)
	if n, err := s.CleanupExpired(ctx, time.Time{}); err != nil || n != 1 {
		t.Fatalf("CleanupExpired at expiry = %d, %v; want 1 (three copies of one record)", n, err)
	}
	if got := s.raw(t, "SELECT count() FROM "+s.table+" WHERE id = "+quote(r.ID)); got != "0" {
		t.Errorf("physical rows of the expired record left = %s, want 0", got)
	}
	if _, err := s.GetByID(ctx, keep.ID); err != nil {
		t.Errorf("GetByID(not expiring): %v", err)
	}
	if _, err := s.GetByID(ctx, r.ID); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("GetByID(expired) = %v, want ErrNotFound", err)
	}
}

func TestMillis(t *testing.T) {
	for _, c := range []struct {
		t           time.Time
		floor, ceil int64
	}{
		{time.UnixMilli(1500), 1500, 1500},
		{time.Unix(1, 500_000_001), 1500, 1501},
		{time.Unix(1, 500_999_999), 1500, 1501},
		{time.Unix(-1, 999_500_000), -1, 0}, // 0.5 ms before the epoch
		{time.UnixMilli(-1500), -1500, -1500},
	} {
		if got := millis(c.t); got != c.floor {
			t.Errorf("millis(%v) = %d, want %d", c.t, got, c.floor)
		}
		if got := ceilMillis(c.t); got != c.ceil {
			t.Errorf("ceilMillis(%v) = %d, want %d", c.t, got, c.ceil)
		}
	}
}
