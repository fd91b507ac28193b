// Package clickhouse is the ClickHouse audit backend: an audit.Store over
// ClickHouse's HTTP interface (plain net/http, no driver), compatible with
// ClickHouse 18.16 and later.
//
// In an action's path it sits at the very end: the gateway hands each
// audit.Record to the batched audit.Writer (decision D21), which calls
// Store.Append with up to a few hundred records at a time; the API's audit
// endpoints call Query, GetByID and GetByActionID, and the retention job
// calls CleanupExpired.
//
// # Schema
//
// One table, {Prefix}audit (default acteon_audit) in Database (default
// "default"), created by Migrate. Times are Int64 epoch milliseconds
// (decision D20; 18.16 has no DateTime64): dispatched_at_ms,
// completed_at_ms and the nullable expires_at_ms. JSON fields are String
// columns holding the JSON text. The engine is
//
//	ReplacingMergeTree() ORDER BY (namespace, tenant, dispatched_at_ms, id)
//
// so queries for one namespace and tenant read a narrow range of the
// primary index, in the default order.
//
// # Idempotent appends
//
// Append sends one INSERT … FORMAT JSONEachRow per call. The writer may
// retry a batch whose INSERT did succeed (the answer was lost to a timeout
// or a cut connection); ClickHouse's own insert deduplication only works on
// Replicated tables, so this backend does not rely on it. Instead every row
// of a record has the same sorting key, so ReplacingMergeTree collapses
// copies in background merges (and SELECT … FINAL sees one), and every read
// collapses the copies not merged yet: pages use LIMIT 1 BY id after their
// ORDER BY, lookups LIMIT 1, counts uniqExact(id).
//
// Reads filter in PREWHERE (18.16 does not reliably move WHERE there, and
// then reads every column of every row in range) and do not use FINAL:
// FINAL with PREWHERE can fail on 18.16 with "Block structure mismatch in
// ReplacingSorted stream". A record's sorting key is derived from the
// record, so re-appending the same record is exact; appending a different
// record under an id already stored (a caller bug: ids are UUIDv7 per
// event) is not detected, and both versions may then be read.
//
// Every INSERT writes a new part on the server, a cost that hardly depends
// on the number of rows, so throughput grows with the batch size: give
// the audit.Writer large batches (hundreds to thousands of records).
//
// # Errors
//
// Connectivity failures (refused, reset, timed out, HTTP 502-504, and
// ClickHouse's own timeout, network and overload errors) wrap
// audit.ErrUnavailable. Each operation runs under Config.OpTimeout, which
// is also sent to the server as max_execution_time. Error messages name
// the server by scheme, host and path only, never its credentials.
//
// # ClickHouse 18.16 notes
//
// No DateTime64, now64, TTL, tuple comparison or server-side parameters
// are used; literals are escaped and inlined client-side (quote.go). Three
// quirks of 18.16 shape the SQL: reads use wait_end_of_query=1 so an error
// in the middle of a result is an HTTP error instead of a truncated
// 200 body; `NULL AND 0` is NULL there, and an ALTER … DELETE whose
// predicate is NULL for a row deletes that row, so every predicate on a
// Nullable column is wrapped in ifNull(…, 0); and mutations are
// asynchronous, so CleanupExpired waits until system.mutations reports
// them done.
package clickhouse
