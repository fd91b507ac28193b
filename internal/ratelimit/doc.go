// Package ratelimit limits requests per caller and per tenant, with counters
// kept in the state backend so that a limit holds across every gateway node
// sharing it.
//
// In a request's path the caller limit runs right after authentication on
// every protected route (Middleware); the tenant limit runs inside the
// dispatch handlers, once per distinct tenant of a request (CheckTenants),
// and is skipped for dry runs.
//
// Each bucket ("caller:<id>", "caller:_anonymous", "tenant:<tenant>") is a
// fixed window counted with one state.IncrementWindow round trip: the window
// starts at the bucket's first request and the counter is atomic on every
// backend, so N nodes together admit exactly requests_per_window requests
// per window (upstream's sliding-window estimate reads then increments and
// can overshoot under concurrency). When the backend fails, on_error decides:
// "allow" (default) lets the request through, "deny" answers 429.
//
// Limits come from ratelimit.toml in upstream's format:
//
//	[callers.default]    requests_per_window = 1000, window_seconds = 60
//	[callers.anonymous]  requests_per_window = 100,  window_seconds = 60
//	[callers.overrides."ci-bot"] requests_per_window = 5000, window_seconds = 60
//	[tenants]            enabled = false
//	[tenants.default]    requests_per_window = 10000, window_seconds = 60
//	[tenants.overrides.acme] requests_per_window = 500, window_seconds = 60
//
// Upstream quirk kept: the 100/60 and 10000/60 defaults apply only when the
// [callers] / [tenants] tables exist; a missing table's tiers are 1000/60.
package ratelimit
