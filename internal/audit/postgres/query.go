package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/acteon/acteon-go/internal/audit"
)

// GetByID returns the record with that id, or an error wrapping
// audit.ErrNotFound.
func (s *Store) GetByID(ctx context.Context, id string) (audit.Record, error) {
	if checkText("id", id) != nil {
		return audit.Record{}, fmt.Errorf("audit/postgres: record %q: %w", id, audit.ErrNotFound)
	}
	return s.getOne(ctx, s.sql.getByID, "record", id)
}

// GetByActionID returns the action's record with the latest dispatched_at
// (ties: the greatest id), or an error wrapping audit.ErrNotFound.
func (s *Store) GetByActionID(ctx context.Context, actionID string) (audit.Record, error) {
	if checkText("action_id", actionID) != nil {
		return audit.Record{}, fmt.Errorf("audit/postgres: action %q: %w", actionID, audit.ErrNotFound)
	}
	return s.getOne(ctx, s.sql.getByActionID, "action", actionID)
}

func (s *Store) getOne(ctx context.Context, sql, what, key string) (audit.Record, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	r, err := scanRecord(s.pool.QueryRow(octx, sql, key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return audit.Record{}, fmt.Errorf("audit/postgres: %s %s: %w", what, key, audit.ErrNotFound)
	case err != nil:
		return audit.Record{}, s.fail(ctx, what+" "+key, err)
	}
	return r, nil
}

// where accumulates a WHERE clause and its arguments.
type where struct {
	conds []string
	args  []any
	// none: no stored record can match (say, a filter value PostgreSQL
	// could not even hold), so the query need not run.
	none bool
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) eq(col, v string) {
	if v == "" {
		return
	}
	if checkText(col, v) != nil {
		w.none = true
		return
	}
	w.conds = append(w.conds, col+" = "+w.arg(v))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// filter adds q's filters (not its cursor): exactly what q.Matches accepts.
func (w *where) filter(q *audit.Query) {
	w.eq("namespace", q.Namespace)
	w.eq("tenant", q.Tenant)
	w.eq("provider", q.Provider)
	w.eq("action_type", q.ActionType)
	w.eq("outcome", q.Outcome)
	w.eq("verdict", q.Verdict)
	w.eq("matched_rule", q.MatchedRule)
	w.eq("caller_id", q.CallerID)
	w.eq("chain_id", q.ChainID)
	w.eq("signer_id", q.SignerID)
	w.eq("kid", q.Kid)
	// Stored times are whole milliseconds, so dispatched_at >= From holds
	// iff it holds for From rounded up to a millisecond, and <= To iff for
	// To rounded down.
	if q.From != nil {
		from := q.From.Truncate(time.Millisecond)
		if from.Before(*q.From) {
			from = from.Add(time.Millisecond)
		}
		switch {
		case !from.Before(maxStorableUTC):
			w.none = true
		case from.After(minStorableUTC):
			w.conds = append(w.conds, "dispatched_at >= "+w.arg(from))
		}
	}
	if q.To != nil {
		to := q.To.Truncate(time.Millisecond)
		switch {
		case to.Before(minStorableUTC):
			w.none = true
		case to.Before(maxStorableUTC):
			w.conds = append(w.conds, "dispatched_at <= "+w.arg(to))
		}
	}
	w.scope(q.TenantScope)
}

// scope adds the tenant scope: tenant equals a pattern or starts with the
// pattern and a dot. "*" or no scope at all admits every tenant; an empty
// pattern admits none.
func (w *where) scope(patterns []string) {
	if len(patterns) == 0 {
		return
	}
	var exact, like []string
	for _, p := range patterns {
		switch {
		case p == "*":
			return
		case p == "" || checkText("tenant scope", p) != nil:
			continue
		}
		exact = append(exact, p)
		like = append(like, escapeLike(p)+".%")
	}
	if len(exact) == 0 {
		w.none = true
		return
	}
	w.conds = append(w.conds, "(tenant = ANY("+w.arg(exact)+") OR tenant LIKE ANY("+w.arg(like)+"))")
}

// escapeLike escapes LIKE's wildcards and its escape character (backslash).
func escapeLike(p string) string {
	if !strings.ContainsAny(p, `\%_`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\', '%', '_':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// after adds the keyset predicate: records strictly after cursor c in its
// order (see audit.Cursor.After).
func (w *where) after(c audit.Cursor) error {
	if checkText("cursor id", c.ID) != nil {
		return fmt.Errorf("audit/postgres: cursor id is not valid text: %w", audit.ErrBadCursor)
	}
	if c.Kind == audit.CursorKindSeq {
		switch {
		case c.Seq == nil:
			w.conds = append(w.conds, "(sequence_number IS NULL AND id > "+w.arg(c.ID)+")")
		case *c.Seq > math.MaxInt64: // beyond every stored number: only the nulls follow
			w.conds = append(w.conds, "sequence_number IS NULL")
		default:
			w.conds = append(w.conds, "((sequence_number, id) > ("+w.arg(int64(*c.Seq))+"::bigint, "+
				w.arg(c.ID)+") OR sequence_number IS NULL)")
		}
		return nil
	}
	t := time.UnixMilli(c.TimeMs).UTC()
	switch {
	case t.Before(minStorableUTC):
		w.none = true
	case !t.Before(maxStorableUTC):
		// Every stored record comes before the cursor.
	default:
		w.conds = append(w.conds, "(dispatched_at, id) < ("+w.arg(t)+"::timestamptz, "+w.arg(c.ID)+")")
	}
	return nil
}

// Query returns one page of matching records, exactly as the memory backend
// would. With a cursor it continues after the cursor's position and leaves
// Total nil; without one it skips Offset records and sets Total (counted in
// the same round trip). NextCursor is set iff more records follow. A bad
// cursor gives an error wrapping audit.ErrBadCursor.
func (s *Store) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	c, hasCursor, err := q.ParseCursor()
	if err != nil {
		return audit.Page{}, err
	}
	limit := audit.ClampLimit(q.Limit)
	page := audit.Page{Limit: limit, Records: []audit.Record{}}

	var w where
	w.filter(&q)
	filterSQL := w.sql()
	countArgs := len(w.args)
	if hasCursor {
		if err := w.after(c); err != nil {
			return audit.Page{}, err
		}
	} else {
		page.Offset = max(q.Offset, 0)
	}
	if w.none {
		if !hasCursor {
			zero := 0
			page.Total = &zero
		}
		return page, nil
	}

	var sql strings.Builder
	fmt.Fprintf(&sql, "SELECT %s FROM %s%s", selectCols, s.table, w.sql())
	if q.SortBySequenceAsc {
		sql.WriteString(" ORDER BY sequence_number ASC NULLS LAST, id ASC")
	} else {
		sql.WriteString(" ORDER BY dispatched_at DESC, id DESC")
	}
	fmt.Fprintf(&sql, " LIMIT %d", limit+1)
	if page.Offset > 0 {
		fmt.Fprintf(&sql, " OFFSET %d", page.Offset)
	}

	octx, cancel := s.op(ctx)
	defer cancel()
	var rows pgx.Rows
	if hasCursor {
		rows, err = s.pool.Query(octx, sql.String(), w.args...)
		if err != nil {
			return audit.Page{}, s.fail(ctx, "query "+s.table, err)
		}
	} else {
		// The count and the page in one round trip.
		var b pgx.Batch
		b.Queue(fmt.Sprintf("SELECT count(*) FROM %s%s", s.table, filterSQL), w.args[:countArgs]...)
		b.Queue(sql.String(), w.args...)
		br := s.pool.SendBatch(octx, &b)
		defer br.Close()
		var total int64
		if err := br.QueryRow().Scan(&total); err != nil {
			return audit.Page{}, s.fail(ctx, "count "+s.table, err)
		}
		t := int(total)
		page.Total = &t
		rows, err = br.Query()
		if err != nil {
			return audit.Page{}, s.fail(ctx, "query "+s.table, err)
		}
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return audit.Page{}, fmt.Errorf("audit/postgres: query %s: %w", s.table, err)
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, s.fail(ctx, "query "+s.table, err)
	}
	if len(page.Records) > limit {
		page.Records = page.Records[:limit]
		page.NextCursor = audit.EncodeCursor(audit.CursorFor(page.Records[limit-1], q.SortBySequenceAsc))
	}
	return page, nil
}

// CleanupExpired deletes records whose expires_at <= now, in chunks of a few
// thousand, and returns how many went. A zero now means the store's clock.
// If an error stops it, the count of records already deleted comes with it.
func (s *Store) CleanupExpired(ctx context.Context, now time.Time) (int, error) {
	if now.IsZero() {
		now = s.clock.Now()
	}
	// Stored times are whole milliseconds.
	now = now.Truncate(time.Millisecond).UTC()
	switch {
	case now.Before(minStorableUTC):
		return 0, nil
	case !now.Before(maxStorableUTC):
		now = maxStorableUTC
	}
	total := 0
	for {
		n, err := s.cleanupChunk(ctx, now)
		total += n
		if err != nil {
			return total, err
		}
		if n < cleanupChunk {
			return total, nil
		}
	}
}

func (s *Store) cleanupChunk(ctx context.Context, now time.Time) (int, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(octx, s.sql.cleanup, now)
	if err != nil {
		return 0, s.fail(ctx, "cleanup "+s.table, err)
	}
	return int(tag.RowsAffected()), nil
}

// scanRecord reads one row of selectCols.
func scanRecord(row pgx.Row) (audit.Record, error) {
	var (
		r                        audit.Record
		payload, vd, od, md, att []byte
		duration                 int64
		expires                  pgtype.Timestamptz
		seq                      pgtype.Int8
	)
	err := row.Scan(&r.ID, &r.ActionID, &r.ChainID, &r.Namespace, &r.Tenant, &r.Provider,
		&r.ActionType, &r.Verdict, &r.MatchedRule, &r.Outcome, &payload, &vd, &od, &md,
		&r.DispatchedAt, &r.CompletedAt, &duration, &expires, &r.CallerID, &r.AuthMethod,
		&r.RecordHash, &r.PreviousHash, &seq, &att, &r.Signature, &r.SignerID, &r.Kid,
		&r.CanonicalHash)
	if err != nil {
		return audit.Record{}, fmt.Errorf("read row: %w", err)
	}
	r.DispatchedAt = r.DispatchedAt.UTC()
	r.CompletedAt = r.CompletedAt.UTC()
	if expires.Valid {
		t := expires.Time.UTC()
		r.ExpiresAt = &t
	}
	r.DurationMs = uint64(max(duration, 0))
	if seq.Valid && seq.Int64 >= 0 {
		n := uint64(seq.Int64)
		r.SequenceNumber = &n
	}
	if payload != nil {
		r.ActionPayload = payload
	}
	r.VerdictDetails = nullToNil(vd)
	r.OutcomeDetails = nullToNil(od)
	if len(md) > 0 && string(md) != "{}" && string(md) != "null" {
		if err := json.Unmarshal(md, &r.Metadata); err != nil {
			return audit.Record{}, fmt.Errorf("record %s: metadata is not an object of strings: %w", r.ID, err)
		}
	}
	if len(att) > 0 && string(att) != "[]" && string(att) != "null" {
		if err := json.Unmarshal(att, &r.AttachmentMetadata); err != nil {
			return audit.Record{}, fmt.Errorf("record %s: attachment_metadata is not an array: %w", r.ID, err)
		}
	}
	return r, nil
}

// nullToNil maps JSON null (how a missing NOT NULL document is stored)
// back to no document.
func nullToNil(m []byte) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}
