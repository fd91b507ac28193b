package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// column is one column of the audit table.
type column struct {
	name string
	typ  string // as system.columns spells it
	def  string // DEFAULT expression, if any
}

// columns is the audit table, in the order rows are written and read. The
// times are Int64 epoch milliseconds (D20).
var columns = []column{
	{"id", "String", ""},
	{"action_id", "String", ""},
	{"chain_id", "Nullable(String)", ""},
	{"namespace", "String", ""},
	{"tenant", "String", ""},
	{"provider", "String", ""},
	{"action_type", "String", ""},
	{"verdict", "String", ""},
	{"matched_rule", "Nullable(String)", ""},
	{"outcome", "String", ""},
	{"action_payload", "Nullable(String)", ""},
	{"verdict_details", "String", ""},
	{"outcome_details", "String", ""},
	{"metadata", "String", "'{}'"},
	{"dispatched_at_ms", "Int64", ""},
	{"completed_at_ms", "Int64", ""},
	{"duration_ms", "UInt64", ""},
	{"expires_at_ms", "Nullable(Int64)", ""},
	{"caller_id", "String", "''"},
	{"auth_method", "String", "''"},
	{"record_hash", "Nullable(String)", ""},
	{"previous_hash", "Nullable(String)", ""},
	{"sequence_number", "Nullable(UInt64)", ""},
	{"attachment_metadata", "String", "'[]'"},
	{"signature", "Nullable(String)", ""},
	{"signer_id", "Nullable(String)", ""},
	{"kid", "Nullable(String)", ""},
	{"canonical_hash", "Nullable(String)", ""},
}

// Engine and sorting key of the table. Rows of one record share the
// sorting key, which is what ReplacingMergeTree collapses on.
const (
	tableEngine = "ReplacingMergeTree"
	sortingKey  = "namespace, tenant, dispatched_at_ms, id"
)

// columnList is "id, action_id, …" in the order of columns.
var columnList = func() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}()

// createTableSQL is the full current schema in one statement (18.16 has no
// ADD COLUMN IF NOT EXISTS; Migrate adds columns by looking first).
func (s *Store) createTableSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", s.table)
	for i, c := range columns {
		fmt.Fprintf(&b, "  %s %s", c.name, c.typ)
		if c.def != "" {
			b.WriteString(" DEFAULT " + c.def)
		}
		if i < len(columns)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, ") ENGINE = %s() ORDER BY (%s)", tableEngine, sortingKey)
	return b.String()
}

// Migrate creates the audit table if it does not exist and adds any column
// a table from an older schema lacks. It is idempotent. It fails if an
// existing table has another engine or sorting key (idempotent appends
// depend on both), or a column of another type.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.c.exec(ctx, "migrate", s.createTableSQL(), nil, false); err != nil {
		return err
	}
	have, err := s.tableColumns(ctx)
	if err != nil {
		return err
	}
	prev := ""
	for _, c := range columns {
		if _, ok := have[c.name]; !ok {
			stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", s.table, c.name, c.typ)
			if c.def != "" {
				stmt += " DEFAULT " + c.def
			}
			if prev != "" {
				stmt += " AFTER " + prev
			}
			if _, err := s.c.exec(ctx, "migrate: add column "+c.name, stmt, nil, false); err != nil {
				return err
			}
		}
		prev = c.name
	}
	return s.CheckSchema(ctx)
}

// CheckSchema returns nil if the table exists with every column, the right
// types, engine and sorting key; otherwise an error naming exactly what is
// missing or different (all of it, joined). Run Migrate to fix a missing
// table or columns.
func (s *Store) CheckSchema(ctx context.Context) error {
	q := "SELECT engine, sorting_key FROM system.tables WHERE database = " + quote(s.db) +
		" AND name = " + quote(s.name) + " FORMAT TabSeparated"
	out, err := s.c.exec(ctx, "check schema", q, nil, true)
	if err != nil {
		return err
	}
	out = bytes.TrimSuffix(out, []byte("\n"))
	if len(out) == 0 {
		return fmt.Errorf("audit/clickhouse: table %s.%s is missing (run migrate)", s.db, s.name)
	}
	var errs []error
	engine, key, _ := strings.Cut(string(out), "\t")
	if engine != tableEngine {
		errs = append(errs, fmt.Errorf("audit/clickhouse: table %s.%s: engine %s, want %s", s.db, s.name, engine, tableEngine))
	}
	if key != sortingKey {
		errs = append(errs, fmt.Errorf("audit/clickhouse: table %s.%s: sorting key (%s), want (%s)", s.db, s.name, key, sortingKey))
	}
	have, err := s.tableColumns(ctx)
	if err != nil {
		return err
	}
	for _, c := range columns {
		switch typ, ok := have[c.name]; {
		case !ok:
			errs = append(errs, fmt.Errorf("audit/clickhouse: table %s.%s: column %s %s is missing (run migrate)", s.db, s.name, c.name, c.typ))
		case typ != c.typ:
			errs = append(errs, fmt.Errorf("audit/clickhouse: table %s.%s: column %s is %s, want %s", s.db, s.name, c.name, typ, c.typ))
		}
	}
	return errors.Join(errs...)
}

// tableColumns returns the table's column types by name.
func (s *Store) tableColumns(ctx context.Context) (map[string]string, error) {
	q := "SELECT name, type FROM system.columns WHERE database = " + quote(s.db) +
		" AND table = " + quote(s.name) + " FORMAT TabSeparated"
	out, err := s.c.exec(ctx, "check schema", q, nil, true)
	if err != nil {
		return nil, err
	}
	have := make(map[string]string)
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		name, typ, ok := bytes.Cut(line, []byte("\t"))
		if !ok {
			continue
		}
		n, err1 := unescapeTSV(name)
		t, err2 := unescapeTSV(typ)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("audit/clickhouse: check schema: %w", errTSV)
		}
		have[string(n)] = string(t)
	}
	return have, nil
}
