package api

import (
	"net/http"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/gateway"
)

// Authorization in the core handlers goes through the auth package's HTTP
// helpers (D22); these names keep the handlers short.
var (
	requirePerm         = auth.RequirePerm
	requireAction       = auth.RequireAction
	requireScope        = auth.RequireScope
	requireUnrestricted = auth.RequireUnrestricted
)

func identity(r *http.Request) *auth.Identity { return auth.IdentityFrom(r.Context()) }

func callerOf(r *http.Request) gateway.Caller {
	id := identity(r)
	return gateway.Caller{ID: id.CallerID, AuthMethod: id.Method}
}
