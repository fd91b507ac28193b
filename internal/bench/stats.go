package bench

import (
	"math"
	"slices"
	"time"
)

// percentile returns the nearest-rank value sorted[round(q·(n−1))] of an
// ascending slice (spec 01 §5.1), or 0 when empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Round(q * float64(len(sorted)-1)))
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Spread is a median with the smallest and largest value of the
// repetitions it came from.
type Spread struct {
	Median, Min, Max float64
}

// spreadOf summarises xs (not modified).
func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Spread{Median: med, Min: s[0], Max: s[n-1]}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// round returns x rounded to the given number of decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
