// Package group carries out the group verdict (spec 02 §3.7): events that
// share the values of a rule's group_by fields are collected into one group
// and, once the group is due, sent as ONE consolidated notification action
// back through the gateway (so rules apply to it too).
//
// In an action's path it is a gateway.VerdictHandler: the dispatch of an
// event ends with Grouped{group_id, group_size, notify_at}; the provider is
// not called then. The background processor (internal/jobs) calls
// Manager.FlushDue, which sends the notification when notify_at has passed.
//
// # Storage (survives restarts, shared by every node)
//
//	ns:tenant:group:<group_key>       one entry per group, written only by compare-and-swap
//	ns:tenant:pending_groups:<key>    name in the state timeout index, deadline = notify_at (ms)
//	ns:tenant:group_flush_claim:<key>:<notify_at RFC 3339>   flush claim, 60 s (D18)
//
// The group entry is a header line followed by one line per event, so
// that adding an event appends a line instead of re-encoding every event.
// Both are compact JSON arrays (see record.go): the header holds what the
// flush, the API and the next add read, and nothing the state key already
// says; an event line holds the payload, plus the fingerprint and status
// when the event had them. Lines written by earlier builds (JSON objects)
// are still read, but a node of an earlier build cannot read the compact
// form: nodes sharing one store run one build. A flushed ephemeral group
// leaves a short-lived tombstone header (state "flushed") that the next
// event replaces with a new group by compare-and-swap; a plain delete
// could lose an event added concurrently.
//
// # Exactness
//
// Adds are read-modify-write with CompareAndSwap and retry, serialised per
// group inside one process, so concurrent adds from several nodes never
// lose an event. A flush claims (group_key, notify_at) with an atomic
// set-if-absent, commits the group's post-flush state by compare-and-swap
// (the committed snapshot is exactly what it sends) and only then
// dispatches the notification: a flush is never sent twice. A node that
// dies after claiming but before committing leaves the group pending, and
// another node flushes it once the 60 s claim has expired. A node killed
// between the commit and the dispatch (a window of one state write) loses
// that notification; a graceful stop finishes flushes in progress.
//
// # Notification
//
// The consolidated action has action_type "group_notification"; its
// namespace, tenant and provider are labels["namespace"|"tenant"|"provider"]
// when group_by has them, else the group's own namespace and tenant and the
// provider of the event that opened the group (upstream falls back to
// "default"/"default"/"webhook" instead; a group never spans namespaces or
// tenants, so the events' own values are the useful ones). Labels of the
// form metadata.<k> are copied to the notification's metadata. Payload:
//
//	{"group_id","group_key","event_count","events":[payloads…],"labels":{…},
//	 "flushed_at","_group_dispatch":true}
//
// Rules can match action.payload._group_dispatch to treat it; a
// notification that reaches a group verdict anyway is delivered rather than
// regrouped (loop guard).
package group
