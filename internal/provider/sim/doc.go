// Package sim holds providers for tests and the simulation harness
// (spec 03 §7.3): Recording, which records every call and can inject
// failures and delays, and Failing, which fails with a chosen error kind
// (optionally only for its first n calls). They stand where a real
// integration stands in an action's path (executor → provider) and are safe
// for concurrent use.
//
// Injected failures are provider errors with the usual retry semantics:
// Recording's are retryable CONNECTION errors ("simulated failure on call
// #k"), so the executor retries them and circuit breakers count them.
package sim
