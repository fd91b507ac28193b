// Package bench is the engine behind `acteon bench`: it measures the
// gateway the way the seed's performance guide does (in-process dispatches
// through a recording provider) and the way users feel it (stateful rules,
// many dispatches in flight, sustained audit), and reports medians over
// repetitions with min–max, latency percentiles, state round trips and
// allocations per action, beside the bare round trip of each backend
// measured in the same run.
//
// Each row is built with app.Build from a configuration, exactly as
// `acteon serve` builds its gateway. A row whose backend is not reachable
// or not available in this build is reported as unavailable with the
// reason; nothing here asserts anything about speed.
//
// Kinds of measurement:
//
//   - Run: one throughput row (state × audit × rules × concurrency).
//   - Baseline: the backend's bare round trip (Redis PING, PostgreSQL and
//     ClickHouse SELECT 1, DynamoDB ListTables).
//   - DedupAccuracy: 20 concurrent dispatches with one dedup_key over N
//     nodes (the simulation harness), repeated.
//   - Memory: heap bytes per rule, dedup key, open event group, grouped
//     event and audit record, and the idle process.
//   - Target: the same workload over HTTP against any compatible server.
package bench
