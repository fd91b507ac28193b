package executor

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
)

// Default backoff parameters (spec 03 §5.1).
const (
	BackoffBase = 100 * time.Millisecond
	BackoffMax  = 30 * time.Second
)

// DefaultBackoff is the delay before retry number attempt+1, where attempt
// is the 0-based index of the attempt that just failed:
//
//	min(100ms · 2^attempt · (1 + 0.1·(attempt mod 5)) · (1 + j), 30s)
//
// with j drawn uniformly from [-0.1, 0.1) on every call. Without j this is
// upstream's deterministic schedule 100 ms, 220 ms, 480 ms, 1.04 s, 2.24 s,
// 3.2 s, …; the random ±10 % spreads retries of many actions that failed
// together so they do not hit the provider in lock-step. The cap applies
// after the jitter, so long waits are exactly 30 s.
func DefaultBackoff(attempt int) time.Duration {
	d := deterministicBackoff(attempt)
	d *= 1 + (rand.Float64()*0.2 - 0.1)
	return time.Duration(min(d, float64(BackoffMax)))
}

// deterministicBackoff is DefaultBackoff without the random factor, in
// nanoseconds (not yet capped).
func deterministicBackoff(attempt int) float64 {
	if attempt < 0 {
		attempt = 0
	}
	if attempt > 30 { // 100ms·2^30 is far past the cap already
		attempt = 30
	}
	return float64(BackoffBase) * float64(uint64(1)<<attempt) * (1 + 0.1*float64(attempt%5))
}

// SleepContext waits for d or until ctx ends, whichever is first, and
// returns ctx's error in the latter case. It is the default Options.Sleep.
func SleepContext(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d) }
