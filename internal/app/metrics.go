package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/internal/provider"
)

// healthCollector exports the per-provider health statistics as upstream's
// acteon_provider_* series, read at scrape time so the hot path pays
// nothing extra.
type healthCollector struct {
	health *provider.Health
	names  func() []string
	descs  map[string]*prometheus.Desc
}

var healthSeries = []struct {
	name, help string
	counter    bool
	get        func(provider.HealthStats) float64
}{
	{"acteon_provider_requests_total", "Provider calls.", true, func(s provider.HealthStats) float64 { return float64(s.TotalRequests) }},
	{"acteon_provider_successes_total", "Successful provider calls.", true, func(s provider.HealthStats) float64 { return float64(s.Successes) }},
	{"acteon_provider_failures_total", "Failed provider calls.", true, func(s provider.HealthStats) float64 { return float64(s.Failures) }},
	{"acteon_provider_success_rate", "Success rate in percent.", false, func(s provider.HealthStats) float64 { return s.SuccessRate }},
	{"acteon_provider_avg_latency_ms", "Mean latency in milliseconds.", false, func(s provider.HealthStats) float64 { return s.AvgLatencyMs }},
	{"acteon_provider_p50_latency_ms", "Median latency of the last 1000 calls.", false, func(s provider.HealthStats) float64 { return s.P50LatencyMs }},
	{"acteon_provider_p95_latency_ms", "95th percentile latency of the last 1000 calls.", false, func(s provider.HealthStats) float64 { return s.P95LatencyMs }},
	{"acteon_provider_p99_latency_ms", "99th percentile latency of the last 1000 calls.", false, func(s provider.HealthStats) float64 { return s.P99LatencyMs }},
}

func newHealthCollector(h *provider.Health, names func() []string) *healthCollector {
	c := &healthCollector{health: h, names: names, descs: map[string]*prometheus.Desc{}}
	for _, s := range healthSeries {
		c.descs[s.name] = prometheus.NewDesc(s.name, s.help, []string{"provider"}, nil)
	}
	return c
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.names() {
		st := c.health.Snapshot(name)
		for _, s := range healthSeries {
			vt := prometheus.GaugeValue
			if s.counter {
				vt = prometheus.CounterValue
			}
			ch <- prometheus.MustNewConstMetric(c.descs[s.name], vt, s.get(st), name)
		}
	}
}
