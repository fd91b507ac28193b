// Package timeinterval holds named time intervals (spec 02 §4.5): recurring
// windows of wall-clock time (times of day, weekdays, days of month,
// months, years, in an IANA location) defined per namespace and tenant,
// which rules name in mute_time_intervals and active_time_intervals.
//
// In an action's path it sits after the rules and the silence gate: Gate
// looks at the matched rule's interval lists and may end the dispatch with
// a Muted outcome. Intervals live in the state backend (kind
// "time_interval", id = name) so every gateway node sees the same ones; each
// node serves the hot path from an in-memory snapshot that Store.Refresh
// keeps current by polling one change counter (VersionKey), so a change
// made on one node is visible on the others within one poll period.
//
// Intervals can also be defined in YAML files of the rules directory under
// a top-level `time_intervals:` key (LoadDir); the app writes them to the
// store at start-up. API (API.Register): /v1/time-intervals and
// /v1/time-intervals/{namespace}/{tenant}/{name}.
package timeinterval
