package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
)

// The hand-written details must be the JSON an encoder would produce, for
// any rule or provider name.
func TestOutcomeDetailsAreValidJSON(t *testing.T) {
	odd := "a\"b\\c\n<&>é\x01"
	tests := []struct {
		o        action.Outcome
		attempts int
		want     map[string]any
	}{
		{action.Outcome{Kind: action.OutcomeExecuted, Response: &action.ProviderResponse{Status: action.StatusPartial}}, 3,
			map[string]any{"status": "Partial", "attempts": 3.0}},
		{action.Outcome{Kind: action.OutcomeSuppressed, Rule: odd}, 0, map[string]any{"rule": odd}},
		{action.Outcome{Kind: action.OutcomeSuppressed, Rule: "block-spam"}, 0, map[string]any{"rule": "block-spam"}},
		{action.Outcome{Kind: action.OutcomeRerouted, OriginalProvider: "email", NewProvider: odd}, 1,
			map[string]any{"original_provider": "email", "new_provider": odd, "attempts": 1.0}},
		{action.Outcome{Kind: action.OutcomeThrottled, RetryAfter: 58 * time.Second}, 0, map[string]any{"retry_after_secs": 58.0}},
		{action.Outcome{Kind: action.OutcomeFailed, Error: &action.ActionError{Code: "TIMEOUT", Message: odd, Retryable: true, Attempts: 4}}, 4,
			map[string]any{"code": "TIMEOUT", "message": odd, "retryable": true, "attempts": 4.0}},
		{action.Outcome{Kind: action.OutcomeCircuitOpen, Provider: "p"}, 0, map[string]any{"provider": "p", "fallback_chain": []any{}}},
		{action.Outcome{Kind: action.OutcomeDeduplicated}, 0, map[string]any{}},
	}
	for _, tc := range tests {
		raw := outcomeDetails(&tc.o, tc.attempts)
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: invalid JSON %s: %v", tc.o.Kind, raw, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.o.Kind, diff)
		}
	}
}
