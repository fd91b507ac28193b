package executor

import (
	"context"
	"testing"
	"time"
)

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration // before jitter
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 220 * time.Millisecond},
		{2, 480 * time.Millisecond},
		{3, 1040 * time.Millisecond},
		{4, 2240 * time.Millisecond},
		{5, 3200 * time.Millisecond},
		{6, 7040 * time.Millisecond},
		{8, 30 * time.Second}, // 33.28 s before the cap
		{64, 30 * time.Second},
		{1 << 30, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := time.Duration(min(deterministicBackoff(tt.attempt), float64(BackoffMax))); got != tt.want {
			t.Errorf("deterministic(%d) = %s, want %s", tt.attempt, got, tt.want)
		}
		lo := time.Duration(float64(tt.want) * 0.9)
		hi := time.Duration(float64(tt.want) * 1.1)
		for range 200 {
			got := DefaultBackoff(tt.attempt)
			if got < lo || got > hi || got > BackoffMax {
				t.Fatalf("DefaultBackoff(%d) = %s, want within [%s, %s] and <= 30s", tt.attempt, got, lo, min(hi, BackoffMax))
			}
		}
	}
}

func TestSleepContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := SleepContext(ctx, time.Hour); err == nil {
		t.Error("SleepContext on a cancelled ctx returned nil")
	}
	if err := SleepContext(t.Context(), 0); err != nil {
		t.Errorf("zero sleep: %v", err)
	}
	if err := SleepContext(t.Context(), time.Microsecond); err != nil {
		t.Errorf("short sleep: %v", err)
	}
}
