// Package memory is the in-process audit backend: the reference for the
// audit query semantics (filters, orderings, offset and cursor paging,
// tenant scope) that audittest holds every backend to, and the store the
// simulator and single-node test setups use.
//
// In an action's path it is the last hop: the gateway hands each record to
// audit.Writer, which appends batches here. Records are kept in a map under
// one RWMutex; queries filter and sort on every call, which is fine for the
// sizes a memory backend holds. Nothing survives a restart.
package memory
