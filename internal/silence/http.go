package silence

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/httpjson"
)

// maxDuration bounds duration_seconds and ends_at (100 years).
const maxDuration = 100 * 365 * 24 * time.Hour

// API serves /v1/silences. Create it with NewAPI.
type API struct {
	store   *Store
	clock   clock.Clock
	maxBody int64
}

// NewAPI returns the HTTP handlers.
func NewAPI(store *Store, clk clock.Clock, maxBody int64) *API {
	if clk == nil {
		clk = clock.Real{}
	}
	return &API{store: store, clock: clk, maxBody: maxBody}
}

// Register adds the routes to mux.
func (h *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/silences", h.create)
	mux.HandleFunc("GET /v1/silences", h.list)
	mux.HandleFunc("GET /v1/silences/{id}", h.get)
	mux.HandleFunc("PUT /v1/silences/{id}", h.update)
	mux.HandleFunc("DELETE /v1/silences/{id}", h.delete)
}

// Response is the SilenceResponse JSON.
type Response struct {
	ID        string    `json:"id"`
	Namespace string    `json:"namespace"`
	Tenant    string    `json:"tenant"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  string    `json:"starts_at"`
	EndsAt    string    `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt string    `json:"created_at"`
	UpdatedAt string    `json:"updated_at"`
	Active    bool      `json:"active"`
}

func (h *API) response(sl *Silence) Response {
	return Response{
		ID: sl.ID, Namespace: sl.Namespace, Tenant: sl.Tenant, Matchers: sl.Matchers,
		StartsAt: action.FormatTime(sl.StartsAt), EndsAt: action.FormatTime(sl.EndsAt),
		CreatedBy: sl.CreatedBy, Comment: sl.Comment,
		CreatedAt: action.FormatTime(sl.CreatedAt), UpdatedAt: action.FormatTime(sl.UpdatedAt),
		Active: sl.ActiveAt(h.clock.Now()),
	}
}

type createRequest struct {
	Namespace       string     `json:"namespace"`
	Tenant          string     `json:"tenant"`
	Matchers        []Matcher  `json:"matchers"`
	StartsAt        *time.Time `json:"starts_at"`
	EndsAt          *time.Time `json:"ends_at"`
	DurationSeconds *uint64    `json:"duration_seconds"`
	Comment         string     `json:"comment"`
}

func bad(w http.ResponseWriter, msg string) {
	httpjson.Error(w, http.StatusBadRequest, "INVALID_SILENCE", msg, false)
}

func (h *API) create(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermSilencesManage) {
		return
	}
	var req createRequest
	if !httpjson.ReadJSON(w, r, h.maxBody, &req) {
		return
	}
	if req.Namespace == "" || req.Tenant == "" {
		bad(w, "namespace and tenant are required")
		return
	}
	if !auth.RequireScope(w, r, req.Tenant, req.Namespace) {
		return
	}
	now := h.clock.Now().UTC()
	sl := Silence{
		Namespace: req.Namespace, Tenant: req.Tenant, Matchers: req.Matchers, Comment: req.Comment,
		CreatedBy: auth.IdentityFrom(r.Context()).CallerID, StartsAt: now,
	}
	if req.StartsAt != nil {
		sl.StartsAt = req.StartsAt.UTC()
	}
	switch {
	case req.EndsAt != nil:
		sl.EndsAt = req.EndsAt.UTC()
	case req.DurationSeconds != nil:
		if *req.DurationSeconds > uint64(maxDuration/time.Second) {
			bad(w, "duration_seconds must be at most "+strconv.FormatUint(uint64(maxDuration/time.Second), 10))
			return
		}
		sl.EndsAt = sl.StartsAt.Add(time.Duration(*req.DurationSeconds) * time.Second)
	default:
		bad(w, "either ends_at or duration_seconds must be supplied")
		return
	}
	out, err := h.store.Create(r.Context(), sl)
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
	includeExpired := false
	if v := q.Get("include_expired"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(w, "include_expired must be true or false")
			return
		}
		includeExpired = b
	}
	id := auth.IdentityFrom(r.Context())
	if tenant != "" {
		if !auth.RequireScope(w, r, tenant, ns) {
			return
		}
	} else if scope := id.TenantScope(); len(scope) == 1 && scope[0] != "\x00none" {
		// A caller with exactly one granted tenant gets it applied.
		tenant = scope[0]
	}
	list, err := h.store.List(r.Context(), ns, tenant, includeExpired)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := make([]Response, 0, len(list))
	for i := range list {
		if id.AllowsScope(list[i].Tenant, list[i].Namespace) {
			out = append(out, h.response(&list[i]))
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"silences": out, "count": len(out)})
}

// load reads the silence and checks the caller may see it (403 before
// anything about it is shown).
func (h *API) load(w http.ResponseWriter, r *http.Request) (Silence, bool) {
	sl, err := h.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return Silence{}, false
	}
	if !auth.IdentityFrom(r.Context()).AllowsScope(sl.Tenant, sl.Namespace) {
		httpjson.Error(w, http.StatusForbidden, "FORBIDDEN", "forbidden: no grant covers this silence", false)
		return Silence{}, false
	}
	return sl, true
}

func (h *API) get(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	sl, ok := h.load(w, r)
	if !ok {
		return
	}
	httpjson.Write(w, http.StatusOK, h.response(&sl))
}

type updateRequest struct {
	EndsAt  *time.Time `json:"ends_at"`
	Comment *string    `json:"comment"`
}

func (h *API) update(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermSilencesManage) {
		return
	}
	if _, ok := h.load(w, r); !ok {
		return
	}
	var req updateRequest
	if !httpjson.ReadJSON(w, r, h.maxBody, &req) {
		return
	}
	out, err := h.store.Update(r.Context(), r.PathValue("id"), true, func(sl *Silence) error {
		if req.EndsAt != nil {
			sl.EndsAt = req.EndsAt.UTC()
		}
		if req.Comment != nil {
			sl.Comment = *req.Comment
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, h.response(&out))
}

func (h *API) delete(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermSilencesManage) {
		return
	}
	if _, ok := h.load(w, r); !ok {
		return
	}
	if _, err := h.store.Expire(r.Context(), r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		bad(w, strings.Replace(err.Error(), ErrInvalid.Error()+": ", "", 1))
	case errors.Is(err, ErrNotFound):
		httpjson.NotFound(w, "silence", err, ErrNotFound)
	default:
		httpjson.StoreError(w, err)
	}
}
