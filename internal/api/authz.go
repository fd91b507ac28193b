package api

import (
	"fmt"
	"net/http"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/gateway"
)

// Authorization helpers. Every handler that reads or changes tenant data
// calls them (D22); each writes the 403 itself and returns false.

func identity(r *http.Request) *auth.Identity { return auth.IdentityFrom(r.Context()) }

func callerOf(r *http.Request) gateway.Caller {
	id := identity(r)
	return gateway.Caller{ID: id.CallerID, AuthMethod: id.Method}
}

// requirePerm answers 403 unless the caller's role grants p.
func requirePerm(w http.ResponseWriter, r *http.Request, p auth.Permission) bool {
	if identity(r).Has(p) {
		return true
	}
	msg := fmt.Sprintf("insufficient permissions: %s requires one of the roles allowed to %s", r.Pattern, p)
	if p == auth.PermDispatch {
		msg = "insufficient permissions: dispatch requires admin or operator role"
	}
	writeError(w, http.StatusForbidden, "FORBIDDEN", msg)
	return false
}

// requireAction answers 403 unless a grant covers all four dimensions.
func requireAction(w http.ResponseWriter, r *http.Request, tenant, namespace, provider, actionType string) bool {
	if identity(r).Allows(tenant, namespace, provider, actionType) {
		return true
	}
	writeError(w, http.StatusForbidden, "FORBIDDEN", fmt.Sprintf(
		"forbidden: no grant covers tenant=%s, namespace=%s, provider=%s, action=%s", tenant, namespace, provider, actionType))
	return false
}

// requireScope answers 403 unless a grant covers tenant (and namespace,
// when given).
func requireScope(w http.ResponseWriter, r *http.Request, tenant, namespace string) bool {
	if identity(r).AllowsScope(tenant, namespace) {
		return true
	}
	writeError(w, http.StatusForbidden, "FORBIDDEN", "no grant covers tenant="+tenant)
	return false
}

// requireUnrestricted answers 403 unless the caller's grants span every
// tenant, namespace and provider (for cross-tenant data such as the DLQ).
func requireUnrestricted(w http.ResponseWriter, r *http.Request, what string) bool {
	if identity(r).Unrestricted() {
		return true
	}
	writeError(w, http.StatusForbidden, "FORBIDDEN", "the "+what+" spans all tenants; it needs a grant with * on tenants, namespaces and providers")
	return false
}
