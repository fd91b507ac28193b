package jobs_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/auth"
	"github.com/acteon/acteon-go/internal/clock"
)

// withIdentity stands in for the authenticator: every request runs as id.
func withIdentity(h http.Handler, id *auth.Identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

var restricted = &auth.Identity{CallerID: "other", Method: "api_key", Role: auth.RoleOperator,
	Grants: []auth.Grant{{Tenants: []string{"t2"}, Namespaces: []string{"*"}, Actions: []string{"*"}}}}

var viewer = &auth.Identity{CallerID: "viewer", Method: "api_key", Role: auth.RoleViewer,
	Grants: []auth.Grant{{Tenants: []string{"*"}, Namespaces: []string{"*"}, Actions: []string{"*"}}}}

func TestGroupsAPI(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newProvs()
	a := build(t, memoryTOML, `rules: [{name: grp, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: group, group_by: [metadata.cluster], group_wait_seconds: 60}}]`, clk, p)
	for i := 0; i < 3; i++ {
		dispatch(t, a, alertEvent("ns", map[string]string{"cluster": "a"}, map[string]any{"i": "x"}))
	}
	h := a.Handler()

	code, body := call(t, h, "GET", "/v1/groups", "")
	if code != 200 || body["total"].(float64) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	g := body["groups"].([]any)[0].(map[string]any)
	key := g["group_key"].(string)
	if g["event_count"].(float64) != 3 || g["state"] != "pending" || g["notify_at"] != "2026-01-15T10:01:00+00:00" {
		t.Errorf("summary: %v", g)
	}

	// Another tenant's caller sees nothing and may not read or flush it.
	if code, body := call(t, withIdentity(h, restricted), "GET", "/v1/groups", ""); code != 200 || body["total"].(float64) != 0 {
		t.Errorf("restricted list: %d %v", code, body)
	}
	if code, _ := call(t, withIdentity(h, restricted), "GET", "/v1/groups/"+key, ""); code != 403 {
		t.Errorf("restricted get: %d, want 403", code)
	}
	if code, _ := call(t, withIdentity(h, restricted), "DELETE", "/v1/groups/"+key, ""); code != 403 {
		t.Errorf("restricted flush: %d, want 403", code)
	}
	if code, _ := call(t, withIdentity(h, viewer), "DELETE", "/v1/groups/"+key, ""); code != 403 {
		t.Errorf("viewer flush: %d, want 403", code)
	}

	code, body = call(t, h, "GET", "/v1/groups/"+key, "")
	if code != 200 || len(body["events"].([]any)) != 3 || body["labels"].(map[string]any)["metadata.cluster"] != "a" {
		t.Fatalf("get: %d %v", code, body)
	}
	if code, _ := call(t, h, "GET", "/v1/groups/nope", ""); code != 404 {
		t.Errorf("unknown group: %d", code)
	}

	// Flush now: the notification really goes out.
	code, body = call(t, h, "DELETE", "/v1/groups/"+key, "")
	if code != 200 || body["status"] != "flushed" || body["event_count"].(float64) != 3 {
		t.Fatalf("flush: %d %v", code, body)
	}
	if n := len(calls(p.email, "group_notification")); n != 1 {
		t.Fatalf("%d notifications after flush, want 1", n)
	}
	if code, _ := call(t, h, "DELETE", "/v1/groups/"+key, ""); code != 404 {
		t.Errorf("second flush: %d, want 404", code)
	}
	// The background job has nothing left to send.
	clk.Advance(2 * time.Minute)
	if n := run(t, a, "group_flush"); n != 0 {
		t.Errorf("background flushed %d after the API flush", n)
	}
}

func TestEventsAPI(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newProvs()
	a := build(t, memoryTOML+stateMachineTOML, `rules: [{name: lc, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: state_machine, state_machine: alert, fingerprint_fields: [metadata.host]}}]`, clk, p)
	e := alertEvent("ns", map[string]string{"host": "h1"}, nil)
	out := dispatch(t, a, e)
	fp := out.Fingerprint
	h := a.Handler()

	code, body := call(t, h, "GET", "/v1/events?namespace=ns&tenant=t1", "")
	if code != 200 || body["count"].(float64) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	if code, _ := call(t, h, "GET", "/v1/events?namespace=ns", ""); code != 400 {
		t.Errorf("list without tenant: %d", code)
	}
	if code, _ := call(t, withIdentity(h, restricted), "GET", "/v1/events?namespace=ns&tenant=t1", ""); code != 403 {
		t.Errorf("restricted list: %d, want 403", code)
	}
	if code, _ := call(t, withIdentity(h, restricted), "PUT", "/v1/events/"+fp+"/transition", `{"to":"acknowledged","namespace":"ns","tenant":"t1"}`); code != 403 {
		t.Errorf("restricted transition: %d, want 403", code)
	}
	code, body = call(t, h, "GET", "/v1/events/"+fp+"?namespace=ns&tenant=t1", "")
	if code != 200 || body["state"] != "open" || body["action_type"] != "alert" {
		t.Fatalf("get: %d %v", code, body)
	}
	if code, body := call(t, h, "GET", "/v1/events/nope?namespace=ns&tenant=t1", ""); code != 404 || body["error"] != "event not found: nope" {
		t.Errorf("unknown event: %d %v", code, body)
	}

	// Disallowed and unknown targets are 409 with the allowed transitions.
	code, body = call(t, h, "PUT", "/v1/events/"+fp+"/transition", `{"to":"closed","namespace":"ns","tenant":"t1"}`)
	if code != 409 || body["code"] != "INVALID_TRANSITION" || len(body["allowed_transitions"].([]any)) != 1 || body["allowed_transitions"].([]any)[0] != "acknowledged" {
		t.Errorf("open→closed: %d %v", code, body)
	}
	code, body = call(t, h, "PUT", "/v1/events/"+fp+"/transition", `{"to":"bogus","namespace":"ns","tenant":"t1"}`)
	if code != 409 || body["code"] != "UNKNOWN_STATE" {
		t.Errorf("unknown state: %d %v", code, body)
	}
	if code, _ := call(t, h, "PUT", "/v1/events/"+fp+"/transition", `{"namespace":"ns","tenant":"t1"}`); code != 422 {
		t.Errorf("missing to: %d", code)
	}

	code, body = call(t, h, "PUT", "/v1/events/"+fp+"/transition", `{"to":"acknowledged","namespace":"ns","tenant":"t1"}`)
	if code != 200 || body["previous_state"] != "open" || body["new_state"] != "acknowledged" || body["notify"] != true {
		t.Fatalf("open→acknowledged: %d %v", code, body)
	}
	if n := len(calls(p.email, "state_notification")); n != 1 {
		t.Errorf("%d state notifications, want 1", n)
	}
	// The transition armed the acknowledged timeout.
	clk.Advance(601 * time.Second)
	if n := run(t, a, "state_timeouts"); n != 1 {
		t.Errorf("timeouts fired: %d, want 1", n)
	}
	if code, body = call(t, h, "GET", "/v1/events?namespace=ns&tenant=t1&status=closed", ""); code != 200 || body["count"].(float64) != 1 {
		t.Errorf("closed events: %d %v", code, body)
	}
}
