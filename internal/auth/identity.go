// Package auth answers two questions for every request: who is calling
// (an Identity: caller id, how it authenticated, its role and its grants)
// and what may it do (permissions per role, grants per tenant, namespace,
// provider and action type).
//
// In an action's path it sits in front of the API handlers: a middleware
// resolves the Identity and stores it in the request context; handlers ask
// IdentityFrom(ctx) whether the caller holds a permission and whether a
// grant covers the tenant data they are about to read or change (D22).
// With authentication disabled every request is Anonymous: an admin with
// one grant covering everything.
package auth

import (
	"context"
	"strings"
)

// Role is a caller's role.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleViewer   Role = "viewer"
)

// Permission is one capability an endpoint requires.
type Permission string

// Permissions, as upstream names them.
const (
	PermDispatch             Permission = "dispatch"
	PermRulesManage          Permission = "rules_manage"
	PermRulesRead            Permission = "rules_read"
	PermRulesTest            Permission = "rules_test"
	PermAuditRead            Permission = "audit_read"
	PermCircuitBreakerManage Permission = "circuit_breaker_manage"
	PermSilencesManage       Permission = "silences_manage"
	PermTimeIntervalsManage  Permission = "time_intervals_manage"
	PermStreamSubscribe      Permission = "stream_subscribe"
	PermTemplatesManage      Permission = "templates_manage"
	PermPluginsManage        Permission = "plugins_manage"
	PermAdmin                Permission = "admin"
)

// viewerDenied lists what a viewer may not do; admin and operator may do
// everything (upstream's table).
var viewerDenied = map[Permission]bool{
	PermDispatch: true, PermRulesManage: true, PermCircuitBreakerManage: true,
	PermPluginsManage: true, PermSilencesManage: true, PermTimeIntervalsManage: true,
	PermTemplatesManage: true, PermAdmin: true,
}

// Has reports whether role r grants p.
func (r Role) Has(p Permission) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return p != PermAdmin
	case RoleViewer:
		return !viewerDenied[p]
	}
	return false
}

// Grant restricts a caller to some tenants, namespaces, providers and
// action types. "*" matches anything; a tenant pattern also covers its
// dot-separated descendants ("acme" covers "acme.us-east", not "acme-corp").
type Grant struct {
	Tenants    []string `toml:"tenants" json:"tenants"`
	Namespaces []string `toml:"namespaces" json:"namespaces"`
	Providers  []string `toml:"providers" json:"providers,omitempty"`
	Actions    []string `toml:"actions" json:"actions"`
}

// TenantCovers reports whether pattern covers tenant.
func TenantCovers(pattern, tenant string) bool {
	return pattern == "*" || pattern == tenant || strings.HasPrefix(tenant, pattern+".")
}

func anyCovers(patterns []string, v string, tenant bool) bool {
	if len(patterns) == 0 {
		return false
	}
	for _, p := range patterns {
		if tenant {
			if TenantCovers(p, v) {
				return true
			}
		} else if p == "*" || p == v {
			return true
		}
	}
	return false
}

// Matches reports whether the grant covers all four dimensions. Providers
// default to "*" when the grant lists none.
func (g Grant) Matches(tenant, namespace, provider, actionType string) bool {
	providers := g.Providers
	if len(providers) == 0 {
		providers = []string{"*"}
	}
	return anyCovers(g.Tenants, tenant, true) && anyCovers(g.Namespaces, namespace, false) &&
		anyCovers(providers, provider, false) && anyCovers(g.Actions, actionType, false)
}

// CoversScope reports whether the grant covers a tenant and namespace,
// whatever the provider and action type. An empty namespace means "any
// namespace the grant covers".
func (g Grant) CoversScope(tenant, namespace string) bool {
	if !anyCovers(g.Tenants, tenant, true) {
		return false
	}
	return namespace == "" || anyCovers(g.Namespaces, namespace, false)
}

// Identity is the authenticated caller of one request.
type Identity struct {
	// CallerID is the user name or API key name ("" when anonymous).
	CallerID string
	// Method is "anonymous", "api_key" or "jwt".
	Method string
	Role   Role
	Grants []Grant
	// TokenID is the JWT id (jti) for logout; empty otherwise.
	TokenID string
}

// Anonymous is the identity of every request when authentication is
// disabled: an admin with one grant covering everything.
var Anonymous = &Identity{
	Method: "anonymous", Role: RoleAdmin,
	Grants: []Grant{{Tenants: []string{"*"}, Namespaces: []string{"*"}, Providers: []string{"*"}, Actions: []string{"*"}}},
}

// Has reports whether the caller's role grants p.
func (id *Identity) Has(p Permission) bool { return id.Role.Has(p) }

// Allows reports whether some grant covers the four dimensions of an action.
func (id *Identity) Allows(tenant, namespace, provider, actionType string) bool {
	for _, g := range id.Grants {
		if g.Matches(tenant, namespace, provider, actionType) {
			return true
		}
	}
	return false
}

// AllowsScope reports whether some grant covers a tenant and namespace.
func (id *Identity) AllowsScope(tenant, namespace string) bool {
	for _, g := range id.Grants {
		if g.CoversScope(tenant, namespace) {
			return true
		}
	}
	return false
}

// Unrestricted reports whether the caller has a grant with "*" on tenants,
// namespaces and providers (needed for cross-tenant data such as the DLQ).
func (id *Identity) Unrestricted() bool {
	for _, g := range id.Grants {
		if has(g.Tenants, "*") && has(g.Namespaces, "*") && (len(g.Providers) == 0 || has(g.Providers, "*")) {
			return true
		}
	}
	return false
}

// TenantScope returns the tenant patterns the caller may read, or nil when
// any tenant is allowed. A list filtered by it never shows another
// tenant's items.
func (id *Identity) TenantScope() []string {
	var out []string
	for _, g := range id.Grants {
		for _, t := range g.Tenants {
			if t == "*" {
				return nil
			}
			out = append(out, t)
		}
	}
	if out == nil {
		// No grant at all: a scope that matches nothing.
		return []string{"\x00none"}
	}
	return out
}

// InScope reports whether tenant is inside the caller's TenantScope.
func (id *Identity) InScope(tenant string) bool {
	scope := id.TenantScope()
	if scope == nil {
		return true
	}
	for _, p := range scope {
		if TenantCovers(p, tenant) {
			return true
		}
	}
	return false
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// IdentityFrom returns the request's identity, Anonymous when none was set.
func IdentityFrom(ctx context.Context) *Identity {
	if id, ok := ctx.Value(ctxKey{}).(*Identity); ok && id != nil {
		return id
	}
	return Anonymous
}
