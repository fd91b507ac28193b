// Package rules is Acteon's rule engine: it loads rule files (YAML, with
// structured or CEL conditions, and .cel files), validates them completely at
// load time, and evaluates an action against the priority-sorted rule set to
// produce a Verdict.
//
// # Where it sits in the action path
//
//	api (decode) → gateway.Dispatch → rules.Evaluate → gateway applies the
//	verdict through state → executor → provider → audit → api (encode)
//
// Evaluate is pure apart from reads of user state keys (state_seen and
// state_counter predicates) through the StateReader the caller passes in.
// It performs no I/O of its own, reads no clock (the caller passes Now) and
// never fails: a runtime error in a rule (a comparison on a missing field, a
// type mismatch, a CEL error, a non-bool CEL result) counts as "no match"
// for that rule and is reported in Result.Errors (decision D6).
//
// # Load-time validation (decision D5)
//
// Invalid regexes, unknown timezones, unknown condition keys, unknown path
// roots, unknown verdict types, out-of-range parameters, duplicate rule
// names, predicates that need a runtime Acteon does not have (semantic_match,
// wasm_plugin) and references to undefined providers, state machines, chains
// and time intervals are all load errors. Each error is a *LoadError naming
// the file, the line and the rule; LoadDir collects every problem of every
// file and joins them with errors.Join. Unknown rule keys are accepted with
// a Warning.
//
// # Concurrency
//
// A *Set is immutable apart from the per-rule enabled flag, which is atomic;
// Evaluate, EvaluateTrace, Lookup and SetEnabled are safe for concurrent use.
// A reload builds a new Set and the caller swaps it in atomically.
//
// # Regex portability
//
// `matches` uses Go RE2 (unanchored search). Upstream used Rust regex, where
// \d, \w and \b are Unicode-aware; in Go they are ASCII-only. For ASCII input
// both agree.
package rules
