// Package postgres is the PostgreSQL state backend (`[state] backend =
// "postgres"`): dedup markers, throttle windows, state-machine values,
// locks and the timeout index of every gateway node live in three tables of
// one database, so several nodes share exact dedup and throttling.
//
// In an action's path it sits under the gateway like every state.Store: a
// dispatch with a dedup rule costs one CheckAndSet, one with a throttle rule
// one IncrementWindow, and each of those is a single SQL statement, one
// round trip (decision D15). Semantics are the memory backend's (D14); the
// conformance suite in statetest runs against a real server.
//
// # Schema
//
// Migrate creates, with IF NOT EXISTS and under an advisory lock (so nodes
// may migrate concurrently), the tables of spec §3.3 under the configured
// prefix (default "acteon_"):
//
//	{p}state(key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL,
//	         version BIGINT NOT NULL DEFAULT 1, expires_at TIMESTAMPTZ)
//	         + BRIN index {p}state_expires_at_idx on expires_at
//	{p}locks(name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)
//	{p}timeout_index(key TEXT COLLATE "C" PRIMARY KEY, expires_at_ms BIGINT NOT NULL)
//	         + index {p}_expires_at_idx on expires_at_ms
//
// The "C" collation makes ORDER BY key the byte order the memory backend
// sorts by, and lets LIKE 'prefix%' scans use the primary key. New does not
// touch the schema; CheckSchema names the tables that are missing. The
// chain-ready index table of upstream is not created: state.Store has no
// chain-ready methods.
//
// # Semantics and atomicity
//
// Every expiry is computed by the server (now() + ttl) and compared with the
// server's now(), so nodes with skewed clocks agree. A row is live while
// expires_at IS NULL OR expires_at > now(); expired rows are invisible to
// every read and are replaced by writes as if absent. Each operation is one
// atomic statement:
//
//   - CheckAndSet: INSERT … ON CONFLICT (key) DO UPDATE … WHERE the existing
//     row has expired, RETURNING — a live row makes the statement a no-op,
//     an expired one is replaced at version 1; concurrent callers on one key
//     serialise on the row and exactly one gets a row back.
//   - IncrementWindow: one upsert that counts up a live window (keeping its
//     expiry) or restarts an expired one at 1, returning count and time left.
//   - Set / Increment: upserts (Increment keeps the expiry for zero ttl).
//   - CompareAndSwap: UPDATE … WHERE version = expected AND live, plus the
//     current version in the same statement for the conflict message; a
//     missing key is a conflict; zero ttl keeps the expiry (memory's rule,
//     not upstream PostgreSQL's).
//   - Delete: DELETE … RETURNING whether the row was live.
//   - ScanKeys: LIKE on the canonical key with '%', '_' and '\' escaped,
//     sent as an unnamed statement so the server plans it with the pattern
//     (a range scan of the primary key), ORDER BY key. ScanKeysByKind tests
//     what follows the second ':' and reads the whole table.
//   - Locks are rows with a random owner token, not advisory locks (those
//     belong to one session, and a pool hands out sessions arbitrarily).
//     TryLock takes over an expired row atomically; Extend, Release and
//     Held check the token; Release of a lock that expired or was taken
//     over returns state.ErrLockNotHeld.
//
// A background goroutine deletes expired rows and locks every
// PurgeInterval (default 60 s) in batches of 5000; Close stops it.
//
// # Batching
//
// With many dispatches in flight, CheckAndSet and IncrementWindow calls are
// coalesced: a caller that finds a batch slot free (MaxConns/2 batches may
// be in flight) sends its statement at once — alone when nobody waits, so
// the sequential case pays no goroutine switch — and callers arriving
// meanwhile queue; when a batch returns, the whole queue (up to 512) is
// handed to one of the waiting callers, which sends it as one multi-row
// statement (INSERT … SELECT FROM unnest($1::text[], …) ON CONFLICT …
// RETURNING key). Nothing ever waits on a timer. Within a batch keys are
// sorted, so concurrent batches lock rows in one order and cannot deadlock,
// and a key that appears twice is sent once: for CheckAndSet its first
// request decides and the others lose (as they would one after the other);
// for IncrementWindow n hits on one key add n at once and are handed the n
// consecutive counts. Each call's deadline is OpTimeout from the time it
// was queued (or the caller's deadline if earlier): a call whose deadline
// passes while queued fails at once, and a statement runs with the latest
// deadline of its members, so one caller in a hurry cannot fail the others.
// Once queued, a call is not abandoned when its context is cancelled. A
// batch whose statement fails fails all its members.
//
// # Durability trade-off: synchronous_commit
//
// By default the store's connections run with synchronous_commit = off (set
// in the startup packet, no extra round trip): COMMIT returns before the
// WAL is flushed to disk, which removes the fsync from every dedup marker
// and throttle hit. This never corrupts data and never breaks atomicity —
// concurrent callers still see each other's committed rows at once — but if
// the PostgreSQL server itself crashes (not the gateway, not a connection
// loss), writes acknowledged in the last few hundred milliseconds
// (wal_writer_delay, 200 ms by default, up to three times that) may be lost:
// a dedup marker may vanish, letting one duplicate through, or a throttle
// window may restart. Dedup and throttle state is ephemeral by nature, so
// this is the default; set Config.SynchronousCommit = true (TOML
// `synchronous_commit = true`) where every acknowledged write must survive a
// server crash.
//
// # Errors
//
// A server that cannot be reached, times out (OpTimeout, default 2 s, bounds
// every operation including waiting for a connection) or is shutting down
// yields errors wrapping state.ErrUnavailable; the pool reconnects by
// itself when the server returns. Addresses in errors never include the
// password. A missing table yields an error that says to run
// `acteon migrate`.
package postgres
