// Package statecache is the synced in-memory cache behind the runtime
// objects that every gateway node must see alike (silences, time
// intervals): all entries of one state kind, decoded and indexed into an
// immutable snapshot that the hot path reads without locks.
//
// Each node keeps its copy current by polling: Refresh reads one change
// counter (the version key) and rescans the kind only when a writer bumped
// it, or when the last scan is older than FullRescanEvery (a lost bump, a
// backend restarted without persistence). A writer calls Bump after its
// write, which increments the counter for the other nodes and reloads the
// local copy so that this node sees its own write at once.
package statecache
