// Package clickhouse is the ClickHouse state backend: state.Store over the
// HTTP interface of ClickHouse 18.16 or later, with plain net/http (a
// keep-alive pool, statements sent as POST bodies, results read as
// RowBinary).
//
// In an action's path it sits under the gateway like every state backend:
// the gateway's dedup rule calls CheckAndSet and its throttle rule calls
// IncrementWindow, once per dispatch.
//
// # Tables
//
// Migrate creates, in Config.Database with Config.Prefix (default
// "acteon_"):
//
//	{p}state         (key String, value String, version UInt64, expires_at_ms Int64, is_deleted UInt8, ts UInt64)
//	                 ENGINE = ReplacingMergeTree(ts) ORDER BY key
//	{p}locks         (name String, owner String, expires_at_ms Int64, is_deleted UInt8, ts UInt64)
//	                 ENGINE = ReplacingMergeTree(ts) ORDER BY name
//	{p}timeout_index (key String, deadline_ms Int64, is_deleted UInt8, ts UInt64)
//	                 ENGINE = ReplacingMergeTree(ts) ORDER BY key
//
// Every write appends a row; the row with the largest ts is a key's
// current state (reads use ORDER BY ts DESC LIMIT 1 BY key or argMax, which
// are right whether or not the server has merged yet). ts is the writer's
// wall clock in nanoseconds, forced to grow strictly. Times are epoch
// milliseconds computed by the client (0 = never expires), because 18.16 has
// neither DateTime64 nor TTL clauses. Deletions are tombstones
// (is_deleted = 1). Nothing is purged: merges collapse each key to its
// latest row, so a table holds one row per key ever written.
//
// # Consistency (decision D17)
//
// ClickHouse has no atomic conditional write; the removed upstream backend
// read, then appended, and let 10-20 of 20 concurrent duplicates through.
// This one makes a single gateway node exact:
//
//   - Keys are spread by hash over a few workers (Config.Pipelines). A
//     worker runs the operations on its keys one batch at a time, so
//     operations on one key never overlap inside the process, and it sends
//     the concurrent operations of a batch in one statement per table.
//   - A worker keeps the latest row of every state key it wrote or read
//     (bounded by Config.CacheEntries; a dropped row is read again). It
//     decides each operation client side from that row, exactly like the
//     memory backend, and writes the result with one INSERT … SELECT that
//     is conditional on the server still holding the rows it assumed:
//     otherwise the statement raises (throwIf), writes nothing, and the
//     batch is redone from a fresh SELECT. A key the worker has never seen
//     whose first operation is CheckAndSet (a new dedup marker) is guessed
//     absent, with the same check, so it costs one round trip.
//   - An INSERT is visible to the next SELECT once it returns, so reads
//     (Get, scans, the timeout index) go straight to the server and see
//     every acknowledged write.
//
// Round trips: CheckAndSet of a new key, IncrementWindow, Increment, Set,
// CompareAndSwap and Delete of a key the node knows: one; a duplicate
// CheckAndSet, a failed CompareAndSwap or a Delete of a known-absent key:
// none; an operation on a key the node has not seen (other than
// CheckAndSet): two (SELECT, then INSERT). Locks are always read from the
// server first (two round trips), so a lock released by another node is
// free at once. Under load, concurrent operations share these round trips.
//
// Several gateway nodes on one ClickHouse are best-effort: the check inside
// the conditional INSERT is not atomic with the insert, so two nodes
// writing the same key within the same few milliseconds can both succeed
// (duplicate dedup, two lock holders). Answers given without a round trip
// (a duplicate CheckAndSet) come from the node's copy of the row and do
// not see another node's Delete. Use Redis, PostgreSQL or DynamoDB when
// several nodes need exact dedup and locks. Likewise use one Store per
// process and table prefix.
//
// # Errors
//
// A server that cannot be reached, times out (Config.OpTimeout per round
// trip) or reports overload gives an error wrapping state.ErrUnavailable
// that names the address without credentials; the pool reconnects by
// itself. Other server exceptions are returned with their ClickHouse code.
// If a write fails, the worker forgets its copy of the rows involved (the
// INSERT may or may not have landed) and reads them again next time.
package clickhouse
