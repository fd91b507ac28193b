package group

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/httpjson"
	"github.com/acteon/acteon-go/internal/state"
)

// Summary is one group in the API (upstream's GroupSummary plus namespace,
// tenant, labels and provider).
type Summary struct {
	GroupID    string            `json:"group_id"`
	GroupKey   string            `json:"group_key"`
	EventCount int               `json:"event_count"`
	State      string            `json:"state"`
	NotifyAt   string            `json:"notify_at"`
	CreatedAt  string            `json:"created_at"`
	Namespace  string            `json:"namespace"`
	Tenant     string            `json:"tenant"`
	Provider   string            `json:"provider"`
	Labels     map[string]string `json:"labels"`
}

// Detail is one group with its events.
type Detail struct {
	Group  Summary           `json:"group"`
	Labels map[string]string `json:"labels"`
	// Events are the events' fingerprints, oldest first (upstream's shape).
	Events []string `json:"events"`
	// Payloads are the events' payloads, oldest first.
	Payloads []any `json:"payloads"`
}

func summary(h *header) Summary {
	return Summary{
		GroupID: h.GroupID, GroupKey: h.GroupKey, EventCount: h.Count, State: h.State,
		NotifyAt: action.FormatTimeOffset(msTime(h.NotifyAt)), CreatedAt: action.FormatTimeOffset(msTime(h.CreatedAt)),
		Namespace: h.Namespace, Tenant: h.Tenant, Provider: h.Provider, Labels: h.Labels,
	}
}

// List returns every live group (pending or notified), sorted by
// namespace, tenant and key. keep filters by namespace and tenant.
func (m *Manager) List(ctx context.Context, keep func(ns, tenant string) bool) ([]Summary, error) {
	kvs, err := m.st.ScanKeysByKind(ctx, KindGroup)
	if err != nil {
		return nil, fmt.Errorf("group: list: %w", err)
	}
	out := make([]Summary, 0, len(kvs))
	for _, kv := range kvs {
		h, _, err := parseStored(kv.Key, kv.Value)
		if err != nil || h.State == StateFlushed {
			continue
		}
		if keep != nil && !keep(h.Namespace, h.Tenant) {
			continue
		}
		out = append(out, summary(h))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		return a.GroupKey < b.GroupKey
	})
	return out, nil
}

// Get returns one live group. When ns and tenant are empty the key is
// looked up across all namespaces and tenants.
func (m *Manager) Get(ctx context.Context, ns, tenant, key string) (*Detail, error) {
	var stored, val string
	if ns != "" && tenant != "" {
		gk := groupKey(ns, tenant, key)
		v, err := m.st.Get(ctx, gk)
		if errors.Is(err, state.ErrNotFound) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("group: get: %w", err)
		}
		stored, val = gk.String(), v
	} else {
		kvs, err := m.st.ScanKeysByKind(ctx, KindGroup)
		if err != nil {
			return nil, fmt.Errorf("group: get: %w", err)
		}
		for _, kv := range kvs {
			if strings.HasSuffix(kv.Key, ":"+KindGroup+":"+key) {
				stored, val = kv.Key, kv.Value
				break
			}
		}
		if stored == "" {
			return nil, ErrNotFound
		}
	}
	h, events, err := parseStored(stored, val)
	if err != nil || h.State == StateFlushed {
		return nil, ErrNotFound
	}
	d := &Detail{Group: summary(h), Labels: h.Labels, Events: []string{}, Payloads: []any{}}
	fp := fingerprintOf(h)
	for _, line := range eventLines(events) {
		efp, p, err := decodeEventLine(line)
		if err != nil {
			continue
		}
		if efp != "" {
			d.Events = append(d.Events, efp)
		} else {
			d.Events = append(d.Events, fp)
		}
		d.Payloads = append(d.Payloads, p)
	}
	return d, nil
}

// Register adds the groups API to mux:
//
//	GET    /v1/groups                list live groups (perm audit_read, tenant-filtered)
//	GET    /v1/groups/{group_key}    one group with its events
//	DELETE /v1/groups/{group_key}    flush now: sends the notification (perm dispatch)
//
// The two single-group routes take optional ?namespace=&tenant= to address
// the group directly; without them the key is looked up in every tenant
// the caller may see.
func (m *Manager) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/groups", m.handleList)
	mux.HandleFunc("GET /v1/groups/{group_key}", m.handleGet)
	mux.HandleFunc("DELETE /v1/groups/{group_key}", m.handleFlush)
}

func (m *Manager) handleList(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	id := auth.IdentityFrom(r.Context())
	q := r.URL.Query()
	ns, tenant := q.Get("namespace"), q.Get("tenant")
	if tenant != "" && !auth.RequireScope(w, r, tenant, ns) {
		return
	}
	all, err := m.List(r.Context(), nil)
	if err != nil {
		writeStateError(w, err)
		return
	}
	groups := make([]Summary, 0, len(all))
	for _, g := range all {
		if (ns != "" && g.Namespace != ns) || (tenant != "" && g.Tenant != tenant) {
			continue
		}
		if !id.AllowsScope(g.Tenant, g.Namespace) {
			continue
		}
		groups = append(groups, g)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"groups": groups, "total": len(groups)})
}

// lookup finds the group for a single-group route and checks the caller's
// scope; on failure it has written the response.
func (m *Manager) lookup(w http.ResponseWriter, r *http.Request) (*Detail, bool) {
	key := r.PathValue("group_key")
	q := r.URL.Query()
	d, err := m.Get(r.Context(), q.Get("namespace"), q.Get("tenant"), key)
	if errors.Is(err, ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "NOT_FOUND", "group not found: "+key, false)
		return nil, false
	}
	if err != nil {
		writeStateError(w, err)
		return nil, false
	}
	if !auth.IdentityFrom(r.Context()).AllowsScope(d.Group.Tenant, d.Group.Namespace) {
		httpjson.Error(w, http.StatusForbidden, "FORBIDDEN", "no grant covers tenant="+d.Group.Tenant, false)
		return nil, false
	}
	return d, true
}

func (m *Manager) handleGet(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermAuditRead) {
		return
	}
	d, ok := m.lookup(w, r)
	if !ok {
		return
	}
	httpjson.Write(w, http.StatusOK, d)
}

func (m *Manager) handleFlush(w http.ResponseWriter, r *http.Request) {
	if !auth.RequirePerm(w, r, auth.PermDispatch) {
		return
	}
	d, ok := m.lookup(w, r)
	if !ok {
		return
	}
	if !auth.RequireAction(w, r, d.Group.Tenant, d.Group.Namespace, d.Group.Provider, ActionType) {
		return
	}
	res, done, err := m.Flush(r.Context(), d.Group.Namespace, d.Group.Tenant, d.Group.GroupKey)
	if errors.Is(err, ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "NOT_FOUND", "group not found: "+d.Group.GroupKey, false)
		return
	}
	if err != nil {
		writeStateError(w, err)
		return
	}
	if !done {
		httpjson.Error(w, http.StatusConflict, "FLUSH_IN_PROGRESS", "group "+d.Group.GroupKey+" is being flushed by another node", true)
		return
	}
	body := map[string]any{"group_id": res.GroupID, "event_count": res.EventCount, "status": "flushed"}
	if res.Err != nil {
		body["notification_error"] = res.Err.Error()
	} else {
		body["outcome"] = res.Outcome
	}
	httpjson.Write(w, http.StatusOK, body)
}

func writeStateError(w http.ResponseWriter, err error) {
	if errors.Is(err, state.ErrUnavailable) || errors.Is(err, ErrContention) {
		httpjson.Error(w, http.StatusServiceUnavailable, "STATE_UNAVAILABLE", err.Error(), true)
		return
	}
	httpjson.Error(w, http.StatusInternalServerError, "INTERNAL", err.Error(), false)
}
