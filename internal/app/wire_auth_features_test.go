package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const featureRules = `rules:
  - {name: grp, priority: 1, condition: {field: action.action_type, eq: grouped}, action: {type: group, group_by: [metadata.cluster], group_wait_seconds: 600}}
  - {name: lc, priority: 2, condition: {field: action.action_type, eq: incident}, action: {type: state_machine, state_machine: alert, fingerprint_fields: [metadata.host]}}
`

const featureConfig = `
[[state_machines]]
name = "alert"
initial_state = "open"
states = ["open", "acknowledged", "closed"]
[[state_machines.transitions]]
from = "open"
to = "acknowledged"
[[state_machines.transitions]]
from = "acknowledged"
to = "closed"
`

func featureAction(typ, tenant, labels string) string {
	return fmt.Sprintf(`{"namespace":"ns","tenant":%q,"provider":"email","action_type":%q,"payload":{},"metadata":%s}`, tenant, typ, labels)
}

func silenceBody(tenant, comment string) string {
	return fmt.Sprintf(`{"namespace":"ns","tenant":%q,"matchers":[{"name":"team","value":"x"}],"duration_seconds":3600,"comment":%q}`, tenant, comment)
}

func intervalBody(tenant, name string) string {
	return fmt.Sprintf(`{"name":%q,"namespace":"ns","tenant":%q,"time_ranges":[{"weekdays":[{"start":6,"end":7}]}]}`, name, tenant)
}

// TestAuthorizationMatrixFeatures is the matrix for the feature endpoints
// that hold tenant data: groups, events, silences and time intervals.
func TestAuthorizationMatrixFeatures(t *testing.T) {
	e := newAuthApp(t, featureConfig, authFile(t, "features-jwt-secret-0123456789", ""), featureRules)
	admin := "key-admin-all"
	seed := func(method, path, body string, want int) map[string]any {
		t.Helper()
		code, _, b := e.call(t, admin, method, path, body)
		if code != want {
			t.Fatalf("seed %s %s: %d %s", method, path, code, b)
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(b), &m)
		return m
	}
	groupKey := map[string]string{}
	eventFP := map[string]string{}
	silenceID := map[string]string{}
	for _, tn := range []string{"acme", "globex"} {
		seed("POST", "/v1/dispatch", featureAction("grouped", tn, `{"cluster":"c1"}`), 200)
		out := seed("POST", "/v1/dispatch", featureAction("incident", tn, `{"host":"h1"}`), 200)
		sc, _ := out["StateChanged"].(map[string]any)
		eventFP[tn], _ = sc["fingerprint"].(string)
		silenceID[tn], _ = seed("POST", "/v1/silences", silenceBody(tn, "seed"), 201)["id"].(string)
		seed("POST", "/v1/time-intervals", intervalBody(tn, "weekend"), 201)
		list := seed("GET", "/v1/groups?namespace=ns&tenant="+tn, "", 200)
		gs, _ := list["groups"].([]any)
		if len(gs) != 1 {
			t.Fatalf("groups of %s: %v", tn, list)
		}
		groupKey[tn], _ = gs[0].(map[string]any)["group_key"].(string)
	}
	if eventFP["acme"] == "" || silenceID["acme"] == "" || groupKey["acme"] == "" || groupKey["acme"] == groupKey["globex"] {
		t.Fatalf("seeding failed: fp=%v silences=%v groups=%v", eventFP, silenceID, groupKey)
	}

	creds := map[string]string{"unauthenticated": ""}
	for _, p := range principals {
		creds[p.name] = p.apiKey
	}
	creds["jwt-alice"] = e.login(t, "alice", "wonderland")
	scope := map[string][]string{
		"admin-all": {"*"}, "op-acme": {"acme"}, "viewer-acme": {"acme"}, "op-globex": {"globex"}, "op-none": {}, "jwt-alice": {"acme"},
	}
	const u = 401
	// readers of acme data
	acmeRead := map[string]int{"admin-all": 200, "op-acme": 200, "viewer-acme": 200, "jwt-alice": 200, "unauthenticated": u}
	// writers of acme data; allowed callers are skipped (0) where the call
	// would change what later callers see, and run once at the end.
	acmeWriteDeniedOnly := map[string]int{"admin-all": 0, "op-acme": 0, "jwt-alice": 0, "unauthenticated": u}
	fpA, gkA, silA, silG := eventFP["acme"], groupKey["acme"], silenceID["acme"], silenceID["globex"]
	endpoints := []matrixEP{
		{"groups list", "GET", "/v1/groups", "", map[string]int{"unauthenticated": u}, 200},
		{"groups list tenant=globex", "GET", "/v1/groups?namespace=ns&tenant=globex", "", map[string]int{"admin-all": 200, "op-globex": 200, "unauthenticated": u}, 403},
		{"group get (acme)", "GET", "/v1/groups/" + gkA, "", acmeRead, 403},
		{"group flush (acme)", "DELETE", "/v1/groups/" + gkA, "", acmeWriteDeniedOnly, 403},
		{"events list acme", "GET", "/v1/events?namespace=ns&tenant=acme", "", acmeRead, 403},
		{"event get (acme)", "GET", "/v1/events/" + fpA + "?namespace=ns&tenant=acme", "", acmeRead, 403},
		{"event transition (acme)", "PUT", "/v1/events/" + fpA + "/transition", `{"to":"acknowledged","namespace":"ns","tenant":"acme"}`, acmeWriteDeniedOnly, 403},
		{"silences list", "GET", "/v1/silences", "", map[string]int{"unauthenticated": u}, 200},
		{"silences list tenant=globex", "GET", "/v1/silences?tenant=globex", "", map[string]int{"admin-all": 200, "op-globex": 200, "unauthenticated": u}, 403},
		{"silence get (acme)", "GET", "/v1/silences/" + silA, "", acmeRead, 403},
		{"silence get (globex)", "GET", "/v1/silences/" + silG, "", map[string]int{"admin-all": 200, "op-globex": 200, "unauthenticated": u}, 403},
		{"silence update (acme)", "PUT", "/v1/silences/" + silA, `{"comment":"changed"}`, map[string]int{"admin-all": 200, "op-acme": 200, "jwt-alice": 200, "unauthenticated": u}, 403},
		{"silence create (acme)", "POST", "/v1/silences", silenceBody("acme", "matrix"), map[string]int{"admin-all": 201, "op-acme": 201, "jwt-alice": 201, "unauthenticated": u}, 403},
		{"silence delete (globex)", "DELETE", "/v1/silences/" + silG, "", map[string]int{"admin-all": 0, "op-globex": 0, "unauthenticated": u}, 403},
		{"time intervals list", "GET", "/v1/time-intervals", "", map[string]int{"unauthenticated": u}, 200},
		{"time interval get (acme)", "GET", "/v1/time-intervals/ns/acme/weekend", "", acmeRead, 403},
		{"time interval get (globex)", "GET", "/v1/time-intervals/ns/globex/weekend", "", map[string]int{"admin-all": 200, "op-globex": 200, "unauthenticated": u}, 403},
		{"time interval create (acme)", "POST", "/v1/time-intervals", intervalBody("acme", "other"), acmeWriteDeniedOnly, 403},
		{"time interval delete (acme)", "DELETE", "/v1/time-intervals/ns/acme/weekend", "", acmeWriteDeniedOnly, 403},
	}
	runMatrix(t, e, creds, scope, endpoints)

	// Lists are filtered, not just guarded: count what each caller sees.
	for who, want := range map[string]int{"admin-all": 2, "op-acme": 1, "viewer-acme": 1, "op-globex": 1, "op-none": 0, "jwt-alice": 1} {
		_, _, body := e.call(t, creds[who], "GET", "/v1/groups", "")
		var g struct{ Groups []map[string]any }
		_ = json.Unmarshal([]byte(body), &g)
		if len(g.Groups) != want {
			t.Errorf("%s sees %d groups, want %d: %s", who, len(g.Groups), want, body)
		}
		for _, grp := range g.Groups {
			if k := grp["group_key"]; want == 1 && k != groupKey[scope[who][0]] {
				t.Errorf("%s sees group %v of another tenant", who, k)
			}
		}
	}

	// …and not empty for a scoped caller: op-acme sees acme's items.
	for _, path := range []string{"/v1/silences", "/v1/time-intervals", "/v1/groups"} {
		_, _, b := e.call(t, "key-op-acme", "GET", path, "")
		if !strings.Contains(b, `"tenant":"acme"`) || strings.Contains(b, `"tenant":"globex"`) {
			t.Errorf("op-acme %s = %s", path, b)
		}
	}
	// The allowed writes, once.
	for _, c := range []struct {
		cred, method, path, body string
		want                     int
	}{
		{"key-op-acme", "DELETE", "/v1/groups/" + gkA, "", 200},
		{"key-op-acme", "PUT", "/v1/events/" + fpA + "/transition", `{"to":"acknowledged","namespace":"ns","tenant":"acme"}`, 200},
		{"key-op-globex", "DELETE", "/v1/silences/" + silG, "", 204},
		{creds["jwt-alice"], "POST", "/v1/time-intervals", intervalBody("acme", "other"), 201},
		{"key-op-acme", "DELETE", "/v1/time-intervals/ns/acme/other", "", 204},
	} {
		if code, _, body := e.call(t, c.cred, c.method, c.path, c.body); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}
	if code, _, body := e.call(t, "key-op-globex", "GET", "/v1/events/"+fpA+"?namespace=ns&tenant=globex", ""); code == 200 && strings.Contains(body, "acme") {
		t.Errorf("op-globex reads an acme event through its own tenant: %s", body)
	}
}
