// Package gateway runs one action down the pipeline: rules decide, the
// stateful part of the verdict is applied through the state store, the
// executor delivers through a provider, and the audit writer records what
// happened and why.
//
//	api ─► Gateway.Dispatch
//	         1. rules.Evaluate (pure; runtime rule errors are "no match", D6)
//	         2. dry run? → DryRun outcome, nothing else happens
//	         3. verdict:
//	              allow / modify   → execute (circuit breaker, fallback chain)
//	              deny / suppress  → Suppressed
//	              deduplicate      → one atomic CheckAndSet, then execute (D9)
//	              throttle         → one atomic fixed-window increment (D10)
//	            a state error in either is ErrStateUnavailable (HTTP 503)
//	              reroute          → execute on the target provider
//	         4. audit record (asynchronous, batched; D21)
//	       ◄─ Outcome
//
// There is no per-action lock (D15): a dispatch costs at most one state
// round trip, and none when no stateful rule matched. Exactly-once delivery
// for one dedup key comes from the atomic set-if-absent alone.
//
// A Gateway is safe for concurrent use. Rule sets are swapped atomically
// (SwapRules); a dispatch sees either the old or the new set, never a mix.
package gateway
