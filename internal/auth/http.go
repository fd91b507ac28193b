package auth

import (
	"fmt"
	"net/http"

	"github.com/acteon/acteon-go/internal/httpjson"
)

// HTTP authorization helpers for handlers. Each answers 403 with a D3 JSON
// body and returns false when the caller may not proceed.

// RequirePerm checks the caller's role.
func RequirePerm(w http.ResponseWriter, r *http.Request, p Permission) bool {
	if IdentityFrom(r.Context()).Has(p) {
		return true
	}
	msg := fmt.Sprintf("insufficient permissions: this endpoint requires the %s permission", p)
	if p == PermDispatch {
		msg = "insufficient permissions: dispatch requires admin or operator role"
	}
	httpjson.Error(w, http.StatusForbidden, "FORBIDDEN", msg, false)
	return false
}

// RequireAction checks that a grant covers all four dimensions of an action.
func RequireAction(w http.ResponseWriter, r *http.Request, tenant, namespace, provider, actionType string) bool {
	if IdentityFrom(r.Context()).Allows(tenant, namespace, provider, actionType) {
		return true
	}
	httpjson.Error(w, http.StatusForbidden, "FORBIDDEN", fmt.Sprintf(
		"forbidden: no grant covers tenant=%s, namespace=%s, provider=%s, action=%s", tenant, namespace, provider, actionType), false)
	return false
}

// RequireScope checks that a grant covers a tenant (and namespace, when
// non-empty).
func RequireScope(w http.ResponseWriter, r *http.Request, tenant, namespace string) bool {
	if IdentityFrom(r.Context()).AllowsScope(tenant, namespace) {
		return true
	}
	httpjson.Error(w, http.StatusForbidden, "FORBIDDEN", "no grant covers tenant="+tenant, false)
	return false
}

// RequireUnrestricted checks that the caller's grants span every tenant,
// namespace and provider (cross-tenant data such as the DLQ).
func RequireUnrestricted(w http.ResponseWriter, r *http.Request, what string) bool {
	if IdentityFrom(r.Context()).Unrestricted() {
		return true
	}
	httpjson.Error(w, http.StatusForbidden, "FORBIDDEN", "the "+what+" spans all tenants; it needs a grant with * on tenants, namespaces and providers", false)
	return false
}
