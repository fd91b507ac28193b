package bench

// UpstreamRow is one row of the seed's throughput table (200 sequential
// actions, no rules, one provider; upstream's performance guide).
type UpstreamRow struct {
	State, Audit string
	PerSec       float64
	P50          string
	Notes        string
}

// Upstream is the seed's throughput table.
var Upstream = []UpstreamRow{
	{"memory", "none", 50000, "< 1 ms", "Baseline, no I/O"},
	{"memory", "postgres", 28000, "2 ms", "Async audit writes"},
	{"redis", "none", 2000, "5 ms", "Network round-trip"},
	{"redis", "postgres", 1100, "8 ms", "Production combo"},
	{"redis", "clickhouse", 970, "10 ms", "Analytics combo"},
	{"postgres", "postgres", 850, "12 ms", "Single backend"},
	{"dynamodb", "none", 340, "50 ms", "AWS SDK overhead (real AWS)"},
	{"clickhouse", "clickhouse", 120, "100 ms", "Eventual consistency"},
}

// upstreamFor returns the seed's figure for a row measured the seed's way
// (no rule, sequential).
func upstreamFor(s Spec) (UpstreamRow, bool) {
	if s.Concurrency != 1 || (s.Rules != "none" && s.Rules != "" && s.Rules != "0") {
		return UpstreamRow{}, false
	}
	for _, u := range Upstream {
		if u.State == s.State && u.Audit == s.Audit {
			return u, true
		}
	}
	return UpstreamRow{}, false
}

// MatrixConcurrency is the in-flight count of the matrix's concurrent
// stateful rows (shared/PERFORMANCE.md).
const MatrixConcurrency = 64

// Matrix returns every row of `acteon bench --matrix`: for each state ×
// audit pair of the seed's table, the seed's method (no rule, sequential),
// then one deduplicate rule sequentially and with MatrixConcurrency
// dispatches in flight.
func Matrix() []Spec {
	var out []Spec
	for _, u := range Upstream {
		out = append(out,
			Spec{State: u.State, Audit: u.Audit, Rules: "none", Concurrency: 1},
			Spec{State: u.State, Audit: u.Audit, Rules: "dedup", Concurrency: 1},
			Spec{State: u.State, Audit: u.Audit, Rules: "dedup", Concurrency: MatrixConcurrency},
		)
	}
	return out
}

// UpstreamDedup is the seed's concurrent-dedup accuracy table (20
// dispatches with one dedup_key).
var UpstreamDedup = map[string]string{
	"memory": "1 / 19 / 100%", "redis": "1 / 19 / 100%", "postgres": "1 / 19 / 100%",
	"dynamodb": "1 / 19 / 100%", "clickhouse": "10-20 / 0-10 / ~50-80%",
}

// UpstreamMemory is the seed's memory table.
var UpstreamMemory = map[string]string{
	ComponentIdle:        "~50 MB",
	ComponentRule:        "~1 KB",
	ComponentDedupKey:    "~200 bytes",
	ComponentGroup:       "~1 KB + 200 bytes/event",
	ComponentGroupEvent:  "~200 bytes",
	ComponentAuditRecord: "~2 KB",
}
