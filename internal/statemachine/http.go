package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/httpjson"
	"github.com/acteon/acteon-go/internal/state"
)

// TransitionError: a requested transition is not allowed by the machine.
type TransitionError struct {
	Machine, From, To string
	// UnknownState: To is not a state of the machine.
	UnknownState bool
	Allowed      []string
}

func (e *TransitionError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	if e.UnknownState {
		return fmt.Sprintf("unknown state %q in state machine %q (allowed transitions from %q: %s)", e.To, e.Machine, e.From, allowed)
	}
	return fmt.Sprintf("transition %s → %s is not allowed by state machine %q (allowed from %q: %s)", e.From, e.To, e.Machine, e.From, allowed)
}

// Result is the answer of a transition.
type Result struct {
	Fingerprint   string `json:"fingerprint"`
	PreviousState string `json:"previous_state"`
	NewState      string `json:"new_state"`
	Notify        bool   `json:"notify"`
}

// Transition moves an event to state to on behalf of an operator. The move
// must be allowed by the event's machine (*TransitionError otherwise); a
// move to the current state changes nothing. Timeouts and notifications
// follow as for an event.
func (e *Engine) Transition(ctx context.Context, ns, tenant, fp, to string) (Result, error) {
	now := e.clock.Now()
	v, err := e.st.Get(ctx, stateKey(ns, tenant, fp))
	if errors.Is(err, state.ErrNotFound) {
		return Result{}, fmt.Errorf("%w: %s", ErrNotFound, fp)
	}
	if err != nil {
		return Result{}, fmt.Errorf("statemachine: read: %w", err)
	}
	var rec Record
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return Result{}, fmt.Errorf("statemachine: stored event %s: %w", fp, err)
	}
	m, ok := e.machines[rec.StateMachine]
	if !ok {
		return Result{}, &TransitionError{Machine: rec.StateMachine, From: rec.State, To: to, UnknownState: true, Allowed: []string{}}
	}
	var terr *TransitionError
	missing := false
	c, err := e.apply(ctx, m, ns, tenant, fp, now, func(r *Record, exists bool) decision {
		terr, missing = nil, !exists
		if !exists {
			return decision{}
		}
		cur := r.State
		if to == cur {
			return decision{}
		}
		if !m.KnownState(to) {
			terr = &TransitionError{Machine: m.Name, From: cur, To: to, UnknownState: true, Allowed: m.AllowedFrom(cur)}
			return decision{}
		}
		tr := m.Transition(cur, to)
		if tr == nil {
			terr = &TransitionError{Machine: m.Name, From: cur, To: to, Allowed: m.AllowedFrom(cur)}
			return decision{}
		}
		terr = nil
		return decision{next: to, tr: tr, write: true}
	}, func(r *Record) { r.TransitionedBy = "api" })
	if err != nil {
		return Result{}, err
	}
	if terr != nil {
		return Result{}, terr
	}
	if missing {
		return Result{}, fmt.Errorf("%w: %s", ErrNotFound, fp)
	}
	notify := c.tr != nil && c.tr.Notify
	if notify {
		ev := &action.Action{Namespace: ns, Tenant: tenant, Provider: c.rec.Provider}
		if c.rec.ActionType != nil {
			ev.ActionType = *c.rec.ActionType
		}
		if ev.Provider == "" {
			ev.Provider = "webhook"
		}
		e.notify(ctx, m, c, ev, "api", now, nil)
	}
	return Result{Fingerprint: fp, PreviousState: c.prev, NewState: c.next, Notify: notify}, nil
}

// EventView is one event in the API.
type EventView struct {
	Fingerprint  string  `json:"fingerprint"`
	State        string  `json:"state"`
	ActionType   *string `json:"action_type"`
	UpdatedAt    *string `json:"updated_at"`
	StateMachine string  `json:"state_machine,omitempty"`
	// TimeoutAt is when the armed timeout fires, if any.
	TimeoutAt *string `json:"timeout_at,omitempty"`
	// TimeoutTo is the state the timeout moves to.
	TimeoutTo string `json:"timeout_to,omitempty"`
}

func view(r Record) EventView {
	v := EventView{Fingerprint: r.Fingerprint, State: r.State, ActionType: r.ActionType, StateMachine: r.StateMachine}
	if r.UpdatedAt != "" {
		u := r.UpdatedAt
		v.UpdatedAt = &u
	}
	if r.Timeout != nil {
		t := action.FormatTimeOffset(time.UnixMilli(r.Timeout.ExpiresAt))
		v.TimeoutAt, v.TimeoutTo = &t, r.Timeout.TransitionTo
	}
	return v
}

// Events lists the events of one namespace and tenant, optionally only
// those in state status, at most limit (0 = all).
func (e *Engine) Events(ctx context.Context, ns, tenant, status string, limit int) ([]EventView, error) {
	kvs, err := e.st.ScanKeys(ctx, ns, tenant, KindEventState, "")
	if err != nil {
		return nil, fmt.Errorf("statemachine: list: %w", err)
	}
	out := []EventView{}
	for _, kv := range kvs {
		var r Record
		if json.Unmarshal([]byte(kv.Value), &r) != nil {
			continue
		}
		if status != "" && r.State != status {
			continue
		}
		out = append(out, view(r))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Event returns one event.
func (e *Engine) Event(ctx context.Context, ns, tenant, fp string) (EventView, error) {
	v, err := e.st.Get(ctx, stateKey(ns, tenant, fp))
	if errors.Is(err, state.ErrNotFound) {
		return EventView{}, fmt.Errorf("%w: %s", ErrNotFound, fp)
	}
	if err != nil {
		return EventView{}, fmt.Errorf("statemachine: get: %w", err)
	}
	var r Record
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return EventView{}, fmt.Errorf("statemachine: stored event %s: %w", fp, err)
	}
	return view(r), nil
}

// Register adds the events API to mux:
//
//	GET /v1/events?namespace=&tenant=&status=&limit=100       (perm audit_read)
//	GET /v1/events/{fingerprint}?namespace=&tenant=           (perm audit_read)
//	PUT /v1/events/{fingerprint}/transition {to,namespace,tenant} (perm dispatch)
func (e *Engine) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/events", e.handleList)
	mux.HandleFunc("GET /v1/events/{fingerprint}", e.handleGet)
	mux.HandleFunc("PUT /v1/events/{fingerprint}/transition", e.handleTransition)
}

func scopeParams(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	q := r.URL.Query()
	ns, tenant := q.Get("namespace"), q.Get("tenant")
	if ns == "" || tenant == "" {
		httpjson.Error(w, http.StatusBadRequest, "BAD_REQUEST", "query parameters namespace and tenant are required", false)
		return "", "", false
	}
	return ns, tenant, true
}

func (e *Engine) handleList(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	ns, tenant, ok := scopeParams(w, r)
	if !ok || !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			httpjson.Error(w, http.StatusBadRequest, "BAD_REQUEST", "limit must be a positive integer, got "+strconv.Quote(s), false)
			return
		}
		limit = min(n, 10000)
	}
	evs, err := e.Events(r.Context(), ns, tenant, r.URL.Query().Get("status"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"events": evs, "count": len(evs)})
}

func (e *Engine) handleGet(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	ns, tenant, ok := scopeParams(w, r)
	if !ok || !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	v, err := e.Event(r.Context(), ns, tenant, r.PathValue("fingerprint"))
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

type transitionBody struct {
	To        string `json:"to"`
	Namespace string `json:"namespace"`
	Tenant    string `json:"tenant"`
}

func (e *Engine) handleTransition(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermDispatch) {
		return
	}
	var b transitionBody
	if !httpjson.ReadJSON(w, r, 0, &b) {
		return
	}
	for _, f := range []struct{ name, v string }{{"to", b.To}, {"namespace", b.Namespace}, {"tenant", b.Tenant}} {
		if f.v == "" {
			httpjson.Error(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "missing field `"+f.name+"`", false)
			return
		}
	}
	if !auth.RequireScope(w, r, b.Tenant, b.Namespace) {
		return
	}
	res, err := e.Transition(r.Context(), b.Namespace, b.Tenant, r.PathValue("fingerprint"), b.To)
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, res)
}

func writeError(w http.ResponseWriter, err error) {
	var te *TransitionError
	switch {
	case errors.As(err, &te):
		code := "INVALID_TRANSITION"
		if te.UnknownState {
			code = "UNKNOWN_STATE"
		}
		httpjson.Write(w, http.StatusConflict, map[string]any{
			"error": te.Error(), "code": code, "message": te.Error(), "retryable": false,
			"current_state": te.From, "allowed_transitions": te.Allowed,
		})
	case errors.Is(err, ErrNotFound):
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = "event not found: " + msg[i+2:]
		}
		httpjson.Error(w, http.StatusNotFound, "NOT_FOUND", msg, false)
	case errors.Is(err, state.ErrUnavailable), errors.Is(err, ErrContention):
		httpjson.Error(w, http.StatusServiceUnavailable, "STATE_UNAVAILABLE", err.Error(), true)
	default:
		httpjson.Error(w, http.StatusInternalServerError, "INTERNAL", err.Error(), false)
	}
}
