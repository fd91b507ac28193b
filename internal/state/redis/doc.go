// Package redis is the Redis state backend (`[state] backend = "redis"`),
// built on github.com/redis/go-redis/v9. It implements state.Store with the
// memory backend's semantics (decision D14) and passes the statetest
// conformance suite against a real server.
//
// In an action's path it sits under the gateway: a dispatch with a dedup
// rule costs one CheckAndSet, with a throttle rule one IncrementWindow, and
// each of those is exactly one round trip (decision D15). Several gateway
// nodes may share one server: every operation is atomic on the server, so
// dedup and throttle are exact across nodes.
//
// # Physical layout
//
// With P the configured prefix (default "acteon"):
//
//	what               Redis key                     type
//	entry              P:ns:tenant:kind:id           hash {v: value, ver: version}, native expiry
//	timeout index      P:timeout_index               sorted set, score = deadline ms, member = canonical key
//	lock               P|lock:name                   string = owner token, native expiry
//
// Every entry, whichever operation wrote it (Set, CheckAndSet, Increment,
// IncrementWindow, CompareAndSwap), is one hash with the value in field v
// and the version in field ver, so Set, Get, Increment and CompareAndSwap
// always agree (upstream kept CheckAndSet/Increment strings and Set/CAS
// hashes side by side, which made them disagree). Counters are decimal text
// in v, incremented with HINCRBY (exact 64-bit arithmetic). Expiry is
// Redis's own (PEXPIRE/PTTL, millisecond precision, TTLs rounded up to
// whole milliseconds): an expired entry is invisible to every command, so
// no operation compares clocks and client clock skew does not matter.
// Every operation touches one key, so the layout also works on Redis
// Cluster.
//
// Locks live under "P|" rather than "P:" so that no lock name can collide
// with an entry key (entries always start with "P:"; a lock "t:k:id" under
// "P:lock:" would be the entry of namespace "lock"). The timeout index key
// has no colon after "P:", so it cannot collide with an entry either.
//
// # Operations
//
// Get, GetVersioned and Delete are single native commands (HGET, HMGET,
// DEL). CheckAndSet, Set, Increment, IncrementWindow and CompareAndSwap
// are Lua scripts (scripts.go) run with EVALSHA, so each is atomic and one
// round trip; a NOSCRIPT reply (server restarted, SCRIPT FLUSH) is retried
// once as EVAL, which is safe because NOSCRIPT means nothing ran. Locks are
// SET NX PX with a random owner token; release and extend are Lua scripts
// that compare the owner first. Scans use SCAN MATCH on the prefix and
// re-check every key client-side (a glob '*' also matches ':'), then read
// the values with pipelined HGETs; results are canonical keys without the
// prefix, sorted.
//
// # Auto-pipelining
//
// Single-command operations go through a pipeliner (pipeline.go) that
// coalesces concurrent calls into go-redis pipelines without any timer: an
// idle store sends a call at once on the caller's goroutine; while up to
// Config.Pipelines batches are in flight, new calls queue and leave
// together in the next round trip. Throughput under concurrency therefore
// grows with the number of callers instead of being capped at one command
// per round trip per connection.
//
// # Failures
//
// go-redis never retries a command here (a retried CheckAndSet whose first
// attempt was applied would report a false duplicate). Dial errors, I/O
// errors, timeouts and "server cannot serve now" replies (LOADING, BUSY,
// READONLY, ...) are returned wrapping state.ErrUnavailable; every
// operation ends within about Config.OpTimeout. The pool redials on later
// calls, so the store recovers by itself when the server returns. Errors
// name the server as scheme://host/db, never with its password.
//
// Migrate is a no-op and CheckSchema only pings: Redis has no schema.
package redis
