package action

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const fullBody = `{
  "id": "6a1f3c7e-2b7d-4b8e-8f0a-1c2d3e4f5a6b",
  "namespace": "alerts",
  "tenant": "acme.us-east",
  "provider": "pagerduty",
  "action_type": "cpu_high",
  "payload": {"host": "db-1", "value": 97.5, "big": 12345678901234567890},
  "metadata": {"severity": "critical", "cluster": "eu-1"},
  "dedup_key": "cpu_high:db-1",
  "status": "firing",
  "fingerprint": "cpu-db-1",
  "starts_at": "2026-01-15T09:58:00Z",
  "ends_at": null,
  "created_at": "2026-01-15T10:00:00.123Z",
  "trace_context": {},
  "template": null,
  "attachments": [{"id": "att-1", "name": "Graph", "filename": "cpu.png",
                   "content_type": "image/png", "data_base64": "iVBORw0KGgo="}],
  "signature": "base64sig==", "signer_id": "ci-bot", "kid": "k2",
  "unknown_field": [1,2,3]
}`

func TestDecodeFullBodyRoundTrips(t *testing.T) {
	a, err := Decode([]byte(fullBody))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"6a1f3c7e-2b7d-4b8e-8f0a-1c2d3e4f5a6b","namespace":"alerts","tenant":"acme.us-east","provider":"pagerduty","action_type":"cpu_high","payload":{"big":12345678901234567890,"host":"db-1","value":97.5},"metadata":{"cluster":"eu-1","severity":"critical"},"dedup_key":"cpu_high:db-1","status":"firing","fingerprint":"cpu-db-1","starts_at":"2026-01-15T09:58:00Z","ends_at":null,"created_at":"2026-01-15T10:00:00.123Z","trace_context":{},"template":null,"attachments":[{"id":"att-1","name":"Graph","filename":"cpu.png","content_type":"image/png","data_base64":"iVBORw0KGgo="}],"signature":"base64sig==","signer_id":"ci-bot","kid":"k2"}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeLenientDefaults(t *testing.T) {
	NewID = func() string { return "generated-id" }
	Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	defer func() { NewID = UUIDv4; Now = time.Now }()
	a, err := Decode([]byte(`{"namespace":"n","tenant":"t","provider":"p","action_type":"x","payload":null,"metadata":{"labels":{"sev":"high"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "generated-id" {
		t.Errorf("missing id should be generated, got %q", a.ID)
	}
	if !a.CreatedAt.Equal(Now()) {
		t.Errorf("missing created_at should be now, got %v", a.CreatedAt)
	}
	if diff := cmp.Diff(map[string]string{"sev": "high"}, a.Metadata); diff != "" {
		t.Errorf("nested labels form should be read as the label map:\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		syntax bool
		field  string
	}{
		{"malformed", `{"namespace":`, true, ""},
		{"not an object", `[1,2]`, false, ""},
		{"missing namespace", `{"tenant":"t","provider":"p","action_type":"x","payload":{}}`, false, "namespace"},
		{"missing payload", `{"namespace":"n","tenant":"t","provider":"p","action_type":"x"}`, false, "payload"},
		{"wrong type", `{"namespace":5,"tenant":"t","provider":"p","action_type":"x","payload":{}}`, false, "namespace"},
		{"non-string label", `{"namespace":"n","tenant":"t","provider":"p","action_type":"x","payload":{},"metadata":{"a":1}}`, false, "metadata.a"},
		{"bad timestamp", `{"namespace":"n","tenant":"t","provider":"p","action_type":"x","payload":{},"created_at":"yesterday"}`, false, ""},
		{"incomplete attachment", `{"namespace":"n","tenant":"t","provider":"p","action_type":"x","payload":{},"attachments":[{"id":"a"}]}`, false, "attachments[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("want *DecodeError, got %v", err)
			}
			if de.Syntax != tc.syntax {
				t.Errorf("Syntax = %v, want %v (%v)", de.Syntax, tc.syntax, err)
			}
			if tc.field != "" && de.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", de.Field, tc.field, err)
			}
		})
	}
}

func TestDecodeBatchReportsItemsSeparately(t *testing.T) {
	acts, errs, err := DecodeBatch([]byte(`[{"namespace":"n","tenant":"t","provider":"p","action_type":"x","payload":{}},{"tenant":"t"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0] == nil || errs[0] != nil || acts[1] != nil || errs[1] == nil {
		t.Fatalf("want one good and one bad item, got %v %v", acts, errs)
	}
	if !strings.Contains(errs[1].Error(), "namespace") {
		t.Errorf("item error should name the field: %v", errs[1])
	}
}

func TestOutcomeEncoding(t *testing.T) {
	notify := time.Date(2026, 1, 15, 10, 0, 30, 500_000_000, time.UTC)
	tests := []struct {
		o    Outcome
		want string
	}{
		{Outcome{Kind: OutcomeExecuted, Response: &ProviderResponse{Status: StatusSuccess, Body: map[string]any{"provider": "email", "logged": true}}},
			`{"Executed":{"status":"success","body":{"logged":true,"provider":"email"},"headers":{}}}`},
		{Outcome{Kind: OutcomeDeduplicated}, `"Deduplicated"`},
		{Outcome{Kind: OutcomeSuppressed, Rule: "block-spam"}, `{"Suppressed":{"rule":"block-spam"}}`},
		{Outcome{Kind: OutcomeRerouted, OriginalProvider: "email", NewProvider: "sms", Response: &ProviderResponse{Status: StatusSuccess, Body: map[string]any{}}},
			`{"Rerouted":{"original_provider":"email","new_provider":"sms","response":{"status":"success","body":{},"headers":{}}}}`},
		{Outcome{Kind: OutcomeThrottled, RetryAfter: 58 * time.Second}, `{"Throttled":{"retry_after":{"secs":58,"nanos":0}}}`},
		{Outcome{Kind: OutcomeFailed, Error: &ActionError{Code: "CONNECTION", Message: "connection error: refused", Retryable: true, Attempts: 4}},
			`{"Failed":{"code":"CONNECTION","message":"connection error: refused","retryable":true,"attempts":4}}`},
		{Outcome{Kind: OutcomeGrouped, GroupID: "g", GroupSize: 3, NotifyAt: notify}, `{"Grouped":{"group_id":"g","group_size":3,"notify_at":"2026-01-15T10:00:30.500Z"}}`},
		{Outcome{Kind: OutcomeDryRun, Verdict: "allow", WouldBeProvider: "email"}, `{"DryRun":{"verdict":"allow","matched_rule":null,"would_be_provider":"email"}}`},
		{Outcome{Kind: OutcomeCircuitOpen, Provider: "email"}, `{"CircuitOpen":{"provider":"email","fallback_chain":[]}}`},
		{Outcome{Kind: OutcomeSilenced, SilenceID: "s"}, `{"Silenced":{"silence_id":"s","matched_rule":null}}`},
		{Outcome{Kind: OutcomeMuted, Interval: "weekends", MuteReason: "mute_time_interval", MatchedRule: "page"}, `{"Muted":{"interval":"weekends","reason":"mute_time_interval","matched_rule":"page"}}`},
	}
	for _, tc := range tests {
		t.Run(string(tc.o.Kind), func(t *testing.T) {
			got, err := json.Marshal(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			var back Outcome
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(back)
			if string(again) != tc.want {
				t.Errorf("decode/encode round trip: got %s", again)
			}
		})
	}
}

func TestFormatTimeMinimalFraction(t *testing.T) {
	base := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	for ns, want := range map[int]string{
		0: "2026-01-15T10:00:00Z", 123_000_000: "2026-01-15T10:00:00.123Z",
		123_456_000: "2026-01-15T10:00:00.123456Z", 123_456_789: "2026-01-15T10:00:00.123456789Z",
	} {
		if got := FormatTime(base.Add(time.Duration(ns))); got != want {
			t.Errorf("FormatTime(+%dns) = %s, want %s", ns, got, want)
		}
	}
}
