package silence

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/rules"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
)

var t0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func sil(ms ...Matcher) Silence {
	return Silence{Namespace: "ns", Tenant: "t1", Matchers: ms, StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour)}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		s    Silence
		want string
	}{
		{"no matchers", sil(), "at least one matcher"},
		{"end before start", Silence{Namespace: "ns", Tenant: "t1", Matchers: []Matcher{{Name: "a", Value: "b"}}, StartsAt: t0, EndsAt: t0.Add(-time.Second)}, "must be after starts_at"},
		{"end equals start", Silence{Namespace: "ns", Tenant: "t1", Matchers: []Matcher{{Name: "a", Value: "b"}}, StartsAt: t0, EndsAt: t0}, "must be after starts_at"},
		{"invalid regex", sil(Matcher{Name: "service", Value: "api(", Op: OpRegex}), "invalid regex"},
		{"invalid not_regex", sil(Matcher{Name: "service", Value: "[z-a]", Op: OpNotRegex}), "invalid regex"},
		{"regex too long", sil(Matcher{Name: "service", Value: strings.Repeat("a", 257), Op: OpRegex}), "at most 256"},
		{"regex program too big", sil(Matcher{Name: "service", Value: "(((a{100}){100}){100})", Op: OpRegex}), "invalid regex"},
		{"regex program over the instruction bound", sil(Matcher{Name: "service", Value: "[a-z]{1000}[0-9]{1000}[A-Z]{1000}x{1000}y{1000}", Op: OpRegex}), "instructions"},
		{"unknown op", sil(Matcher{Name: "a", Value: "b", Op: "like"}), "unknown op"},
		{"empty matcher name", sil(Matcher{Value: "b"}), "name must not be empty"},
		{"no namespace", Silence{Tenant: "t1", Matchers: []Matcher{{Name: "a"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "namespace"},
		{"no tenant", Silence{Namespace: "ns", Matchers: []Matcher{{Name: "a"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestMatchers(t *testing.T) {
	tests := []struct {
		name   string
		m      Matcher
		labels map[string]string
		want   bool
	}{
		{"equal present", Matcher{Name: "sev", Value: "crit"}, map[string]string{"sev": "crit"}, true},
		{"equal different", Matcher{Name: "sev", Value: "crit", Op: OpEqual}, map[string]string{"sev": "warn"}, false},
		{"equal absent", Matcher{Name: "sev", Value: "", Op: OpEqual}, nil, false},
		{"not_equal absent", Matcher{Name: "sev", Value: "crit", Op: OpNotEqual}, nil, true},
		{"not_equal different", Matcher{Name: "sev", Value: "crit", Op: OpNotEqual}, map[string]string{"sev": "warn"}, true},
		{"not_equal same", Matcher{Name: "sev", Value: "crit", Op: OpNotEqual}, map[string]string{"sev": "crit"}, false},
		{"regex anchored match", Matcher{Name: "svc", Value: "api|web", Op: OpRegex}, map[string]string{"svc": "web"}, true},
		{"regex anchored: no partial match", Matcher{Name: "svc", Value: "api|web", Op: OpRegex}, map[string]string{"svc": "api-gw"}, false},
		{"regex anchored: no suffix match", Matcher{Name: "svc", Value: "api", Op: OpRegex}, map[string]string{"svc": "my-api"}, false},
		{"regex absent label", Matcher{Name: "svc", Value: ".*", Op: OpRegex}, nil, false},
		{"not_regex absent label", Matcher{Name: "svc", Value: "api", Op: OpNotRegex}, nil, true},
		{"not_regex match", Matcher{Name: "svc", Value: "api.*", Op: OpNotRegex}, map[string]string{"svc": "api-gw"}, false},
		{"not_regex no match", Matcher{Name: "svc", Value: "api", Op: OpNotRegex}, map[string]string{"svc": "api-gw"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sil(tc.m)
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := s.Matches(tc.labels); got != tc.want {
				t.Fatalf("Matches(%v) = %v, want %v", tc.labels, got, tc.want)
			}
		})
	}
	all := sil(Matcher{Name: "a", Value: "1"}, Matcher{Name: "b", Value: "2"})
	if err := all.Validate(); err != nil {
		t.Fatal(err)
	}
	if all.Matches(map[string]string{"a": "1"}) || !all.Matches(map[string]string{"a": "1", "b": "2"}) {
		t.Fatal("matchers are not ANDed")
	}
	if (&Silence{}).Matches(map[string]string{"a": "1"}) {
		t.Fatal("a silence without matchers matched")
	}
}

func TestActiveAtAndCovers(t *testing.T) {
	s := sil(Matcher{Name: "a", Value: "1"})
	if s.ActiveAt(s.StartsAt.Add(-time.Nanosecond)) || !s.ActiveAt(s.StartsAt) || !s.ActiveAt(s.EndsAt.Add(-time.Nanosecond)) || s.ActiveAt(s.EndsAt) {
		t.Fatal("active window is not [starts_at, ends_at)")
	}
	s.Tenant = "acme"
	for _, c := range []struct {
		ns, tenant string
		want       bool
	}{{"ns", "acme", true}, {"ns", "acme.eu", true}, {"ns", "acme-corp", false}, {"ns", "acmex", false}, {"other", "acme", false}} {
		if got := s.Covers(c.ns, c.tenant); got != c.want {
			t.Errorf("Covers(%q,%q) = %v, want %v", c.ns, c.tenant, got, c.want)
		}
	}
}

func newStore(t *testing.T) (*Store, *statemem.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	st := statemem.New(statemem.Options{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	return NewStore(st, clk, nil), st, clk
}

// A silence mutes exactly its matches and expires on time; tenant
// hierarchy and namespace apply.
func TestStoreMatchAndExpiry(t *testing.T) {
	ctx := context.Background()
	s, st, clk := newStore(t)
	created, err := s.Create(ctx, Silence{Namespace: "ns", Tenant: "t1", Matchers: []Matcher{{Name: "service", Value: "api|web", Op: OpRegex}},
		StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour), CreatedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || !created.CreatedAt.Equal(t0) {
		t.Fatalf("created %+v", created)
	}
	kvs, err := st.ScanKeysByKind(ctx, Kind)
	if err != nil || len(kvs) != 1 || kvs[0].Key != "ns:t1:silence:"+created.ID {
		t.Fatalf("stored under %+v (%v), want the canonical key ns:t1:silence:<id>", kvs, err)
	}
	cases := []struct {
		ns, tenant, svc string
		want            bool
	}{
		{"ns", "t1", "api", true}, {"ns", "t1", "web", true}, {"ns", "t1", "api-gw", false},
		{"ns", "t1.eu", "web", true}, {"ns", "t10", "web", false}, {"other", "t1", "web", false},
	}
	for _, c := range cases {
		got := s.Match(c.ns, c.tenant, map[string]string{"service": c.svc}, clk.Now())
		if (got != nil) != c.want || (got != nil && got.ID != created.ID) {
			t.Errorf("Match(%s, %s, %s) = %v, want %v", c.ns, c.tenant, c.svc, got, c.want)
		}
	}
	clk.Set(created.EndsAt.Add(-time.Nanosecond))
	if s.Match("ns", "t1", map[string]string{"service": "api"}, clk.Now()) == nil {
		t.Fatal("not active just before ends_at")
	}
	clk.Set(created.EndsAt)
	if s.Match("ns", "t1", map[string]string{"service": "api"}, clk.Now()) != nil {
		t.Fatal("still active at ends_at")
	}
	// Ended silences stay listable with include_expired.
	if l, _ := s.List(ctx, "ns", "", false); len(l) != 0 {
		t.Fatalf("active list after expiry: %d", len(l))
	}
	if l, _ := s.List(ctx, "ns", "", true); len(l) != 1 {
		t.Fatalf("include_expired list: %d", len(l))
	}
	// ...until the retention passes.
	clk.Advance(Retention + time.Second)
	if l, _ := s.List(ctx, "", "", true); len(l) != 0 {
		t.Fatalf("list after retention: %d", len(l))
	}
}

func TestStoreUpdateAndExpire(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newStore(t)
	sl, err := s.Create(ctx, sil(Matcher{Name: "a", Value: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	up, err := s.Update(ctx, sl.ID, true, func(x *Silence) error {
		x.EndsAt, x.Comment = t0.Add(2*time.Hour), "longer"
		x.Matchers = nil // immutable: ignored
		return nil
	})
	if err != nil || !up.EndsAt.Equal(t0.Add(2*time.Hour)) || up.Comment != "longer" || len(up.Matchers) != 1 || !up.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := s.Update(ctx, sl.ID, true, func(x *Silence) error { x.EndsAt = x.StartsAt.Add(-time.Hour); return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("end before start update: %v", err)
	}
	if _, err := s.Update(ctx, "nope", true, func(*Silence) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	ex, err := s.Expire(ctx, sl.ID)
	if err != nil || !ex.EndsAt.Equal(clk.Now()) {
		t.Fatalf("expire: %+v %v", ex, err)
	}
	if s.Match("ns", "t1", map[string]string{"a": "1"}, clk.Now()) != nil {
		t.Fatal("expired silence still matches")
	}
	// Expiring a silence that has not started yet.
	future := sil(Matcher{Name: "a", Value: "1"})
	future.StartsAt, future.EndsAt = t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	f, err := s.Create(ctx, future)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := s.Expire(ctx, f.ID)
	if err != nil || fx.StartsAt.After(fx.EndsAt) {
		t.Fatalf("expire future: %+v %v", fx, err)
	}
}

// A second store over the same backend (another node) picks up a new
// silence on its next Refresh; Get works from either node.
func TestRefreshAcrossStores(t *testing.T) {
	ctx := context.Background()
	a, st, clk := newStore(t)
	b := NewStore(st, clk, nil)
	if _, err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	sl, err := a.Create(ctx, sil(Matcher{Name: "a", Value: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if b.Match("ns", "t1", map[string]string{"a": "1"}, clk.Now()) != nil {
		t.Fatal("b matched before refreshing")
	}
	if got, err := b.Get(ctx, sl.ID); err != nil || got.ID != sl.ID {
		t.Fatalf("b.Get before refresh: %+v %v", got, err)
	}
	if ok, err := b.Refresh(ctx); !ok || err != nil {
		t.Fatalf("refresh: %v %v", ok, err)
	}
	if b.Match("ns", "t1", map[string]string{"a": "1"}, clk.Now()) == nil {
		t.Fatal("b does not match after refreshing")
	}
	if ok, _ := b.Refresh(ctx); ok {
		t.Fatal("rescanned without a change")
	}
}

func TestGate(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newStore(t)
	sl, err := s.Create(ctx, sil(Matcher{Name: "service", Value: "api"}))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGate(s)
	a := &action.Action{Namespace: "ns", Tenant: "t1", Metadata: map[string]string{"service": "api"}}
	rule := &rules.Rule{Name: "to-sms"}
	for _, c := range []struct {
		res  rules.Result
		want string
	}{
		{rules.Result{Rule: rule, Verdict: rules.Verdict{Kind: action.VerdictReroute}}, "to-sms"},
		{rules.Result{Rule: rule, Verdict: rules.Verdict{Kind: action.VerdictDeduplicate}}, "to-sms"},
		{rules.Result{Rule: rule, Verdict: rules.Verdict{Kind: action.VerdictAllow}}, ""},
		{rules.Result{Verdict: rules.Verdict{Kind: action.VerdictAllow}}, ""},
	} {
		out, err := g.Check(ctx, a, c.res, clk.Now())
		if err != nil || out == nil || out.Kind != action.OutcomeSilenced || out.SilenceID != sl.ID || out.MatchedRule != c.want {
			t.Fatalf("verdict %s: %+v %v", c.res.Verdict.Kind, out, err)
		}
	}
	a.Metadata["service"] = "web"
	if out, _ := g.Check(ctx, a, rules.Result{}, clk.Now()); out != nil {
		t.Fatalf("non-matching action silenced: %+v", out)
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newStore(t)
	for i := 0; i < 10; i++ {
		if _, err := s.Create(ctx, sil(Matcher{Name: "service", Value: "api|web", Op: OpRegex}, Matcher{Name: "env", Value: "dev", Op: OpNotEqual})); err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"service": "db", "env": "prod"}
	now := clk.Now()
	if n := testing.AllocsPerRun(100, func() { s.Match("ns", "t1", labels, now) }); n != 0 {
		t.Fatalf("Match allocates %.0f times", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{0, 10, 100} {
		b.Run("silences="+itoa(n), func(b *testing.B) {
			clk := clock.NewFake(t0)
			st := statemem.New(statemem.Options{Clock: clk})
			s := NewStore(st, clk, nil)
			for i := 0; i < n; i++ {
				x := sil(Matcher{Name: "service", Value: "svc-" + itoa(i) + "|web", Op: OpRegex})
				if _, err := s.Create(context.Background(), x); err != nil {
					b.Fatal(err)
				}
			}
			labels := map[string]string{"service": "db"}
			b.ReportAllocs()
			for b.Loop() {
				s.Match("ns", "t1", labels, t0)
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func FuzzCompileRegex(f *testing.F) {
	for _, s := range []string{"api|web", "(a{100}){100}", "[", `\p{L}+`, "a**"} {
		f.Add(s, "api")
	}
	f.Fuzz(func(t *testing.T, p, v string) {
		re, err := CompileRegex(p)
		if err != nil {
			return
		}
		re.MatchString(v)
	})
}
