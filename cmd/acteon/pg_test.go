package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func dropTables(t *testing.T, url, prefix string) {
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
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		conn.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{n}.Sanitize())
	}
}
