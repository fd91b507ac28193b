package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/acteon/acteon-go/internal/jsonw"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/acteon/acteon-go/internal/audit"
)

// statements are the store's SQL texts that do not depend on the query.
type statements struct {
	insert        string
	copy          string
	getByID       string
	getByActionID string
	cleanup       string
}

// selectCols lists the columns every read selects, in scanRecord's order.
var selectCols = func() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}()

// cleanupChunk is how many expired records one DELETE removes, so that a
// large backlog is deleted in steps that each fit in the operation timeout.
const cleanupChunk = 5000

func newStatements(table string) statements {
	// The batch travels as one array per column (in the order of columns)
	// and unnest turns the arrays back into rows.
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s)\nSELECT * FROM unnest(", table, selectCols)
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		t := c.dataType
		if t == "timestamp with time zone" {
			t = "timestamptz"
		}
		fmt.Fprintf(&b, "$%d::%s[]", i+1, t)
	}
	b.WriteString(")\nON CONFLICT (id) DO NOTHING")
	return statements{
		insert:        b.String(),
		copy:          copySQL(table),
		getByID:       fmt.Sprintf("SELECT %s FROM %s WHERE id = $1", selectCols, table),
		getByActionID: fmt.Sprintf("SELECT %s FROM %s WHERE action_id = $1 ORDER BY dispatched_at DESC, id DESC LIMIT 1", selectCols, table),
		cleanup: fmt.Sprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %[1]s WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT %d))",
			table, cleanupChunk),
	}
}

// batch holds a batch of records as one slice per column.
type batch struct {
	id, actionID                            []string
	chainID                                 []*string
	namespace, tenant, provider, actionType []string
	verdict                                 []string
	matchedRule                             []*string
	outcome                                 []string
	payload, verdictDetails, outcomeDetails [][]byte
	metadata                                [][]byte
	dispatchedAt, completedAt               []time.Time
	durationMs                              []int64
	expiresAt                               []pgtype.Timestamptz
	callerID, authMethod                    []string
	recordHash, previousHash                []*string
	sequence                                []pgtype.Int8
	attachments                             [][]byte
	signature, signerID, kid, canonicalHash []*string
}

// args returns the batch as the insert statement's arguments, in the order
// of columns.
func (b *batch) args() []any {
	// FlatArray keeps pgx off its reflection path for these element types.
	type S = pgtype.FlatArray[*string]
	type J = pgtype.FlatArray[[]byte]
	return []any{
		b.id, b.actionID, S(b.chainID), b.namespace, b.tenant, b.provider, b.actionType,
		b.verdict, S(b.matchedRule), b.outcome, J(b.payload), J(b.verdictDetails), J(b.outcomeDetails),
		J(b.metadata), b.dispatchedAt, b.completedAt, b.durationMs, pgtype.FlatArray[pgtype.Timestamptz](b.expiresAt),
		b.callerID, b.authMethod, S(b.recordHash), S(b.previousHash), pgtype.FlatArray[pgtype.Int8](b.sequence),
		J(b.attachments), S(b.signature), S(b.signerID), S(b.kid), S(b.canonicalHash),
	}
}

var (
	jsonNull       = []byte("null")
	emptyObject    = []byte("{}")
	emptyArray     = []byte("[]")
	jsonNulEscape  = []byte(`\u0000`)
	minStorableUTC = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	maxStorableUTC = time.Date(294275, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Append stores records in one statement: each record's times truncated to
// milliseconds (D20), a record whose id is already stored (or repeated in
// the batch) skipped. Either every new record is stored or none is. A
// record PostgreSQL cannot hold fails the whole call with ErrInvalidRecord
// before anything is sent.
//
// A batch of copyMinRecords or more goes first as one binary COPY, which
// costs the server much less per row than INSERT … SELECT FROM unnest; if
// COPY hits an id that is already stored it stores nothing, and the batch
// is sent again as the INSERT … ON CONFLICT (id) DO NOTHING.
func (s *Store) Append(ctx context.Context, records []audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	b, err := newBatch(records)
	if err != nil {
		return err
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	if len(records) >= copyMinRecords {
		err := s.copyAppend(octx, b, len(records))
		if err == nil {
			return nil
		}
		if !uniqueViolation(err) {
			return s.fail(ctx, fmt.Sprintf("copy %d records to %s", len(records), s.table), err)
		}
	}
	if _, err := s.pool.Exec(octx, s.sql.insert, b.args()...); err != nil {
		return s.fail(ctx, fmt.Sprintf("append %d records to %s", len(records), s.table), err)
	}
	return nil
}

func newBatch(records []audit.Record) (*batch, error) {
	n := len(records)
	b := &batch{
		id: make([]string, n), actionID: make([]string, n), chainID: make([]*string, n),
		namespace: make([]string, n), tenant: make([]string, n), provider: make([]string, n),
		actionType: make([]string, n), verdict: make([]string, n), matchedRule: make([]*string, n),
		outcome: make([]string, n), payload: make([][]byte, n), verdictDetails: make([][]byte, n),
		outcomeDetails: make([][]byte, n), metadata: make([][]byte, n),
		dispatchedAt: make([]time.Time, n), completedAt: make([]time.Time, n),
		durationMs: make([]int64, n), expiresAt: make([]pgtype.Timestamptz, n),
		callerID: make([]string, n), authMethod: make([]string, n),
		recordHash: make([]*string, n), previousHash: make([]*string, n),
		sequence: make([]pgtype.Int8, n), attachments: make([][]byte, n),
		signature: make([]*string, n), signerID: make([]*string, n), kid: make([]*string, n),
		canonicalHash: make([]*string, n),
	}
	for i := range records {
		if err := b.set(i, &records[i]); err != nil {
			id := records[i].ID
			if len(id) > 80 || !utf8.ValidString(id) {
				id = fmt.Sprintf("%.80q", id)
			}
			return nil, fmt.Errorf("%w: record %d of %d (id %s): %w", ErrInvalidRecord, i+1, n, id, err)
		}
	}
	return b, nil
}

// set fills row i from r, checking that PostgreSQL can store it.
func (b *batch) set(i int, r *audit.Record) error {
	if r.ID == "" {
		return fmt.Errorf("no id")
	}
	for _, f := range [...]struct {
		name string
		v    string
	}{
		{"id", r.ID}, {"action_id", r.ActionID}, {"namespace", r.Namespace}, {"tenant", r.Tenant},
		{"provider", r.Provider}, {"action_type", r.ActionType}, {"verdict", r.Verdict},
		{"outcome", r.Outcome}, {"caller_id", r.CallerID}, {"auth_method", r.AuthMethod},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range [...]struct {
		name string
		v    *string
	}{
		{"chain_id", r.ChainID}, {"matched_rule", r.MatchedRule}, {"record_hash", r.RecordHash},
		{"previous_hash", r.PreviousHash}, {"signature", r.Signature}, {"signer_id", r.SignerID},
		{"kid", r.Kid}, {"canonical_hash", r.CanonicalHash},
	} {
		if f.v != nil {
			if err := checkText(f.name, *f.v); err != nil {
				return err
			}
		}
	}
	b.id[i], b.actionID[i], b.chainID[i] = r.ID, r.ActionID, r.ChainID
	b.namespace[i], b.tenant[i], b.provider[i], b.actionType[i] = r.Namespace, r.Tenant, r.Provider, r.ActionType
	b.verdict[i], b.matchedRule[i], b.outcome[i] = r.Verdict, r.MatchedRule, r.Outcome
	b.callerID[i], b.authMethod[i] = r.CallerID, r.AuthMethod
	b.recordHash[i], b.previousHash[i] = r.RecordHash, r.PreviousHash
	b.signature[i], b.signerID[i], b.kid[i], b.canonicalHash[i] = r.Signature, r.SignerID, r.Kid, r.CanonicalHash

	var err error
	if len(r.ActionPayload) > 0 { // else NULL
		if b.payload[i], err = checkJSON("action_payload", r.ActionPayload); err != nil {
			return err
		}
	}
	if b.verdictDetails[i], err = jsonOrNull("verdict_details", r.VerdictDetails); err != nil {
		return err
	}
	if b.outcomeDetails[i], err = jsonOrNull("outcome_details", r.OutcomeDetails); err != nil {
		return err
	}
	if b.metadata[i], err = metadataJSON(r.Metadata); err != nil {
		return err
	}
	if b.attachments[i], err = attachmentsJSON(r.AttachmentMetadata); err != nil {
		return err
	}

	if b.dispatchedAt[i], err = storableTime("dispatched_at", r.DispatchedAt); err != nil {
		return err
	}
	if b.completedAt[i], err = storableTime("completed_at", r.CompletedAt); err != nil {
		return err
	}
	if r.ExpiresAt != nil {
		t, err := storableTime("expires_at", *r.ExpiresAt)
		if err != nil {
			return err
		}
		b.expiresAt[i] = pgtype.Timestamptz{Time: t, Valid: true}
	}
	if r.DurationMs > math.MaxInt64 {
		return fmt.Errorf("duration_ms %d exceeds BIGINT", r.DurationMs)
	}
	b.durationMs[i] = int64(r.DurationMs)
	if r.SequenceNumber != nil {
		if *r.SequenceNumber > math.MaxInt64 {
			return fmt.Errorf("sequence_number %d exceeds BIGINT", *r.SequenceNumber)
		}
		b.sequence[i] = pgtype.Int8{Int64: int64(*r.SequenceNumber), Valid: true}
	}
	return nil
}

// checkText rejects what a PostgreSQL text column cannot hold.
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%s contains a NUL character", field)
	}
	return nil
}

// checkJSON rejects what a jsonb column cannot hold: invalid JSON, invalid
// UTF-8, and the \u0000 escape (jsonb refuses it).
func checkJSON(field string, m []byte) ([]byte, error) {
	if !json.Valid(m) {
		return nil, fmt.Errorf("%s is not valid JSON", field)
	}
	if !utf8.Valid(m) {
		return nil, fmt.Errorf("%s is not valid UTF-8", field)
	}
	if bytes.Contains(m, jsonNulEscape) {
		return nil, fmt.Errorf(`%s contains \u0000, which jsonb cannot store`, field)
	}
	return m, nil
}

// jsonOrNull is checkJSON for a NOT NULL column: a missing value is JSON
// null.
func jsonOrNull(field string, m []byte) ([]byte, error) {
	if len(m) == 0 {
		return jsonNull, nil
	}
	return checkJSON(field, m)
}

func metadataJSON(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return emptyObject, nil
	}
	for k, v := range m {
		if err := checkText("metadata key", k); err != nil {
			return nil, err
		}
		if err := checkText("metadata["+k+"]", v); err != nil {
			return nil, err
		}
	}
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 6
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for k, v := range m {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = appendJSONString(out, v)
	}
	return append(out, '}'), nil
}

// appendJSONString appends v as a JSON string.
func appendJSONString(out []byte, v string) []byte { return jsonw.AppendString(out, v) }

func attachmentsJSON(as []json.RawMessage) ([]byte, error) {
	if len(as) == 0 {
		return emptyArray, nil
	}
	n := 2 + len(as)
	for _, a := range as {
		n += len(a)
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, a := range as {
		if _, err := checkJSON(fmt.Sprintf("attachment_metadata[%d]", i), a); err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, a...)
	}
	return append(out, ']'), nil
}

// storableTime truncates t to milliseconds in UTC (D20) and checks that
// PostgreSQL can store it.
func storableTime(field string, t time.Time) (time.Time, error) {
	t = t.Truncate(time.Millisecond).UTC()
	if t.Before(minStorableUTC) || !t.Before(maxStorableUTC) {
		return time.Time{}, fmt.Errorf("%s %s is outside the range PostgreSQL stores", field, t.Format(time.RFC3339))
	}
	return t, nil
}
