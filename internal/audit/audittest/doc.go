// Package audittest is the conformance suite every audit backend passes:
// append then read back by id and by action id, every filter, inclusive
// time ranges, both orderings, offset paging with a total, cursor paging
// that visits every record exactly once (records sharing a millisecond
// included), limit clamping, tenant-scope isolation, idempotent appends,
// cleanup of expired records and millisecond precision (D20).
//
// Each case is a named subtest stating the rule it enforces (logged when
// it fails, as testing/slogtest does). Every case writes under its own
// random namespace and filters its queries on it, so a real backend can
// share its database with other tests. Records are compared field by field
// with JSON values compared by meaning (a JSONB column may reformat them)
// and times by instant.
package audittest
