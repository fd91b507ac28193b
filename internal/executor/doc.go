// Package executor delivers an action to its provider. In an action's path
// it comes after the gateway has applied the verdict's state effects, and
// before the result is audited:
//
//	api → gateway (rules, state) → executor → provider → audit
//
// Executor.Execute takes a slot of a global concurrency semaphore, calls the
// provider with a per-attempt deadline, retries retryable failures (TIMEOUT,
// CONNECTION, RATE_LIMITED) with exponential backoff, and pushes actions
// whose retries ran out to the dead-letter queue (DLQ). It records each
// delivery in provider.Health and feeds the circuit breakers.
//
// Breakers are per-provider circuit breakers (closed → open → half-open →
// closed) with fallback chains; they are in-process state, one set per
// gateway node. The gateway asks Breakers.Allow before calling Execute and
// walks Breakers.FallbackChain when a breaker refuses.
//
// DLQ stores dead-lettered actions in the state backend (decision D19), so
// they survive restarts and can be listed, replayed and drained.
//
// Metrics (registered on the Registerer passed in, never globally):
//
//	acteon_provider_request_duration_seconds{provider,outcome}  histogram, per attempt; outcome = success|failure|timeout
//	acteon_executor_retries_total{provider}                     counter
//	acteon_executor_in_flight                                   gauge
//	acteon_executor_queue_waiting                               gauge
//	acteon_circuit_transitions_total{provider,to}               counter (Breakers)
package executor
