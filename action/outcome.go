package action

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// OutcomeKind is the lower-case outcome tag used in audit records, metrics
// and stream filters.
type OutcomeKind string

// Outcome kinds, one per ActionOutcome variant.
const (
	OutcomeExecuted         OutcomeKind = "executed"
	OutcomeDeduplicated     OutcomeKind = "deduplicated"
	OutcomeSuppressed       OutcomeKind = "suppressed"
	OutcomeRerouted         OutcomeKind = "rerouted"
	OutcomeThrottled        OutcomeKind = "throttled"
	OutcomeFailed           OutcomeKind = "failed"
	OutcomeGrouped          OutcomeKind = "grouped"
	OutcomeStateChanged     OutcomeKind = "state_changed"
	OutcomePendingApproval  OutcomeKind = "pending_approval"
	OutcomeChainStarted     OutcomeKind = "chain_started"
	OutcomeDryRun           OutcomeKind = "dry_run"
	OutcomeCircuitOpen      OutcomeKind = "circuit_open"
	OutcomeScheduled        OutcomeKind = "scheduled"
	OutcomeRecurringCreated OutcomeKind = "recurring_created"
	OutcomeQuotaExceeded    OutcomeKind = "quota_exceeded"
	OutcomeSilenced         OutcomeKind = "silenced"
	OutcomeMuted            OutcomeKind = "muted"
)

// OutcomeKinds lists every outcome kind, for pre-creating metric series.
var OutcomeKinds = []OutcomeKind{
	OutcomeExecuted, OutcomeDeduplicated, OutcomeSuppressed, OutcomeRerouted,
	OutcomeThrottled, OutcomeFailed, OutcomeGrouped, OutcomeStateChanged,
	OutcomePendingApproval, OutcomeChainStarted, OutcomeDryRun, OutcomeCircuitOpen,
	OutcomeScheduled, OutcomeRecurringCreated, OutcomeQuotaExceeded, OutcomeSilenced,
	OutcomeMuted,
}

var variantName = map[OutcomeKind]string{
	OutcomeExecuted: "Executed", OutcomeDeduplicated: "Deduplicated",
	OutcomeSuppressed: "Suppressed", OutcomeRerouted: "Rerouted",
	OutcomeThrottled: "Throttled", OutcomeFailed: "Failed", OutcomeGrouped: "Grouped",
	OutcomeStateChanged: "StateChanged", OutcomePendingApproval: "PendingApproval",
	OutcomeChainStarted: "ChainStarted", OutcomeDryRun: "DryRun",
	OutcomeCircuitOpen: "CircuitOpen", OutcomeScheduled: "Scheduled",
	OutcomeRecurringCreated: "RecurringCreated", OutcomeQuotaExceeded: "QuotaExceeded",
	OutcomeSilenced: "Silenced", OutcomeMuted: "Muted",
}

// ResponseStatus is the status of a provider response.
type ResponseStatus string

// Provider response statuses.
const (
	StatusSuccess ResponseStatus = "success"
	StatusFailure ResponseStatus = "failure"
	StatusPartial ResponseStatus = "partial"
)

// ProviderResponse is what a provider returned for a successful call.
type ProviderResponse struct {
	Status  ResponseStatus    `json:"status"`
	Body    any               `json:"body"`
	Headers map[string]string `json:"headers"`
}

// MarshalJSON always emits headers as an object, never null.
func (r ProviderResponse) MarshalJSON() ([]byte, error) {
	type plain ProviderResponse
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	if r.Status == "" {
		r.Status = StatusSuccess
	}
	return json.Marshal(plain(r))
}

// ActionError describes a failed execution.
type ActionError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
	Attempts  int    `json:"attempts"`
}

// Outcome is the result of one dispatch. Kind selects the variant; only the
// fields of that variant are meaningful. It encodes as upstream's externally
// tagged enum ({"Executed":{…}}, the bare string "Deduplicated", …).
type Outcome struct {
	Kind OutcomeKind

	// Executed, Rerouted.
	Response *ProviderResponse
	// Suppressed.
	Rule string
	// Rerouted.
	OriginalProvider, NewProvider string
	// Throttled.
	RetryAfter time.Duration
	// Failed.
	Error *ActionError
	// Grouped.
	GroupID   string
	GroupSize int
	NotifyAt  time.Time
	// StateChanged.
	Fingerprint, PreviousState, NewState string
	Notify                               bool
	// PendingApproval.
	ApprovalID           string
	ExpiresAt            time.Time
	ApproveURL           string
	RejectURL            string
	NotificationSent     bool
	ChainID, ChainName   string
	TotalSteps           int
	FirstStep            string
	Verdict              string // DryRun
	MatchedRule          string // DryRun, Silenced, Muted ("" encodes as null)
	WouldBeProvider      string // DryRun
	Provider             string // CircuitOpen
	FallbackChain        []string
	ScheduledActionID    string // Scheduled
	ScheduledFor         time.Time
	RecurringID          string
	CronExpr             string
	NextExecutionAt      *time.Time
	Tenant               string // QuotaExceeded
	Limit, Used          uint64
	OverageBehavior      string
	SilenceID            string // Silenced
	Interval, MuteReason string // Muted
}

// Duration is upstream's std::time::Duration encoding.
type Duration struct {
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

// DurationOf converts d to the wire form.
func DurationOf(d time.Duration) Duration {
	if d < 0 {
		d = 0
	}
	return Duration{Secs: uint64(d / time.Second), Nanos: uint32(d % time.Second)}
}

// Std converts back to a time.Duration.
func (d Duration) Std() time.Duration {
	return time.Duration(d.Secs)*time.Second + time.Duration(d.Nanos)
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// body returns the variant's inner object (nil for unit variants).
func (o *Outcome) body() any {
	switch o.Kind {
	case OutcomeExecuted:
		if o.Response == nil {
			return ProviderResponse{Status: StatusSuccess}
		}
		return *o.Response
	case OutcomeSuppressed:
		return struct {
			Rule string `json:"rule"`
		}{o.Rule}
	case OutcomeRerouted:
		r := ProviderResponse{Status: StatusSuccess}
		if o.Response != nil {
			r = *o.Response
		}
		return struct {
			OriginalProvider string           `json:"original_provider"`
			NewProvider      string           `json:"new_provider"`
			Response         ProviderResponse `json:"response"`
		}{o.OriginalProvider, o.NewProvider, r}
	case OutcomeThrottled:
		return struct {
			RetryAfter Duration `json:"retry_after"`
		}{DurationOf(o.RetryAfter)}
	case OutcomeFailed:
		e := ActionError{}
		if o.Error != nil {
			e = *o.Error
		}
		return e
	case OutcomeGrouped:
		return struct {
			GroupID   string `json:"group_id"`
			GroupSize int    `json:"group_size"`
			NotifyAt  string `json:"notify_at"`
		}{o.GroupID, o.GroupSize, FormatTime(o.NotifyAt)}
	case OutcomeStateChanged:
		return struct {
			Fingerprint   string `json:"fingerprint"`
			PreviousState string `json:"previous_state"`
			NewState      string `json:"new_state"`
			Notify        bool   `json:"notify"`
		}{o.Fingerprint, o.PreviousState, o.NewState, o.Notify}
	case OutcomePendingApproval:
		return struct {
			ApprovalID       string `json:"approval_id"`
			ExpiresAt        string `json:"expires_at"`
			ApproveURL       string `json:"approve_url"`
			RejectURL        string `json:"reject_url"`
			NotificationSent bool   `json:"notification_sent"`
		}{o.ApprovalID, FormatTime(o.ExpiresAt), o.ApproveURL, o.RejectURL, o.NotificationSent}
	case OutcomeChainStarted:
		return struct {
			ChainID    string `json:"chain_id"`
			ChainName  string `json:"chain_name"`
			TotalSteps int    `json:"total_steps"`
			FirstStep  string `json:"first_step"`
		}{o.ChainID, o.ChainName, o.TotalSteps, o.FirstStep}
	case OutcomeDryRun:
		return struct {
			Verdict         string  `json:"verdict"`
			MatchedRule     *string `json:"matched_rule"`
			WouldBeProvider string  `json:"would_be_provider"`
		}{o.Verdict, optStr(o.MatchedRule), o.WouldBeProvider}
	case OutcomeCircuitOpen:
		fc := o.FallbackChain
		if fc == nil {
			fc = []string{}
		}
		return struct {
			Provider      string   `json:"provider"`
			FallbackChain []string `json:"fallback_chain"`
		}{o.Provider, fc}
	case OutcomeScheduled:
		return struct {
			ActionID     string `json:"action_id"`
			ScheduledFor string `json:"scheduled_for"`
		}{o.ScheduledActionID, FormatTime(o.ScheduledFor)}
	case OutcomeRecurringCreated:
		var next *string
		if o.NextExecutionAt != nil {
			s := FormatTime(*o.NextExecutionAt)
			next = &s
		}
		return struct {
			RecurringID     string  `json:"recurring_id"`
			CronExpr        string  `json:"cron_expr"`
			NextExecutionAt *string `json:"next_execution_at"`
		}{o.RecurringID, o.CronExpr, next}
	case OutcomeQuotaExceeded:
		return struct {
			Tenant          string `json:"tenant"`
			Limit           uint64 `json:"limit"`
			Used            uint64 `json:"used"`
			OverageBehavior string `json:"overage_behavior"`
		}{o.Tenant, o.Limit, o.Used, o.OverageBehavior}
	case OutcomeSilenced:
		return struct {
			SilenceID   string  `json:"silence_id"`
			MatchedRule *string `json:"matched_rule"`
		}{o.SilenceID, optStr(o.MatchedRule)}
	case OutcomeMuted:
		return struct {
			Interval    string  `json:"interval"`
			Reason      string  `json:"reason"`
			MatchedRule *string `json:"matched_rule"`
		}{o.Interval, o.MuteReason, optStr(o.MatchedRule)}
	}
	return nil
}

// MarshalJSON encodes the externally tagged form.
func (o Outcome) MarshalJSON() ([]byte, error) {
	name, ok := variantName[o.Kind]
	if !ok {
		return nil, fmt.Errorf("action: unknown outcome kind %q", o.Kind)
	}
	if o.Kind == OutcomeDeduplicated {
		return []byte(`"Deduplicated"`), nil
	}
	inner, err := json.Marshal(o.body())
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(inner) + len(name) + 5)
	b.WriteString(`{"`)
	b.WriteString(name)
	b.WriteString(`":`)
	b.Write(inner)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes the externally tagged form (used by the Go client
// and the simulation harness).
func (o *Outcome) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		for k, n := range variantName {
			if n == s {
				*o = Outcome{Kind: k}
				return nil
			}
		}
		return fmt.Errorf("action: unknown outcome %q", s)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("action: outcome: %w", err)
	}
	if len(m) != 1 {
		return fmt.Errorf("action: outcome must have exactly one variant key")
	}
	for name, raw := range m {
		var kind OutcomeKind
		for k, n := range variantName {
			if n == name {
				kind = k
			}
		}
		if kind == "" {
			return fmt.Errorf("action: unknown outcome variant %q", name)
		}
		*o = Outcome{Kind: kind}
		return o.decodeBody(raw)
	}
	return nil
}

func parseOptTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (o *Outcome) decodeBody(raw json.RawMessage) error {
	var w struct {
		Status           ResponseStatus    `json:"status"`
		Body             any               `json:"body"`
		Headers          map[string]string `json:"headers"`
		Rule             string            `json:"rule"`
		OriginalProvider string            `json:"original_provider"`
		NewProvider      string            `json:"new_provider"`
		Response         *ProviderResponse `json:"response"`
		RetryAfter       Duration          `json:"retry_after"`
		Code             string            `json:"code"`
		Message          string            `json:"message"`
		Retryable        bool              `json:"retryable"`
		Attempts         int               `json:"attempts"`
		GroupID          string            `json:"group_id"`
		GroupSize        int               `json:"group_size"`
		NotifyAt         string            `json:"notify_at"`
		Fingerprint      string            `json:"fingerprint"`
		PreviousState    string            `json:"previous_state"`
		NewState         string            `json:"new_state"`
		Notify           bool              `json:"notify"`
		ApprovalID       string            `json:"approval_id"`
		ExpiresAt        string            `json:"expires_at"`
		ApproveURL       string            `json:"approve_url"`
		RejectURL        string            `json:"reject_url"`
		NotificationSent bool              `json:"notification_sent"`
		ChainID          string            `json:"chain_id"`
		ChainName        string            `json:"chain_name"`
		TotalSteps       int               `json:"total_steps"`
		FirstStep        string            `json:"first_step"`
		Verdict          string            `json:"verdict"`
		MatchedRule      *string           `json:"matched_rule"`
		WouldBeProvider  string            `json:"would_be_provider"`
		Provider         string            `json:"provider"`
		FallbackChain    []string          `json:"fallback_chain"`
		ActionID         string            `json:"action_id"`
		ScheduledFor     string            `json:"scheduled_for"`
		Tenant           string            `json:"tenant"`
		Limit            uint64            `json:"limit"`
		Used             uint64            `json:"used"`
		OverageBehavior  string            `json:"overage_behavior"`
		SilenceID        string            `json:"silence_id"`
		Interval         string            `json:"interval"`
		Reason           string            `json:"reason"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return fmt.Errorf("action: outcome %s: %w", o.Kind, err)
	}
	switch o.Kind {
	case OutcomeExecuted:
		o.Response = &ProviderResponse{Status: w.Status, Body: w.Body, Headers: w.Headers}
	case OutcomeRerouted:
		o.Response = w.Response
	case OutcomeFailed:
		o.Error = &ActionError{Code: w.Code, Message: w.Message, Retryable: w.Retryable, Attempts: w.Attempts}
	}
	o.Rule = w.Rule
	o.OriginalProvider, o.NewProvider = w.OriginalProvider, w.NewProvider
	o.RetryAfter = w.RetryAfter.Std()
	o.GroupID, o.GroupSize, o.NotifyAt = w.GroupID, w.GroupSize, parseOptTime(w.NotifyAt)
	o.Fingerprint, o.PreviousState, o.NewState, o.Notify = w.Fingerprint, w.PreviousState, w.NewState, w.Notify
	o.ApprovalID, o.ExpiresAt, o.ApproveURL, o.RejectURL, o.NotificationSent = w.ApprovalID, parseOptTime(w.ExpiresAt), w.ApproveURL, w.RejectURL, w.NotificationSent
	o.ChainID, o.ChainName, o.TotalSteps, o.FirstStep = w.ChainID, w.ChainName, w.TotalSteps, w.FirstStep
	o.Verdict, o.WouldBeProvider = w.Verdict, w.WouldBeProvider
	if w.MatchedRule != nil {
		o.MatchedRule = *w.MatchedRule
	}
	o.Provider, o.FallbackChain = w.Provider, w.FallbackChain
	o.ScheduledActionID, o.ScheduledFor = w.ActionID, parseOptTime(w.ScheduledFor)
	o.Tenant, o.Limit, o.Used, o.OverageBehavior = w.Tenant, w.Limit, w.Used, w.OverageBehavior
	o.SilenceID, o.Interval, o.MuteReason = w.SilenceID, w.Interval, w.Reason
	return nil
}
