// Package silence holds silences (spec 02 §4.4, spec 01 §2.5): runtime
// objects, created over the API, that mute every action of a namespace
// whose tenant they cover (a silence in "acme" covers "acme.eu") and whose
// metadata labels match all their matchers (equal, not_equal, and regex /
// not_regex anchored as ^(?:…)$), between starts_at and ends_at.
//
// In an action's path it sits after the rules: Gate ends the dispatch with
// Silenced{silence_id, matched_rule} whatever the verdict (never in dry
// runs). Silences live in the state backend (kind "silence", canonical
// keys "<namespace>:<tenant>:silence:<id>") so every gateway node sees the
// same ones. Each node matches from an in-memory snapshot; Store.Refresh
// reads one change counter (VersionKey) and rescans only when a writer
// bumped it, so a silence created on one node applies on every node within
// one poll period (the app polls every 250 ms). Ended silences stay
// readable for Retention, then the backend expires them.
//
// API (API.Register): POST/GET /v1/silences, GET/PUT/DELETE
// /v1/silences/{id}; DELETE ends the silence now.
package silence
