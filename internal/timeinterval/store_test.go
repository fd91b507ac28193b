package timeinterval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/rules"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
)

func newStore(t *testing.T) (*Store, *statemem.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(at("2026-01-17T12:00:00Z"))
	st := statemem.New(statemem.Options{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	return NewStore(st, clk, nil), st, clk
}

func weekend(ns, tenant string) Interval {
	return Interval{Name: "maint", Namespace: ns, Tenant: tenant, TimeRanges: []TimeRange{{Weekdays: []Range{{6, 7}}}}}
}

func TestStoreCRUD(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t)
	iv, err := s.Create(ctx, weekend("ns", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	if iv.CreatedAt.IsZero() || !iv.CreatedAt.Equal(iv.UpdatedAt) {
		t.Fatalf("timestamps %v %v", iv.CreatedAt, iv.UpdatedAt)
	}
	if _, err := s.Create(ctx, weekend("ns", "t1")); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if !s.HasName("maint") || s.Lookup("ns", "t1", "maint") == nil {
		t.Fatal("the writing node's cache does not have the interval")
	}
	got, err := s.Update(ctx, "ns", "t1", "maint", func(iv *Interval) error {
		iv.Location, iv.Description = "Europe/Paris", "weekends"
		iv.Name = "renamed" // ignored
		return nil
	})
	if err != nil || got.Location != "Europe/Paris" || got.Name != "maint" {
		t.Fatalf("update: %+v %v", got, err)
	}
	if _, err := s.Update(ctx, "ns", "t1", "maint", func(iv *Interval) error { iv.Location = "Nope/Nope"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid update: %v", err)
	}
	if _, err := s.Update(ctx, "ns", "t1", "missing", func(*Interval) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	list, err := s.List(ctx, "ns", "")
	if err != nil || len(list) != 1 || list[0].Description != "weekends" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := s.Delete(ctx, "ns", "t1", "maint"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ns", "t1", "maint"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if s.HasName("maint") {
		t.Fatal("deleted interval still cached")
	}
}

func TestLookupMostSpecificTenant(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t)
	parent := weekend("ns", "acme")
	child := weekend("ns", "acme.eu")
	child.Location = "Asia/Tokyo"
	for _, iv := range []Interval{parent, child} {
		if _, err := s.Create(ctx, iv); err != nil {
			t.Fatal(err)
		}
	}
	if iv := s.Lookup("ns", "acme.eu.west", "maint"); iv == nil || iv.Tenant != "acme.eu" {
		t.Fatalf("acme.eu.west got %+v, want the acme.eu interval", iv)
	}
	if iv := s.Lookup("ns", "acme.us", "maint"); iv == nil || iv.Tenant != "acme" {
		t.Fatalf("acme.us got %+v, want the acme interval", iv)
	}
	for _, miss := range [][2]string{{"ns", "acme-corp"}, {"other", "acme"}} {
		if iv := s.Lookup(miss[0], miss[1], "maint"); iv != nil {
			t.Fatalf("%v got %+v, want none", miss, iv)
		}
	}
}

// A second store over the same backend (another node) sees a write after
// one Refresh, and Refresh rescans only when the change counter moved.
func TestRefreshAcrossStores(t *testing.T) {
	ctx := context.Background()
	a, st, clk := newStore(t)
	b := NewStore(st, clk, nil)
	if _, err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if rescanned, _ := b.Refresh(ctx); rescanned {
		t.Fatal("Refresh rescanned although nothing changed")
	}
	if _, err := a.Create(ctx, weekend("ns", "t1")); err != nil {
		t.Fatal(err)
	}
	if b.HasName("maint") {
		t.Fatal("b saw the write before refreshing")
	}
	rescanned, err := b.Refresh(ctx)
	if err != nil || !rescanned || !b.HasName("maint") {
		t.Fatalf("after refresh: rescanned=%v err=%v has=%v", rescanned, err, b.HasName("maint"))
	}
	// A lost counter bump is healed by the periodic full rescan.
	if err := st.Set(ctx, keyOf("ns", "t1", "quiet"), `{"name":"quiet","namespace":"ns","tenant":"t1","time_ranges":[]}`, 0); err != nil {
		t.Fatal(err)
	}
	if rescanned, _ := b.Refresh(ctx); rescanned || b.HasName("quiet") {
		t.Fatal("rescanned without a counter change")
	}
	clk.Advance(fullRescanEvery)
	if rescanned, _ := b.Refresh(ctx); !rescanned || !b.HasName("quiet") {
		t.Fatal("no full rescan after fullRescanEvery")
	}
}

func gateFor(t *testing.T, s *Store, yaml string) (*Gate, func(a *action.Action) rules.Result) {
	t.Helper()
	rs, _, err := rules.ParseFile("r.yaml", []byte(yaml), rules.Options{HasTimeInterval: s.HasName})
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	return NewGate(s, nil), func(a *action.Action) rules.Result {
		return set.Evaluate(context.Background(), rules.Input{Action: a, Now: time.Now()})
	}
}

// Gate semantics of spec 02 §4.5 / S30 at unit level.
func TestGate(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t)
	biz := Interval{Name: "biz", Namespace: "ns", Tenant: "t1", Location: "America/New_York",
		TimeRanges: []TimeRange{{Times: []TimeOfDay{{540, 1020}}, Weekdays: []Range{{1, 5}}}}}
	for _, iv := range []Interval{weekend("ns", "t1"), biz, {Name: "elsewhere", Namespace: "other", Tenant: "t1", TimeRanges: []TimeRange{{}}}} {
		if _, err := s.Create(ctx, iv); err != nil {
			t.Fatal(err)
		}
	}
	g, eval := gateFor(t, s, `rules:
- {name: page, priority: 1, condition: {field: action.action_type, eq: page}, action: {type: reroute, target_provider: sms}, mute_time_intervals: [maint]}
- {name: digest, priority: 2, condition: {field: action.action_type, eq: digest}, action: {type: allow}, active_time_intervals: [biz]}
- {name: dd, priority: 3, condition: {field: action.action_type, eq: dup}, action: {type: deduplicate}, mute_time_intervals: [maint]}
- {name: other-ns, priority: 4, condition: {field: action.action_type, eq: on}, action: {type: allow}, active_time_intervals: [elsewhere]}
- {name: mute-elsewhere, priority: 5, condition: {field: action.action_type, eq: mo}, action: {type: deny}, mute_time_intervals: [elsewhere]}
`)
	sat, thu, thuLate := at("2026-01-17T12:00:00Z"), at("2026-01-15T15:00:00Z"), at("2026-01-15T23:00:00Z")
	tests := []struct {
		name     string
		typ      string
		now      time.Time
		interval string // "" = not muted
		reason   string
		rule     string
	}{
		{"mute interval matches", "page", sat, "maint", ReasonMute, "page"},
		{"mute interval does not match", "page", thu, "", "", ""},
		{"active interval inactive; allow has no matched rule", "digest", sat, "biz", ReasonActive, ""},
		{"active interval active", "digest", thu, "", "", ""},
		{"active interval over", "digest", thuLate, "biz", ReasonActive, ""},
		{"dedup verdicts are gated too (D26)", "dup", sat, "maint", ReasonMute, "dd"},
		{"no matched rule", "nothing", sat, "", "", ""},
		{"active interval undefined for this namespace: muted (fail closed)", "on", thu, "elsewhere", ReasonActive, ""},
		{"mute interval undefined for this namespace: not muted (fail open)", "mo", sat, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &action.Action{Namespace: "ns", Tenant: "t1", ActionType: tc.typ}
			res := eval(a)
			out, err := g.Check(ctx, a, res, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if tc.interval == "" {
				if out != nil {
					t.Fatalf("muted: %+v", out)
				}
				return
			}
			if out == nil || out.Kind != action.OutcomeMuted || out.Interval != tc.interval || out.MuteReason != tc.reason || out.MatchedRule != tc.rule {
				t.Fatalf("got %+v, want Muted{%s, %s, %q}", out, tc.interval, tc.reason, tc.rule)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rules.yaml", "rules: []\n")
	write("time-intervals.yaml", `time_intervals:
- name: business-hours
  namespace: ns
  tenant: t1
  location: America/New_York
  time_ranges:
  - times: [{start: "09:00", end: "17:00"}]
    weekdays: [{start: 1, end: 5}]
- name: planned-maintenance
  namespace: ns
  tenant: t1
  time_ranges:
  - {weekdays: [{start: 5, end: 5}], times: [{start: "22:00", end: "24:00"}]}
  - {weekdays: [{start: 6, end: 6}], times: [{start_minute: 0, end_minute: 360}]}
`)
	write("notes.txt", "time_intervals: nonsense")
	ivs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 2 || ivs[0].Name != "business-hours" || ivs[0].TimeRanges[0].Times[0] != (TimeOfDay{540, 1020}) ||
		ivs[1].TimeRanges[0].Times[0] != (TimeOfDay{1320, 1440}) || ivs[1].TimeRanges[1].Times[0] != (TimeOfDay{0, 360}) {
		t.Fatalf("loaded %+v", ivs)
	}
	if ivs[0].CreatedBy != "file:time-intervals.yaml" {
		t.Fatalf("created_by %q", ivs[0].CreatedBy)
	}
	write("z.yaml", "time_intervals:\n- {name: bad, namespace: ns, tenant: t1, time_ranges: [{weekdays: [{start: 0, end: 9}]}]}\n- {name: business-hours, namespace: ns, tenant: t1}\n")
	_, err = LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "z.yaml:2") || !strings.Contains(err.Error(), "weekdays") ||
		!strings.Contains(err.Error(), "also defined in") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("time_intervals: [{name: a, namespace: n, tenant: t, time_ranges: [{times: [{start: '09:00', end: '24:00'}], days_of_month: [{start: -3, end: -1}]}]}]"))
	f.Add([]byte("time_intervals: [{name: a}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ivs, err := ParseFile("f.yaml", data)
		if err != nil {
			return
		}
		for i := range ivs {
			ivs[i].Contains(at("2026-02-28T23:30:00Z"))
		}
	})
}
