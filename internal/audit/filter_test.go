package audit_test

import (
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
)

func TestInTenantScope(t *testing.T) {
	tests := []struct {
		tenant string
		scope  []string
		want   bool
	}{
		{"acme", nil, true},
		{"acme", []string{"acme"}, true},
		{"acme.us", []string{"acme"}, true},
		{"acme.us.east", []string{"acme"}, true},
		{"acme-corp", []string{"acme"}, false},
		{"acmex", []string{"acme"}, false},
		{"acm", []string{"acme"}, false},
		{"acme", []string{"acme.us"}, false},
		{"globex", []string{"acme", "globex"}, true},
		{"anything", []string{"acme", "*"}, true},
		{"", []string{""}, false},
		{".x", []string{""}, false},
	}
	for _, tc := range tests {
		if got := audit.InTenantScope(tc.tenant, tc.scope); got != tc.want {
			t.Errorf("InTenantScope(%q, %q) = %v, want %v", tc.tenant, tc.scope, got, tc.want)
		}
	}
}

func TestQueryMatches(t *testing.T) {
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	rule := "r1"
	r := audit.Record{ID: "1", Namespace: "ns", Tenant: "acme.us", Provider: "email", Outcome: "executed", MatchedRule: &rule, DispatchedAt: base}
	before, after := base.Add(-time.Millisecond), base.Add(time.Millisecond)
	tests := []struct {
		name string
		q    audit.Query
		want bool
	}{
		{"empty query", audit.Query{}, true},
		{"equal fields", audit.Query{Namespace: "ns", Provider: "email", MatchedRule: "r1"}, true},
		{"other provider", audit.Query{Provider: "sms"}, false},
		{"matched rule filter on record without one", audit.Query{ChainID: "c"}, false},
		{"from equal", audit.Query{From: &base}, true},
		{"to equal", audit.Query{To: &base}, true},
		{"from after", audit.Query{From: &after}, false},
		{"to before", audit.Query{To: &before}, false},
		{"scope parent", audit.Query{TenantScope: []string{"acme"}}, true},
		{"scope other", audit.Query{TenantScope: []string{"acme-corp"}}, false},
	}
	for _, tc := range tests {
		if got := tc.q.Matches(r); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAtMillis(t *testing.T) {
	loc := time.FixedZone("x", 3600)
	exp := time.Date(2026, 1, 1, 0, 0, 0, 1999999, loc)
	r := audit.Record{DispatchedAt: time.Date(2026, 1, 1, 0, 0, 0, 1500000, loc), ExpiresAt: &exp}
	got := r.AtMillis()
	if want := time.Date(2025, 12, 31, 23, 0, 0, 1000000, time.UTC); got.DispatchedAt != want {
		t.Errorf("DispatchedAt = %v, want %v", got.DispatchedAt, want)
	}
	if got.ExpiresAt == r.ExpiresAt || got.ExpiresAt.Nanosecond() != 1000000 {
		t.Errorf("ExpiresAt = %v (shared pointer: %v)", got.ExpiresAt, got.ExpiresAt == r.ExpiresAt)
	}
	if r.ExpiresAt.Nanosecond() != 1999999 {
		t.Error("AtMillis changed the original's expires_at")
	}
}
