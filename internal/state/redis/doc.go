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
//	entry              P:ns:tenant:kind:id           string "<version>:<value>", native expiry
//	timeout index      P:timeout_index               sorted set, score = deadline ms, member = canonical key
//	lock               P|lock:name                   string = owner token, native expiry
//
// Every entry, whichever operation wrote it (Set, CheckAndSet, Increment,
// IncrementWindow, CompareAndSwap), is one string: the version in decimal,
// a colon, then the value verbatim (a dedup marker is "1:1", a counter at
// version 3 "3:42"). One representation means Set, Get, Increment and
// CompareAndSwap always agree (upstream kept CheckAndSet/Increment strings
// and Set/CAS hashes side by side, and they disagreed). Keeping the
// version inside the value, rather than in a hash field, lets CheckAndSet
// (the dedup hot path) be one native SET NX PX: about three times cheaper
// for the server than a Lua script creating a hash.
//
// Expiry is Redis's own (SET PX, KEEPTTL, PTTL): an expired entry is
// invisible to every command, so no operation compares clocks and client
// clock skew does not matter. Redis expires at millisecond precision and
// keeps a key through its last millisecond, so a TTL d is sent as PX
// floor(d)-1 ms: the entry is gone by t+d, as in the memory backend.
// Counters are decimal text; Lua numbers are doubles, so Increment and
// IncrementWindow are exact within ±(2^53-1) and fail (writing nothing)
// outside it rather than round. Every operation touches one key, so the
// layout also works on Redis Cluster.
//
// Locks live under "P|" rather than "P:" so that no lock name can collide
// with an entry key (entries always start with "P:"; a lock "t:k:id" under
// "P:lock:" would be the entry of namespace "lock"). The timeout index key
// has no colon after "P:", so it cannot collide with an entry either.
//
// # Operations
//
// CheckAndSet (SET NX PX), Get and GetVersioned (GET) and Delete (DEL) are
// single native commands. Set, Increment, IncrementWindow and
// CompareAndSwap are Lua scripts (scripts.go) run with EVALSHA, so each is
// atomic and one round trip; a NOSCRIPT reply (server restarted, SCRIPT
// FLUSH) is retried once as EVAL, which is safe because NOSCRIPT means
// nothing ran. Locks are SET NX PX with a random owner token; release and
// extend are Lua scripts that compare the owner first. Scans use SCAN
// MATCH on the prefix and re-check every key client-side (a glob '*' also
// matches ':'), then read the values with pipelined GETs; results are
// canonical keys without the prefix, sorted. A key under the prefix that
// does not hold "<version>:<value>" is an error for Get and skipped by
// scans.
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
// READONLY, ...) are returned wrapping state.ErrUnavailable. Every
// single-command operation ends within about Config.OpTimeout, queueing
// included; a scan bounds each of its round trips the same way. The pool redials on later
// calls, so the store recovers by itself when the server returns. Errors
// name the server as scheme://host/db, never with its password.
//
// Migrate is a no-op and CheckSchema only pings: Redis has no schema.
package redis
