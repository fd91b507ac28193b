package api

import (
	"fmt"
	"net/http"

	"github.com/acteon/acteon-go/action"
)

// Input limits applied to every dispatched action, beyond the body size
// (MaxBodyBytes) and batch size (MaxBatchSize).
const (
	// DefaultMaxPayloadDepth is the deepest nesting of objects and arrays
	// a payload may have when Options.MaxPayloadDepth is zero.
	DefaultMaxPayloadDepth = 64
	// DefaultMaxMetadataLabels is the most metadata labels an action may
	// carry when Options.MaxMetadataLabels is zero.
	DefaultMaxMetadataLabels = 128
)

// TenantLimiter applies per-tenant request limits to dispatches (spec 01
// §2.3). It answers 429 itself and returns false when a tenant is over its
// limit. The rate limiter satisfies it.
type TenantLimiter interface {
	AllowTenants(w http.ResponseWriter, r *http.Request, tenants []string) bool
}

// LimitError is an action over an input limit.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// checkLimits reports the first input limit the action breaks, or nil.
func (s *Server) checkLimits(a *action.Action) error {
	maxDepth := s.o.MaxPayloadDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxPayloadDepth
	}
	maxLabels := s.o.MaxMetadataLabels
	if maxLabels <= 0 {
		maxLabels = DefaultMaxMetadataLabels
	}
	if len(a.Metadata) > maxLabels {
		return &LimitError{fmt.Sprintf("metadata: %d labels exceed the maximum of %d", len(a.Metadata), maxLabels)}
	}
	if deeperThan(a.Payload, maxDepth) {
		return &LimitError{fmt.Sprintf("payload: nesting depth exceeds the maximum of %d", maxDepth)}
	}
	return nil
}

// deeperThan reports whether v nests objects and arrays more than limit
// levels deep. It never descends more than limit+1 levels.
func deeperThan(v any, limit int) bool {
	switch v := v.(type) {
	case map[string]any:
		if limit == 0 {
			return true
		}
		for _, e := range v {
			if deeperThan(e, limit-1) {
				return true
			}
		}
	case []any:
		if limit == 0 {
			return true
		}
		for _, e := range v {
			if deeperThan(e, limit-1) {
				return true
			}
		}
	}
	return false
}

// admitAction applies the input limits (422) and, unless dry, the tenant
// limit (429) to a single dispatch.
func (s *Server) admitAction(w http.ResponseWriter, r *http.Request, dry bool, a *action.Action) bool {
	if err := s.checkLimits(a); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "LIMIT_EXCEEDED", err.Error())
		return false
	}
	if dry || s.o.TenantLimiter == nil {
		return true
	}
	return s.o.TenantLimiter.AllowTenants(w, r, []string{a.Tenant})
}

// admitBatch marks the actions over an input limit as failed items (their
// errs slot, D4) and, unless dry, applies the tenant limit once per distinct
// tenant of the remaining actions (429 for the whole batch).
func (s *Server) admitBatch(w http.ResponseWriter, r *http.Request, dry bool, actions []*action.Action, errs []error) bool {
	var tenants []string
	seen := map[string]bool{}
	for i, a := range actions {
		if a == nil || errs[i] != nil {
			continue
		}
		if err := s.checkLimits(a); err != nil {
			errs[i] = err
			continue
		}
		if !seen[a.Tenant] {
			seen[a.Tenant] = true
			tenants = append(tenants, a.Tenant)
		}
	}
	if dry || s.o.TenantLimiter == nil || len(tenants) == 0 {
		return true
	}
	return s.o.TenantLimiter.AllowTenants(w, r, tenants)
}
