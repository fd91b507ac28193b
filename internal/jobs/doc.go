// Package jobs runs the gateway's background processor (decision D18): a
// set of named periodic jobs (group flush, state-machine timeouts, expired
// state cleanup, dead-letter retention, index repair), each on its own
// interval, with per-job metrics.
//
// In an action's path it sits beside the gateway: verdict handlers leave
// work in the state backend (pending groups, armed timeouts) and the jobs
// pick it up later, dispatching the resulting notifications back through
// the gateway.
//
// There is no leader election. Multi-node safety comes from claims: every
// work item is claimed with an atomic set-if-absent (Claim) that expires
// after a TTL, so with several nodes on one backend an item is handled by
// exactly one of them, and the item of a node that dies mid-job is picked
// up by another node once the claim has expired. Jobs whose whole run is
// one unit of work (a purge, a retention sweep) claim the run instead, per
// interval window (ClaimWindow).
//
// Lifecycle:
//
//	New ─► Start(ctx) ─► (ticks: first immediately, then every interval) ─► Stop(ctx)
//
// Stop stops ticking and waits for runs in progress, so a graceful
// shutdown never abandons a claimed item half-way.
package jobs
