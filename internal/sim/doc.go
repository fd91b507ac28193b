// Package sim is the simulation harness (spec 01 §5.2): it starts N gateway
// nodes in one process over one shared state backend, with recording and
// failing providers shared by every node and a virtual clock, and gives
// scenario tests helpers to dispatch, await and assert.
//
// Each node is a full app.App built from a configuration, exactly as
// `acteon serve` builds it, minus the HTTP listener. With the memory state
// backend every node gets the same store (as if they shared a server); with
// a real backend (redis, postgres, dynamodb, clickhouse) each node opens its
// own connection pool to the same server, like separate gateway processes.
// Providers are shared objects, so a Recording sees the calls of every node.
//
// The clock is a clock.Fake unless Config.Clock says otherwise: the gateway,
// the memory state store and the recording providers read it, so TTLs and
// throttle windows move when the test calls Advance. Real backends expire
// entries by the server's clock, which Advance does not move. The executor's
// retry backoff waits in real time (100 ms, 220 ms, … by default).
//
// A Harness is test tooling; it never panics on bad input (Start returns an
// error) and is safe for concurrent use.
package sim
