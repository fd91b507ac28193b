// Package dynamodb is the DynamoDB state backend (`[state] backend =
// "dynamodb"`), built on aws-sdk-go-v2. It implements state.Store with the
// reference semantics of the memory backend (decision D14) and passes the
// statetest conformance suite against a real server (dynalite in tests).
//
// In an action's path it sits under the gateway: a dedup rule costs one
// conditional PutItem (CheckAndSet), a throttle rule one UpdateItem
// (IncrementWindow), and a dispatch without a stateful rule costs nothing
// here (D15).
//
// # Layout
//
// One table (default acteon_state) with a string partition key pk and a
// string sort key sk, created by Migrate with on-demand billing:
//
//	item             pk                          sk                                attributes
//	state entry      {prefix}:{ns}:{tenant}      {kind}:{id}                       value (S) or n (N), version (N), expires_at_ms (N), expires_at (N)
//	lock             {prefix}:_locks             _lock:{name}                      owner (S), expires_at_ms, expires_at
//	timeout index    {prefix}:timeout_index      {deadline_ms, 20 digits}#{key}    key, tok, deadline_ms, written_ms
//	index pointer    {prefix}:timeout_keys       {canonical key}                   deadline_ms, tok
//
// A value is the string attribute value, except that a counter written by
// Increment or IncrementWindow keeps its number in n (so that UpdateItem can
// add to it atomically) and has no value attribute. Get, GetVersioned and
// the scans return n as decimal text, Set and CompareAndSwap turn the entry
// back into a string, and Increment on a string holding a decimal integer
// converts it with a version-checked write: Set, Get and Increment agree.
//
// # Expiry and the clock
//
// Expiry is stored in epoch milliseconds (expires_at_ms) and enforced on
// every read and in every condition expression, so sub-second TTLs work
// and an expired entry is invisible everywhere. expires_at holds the same
// instant in whole seconds, rounded up, for DynamoDB's native TTL, which
// Migrate enables where the server supports it; Purge (or Start with
// Config.PurgeInterval) deletes expired items too. Neither is needed for
// correctness.
//
// "Now" in every condition is the client's clock (Config.Clock), sent as a
// value: DynamoDB has no server-side clock in expressions. Gateway nodes
// sharing a table must therefore keep their clocks in sync (NTP): a node
// whose clock runs ahead by d sees entries expire d early — it may take over
// a lock, or accept a duplicate, up to d before the TTL really ends — and a
// node running behind sees them live d longer. Clock skew never breaks the
// atomicity of a single operation, only where the expiry boundary falls.
//
// # Atomicity
//
//   - CheckAndSet and TryLock: one PutItem conditioned on
//     "attribute_not_exists(pk) OR expires_at_ms <= :now" (no
//     delete-then-retry race, unlike upstream).
//   - IncrementWindow: one UpdateItem with if_not_exists, conditioned on the
//     key being absent or a live window; only the first hit after a window
//     ended needs a second, conditional PutItem that starts the next one,
//     so concurrent hits on any number of nodes return each count once.
//   - Increment: one UpdateItem on a missing or numeric entry; replacing an
//     expired entry or converting a decimal string takes one more
//     conditional write.
//   - CompareAndSwap: one UpdateItem conditioned on the version and expiry.
//   - Delete: one DeleteItem returning the old item, whose expiry decides
//     the answer.
//   - Set: one UpdateItem, plus a conditional PutItem when it replaces an
//     expired entry (whose version restarts at 1).
//   - Lock Extend and Release: one write conditioned on the owner token.
//
// Every read (Get, GetVersioned, Held, scans, the timeout index) is
// strongly consistent. ScanKeys is a paginated Query on the (namespace,
// tenant) partition; ScanKeysByKind is a full-table Scan with a filter,
// as upstream's, and is meant for background jobs only.
//
// The timeout index pointer is authoritative: an index item counts only
// while its key's pointer names its deadline, so re-indexing replaces a
// deadline without a transaction (the index item is written before the
// pointer, so a crash leaves a stale item, which is ignored and later
// purged, never a lost timeout).
//
// DynamoDB cannot batch conditional writes (BatchWriteItem is
// unconditional and transactions are all-or-nothing), so concurrent
// operations are not coalesced: each is its own HTTP request, and
// throughput with many dispatches in flight comes from the connection pool
// (Config.MaxConns).
//
// # Errors
//
// Transport failures, the per-operation timeout (Config.OpTimeout, retries
// included), throttling and 5xx answers wrap state.ErrUnavailable; the
// store recovers on its own when the server answers again.
//
// Retries are bounded (Config.MaxAttempts, default 2) and limited to what
// a retry cannot get wrong: reads and idempotent writes go through the
// SDK's retryer, but conditional and counting writes (CheckAndSet,
// Increment, IncrementWindow, CompareAndSwap, Delete, TryLock, Release) are
// sent once, because a retry after a lost answer would see the first
// attempt's effect (a dedup marker reported as a duplicate of itself, a hit
// counted twice). CheckAndSet and TryLock do retry themselves: their item
// carries a random token, and a retry that finds the item present checks
// whether the token is its own. The others report ErrUnavailable when the
// answer is lost. A missing table is reported as such ("run
// migrate"). The caller's own cancellation is returned as the context's
// error.
//
// When Config.URL is set and the environment has no AWS credentials
// (AWS_ACCESS_KEY_ID, AWS_PROFILE), the static credentials "local"/"local"
// are used, so local emulators such as dynalite or DynamoDB Local work
// without any setup.
package dynamodb
