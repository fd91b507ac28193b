package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
)

// batchConcurrency is how many actions of one batch run at once.
const batchConcurrency = 32

func parseDryRun(w http.ResponseWriter, r *http.Request) (bool, bool) {
	v := r.URL.Query().Get("dry_run")
	switch v {
	case "", "false":
		return false, true
	case "true":
		return true, true
	}
	writeError(w, http.StatusBadRequest, "BAD_REQUEST", "invalid query string: dry_run must be true or false, got "+strconv.Quote(v))
	return false, false
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	dry, ok := parseDryRun(w, r)
	if !ok {
		return
	}
	body, ok := s.readJSONBody(w, r, true)
	if !ok {
		return
	}
	if !requirePerm(w, r, auth.PermDispatch) {
		return
	}
	a, err := action.Decode(body)
	if err != nil {
		status, code := decodeErrorStatus(err)
		writeError(w, status, code, err.Error())
		return
	}
	if !requireAction(w, r, a.Tenant, a.Namespace, a.Provider, a.ActionType) {
		return
	}
	if !s.admitAction(w, r, dry, a) {
		return
	}
	if !s.admit(w, 1) {
		return
	}
	defer s.release(1)
	var out action.Outcome
	if dry {
		out = s.o.Gateway.DryRun(r.Context(), a)
	} else {
		out, err = s.o.Gateway.Dispatch(r.Context(), a, callerOf(r))
		if err != nil {
			writeGatewayError(w, err)
			return
		}
	}
	if out.Kind == action.OutcomeThrottled {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((out.RetryAfter+time.Second-1)/time.Second), 10))
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// batchItemError is the D4 per-item error shape.
type batchItemError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

func itemError(code, msg string, retryable bool) batchItemError {
	var e batchItemError
	e.Error.Code, e.Error.Message, e.Error.Retryable = code, msg, retryable
	return e
}

func (s *Server) dispatchBatch(w http.ResponseWriter, r *http.Request) {
	dry, ok := parseDryRun(w, r)
	if !ok {
		return
	}
	body, ok := s.readJSONBody(w, r, true)
	if !ok {
		return
	}
	actions, errs, err := action.DecodeBatch(body)
	if err != nil {
		status, code := decodeErrorStatus(err)
		writeError(w, status, code, err.Error())
		return
	}
	if len(actions) > s.o.MaxBatchSize {
		msg := fmt.Sprintf("batch size %d exceeds maximum of %d", len(actions), s.o.MaxBatchSize)
		writeJSON(w, http.StatusBadRequest, []errorBody{{Error: msg, Code: "BATCH_TOO_LARGE", Message: msg}})
		return
	}
	id := identity(r)
	if !id.Has(auth.PermDispatch) {
		msg := "insufficient permissions: dispatch requires admin or operator role"
		writeJSON(w, http.StatusForbidden, []errorBody{{Error: msg, Code: "FORBIDDEN", Message: msg}})
		return
	}
	for _, a := range actions {
		if a != nil && !id.Allows(a.Tenant, a.Namespace, a.Provider, a.ActionType) {
			msg := fmt.Sprintf("forbidden: no grant covers tenant=%s, namespace=%s, provider=%s, action=%s", a.Tenant, a.Namespace, a.Provider, a.ActionType)
			writeJSON(w, http.StatusForbidden, []errorBody{{Error: msg, Code: "FORBIDDEN", Message: msg}})
			return
		}
	}
	if !s.admitBatch(w, r, dry, actions, errs) {
		return
	}
	if !s.admit(w, len(actions)) {
		return
	}
	defer s.release(len(actions))
	results := make([]any, len(actions))
	sem := make(chan struct{}, batchConcurrency)
	var wg sync.WaitGroup
	caller := callerOf(r)
	for i, a := range actions {
		if errs[i] != nil {
			_, code := decodeErrorStatus(errs[i])
			results[i] = itemError(code, errs[i].Error(), false)
			continue
		}
		if dry {
			results[i] = s.o.Gateway.DryRun(r.Context(), a)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, a *action.Action) {
			defer func() { <-sem; wg.Done() }()
			out, err := s.o.Gateway.Dispatch(r.Context(), a, caller)
			if err != nil {
				_, code, retry := gatewayErrorStatus(err)
				results[i] = itemError(code, err.Error(), retry)
				return
			}
			results[i] = out
		}(i, a)
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, results)
}
