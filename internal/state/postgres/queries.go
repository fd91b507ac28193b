package postgres

import (
	"strconv"
	"strings"
)

// queries holds every statement text, built once per Store from the table
// names. pgx prepares each text once per connection and caches it.
//
// Conventions: TTLs travel as bigint microseconds, 0 meaning "no expiry";
// every expiry is computed by the server (now() + ttl) so nodes with skewed
// clocks agree; a row is live when expires_at IS NULL OR expires_at > now().
type queries struct {
	checkAndSet      string
	checkAndSetBatch string
	get              string
	getVersioned     string
	set              string
	del              string
	increment        string
	window           string
	windowBatch      string
	cas              string
	scan             string
	scanKind         string
	indexTimeout     string
	removeTimeout    string
	dueTimeouts      string
	tryLock          string
	extendLock       string
	releaseLock      string
	heldLock         string
	purge            string
	purgeLocks       string
}

func buildQueries(t tableNames) queries {
	r := strings.NewReplacer(
		"{S}", t.state,
		"{L}", t.locks,
		"{I}", t.timeouts,
		"{live}", "({S}.expires_at IS NULL OR {S}.expires_at > now())",
	)
	// Applied twice so that {live}'s own {S} is expanded.
	x := func(q string) string { return r.Replace(r.Replace(q)) }
	return queries{
		// An existing row blocks the insert unless it has expired; the
		// conflict arbiter makes concurrent callers on one key serialise on
		// the row, so exactly one of them gets a row back.
		checkAndSet: x(`INSERT INTO {S} (key, value, version, expires_at)
			VALUES ($1, $2, 1, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' END)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = 1, expires_at = EXCLUDED.expires_at
			WHERE {S}.expires_at <= now()
			RETURNING true`),
		// The batch form: keys are unique and sorted (lock order) by the
		// caller; the rows returned are the keys that were written.
		checkAndSetBatch: x(`INSERT INTO {S} (key, value, version, expires_at)
			SELECT k, v, 1, CASE WHEN t > 0 THEN now() + t * interval '1 microsecond' END
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(k, v, t)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = 1, expires_at = EXCLUDED.expires_at
			WHERE {S}.expires_at <= now()
			RETURNING key`),
		get:          x(`SELECT value FROM {S} WHERE key = $1 AND {live}`),
		getVersioned: x(`SELECT value, version FROM {S} WHERE key = $1 AND {live}`),
		set: x(`INSERT INTO {S} (key, value, version, expires_at)
			VALUES ($1, $2, 1, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' END)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at,
				version = CASE WHEN {live} THEN {S}.version + 1 ELSE 1 END`),
		// Any row goes (an expired one is garbage anyway); the answer is
		// whether it was live.
		del: x(`DELETE FROM {S} WHERE key = $1 RETURNING {live}`),
		// SET expressions read the old row, so {live} is the old row's state.
		increment: x(`INSERT INTO {S} (key, value, version, expires_at)
			VALUES ($1, $2::bigint::text, 1, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' END)
			ON CONFLICT (key) DO UPDATE SET
				value = CASE WHEN {live} THEN ({S}.value::bigint + $2::bigint)::text ELSE EXCLUDED.value END,
				version = CASE WHEN {live} THEN {S}.version + 1 ELSE 1 END,
				expires_at = CASE WHEN $3::bigint > 0 THEN EXCLUDED.expires_at WHEN {live} THEN {S}.expires_at END
			RETURNING value::bigint`),
		// A fixed window: a live row counts up and keeps its expiry, an
		// expired or missing one restarts at 1 with a new window.
		window: x(`INSERT INTO {S} (key, value, version, expires_at)
			VALUES ($1, '1', 1, now() + $2::bigint * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE SET
				value = CASE WHEN {live} THEN ({S}.value::bigint + 1)::text ELSE '1' END,
				version = CASE WHEN {live} THEN {S}.version + 1 ELSE 1 END,
				expires_at = CASE WHEN {live} THEN {S}.expires_at ELSE EXCLUDED.expires_at END
			RETURNING value::bigint,
				COALESCE((extract(epoch FROM expires_at - now()) * 1000000)::bigint, 0)`),
		// The batch form adds n hits per (unique, sorted) key at once; the
		// version grows by n like n single calls would.
		windowBatch: x(`INSERT INTO {S} (key, value, version, expires_at)
			SELECT k, n::text, n, now() + w * interval '1 microsecond'
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(k, n, w)
			ON CONFLICT (key) DO UPDATE SET
				value = CASE WHEN {live} THEN ({S}.value::bigint + EXCLUDED.value::bigint)::text ELSE EXCLUDED.value END,
				version = CASE WHEN {live} THEN {S}.version + EXCLUDED.version ELSE EXCLUDED.version END,
				expires_at = CASE WHEN {live} THEN {S}.expires_at ELSE EXCLUDED.expires_at END
			RETURNING key, value::bigint,
				COALESCE((extract(epoch FROM expires_at - now()) * 1000000)::bigint, 0)`),
		// The update re-checks version under the row lock, so concurrent
		// swaps from one version have exactly one winner. The second column
		// is the version before this statement (for the conflict message).
		cas: x(`WITH upd AS (
				UPDATE {S} SET value = $3, version = {S}.version + 1,
					expires_at = CASE WHEN $4::bigint > 0 THEN now() + $4::bigint * interval '1 microsecond' ELSE {S}.expires_at END
				WHERE key = $1 AND version = $2 AND {live}
				RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM upd), (SELECT version FROM {S} WHERE key = $1 AND {live})`),
		scan: x(`SELECT key, value FROM {S} WHERE key LIKE $1 ESCAPE '\' AND {live} ORDER BY key`),
		// The kind is the text after the second ':' up to the next ':';
		// since kinds may contain ':' the test is a prefix test on what
		// follows the second ':' (the memory backend's rule).
		scanKind: x(`SELECT key, value FROM {S}
			WHERE starts_with(substr(key, length(split_part(key, ':', 1)) + length(split_part(key, ':', 2)) + 3), $1)
				AND {live} ORDER BY key`),
		indexTimeout: x(`INSERT INTO {I} (key, expires_at_ms) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET expires_at_ms = EXCLUDED.expires_at_ms`),
		removeTimeout: x(`DELETE FROM {I} WHERE key = $1`),
		dueTimeouts:   x(`SELECT key FROM {I} WHERE expires_at_ms <= $1 ORDER BY expires_at_ms, key`),
		// A lock row blocks unless it has expired; zero ttl never expires.
		tryLock: x(`INSERT INTO {L} (name, owner, expires_at)
			VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' ELSE 'infinity' END)
			ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
			WHERE {L}.expires_at <= now()
			RETURNING true`),
		extendLock: x(`UPDATE {L} SET expires_at = CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' ELSE 'infinity' END
			WHERE name = $1 AND owner = $2 AND expires_at > now()`),
		// Our own expired row is removed too; the answer says whether it
		// was still live.
		releaseLock: x(`DELETE FROM {L} WHERE name = $1 AND owner = $2 RETURNING expires_at > now()`),
		heldLock:    x(`SELECT EXISTS (SELECT 1 FROM {L} WHERE name = $1 AND owner = $2 AND expires_at > now())`),
		purge: x(`DELETE FROM {S} WHERE key IN (
				SELECT key FROM {S} WHERE expires_at <= now() LIMIT ` + strconv.Itoa(purgeBatch) + ` FOR UPDATE SKIP LOCKED)
			AND expires_at <= now()`),
		purgeLocks: x(`DELETE FROM {L} WHERE expires_at <= now()`),
	}
}

// likeEscape escapes LIKE's wildcards and its escape character.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
