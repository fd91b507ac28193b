package app

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// dropPostgresTables removes the tables a test created under prefix.
func dropPostgresTables(t *testing.T, url, prefix string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)`, prefix)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, n := range names {
		if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{n}.Sanitize()); err != nil {
			t.Logf("cleanup %s: %v", n, err)
		}
	}
}
