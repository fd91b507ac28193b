package postgres

import (
	"context"
	"fmt"
	"strings"
)

// column is one column of the audit table.
type column struct {
	name string
	// def is the column's definition in CREATE TABLE / ADD COLUMN.
	def string
	// dataType is information_schema.columns.data_type.
	dataType string
	// late columns were added after the first release upstream and are
	// created with ADD COLUMN IF NOT EXISTS, so that tables created by older
	// versions gain them.
	late bool
}

// columns lists the table's columns in insert order (see appendSQL).
var columns = []column{
	{"id", `TEXT COLLATE "C" PRIMARY KEY`, "text", false},
	{"action_id", "TEXT NOT NULL", "text", false},
	{"chain_id", "TEXT", "text", true},
	{"namespace", "TEXT NOT NULL", "text", false},
	{"tenant", `TEXT COLLATE "C" NOT NULL`, "text", false},
	{"provider", "TEXT NOT NULL", "text", false},
	{"action_type", "TEXT NOT NULL", "text", false},
	{"verdict", "TEXT NOT NULL", "text", false},
	{"matched_rule", "TEXT", "text", false},
	{"outcome", "TEXT NOT NULL", "text", false},
	{"action_payload", "JSONB", "jsonb", false},
	{"verdict_details", "JSONB NOT NULL", "jsonb", false},
	{"outcome_details", "JSONB NOT NULL", "jsonb", false},
	{"metadata", "JSONB NOT NULL DEFAULT '{}'::jsonb", "jsonb", false},
	{"dispatched_at", "TIMESTAMPTZ NOT NULL", "timestamp with time zone", false},
	{"completed_at", "TIMESTAMPTZ NOT NULL", "timestamp with time zone", false},
	{"duration_ms", "BIGINT NOT NULL", "bigint", false},
	{"expires_at", "TIMESTAMPTZ", "timestamp with time zone", false},
	{"caller_id", "TEXT NOT NULL DEFAULT ''", "text", false},
	{"auth_method", "TEXT NOT NULL DEFAULT ''", "text", false},
	{"record_hash", "TEXT", "text", true},
	{"previous_hash", "TEXT", "text", true},
	{"sequence_number", "BIGINT", "bigint", true},
	{"attachment_metadata", "JSONB NOT NULL DEFAULT '[]'::jsonb", "jsonb", true},
	{"signature", "TEXT", "text", true},
	{"signer_id", "TEXT", "text", true},
	{"kid", "TEXT", "text", true},
	{"canonical_hash", "TEXT", "text", true},
}

// index is one index of the audit table, named idx_{table}_{suffix}.
type index struct {
	suffix string
	// def follows "ON {table} ".
	def    string
	unique bool
}

var indexes = []index{
	// Default order and its keyset cursor: dispatched_at DESC, id DESC.
	{"time", "(dispatched_at DESC, id DESC)", false},
	// GetByActionID: the action's latest record.
	{"action_id", "(action_id, dispatched_at DESC, id DESC)", false},
	{"ns_tenant_time", "(namespace, tenant, dispatched_at DESC, id DESC)", false},
	{"outcome", "(outcome, dispatched_at DESC)", false},
	{"provider", "(provider, dispatched_at DESC)", false},
	// CleanupExpired.
	{"expires", "(expires_at) WHERE expires_at IS NOT NULL", false},
	{"chain_id", "(chain_id) WHERE chain_id IS NOT NULL", false},
	// The hash chain's uniqueness: one record per sequence number and
	// (namespace, tenant).
	{"hash_chain", "(namespace, tenant, sequence_number) WHERE sequence_number IS NOT NULL", true},
	{"signer_id", "(signer_id, kid, dispatched_at DESC) WHERE signer_id IS NOT NULL", false},
}

func (s *Store) indexName(ix index) string { return "idx_" + s.table + "_" + ix.suffix }

// migrateSQL is the whole schema as one script. Sent with the simple
// protocol it runs as one implicit transaction, serialised between nodes
// by an advisory lock.
func (s *Store) migrateSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT pg_advisory_xact_lock(hashtext('acteon audit schema %s'));\n", s.table)
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", s.table)
	first := true
	for _, c := range columns {
		if c.late {
			continue
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, "  %s %s", c.name, c.def)
	}
	b.WriteString("\n);\n")
	fmt.Fprintf(&b, "ALTER TABLE %s", s.table)
	first = true
	for _, c := range columns {
		if !c.late {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "\n  ADD COLUMN IF NOT EXISTS %s %s", c.name, c.def)
	}
	b.WriteString(";\n")
	for _, ix := range indexes {
		u := ""
		if ix.unique {
			u = "UNIQUE "
		}
		fmt.Fprintf(&b, "CREATE %sINDEX IF NOT EXISTS %s ON %s %s;\n", u, s.indexName(ix), s.table, ix.def)
	}
	return b.String()
}

// Migrate creates the table, its columns and its indexes, whichever are
// missing. It is idempotent and safe to run from several nodes at once.
func (s *Store) Migrate(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, s.migTO)
	defer cancel()
	if _, err := s.pool.Exec(octx, s.migrateSQL()); err != nil {
		return s.fail(ctx, "migrate "+s.table, err)
	}
	return nil
}

// CheckSchema returns nil if the table has every column (with its type) and
// every index the store needs. Otherwise it returns an error wrapping
// ErrSchema that names each missing or wrong piece.
func (s *Store) CheckSchema(ctx context.Context) error {
	octx, cancel := s.op(ctx)
	defer cancel()
	rows, err := s.pool.Query(octx, `
SELECT column_name, data_type, coalesce(collation_name, '')
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1`, s.table)
	if err != nil {
		return s.fail(ctx, "check schema of "+s.table, err)
	}
	type colInfo struct{ dataType, collation string }
	have := map[string]colInfo{}
	for rows.Next() {
		var name string
		var ci colInfo
		if err := rows.Scan(&name, &ci.dataType, &ci.collation); err != nil {
			rows.Close()
			return s.fail(ctx, "check schema of "+s.table, err)
		}
		have[name] = ci
	}
	if err := rows.Err(); err != nil {
		return s.fail(ctx, "check schema of "+s.table, err)
	}
	if len(have) == 0 {
		return fmt.Errorf("%w: table %s does not exist", ErrSchema, s.table)
	}
	var problems []string
	for _, c := range columns {
		ci, ok := have[c.name]
		switch {
		case !ok:
			problems = append(problems, "column "+c.name+" is missing")
		case ci.dataType != c.dataType:
			problems = append(problems, fmt.Sprintf("column %s has type %s, want %s", c.name, ci.dataType, c.dataType))
		case c.name == "id" && ci.collation != "C":
			// Ids must sort bytewise, as they compare in Go (cursors, ties).
			problems = append(problems, fmt.Sprintf(`column id has collation %q, want "C"`, ci.collation))
		}
	}
	var names []string
	if err := s.pool.QueryRow(octx, `
SELECT coalesce(array_agg(indexname::text), '{}')
FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1`, s.table).Scan(&names); err != nil {
		return s.fail(ctx, "check indexes of "+s.table, err)
	}
	haveIx := make(map[string]bool, len(names))
	for _, n := range names {
		haveIx[n] = true
	}
	var idUnique bool
	if err := s.pool.QueryRow(octx, `
SELECT EXISTS (
  SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnkeyatts = 1
    AND i.indpred IS NULL AND a.attname = 'id')`, s.table).Scan(&idUnique); err != nil {
		return s.fail(ctx, "check indexes of "+s.table, err)
	}
	if !idUnique {
		problems = append(problems, "primary key (unique index) on id is missing")
	}
	for _, ix := range indexes {
		if n := s.indexName(ix); !haveIx[n] {
			problems = append(problems, "index "+n+" is missing")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: table %s: %s", ErrSchema, s.table, strings.Join(problems, "; "))
	}
	return nil
}
