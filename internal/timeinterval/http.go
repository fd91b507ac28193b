package timeinterval

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/httpjson"
	"github.com/acteon/acteon-go/internal/rules"
)

// API serves /v1/time-intervals. Create it with NewAPI.
type API struct {
	store   *Store
	rules   func() *rules.Set
	clock   clock.Clock
	maxBody int64
}

// NewAPI returns the HTTP handlers. rulesFn returns the loaded rule set (to
// refuse deleting an interval a rule names, D25); nil disables that check.
func NewAPI(store *Store, rulesFn func() *rules.Set, clk clock.Clock, maxBody int64) *API {
	if clk == nil {
		clk = clock.Real{}
	}
	return &API{store: store, rules: rulesFn, clock: clk, maxBody: maxBody}
}

// Register adds the routes to mux.
func (h *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/time-intervals", h.create)
	mux.HandleFunc("GET /v1/time-intervals", h.list)
	mux.HandleFunc("GET /v1/time-intervals/{namespace}/{tenant}/{name}", h.get)
	mux.HandleFunc("PUT /v1/time-intervals/{namespace}/{tenant}/{name}", h.update)
	mux.HandleFunc("DELETE /v1/time-intervals/{namespace}/{tenant}/{name}", h.delete)
}

// Response is the JSON form of one interval.
type Response struct {
	Name        string      `json:"name"`
	Namespace   string      `json:"namespace"`
	Tenant      string      `json:"tenant"`
	TimeRanges  []TimeRange `json:"time_ranges"`
	Location    *string     `json:"location,omitempty"`
	Description *string     `json:"description,omitempty"`
	CreatedBy   string      `json:"created_by"`
	CreatedAt   string      `json:"created_at"`
	UpdatedAt   string      `json:"updated_at"`
	MatchesNow  bool        `json:"matches_now"`
}

func (h *API) response(iv *Interval) Response {
	r := Response{
		Name: iv.Name, Namespace: iv.Namespace, Tenant: iv.Tenant, TimeRanges: iv.TimeRanges,
		CreatedBy: iv.CreatedBy, CreatedAt: action.FormatTime(iv.CreatedAt), UpdatedAt: action.FormatTime(iv.UpdatedAt),
		MatchesNow: iv.Contains(h.clock.Now()),
	}
	if r.TimeRanges == nil {
		r.TimeRanges = []TimeRange{}
	}
	if iv.Location != "" {
		loc := iv.Location
		r.Location = &loc
	}
	if iv.Description != "" {
		d := iv.Description
		r.Description = &d
	}
	return r
}

// readJSON decodes a body; validation errors raised while decoding (a bad
// HH:MM) are 400, other shape errors 422.
func (h *API) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := httpjson.ReadBody(w, r, h.maxBody, true)
	if !ok {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil && errors.Is(err, ErrInvalid) {
		httpjson.Error(w, http.StatusBadRequest, "INVALID_TIME_INTERVAL", err.Error(), false)
		return false
	}
	return httpjson.Decode(w, body, v)
}

type createRequest struct {
	Name        string      `json:"name"`
	Namespace   string      `json:"namespace"`
	Tenant      string      `json:"tenant"`
	TimeRanges  []TimeRange `json:"time_ranges"`
	Location    string      `json:"location"`
	Description string      `json:"description"`
}

type updateRequest struct {
	TimeRanges  *[]TimeRange `json:"time_ranges"`
	Location    *string      `json:"location"`
	Description *string      `json:"description"`
}

func (h *API) create(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermTimeIntervalsManage) {
		return
	}
	var req createRequest
	if !h.readJSON(w, r, &req) {
		return
	}
	if req.Namespace == "" || req.Tenant == "" || req.Name == "" {
		httpjson.Error(w, http.StatusBadRequest, "INVALID_TIME_INTERVAL", "name, namespace and tenant are required", false)
		return
	}
	if !auth.RequireScope(w, r, req.Tenant, req.Namespace) {
		return
	}
	iv := Interval{
		Name: req.Name, Namespace: req.Namespace, Tenant: req.Tenant, TimeRanges: req.TimeRanges,
		Location: req.Location, Description: req.Description, CreatedBy: auth.IdentityFrom(r.Context()).CallerID,
	}
	out, err := h.store.Create(r.Context(), iv)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, h.response(&out))
}

func (h *API) list(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	q := r.URL.Query()
	ns, tenant := q.Get("namespace"), q.Get("tenant")
	id := auth.IdentityFrom(r.Context())
	if tenant != "" && !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	list, err := h.store.List(r.Context(), ns, tenant)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := make([]Response, 0, len(list))
	for i := range list {
		if id.InScope(list[i].Tenant) && id.AllowsScope(list[i].Tenant, list[i].Namespace) {
			out = append(out, h.response(&list[i]))
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"time_intervals": out, "count": len(out)})
}

func pathParts(r *http.Request) (ns, tenant, name string) {
	return r.PathValue("namespace"), r.PathValue("tenant"), r.PathValue("name")
}

func (h *API) get(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	ns, tenant, name := pathParts(r)
	if !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	iv, err := h.store.Get(r.Context(), ns, tenant, name)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, h.response(&iv))
}

func (h *API) update(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermTimeIntervalsManage) {
		return
	}
	ns, tenant, name := pathParts(r)
	if !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	var req updateRequest
	if !h.readJSON(w, r, &req) {
		return
	}
	iv, err := h.store.Update(r.Context(), ns, tenant, name, func(iv *Interval) error {
		if req.TimeRanges != nil {
			iv.TimeRanges = *req.TimeRanges
		}
		if req.Location != nil {
			iv.Location = *req.Location
		}
		if req.Description != nil {
			iv.Description = *req.Description
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, h.response(&iv))
}

func (h *API) delete(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermTimeIntervalsManage) {
		return
	}
	ns, tenant, name := pathParts(r)
	if !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	if _, err := h.store.Get(r.Context(), ns, tenant, name); err != nil {
		writeErr(w, err)
		return
	}
	if refs := ReferencingRules(h.rulesSet(), name); len(refs) > 0 {
		httpjson.Error(w, http.StatusConflict, "TIME_INTERVAL_IN_USE", fmt.Sprintf(
			"time interval %q is named by loaded rules: %s; change those rules first", name, strings.Join(refs, ", ")), false)
		return
	}
	if err := h.store.Delete(r.Context(), ns, tenant, name); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *API) rulesSet() *rules.Set {
	if h.rules == nil {
		return nil
	}
	return h.rules()
}

// ReferencingRules lists the rules of set that name interval in
// mute_time_intervals or active_time_intervals.
func ReferencingRules(set *rules.Set, interval string) []string {
	var out []string
	for _, r := range set.Rules() {
		if contains(r.MuteTimeIntervals, interval) || contains(r.ActiveTimeIntervals, interval) {
			out = append(out, r.Name)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, "INVALID_TIME_INTERVAL", err.Error(), false)
	case errors.Is(err, ErrNotFound):
		httpjson.NotFound(w, "time interval", err, ErrNotFound)
	case errors.Is(err, ErrExists):
		httpjson.Error(w, http.StatusConflict, "ALREADY_EXISTS", "time interval already exists: "+strings.TrimPrefix(err.Error(), ErrExists.Error()+": "), false)
	default:
		httpjson.StoreError(w, err)
	}
}
