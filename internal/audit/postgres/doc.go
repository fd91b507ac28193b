// Package postgres is the PostgreSQL audit backend: an audit.Store over one
// table, {prefix}audit (default acteon_audit), reached through a pgx v5
// connection pool.
//
// The table has upstream Acteon's columns (spec 03 §4.6). Times are
// truncated to milliseconds before they are stored (decision D20), so the
// millisecond keyset cursor of the query API never skips or repeats a
// record. The id column sorts bytewise (COLLATE "C"), as ids compare in Go.
//
// Append writes a whole batch in one statement and one round trip. A batch
// of 32 records or more goes as one binary COPY (hand-encoded), which costs
// about a third less per row than the INSERT (measured); if COPY meets an id
// that is already stored (a retried batch whose first try succeeded unseen,
// or an id repeated in the batch) it stores nothing, and the batch is sent
// again as the INSERT that smaller batches use: the records travel as one
// array per column and are unnested into a single INSERT … ON CONFLICT (id)
// DO NOTHING. A batch is therefore atomic, and retrying it (as audit.Writer
// does after a failure) never duplicates a record.
//
// Indexes (idx_{table}_…): time (dispatched_at DESC, id DESC) for the
// default order and its cursor; action_id; ns_tenant_time; outcome;
// provider; expires (partial) for CleanupExpired; chain_id and signer_id
// (partial); and the UNIQUE partial hash_chain index on (namespace, tenant,
// sequence_number), so two records of one tenant's chain cannot share a
// sequence number: such a batch fails with PostgreSQL's "duplicate key"
// error, which the hash chain's retry recognises. Upstream's GIN index on
// metadata and its analytics "coverage" index are not created: nothing here
// queries by them, and every index slows the insert.
//
// Query translates every filter of audit.Query into SQL that selects exactly
// what audit.Query.Matches accepts, and pages by offset (with a COUNT, sent
// in the same round trip) or by keyset cursor, fetching limit+1 rows to know
// whether a next page exists.
//
// New connects and checks that the server answers but creates nothing;
// Migrate creates the table and its indexes idempotently and CheckSchema
// says what is missing. Every operation runs under Config.OpTimeout, and a
// failure to reach the server (refused, reset, timed out) is returned
// wrapping audit.ErrUnavailable. The pool reconnects by itself once the
// server is back. Errors never contain the URL's password.
package postgres
