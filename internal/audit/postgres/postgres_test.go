package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/audit/audittest"
)

func ptr[T any](v T) *T { return &v }

func TestConformance(t *testing.T) {
	url := testURL(t)
	audittest.Run(t, func(t *testing.T) audit.Store {
		s := openStore(t, url, Config{})
		dropAtEnd(t, s)
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	})
}

func TestAppendSkipsStoredIDs(t *testing.T) {
	s := newTestStore(t, Config{})
	ctx := t.Context()
	first := testRecord("r1", 0)
	if err := s.Append(ctx, []audit.Record{first}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	// A retried batch: r1 again (with other content: the stored copy wins),
	// plus new records, one of them twice.
	again := testRecord("r1", time.Hour)
	again.Outcome = "failed"
	batch := []audit.Record{testRecord("r2", time.Millisecond), again, testRecord("r3", 2*time.Millisecond), testRecord("r2", time.Millisecond)}
	if err := s.Append(ctx, batch); err != nil {
		t.Fatalf("Append of a batch holding a stored id: %v", err)
	}
	if n := rawCount(t, s, "count(*)", ""); n != 3 {
		t.Fatalf("rows = %d, want 3", n)
	}
	if n := rawCount(t, s, "count(*)", "id = $1", "r1"); n != 1 {
		t.Fatalf("rows with id r1 = %d, want 1", n)
	}
	got, err := s.GetByID(ctx, "r1")
	if err != nil {
		t.Fatalf("GetByID: %v", err)
	}
	if got.Outcome != "executed" || !got.DispatchedAt.Equal(testBase) {
		t.Fatalf("r1 = outcome %s at %v, want the first copy (executed at %v)", got.Outcome, got.DispatchedAt, testBase)
	}
}

func TestRedactedPayloadNeverReachesTable(t *testing.T) {
	s := newTestStore(t, Config{})
	store := audit.NewRedacting(s, []string{"password", "card.number"}, "[REDACTED]")
	r := testRecord("secret", 0)
	r.ActionPayload = json.RawMessage(`{"user":"bob","password":"hunter2-pw","card":{"number":"4111111111111111","exp":"12/30"},"items":[{"Password":"x-pw-2"}]}`)
	if err := store.Append(t.Context(), []audit.Record{r}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	var raw string
	if err := s.pool.QueryRow(t.Context(), "SELECT action_payload::text FROM "+s.table+" WHERE id = $1", r.ID).Scan(&raw); err != nil {
		t.Fatalf("read raw payload: %v", err)
	}
	for _, secret := range []string{"hunter2-pw", "4111111111111111", "x-pw-2"} {
		if strings.Contains(raw, secret) {
			t.Errorf("stored payload %s holds the secret %q", raw, secret)
		}
		if n := rawCount(t, s, "count(*)", "action_payload::text LIKE $1", "%"+secret+"%"); n != 0 {
			t.Errorf("%d rows hold the secret %q", n, secret)
		}
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("stored payload is not JSON: %v", err)
	}
	card, _ := got["card"].(map[string]any)
	if got["password"] != "[REDACTED]" || card["number"] != "[REDACTED]" || card["exp"] != "12/30" || got["user"] != "bob" {
		t.Fatalf("stored payload = %s, want password and card.number redacted, the rest kept", raw)
	}
}

// TestWriterSurvivesOutage cuts the connection to PostgreSQL for about two
// seconds while an audit.Writer is storing records through the store: every
// record must end up stored exactly once.
func TestWriterSurvivesOutage(t *testing.T) {
	const n = 5000
	direct := newTestStore(t, Config{})
	proxied, p := viaProxy(t, testURL(t))
	s := openStore(t, proxied, Config{Prefix: strings.TrimSuffix(direct.table, "audit"), MaxConns: 4,
		ConnectTimeout: 5 * time.Second, OpTimeout: 5 * time.Second})
	obs := &observed{Store: s}
	w := audit.NewWriter(obs, audit.WriterOptions{BatchSize: 500, FlushInterval: 10 * time.Millisecond, RetryBackoff: 50 * time.Millisecond})
	ctx := t.Context()
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := w.Write(ctx, testRecord(fmt.Sprintf("w%05d", i), time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatalf("Write %d: %v", i, err)
			}
		}
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	write(0, n/2)
	waitFor("the first records to be stored", func() bool { return rawCount(t, direct, "count(*)", "") >= 1000 })
	p.cut()
	cutAt := time.Now()
	write(n/2, n) // queued while the server is unreachable
	waitFor("a failed append during the outage", func() bool { return len(obs.failures()) > 0 })
	time.Sleep(2*time.Second - time.Since(cutAt))
	p.restore()

	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := w.Close(fctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := rawCount(t, direct, "count(*)", ""); got != n {
		t.Errorf("count(*) = %d, want %d", got, n)
	}
	if got := rawCount(t, direct, "count(DISTINCT id)", ""); got != n {
		t.Errorf("count(DISTINCT id) = %d, want %d", got, n)
	}
	fails := obs.failures()
	for _, err := range fails {
		wantUnavailable(t, "append during outage", err)
	}
	t.Logf("%d appends failed during the outage and were retried", len(fails))
}

// TestOperationsReportUnavailable checks that every operation fails with
// audit.ErrUnavailable while the server is unreachable, and works again
// once it is back, without a new store.
func TestOperationsReportUnavailable(t *testing.T) {
	direct := newTestStore(t, Config{})
	proxied, p := viaProxy(t, testURL(t))
	s := openStore(t, proxied, Config{Prefix: strings.TrimSuffix(direct.table, "audit"), ConnectTimeout: 5 * time.Second, OpTimeout: 5 * time.Second})
	ctx := t.Context()
	if err := s.Append(ctx, []audit.Record{testRecord("before", 0)}); err != nil {
		t.Fatalf("Append before the outage: %v", err)
	}
	p.cut()
	ops := []struct {
		name string
		run  func() error
	}{
		{"Append", func() error { return s.Append(ctx, []audit.Record{testRecord("during", 0)}) }},
		{"Append (COPY)", func() error {
			var rs []audit.Record
			for i := range 2 * copyMinRecords {
				rs = append(rs, testRecord(fmt.Sprintf("during-%d", i), 0))
			}
			return s.Append(ctx, rs)
		}},
		{"GetByID", func() error { _, err := s.GetByID(ctx, "before"); return err }},
		{"GetByActionID", func() error { _, err := s.GetByActionID(ctx, "action-before"); return err }},
		{"Query offset", func() error { _, err := s.Query(ctx, audit.Query{}); return err }},
		{"Query cursor", func() error {
			_, err := s.Query(ctx, audit.Query{Cursor: audit.EncodeCursor(audit.Cursor{Kind: audit.CursorKindTime, TimeMs: 1 << 50, ID: "z"})})
			return err
		}},
		{"CleanupExpired", func() error { _, err := s.CleanupExpired(ctx, time.Now()); return err }},
		{"Migrate", func() error { return s.Migrate(ctx) }},
		{"CheckSchema", func() error { return s.CheckSchema(ctx) }},
	}
	for _, op := range ops {
		err := op.run()
		if err == nil {
			t.Errorf("%s succeeded while the server was unreachable", op.name)
			continue
		}
		wantUnavailable(t, op.name, err)
		if !strings.Contains(err.Error(), "audit/postgres") {
			t.Errorf("%s: error %q does not name the backend", op.name, err)
		}
	}
	p.restore()
	if err := s.Append(ctx, []audit.Record{testRecord("after", time.Millisecond)}); err != nil {
		t.Fatalf("Append after the outage: %v", err)
	}
	page, err := s.Query(ctx, audit.Query{})
	if err != nil {
		t.Fatalf("Query after the outage: %v", err)
	}
	if len(page.Records) != 2 || page.Records[0].ID != "after" || page.Records[1].ID != "before" {
		t.Fatalf("records after the outage: %+v, want after, before", page.Records)
	}
}

func TestNewUnreachable(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	// A port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	_ = ln.Close()
	// A server that accepts and never answers.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, c := range []struct{ name, url string }{
		{"refused", "postgres://acteon:" + secret + "@" + refused + "/test?sslmode=disable"},
		{"hung", "postgres://acteon:" + secret + "@" + hung.Addr().String() + "/test?sslmode=disable"},
		{"key=value", "host=127.0.0.1 port=" + refused[strings.LastIndexByte(refused, ':')+1:] + " user=acteon password=" + secret + " dbname=test sslmode=disable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(t.Context(), Config{URL: c.url, ConnectTimeout: 300 * time.Millisecond})
			if err == nil {
				_ = s.Close()
				t.Fatal("New succeeded against an unreachable server")
			}
			if !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("error %v does not wrap audit.ErrUnavailable", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "postgres") || !strings.Contains(msg, "127.0.0.1") {
				t.Errorf("error %q does not name postgres and the address", msg)
			}
			if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
				t.Errorf("error reveals the password: %q", msg)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []struct{ name, url, prefix, want string }{
		{"prefix with quote", "postgres://127.0.0.1/test", `x"; DROP TABLE y; --`, "prefix"},
		{"prefix upper case", "postgres://127.0.0.1/test", "Acteon_", "prefix"},
		{"prefix too long", "postgres://127.0.0.1/test", strings.Repeat("a", 39), "prefix"},
		{"bad url", "postgres://u:pw-xyz@127.0.0.1:notaport/test", "", "URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(t.Context(), Config{URL: c.url, Prefix: c.prefix})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error about the %s", err, c.want)
			}
			if strings.Contains(err.Error(), "pw-xyz") {
				t.Fatalf("error reveals the password: %v", err)
			}
		})
	}
}

func TestMigrateAndCheckSchema(t *testing.T) {
	s := openStore(t, testURL(t), Config{})
	dropAtEnd(t, s)
	ctx := t.Context()
	err := s.CheckSchema(ctx)
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "table "+s.table+" does not exist") {
		t.Fatalf("CheckSchema before Migrate = %v, want ErrSchema naming the missing table", err)
	}
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
	// Break it: an index, a late column, a column's type.
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(`DROP INDEX idx_%[1]s_expires; ALTER TABLE %[1]s DROP COLUMN kid; ALTER TABLE %[1]s ALTER COLUMN caller_id TYPE varchar(100)`, s.table)); err != nil {
		t.Fatal(err)
	}
	err = s.CheckSchema(ctx)
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("CheckSchema of a broken table = %v, want ErrSchema", err)
	}
	for _, want := range []string{"column kid is missing", "index idx_" + s.table + "_expires is missing", "column caller_id has type character varying, want text"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema = %q, want it to say %q", err, want)
		}
	}
	// Migrate repairs what it can add (the type is left to the operator).
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN caller_id TYPE text`, s.table)); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate of a broken table: %v", err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after repair: %v", err)
	}
}

// TestMigrateConcurrently runs Migrate from several stores at once, as
// several nodes starting together would.
func TestMigrateConcurrently(t *testing.T) {
	first := openStore(t, testURL(t), Config{})
	dropAtEnd(t, first)
	prefix := strings.TrimSuffix(first.table, "audit")
	errs := make(chan error, 4)
	for range 4 {
		s := openStore(t, testURL(t), Config{Prefix: prefix})
		go func() { errs <- s.Migrate(t.Context()) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if err := first.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema: %v", err)
	}
}

func TestAppendRejectsUnstorableRecords(t *testing.T) {
	s := newTestStore(t, Config{})
	for _, c := range []struct {
		name string
		edit func(r *audit.Record)
		want string
	}{
		{"no id", func(r *audit.Record) { r.ID = "" }, "no id"},
		{"NUL in tenant", func(r *audit.Record) { r.Tenant = "a\x00b" }, "tenant contains a NUL"},
		{"invalid UTF-8 in provider", func(r *audit.Record) { r.Provider = "\xff" }, "provider is not valid UTF-8"},
		{"invalid UTF-8 in kid", func(r *audit.Record) { r.Kid = ptr("\xfe") }, "kid is not valid UTF-8"},
		{"payload not JSON", func(r *audit.Record) { r.ActionPayload = json.RawMessage(`{"a":`) }, "action_payload is not valid JSON"},
		{"payload with \\u0000", func(r *audit.Record) { r.ActionPayload = json.RawMessage(`{"a":"x\u0000y"}`) }, `\u0000`},
		{"payload invalid UTF-8", func(r *audit.Record) { r.ActionPayload = json.RawMessage("{\"a\":\"\xff\"}") }, "not valid UTF-8"},
		{"outcome details not JSON", func(r *audit.Record) { r.OutcomeDetails = json.RawMessage(`nope`) }, "outcome_details is not valid JSON"},
		{"attachment not JSON", func(r *audit.Record) {
			r.AttachmentMetadata = []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`[`)}
		}, "attachment_metadata[1]"},
		{"metadata NUL", func(r *audit.Record) { r.Metadata = map[string]string{"k": "v\x00"} }, "metadata[k] contains a NUL"},
		{"sequence beyond BIGINT", func(r *audit.Record) { r.SequenceNumber = ptr(uint64(math.MaxInt64) + 1) }, "sequence_number"},
		{"duration beyond BIGINT", func(r *audit.Record) { r.DurationMs = math.MaxUint64 }, "duration_ms"},
		{"year 300000", func(r *audit.Record) { r.DispatchedAt = time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC) }, "dispatched_at"},
		{"expiry before 4713 BC", func(r *audit.Record) { r.ExpiresAt = ptr(time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)) }, "expires_at"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := testRecord("bad-"+strings.ReplaceAll(c.name, " ", "-"), time.Millisecond)
			c.edit(&bad)
			good := testRecord("good-"+strings.ReplaceAll(c.name, " ", "-"), 0)
			err := s.Append(t.Context(), []audit.Record{good, bad})
			if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "record 2 of 2") {
				t.Fatalf("Append = %v, want ErrInvalidRecord about record 2 saying %q", err, c.want)
			}
			if errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("Append = %v: a bad record is not an outage", err)
			}
			if _, err := s.GetByID(t.Context(), good.ID); !errors.Is(err, audit.ErrNotFound) {
				t.Fatalf("the batch's valid record was stored (GetByID = %v): Append must be all-or-nothing", err)
			}
		})
	}
}

// TestAppendEdgeValues stores values at the edges of what a record holds
// and reads them back unchanged.
func TestAppendEdgeValues(t *testing.T) {
	s := newTestStore(t, Config{})
	r := testRecord(`id with 'quotes', "dq", \back\ and ünïcödé ☃`, 0)
	r.Tenant = `a%b_c\d`
	r.ActionPayload = json.RawMessage(`null`)
	r.VerdictDetails = nil
	r.OutcomeDetails = nil
	r.Metadata = map[string]string{`quo"te`: "line\nbreak\ttab\\ \x01\x1f ☃ </script>", "": ""}
	r.SequenceNumber = ptr(uint64(math.MaxInt64))
	r.DurationMs = math.MaxInt64
	r.DispatchedAt = time.Time{}
	r.CompletedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600))
	if err := s.Append(t.Context(), []audit.Record{r}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	got, err := s.GetByID(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("GetByID: %v", err)
	}
	want := r.AtMillis()
	switch {
	case got.Tenant != want.Tenant, string(got.ActionPayload) != "null", got.VerdictDetails != nil,
		got.OutcomeDetails != nil, !maps.Equal(got.Metadata, r.Metadata), *got.SequenceNumber != math.MaxInt64,
		got.DurationMs != math.MaxInt64, !got.DispatchedAt.Equal(want.DispatchedAt),
		!got.CompletedAt.Equal(want.CompletedAt), got.CompletedAt.Location() != time.UTC:
		t.Fatalf("read back %+v, want %+v", got, want)
	}
	page, err := s.Query(t.Context(), audit.Query{Tenant: r.Tenant, TenantScope: []string{`a%b_c\d`}})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("Query by tenant with LIKE characters = %d records, %v; want 1", len(page.Records), err)
	}
}

func TestCleanupExpiredInChunks(t *testing.T) {
	s := newTestStore(t, Config{})
	now := time.Now()
	const n = cleanupChunk*2 + 17
	rs := make([]audit.Record, 0, n+1)
	for i := range n {
		r := testRecord(fmt.Sprintf("e%06d", i), time.Duration(i))
		r.ExpiresAt = ptr(now.Add(-time.Duration(i) * time.Millisecond))
		rs = append(rs, r)
	}
	keep := testRecord("keep", 0)
	keep.ExpiresAt = ptr(now.Add(time.Millisecond))
	rs = append(rs, keep)
	for i := 0; i < len(rs); i += 1000 {
		if err := s.Append(t.Context(), rs[i:min(i+1000, len(rs))]); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	got, err := s.CleanupExpired(t.Context(), now)
	if err != nil || got != n {
		t.Fatalf("CleanupExpired = %d, %v; want %d", got, err, n)
	}
	if left := rawCount(t, s, "count(*)", ""); left != 1 {
		t.Fatalf("%d records left, want 1", left)
	}
	if got, err := s.CleanupExpired(t.Context(), now); err != nil || got != 0 {
		t.Fatalf("second CleanupExpired = %d, %v; want 0", got, err)
	}
}

func TestEscapeLike(t *testing.T) {
	for in, want := range map[string]string{
		"acme":    "acme",
		"a_b":     `a\_b`,
		"50%":     `50\%`,
		`back\sl`: `back\\sl`,
		`%_\`:     `\%\_\\`,
	} {
		if got := escapeLike(in); got != want {
			t.Errorf("escapeLike(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, v := range []string{"", "plain", `q"uote`, `back\slash`, "nl\ncr\rtab\t", "\x01\x1f\x7f", "☃ é 𝄞", "</script>&"} {
		enc := appendJSONString(nil, v)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil || got != v {
			t.Errorf("appendJSONString(%q) = %s, decodes to %q, %v", v, enc, got, err)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, v := range []string{"", "a\"b", "\\", "\x00", "\n\x1f☃"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if checkText("v", v) != nil {
			return // Append refuses these before encoding
		}
		enc := appendJSONString(nil, v)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil || got != v {
			t.Fatalf("appendJSONString(%q) = %s, decodes to %q, %v", v, enc, got, err)
		}
	})
}

func TestConfigNeverShowsPassword(t *testing.T) {
	for _, raw := range []string{
		"postgres://acteon:pw-S3cret@db:5432/acteon?sslmode=require",
		"host=db user=acteon password=pw-S3cret dbname=acteon",
		"host=db user=acteon password = 'pw-S3cret with space' dbname=acteon",
	} {
		cfg := Config{URL: raw, Prefix: "acteon_"}
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg)
		for _, out := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), logged.String()} {
			if strings.Contains(out, "S3cret") {
				t.Errorf("%q reveals the password", out)
			}
			if !strings.Contains(out, "db") {
				t.Errorf("%q does not show the host", out)
			}
		}
	}
}

func TestPasswordOf(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://u:p%40ss@h/db":                 "p@ss",
		"postgres://u@h/db":                        "",
		"host=h password=plain user=u":             "plain",
		`host=h password='with space \' q' user=u`: "with space ' q",
		"host=h user=u":                            "",
	} {
		if got := password(raw); got != want {
			t.Errorf("password(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestNewServerRefuses: a server that answers but refuses the connection
// (unknown database) is a configuration error, not an outage.
func TestNewServerRefuses(t *testing.T) {
	u, err := url.Parse(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/acteon_no_such_database"
	_, err = New(t.Context(), Config{URL: u.String()})
	if err == nil {
		t.Fatal("New succeeded on a database that does not exist")
	}
	if errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("New = %v: an unknown database is not an outage", err)
	}
	if !strings.Contains(err.Error(), "acteon_no_such_database") {
		t.Errorf("New = %v, want it to name the database", err)
	}
}

// TestSequenceNumberUnique: two records of one (namespace, tenant) cannot
// share a sequence number (the hash chain relies on it); the error says
// "duplicate" as the chain's retry expects, and the batch is not stored.
func TestSequenceNumberUnique(t *testing.T) {
	s := newTestStore(t, Config{})
	ctx := t.Context()
	a := testRecord("a", 0)
	a.SequenceNumber = ptr(uint64(0))
	if err := s.Append(ctx, []audit.Record{a}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	b := testRecord("b", time.Millisecond)
	b.SequenceNumber = ptr(uint64(0))
	other := testRecord("c", 2*time.Millisecond)
	other.Tenant = "tenant-2"
	other.SequenceNumber = ptr(uint64(0)) // another tenant: its own chain
	err := s.Append(ctx, []audit.Record{other, b})
	if err == nil || !strings.Contains(err.Error(), "duplicate") || errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Append of a taken sequence number = %v, want a duplicate-key error", err)
	}
	if n := rawCount(t, s, "count(*)", ""); n != 1 {
		t.Fatalf("%d records stored, want 1 (the failed batch stores nothing)", n)
	}
	// A retry of the stored record is still a no-op, not a conflict.
	if err := s.Append(ctx, []audit.Record{a, other}); err != nil {
		t.Fatalf("Append retrying a stored record: %v", err)
	}
}
