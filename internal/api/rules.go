package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/rules"
)

type ruleSummary struct {
	Name        string  `json:"name"`
	Priority    int32   `json:"priority"`
	Enabled     bool    `json:"enabled"`
	Description *string `json:"description"`
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	if !requirePerm(w, r, auth.PermRulesRead) {
		return
	}
	set := s.o.Gateway.Rules()
	out := make([]ruleSummary, 0, set.Len())
	for _, rl := range set.Rules() {
		rs := ruleSummary{Name: rl.Name, Priority: rl.Priority, Enabled: rl.Enabled()}
		if rl.Description != "" {
			d := rl.Description
			rs.Description = &d
		}
		out = append(out, rs)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reloadRules(w http.ResponseWriter, r *http.Request) {
	if !requirePerm(w, r, auth.PermRulesManage) {
		return
	}
	if s.o.Rules == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "rule reloading is not configured")
		return
	}
	body, ok := s.readJSONBody(w, r, false)
	if !ok {
		return
	}
	var req struct {
		Directory string `json:"directory"`
	}
	if len(body) > 0 && !decodeBody(w, body, &req) {
		return
	}
	res, err := s.o.Rules.Reload(req.Directory)
	if err != nil {
		var list []string
		for _, e := range unjoin(err) {
			list = append(list, e.Error())
		}
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": "configuration error: rules not reloaded, the previous rules stay active: " + err.Error(),
			"code":  "RULES_INVALID", "message": "rules not reloaded; the previous rules stay active",
			"retryable": false, "reloaded": 0, "loaded": 0, "directory": res.Directory, "errors": list,
		})
		return
	}
	warnings := res.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"reloaded": res.Loaded, "loaded": res.Loaded, "directory": res.Directory,
		"errors": []string{}, "warnings": warnings,
	})
}

// unjoin flattens an errors.Join tree into its leaves.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func (s *Server) setRuleEnabled(w http.ResponseWriter, r *http.Request) {
	if !requirePerm(w, r, auth.PermRulesManage) {
		return
	}
	name := r.PathValue("name")
	body, ok := s.readJSONBody(w, r, true)
	if !ok {
		return
	}
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if !decodeBody(w, body, &req) {
		return
	}
	if req.Enabled == nil {
		writeError(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "enabled: missing field `enabled`")
		return
	}
	if !s.o.Gateway.Rules().SetEnabled(name, *req.Enabled) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "rule not found: "+name)
		return
	}
	status := "disabled"
	if *req.Enabled {
		status = "enabled"
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "enabled": *req.Enabled, "status": status})
}

type evaluateRequest struct {
	Namespace       *string           `json:"namespace"`
	Tenant          *string           `json:"tenant"`
	Provider        *string           `json:"provider"`
	ActionType      *string           `json:"action_type"`
	Payload         any               `json:"payload"`
	Metadata        map[string]string `json:"metadata"`
	IncludeDisabled bool              `json:"include_disabled"`
	EvaluateAll     bool              `json:"evaluate_all"`
	EvaluateAt      *time.Time        `json:"evaluate_at"`
	MockState       map[string]string `json:"mock_state"`
}

func (s *Server) evaluateRules(w http.ResponseWriter, r *http.Request) {
	if !requirePerm(w, r, auth.PermRulesTest) {
		return
	}
	body, ok := s.readJSONBody(w, r, true)
	if !ok {
		return
	}
	var req evaluateRequest
	if !decodeBody(w, body, &req) {
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"namespace", req.Namespace}, {"tenant", req.Tenant}, {"provider", req.Provider}, {"action_type", req.ActionType}} {
		if f.v == nil {
			writeError(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", f.name+": missing field `"+f.name+"`")
			return
		}
	}
	if !requireScope(w, r, *req.Tenant, *req.Namespace) {
		return
	}
	// Re-read the payload keeping numbers exact.
	var raw struct {
		Payload json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(body, &raw)
	payload := any(map[string]any{})
	if len(raw.Payload) > 0 {
		if p, err := action.DecodeJSONValue(raw.Payload); err == nil {
			payload = p
		}
	}
	now := s.o.Gateway.Now()
	a := &action.Action{
		ID: action.UUIDv4(), Namespace: *req.Namespace, Tenant: *req.Tenant, Provider: *req.Provider,
		ActionType: *req.ActionType, Payload: payload, Metadata: req.Metadata, CreatedAt: now,
	}
	if req.EvaluateAt != nil {
		now = *req.EvaluateAt
	}
	res := s.o.Gateway.Rules().EvaluateTrace(r.Context(), rules.Input{Action: a, Now: now, State: s.o.Gateway.State()},
		rules.TraceOptions{IncludeDisabled: req.IncludeDisabled, EvaluateAll: req.EvaluateAll, MockState: req.MockState})
	writeJSON(w, http.StatusOK, res)
}
