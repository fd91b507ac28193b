package executor

import (
	"testing"

	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
)

// The executor against the simulation providers: the combinations the
// simulation harness relies on.
func TestExecuteWithSimProviders(t *testing.T) {
	tests := []struct {
		name      string
		p         provider.Provider
		wantOK    bool
		attempts  int
		wantDLQ   int
		wantCalls int
	}{
		{"recording succeeds at once", sim.NewRecording("p"), true, 1, 0, 1},
		{"recording always failing exhausts retries into the DLQ",
			sim.NewRecording("p", sim.WithFailureMode(sim.FailureMode{Kind: sim.Always})), false, 4, 1, 4},
		{"recording failing first 2 recovers on attempt 3",
			sim.NewRecording("p", sim.WithFailureMode(sim.FailureMode{Kind: sim.FirstN, N: 2})), true, 3, 0, 3},
		{"failing until 3 recovers on attempt 4",
			sim.NewFailing("p", provider.KindConnection, "down", sim.FailUntil(3)), true, 4, 0, 4},
		{"failing with execution failed is not retried",
			sim.NewFailing("p", provider.KindExecutionFailed, "bad"), false, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			got := f.e.Execute(t.Context(), tt.p, testAction())
			if (got.Err == nil) != tt.wantOK || got.Attempts != tt.attempts {
				t.Errorf("got attempts %d err %+v; want ok=%v attempts %d", got.Attempts, got.Err, tt.wantOK, tt.attempts)
			}
			if n := f.dlqCount(t); n != tt.wantDLQ {
				t.Errorf("DLQ = %d, want %d", n, tt.wantDLQ)
			}
			type counter interface{ CallCount() int }
			if c := tt.p.(counter).CallCount(); c != tt.wantCalls {
				t.Errorf("provider calls = %d, want %d", c, tt.wantCalls)
			}
		})
	}
}
