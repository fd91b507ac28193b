package gateway

import (
	"encoding/json"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/rules"
)

// record builds the audit record of one decided dispatch.
func (g *Gateway) record(a *action.Action, res rules.Result, out *action.Outcome, start time.Time, attempts int, caller Caller) audit.Record {
	done := g.clock.Now()
	verdict := string(res.Verdict.Kind)
	rec := audit.Record{
		ID:             action.UUIDv7(),
		ActionID:       a.ID,
		Namespace:      a.Namespace,
		Tenant:         a.Tenant,
		Provider:       a.Provider,
		ActionType:     a.ActionType,
		Verdict:        verdict,
		Outcome:        string(out.Kind),
		VerdictDetails: json.RawMessage(`{"verdict":"` + verdict + `"}`),
		OutcomeDetails: outcomeDetails(out, attempts),
		Metadata:       recordMetadata(a),
		DispatchedAt:   start.UTC().Truncate(time.Millisecond),
		CompletedAt:    done.UTC().Truncate(time.Millisecond),
		DurationMs:     uint64(done.Sub(start) / time.Millisecond),
		CallerID:       caller.ID,
		AuthMethod:     caller.AuthMethod,
	}
	if rec.AuthMethod == "" {
		rec.AuthMethod = "anonymous"
	}
	// Allow verdicts report no rule, as upstream does; every other verdict,
	// deduplicate included (D26), names the rule that decided.
	if res.Rule != nil && res.Verdict.Kind != action.VerdictAllow {
		name := res.Rule.Name
		rec.MatchedRule = &name
	}
	if g.storePay {
		if p, err := json.Marshal(a.Payload); err == nil {
			rec.ActionPayload = p
		}
	}
	if g.auditTTL > 0 {
		exp := rec.DispatchedAt.Add(g.auditTTL)
		rec.ExpiresAt = &exp
	}
	if a.Signature != "" {
		rec.Signature, rec.SignerID, rec.Kid = strPtr(a.Signature), strPtr(a.SignerID), strPtr(a.Kid)
	}
	return rec
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func recordMetadata(a *action.Action) map[string]string {
	m := make(map[string]string, len(a.Metadata)+2)
	for k, v := range a.Metadata {
		m[k] = v
	}
	if a.DedupKey != "" {
		m["__dedup_key"] = a.DedupKey
	}
	if a.Fingerprint != "" {
		m["__fingerprint"] = a.Fingerprint
	}
	if a.Status != "" {
		m["__status"] = a.Status
	}
	if a.StartsAt != nil {
		m["__starts_at"] = action.FormatTime(*a.StartsAt)
	}
	if a.EndsAt != nil {
		m["__ends_at"] = action.FormatTime(*a.EndsAt)
	}
	return m
}

var capitalStatus = map[action.ResponseStatus]string{
	action.StatusSuccess: "Success", action.StatusFailure: "Failure", action.StatusPartial: "Partial",
}

// outcomeDetails renders upstream's per-outcome details object, plus the
// attempt count where something was executed (a superset clients ignore).
func outcomeDetails(o *action.Outcome, attempts int) json.RawMessage {
	var v any
	switch o.Kind {
	case action.OutcomeExecuted:
		st := "Success"
		if o.Response != nil {
			if s, ok := capitalStatus[o.Response.Status]; ok {
				st = s
			}
		}
		v = map[string]any{"status": st, "attempts": attempts}
	case action.OutcomeFailed:
		v = o.Error
	case action.OutcomeSuppressed:
		v = map[string]any{"rule": o.Rule}
	case action.OutcomeRerouted:
		v = map[string]any{"original_provider": o.OriginalProvider, "new_provider": o.NewProvider, "attempts": attempts}
	case action.OutcomeThrottled:
		v = map[string]any{"retry_after_secs": uint64(o.RetryAfter / time.Second)}
	case action.OutcomeCircuitOpen:
		fc := o.FallbackChain
		if fc == nil {
			fc = []string{}
		}
		v = map[string]any{"provider": o.Provider, "fallback_chain": fc}
	default:
		return json.RawMessage(`{}`)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
