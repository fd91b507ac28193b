package gateway

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/jsonw"
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
// The common shapes are written by hand: this runs for every audited
// dispatch, and encoding a map through reflection cost a fifth of it.
func outcomeDetails(o *action.Outcome, attempts int) json.RawMessage {
	b := make([]byte, 0, 96)
	switch o.Kind {
	case action.OutcomeExecuted:
		st := "Success"
		if o.Response != nil {
			if s, ok := capitalStatus[o.Response.Status]; ok {
				st = s
			}
		}
		b = append(b, `{"attempts":`...)
		b = strconv.AppendInt(b, int64(attempts), 10)
		b = append(b, `,"status":"`...)
		b = append(b, st...)
		b = append(b, `"}`...)
		return b
	case action.OutcomeSuppressed:
		b = append(b, `{"rule":`...)
		b = jsonw.AppendString(b, o.Rule)
		return append(b, '}')
	case action.OutcomeRerouted:
		b = append(b, `{"attempts":`...)
		b = strconv.AppendInt(b, int64(attempts), 10)
		b = append(b, `,"new_provider":`...)
		b = jsonw.AppendString(b, o.NewProvider)
		b = append(b, `,"original_provider":`...)
		b = jsonw.AppendString(b, o.OriginalProvider)
		return append(b, '}')
	case action.OutcomeThrottled:
		b = append(b, `{"retry_after_secs":`...)
		b = strconv.AppendUint(b, uint64(o.RetryAfter/time.Second), 10)
		return append(b, '}')
	}
	var v any
	switch o.Kind {
	case action.OutcomeFailed:
		v = o.Error
	case action.OutcomeCircuitOpen:
		fc := o.FallbackChain
		if fc == nil {
			fc = []string{}
		}
		v = struct {
			FallbackChain []string `json:"fallback_chain"`
			Provider      string   `json:"provider"`
		}{fc, o.Provider}
	default:
		return json.RawMessage(`{}`)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return out
}
