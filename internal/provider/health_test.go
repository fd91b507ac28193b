package provider

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestHealthSnapshot(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name    string
		latency []time.Duration // one Record per element
		fail    []bool          // parallel to latency: record an error
		want    HealthStats
	}{
		{
			name: "unknown provider is all zeros",
			want: HealthStats{Provider: "p"},
		},
		{
			name:    "single success",
			latency: []time.Duration{2 * time.Millisecond},
			fail:    []bool{false},
			want: HealthStats{Provider: "p", TotalRequests: 1, Successes: 1, SuccessRate: 100,
				AvgLatencyMs: 2, P50LatencyMs: 2, P95LatencyMs: 2, P99LatencyMs: 2,
				LastRequestAt: ptr(start.UnixMilli())},
		},
		{
			name:    "mixed outcomes keep the last error",
			latency: []time.Duration{1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond},
			fail:    []bool{false, true, false, false},
			// sorted: 1,2,3,4 ms; p50 idx round(1.5)=2 -> 3; p95 idx round(2.85)=3 -> 4.
			want: HealthStats{Provider: "p", TotalRequests: 4, Successes: 3, Failures: 1, SuccessRate: 75,
				AvgLatencyMs: 2.5, P50LatencyMs: 3, P95LatencyMs: 4, P99LatencyMs: 4,
				LastRequestAt: ptr(start.UnixMilli()), LastError: "boom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHealth(WithHealthClock(clock.NewFake(start)))
			for i, l := range tt.latency {
				var err error
				if tt.fail[i] {
					err = errors.New("boom")
				}
				h.Record("p", l, err)
			}
			if diff := cmp.Diff(tt.want, h.Snapshot("p")); diff != "" {
				t.Errorf("Snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHealthPercentilesUseLast1000Samples(t *testing.T) {
	h := NewHealth()
	// 1000 samples of 1000 ms, then 1000 samples of 1..1000 µs: the old ones
	// must be gone from the percentiles but not from the average.
	for range HealthSamples {
		h.Record("p", time.Second, nil)
	}
	for i := 1; i <= HealthSamples; i++ {
		h.Record("p", time.Duration(i)*time.Microsecond, nil)
	}
	got := h.Snapshot("p")
	// sorted 1..1000 µs; p50 idx round(499.5)=500 -> 501 µs; p95 idx round(949.05)=949 -> 950; p99 idx round(989.01)=989 -> 990.
	if got.P50LatencyMs != 0.501 || got.P95LatencyMs != 0.950 || got.P99LatencyMs != 0.990 {
		t.Errorf("percentiles = %v/%v/%v, want 0.501/0.95/0.99", got.P50LatencyMs, got.P95LatencyMs, got.P99LatencyMs)
	}
	if got.TotalRequests != 2*HealthSamples {
		t.Errorf("total = %d", got.TotalRequests)
	}
	wantAvg := (1000.0*1000 + 500.5) / 2000 // ms: 1000×1000 ms plus 1..1000 µs (500.5 ms), over 2000 requests
	if d := got.AvgLatencyMs - wantAvg; d > 0.001 || d < -0.001 {
		t.Errorf("avg = %v, want %v", got.AvgLatencyMs, wantAvg)
	}
}

func TestHealthLastErrorTruncatedTo500Chars(t *testing.T) {
	h := NewHealth()
	h.Record("p", 0, errors.New(strings.Repeat("é", 600)))
	got := h.Snapshot("p").LastError
	if n := len([]rune(got)); n != HealthMaxErrorLen {
		t.Errorf("last_error has %d chars, want %d", n, HealthMaxErrorLen)
	}
	if !strings.HasPrefix(strings.Repeat("é", 600), got) {
		t.Errorf("truncation split a character")
	}
}

func TestHealthBoundsTrackedProviders(t *testing.T) {
	h := NewHealth()
	for i := range HealthMaxProviders + 10 {
		h.Record(strings.Repeat("x", i+1), time.Millisecond, nil)
	}
	if n := len(h.Providers()); n != HealthMaxProviders {
		t.Errorf("tracked %d providers, want %d", n, HealthMaxProviders)
	}
	if got := h.Snapshot(strings.Repeat("x", HealthMaxProviders+5)); got.TotalRequests != 0 {
		t.Errorf("provider past the bound was tracked: %+v", got)
	}
}

func TestHealthNilIsInert(t *testing.T) {
	var h *Health
	h.Record("p", time.Second, errors.New("x"))
	if got := h.Snapshot("p"); got.TotalRequests != 0 {
		t.Errorf("nil health snapshot = %+v", got)
	}
}

func TestHealthConcurrentRecord(t *testing.T) {
	h := NewHealth()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				var err error
				if i%2 == 0 {
					err = errors.New("e")
				}
				h.Record("p", time.Duration(g+i)*time.Microsecond, err)
				_ = h.Snapshot("p")
			}
		})
	}
	wg.Wait()
	got := h.Snapshot("p")
	if got.TotalRequests != 4000 || got.Successes != 2000 || got.Failures != 2000 {
		t.Errorf("counts = %d/%d/%d", got.TotalRequests, got.Successes, got.Failures)
	}
}

func BenchmarkHealthRecord(b *testing.B) {
	h := NewHealth()
	b.ReportAllocs()
	for b.Loop() {
		h.Record("p", time.Millisecond, nil)
	}
}
