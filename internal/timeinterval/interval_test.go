package timeinterval

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustValid(t *testing.T, iv Interval) *Interval {
	t.Helper()
	if iv.Name == "" {
		iv.Name, iv.Namespace, iv.Tenant = "x", "ns", "t1"
	}
	if err := iv.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return &iv
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestContains(t *testing.T) {
	// 2026-01-17 is a Saturday, 2026-01-15 a Thursday.
	maint := Interval{TimeRanges: []TimeRange{{Weekdays: []Range{{6, 7}}}}}
	biz := Interval{Location: "America/New_York", TimeRanges: []TimeRange{{
		Times: []TimeOfDay{{540, 1020}}, Weekdays: []Range{{1, 5}},
	}}}
	lateNight := Interval{TimeRanges: []TimeRange{{Times: []TimeOfDay{{22 * 60, 1440}}}}}
	lastDays := Interval{TimeRanges: []TimeRange{{DaysOfMonth: []Range{{-3, -1}}}}}
	firstToLast := Interval{TimeRanges: []TimeRange{{DaysOfMonth: []Range{{1, -1}}}}}
	day31 := Interval{TimeRanges: []TimeRange{{DaysOfMonth: []Range{{31, 31}}}}}
	clamp := Interval{TimeRanges: []TimeRange{{DaysOfMonth: []Range{{-31, -28}}}}}
	q1 := Interval{TimeRanges: []TimeRange{{Months: []Range{{1, 3}}, Years: []Range{{2026, 2026}}}}}
	twoRanges := Interval{TimeRanges: []TimeRange{
		{Weekdays: []Range{{5, 5}}, Times: []TimeOfDay{{22 * 60, 1440}}},
		{Weekdays: []Range{{6, 6}}, Times: []TimeOfDay{{0, 360}}},
	}}
	empty := Interval{}
	tests := []struct {
		name string
		iv   Interval
		at   string
		want bool
	}{
		{"weekend on Saturday", maint, "2026-01-17T12:00:00Z", true},
		{"weekend on Sunday 23:59", maint, "2026-01-18T23:59:59Z", true},
		{"weekend not on Monday 00:00", maint, "2026-01-19T00:00:00Z", false},
		{"biz Thursday 10:00 ET", biz, "2026-01-15T15:00:00Z", true},
		{"biz Thursday 18:00 ET", biz, "2026-01-15T23:00:00Z", false},
		{"biz end minute excluded (17:00 ET)", biz, "2026-01-15T22:00:00Z", false},
		{"biz start minute included (09:00 ET)", biz, "2026-01-15T14:00:00Z", true},
		{"biz Saturday", biz, "2026-01-17T15:00:00Z", false},
		{"biz local weekday differs from UTC (Fri 02:00Z = Thu 21:00 ET)", biz, "2026-01-16T02:00:00Z", false},
		{"24:00 end includes 23:59", lateNight, "2026-01-15T23:59:00Z", true},
		{"24:00 end excludes 21:59", lateNight, "2026-01-15T21:59:00Z", false},
		{"last three days of February", lastDays, "2026-02-26T00:00:00Z", true},
		{"not the 25th of February", lastDays, "2026-02-25T23:00:00Z", false},
		{"last three days of a leap February", lastDays, "2024-02-27T00:00:00Z", true},
		{"1..-1 is the whole month", firstToLast, "2026-04-30T12:00:00Z", true},
		{"31st never matches April", day31, "2026-04-30T12:00:00Z", false},
		{"31st matches May", day31, "2026-05-31T12:00:00Z", true},
		{"-31..-28 clamps to the month start in February", clamp, "2026-02-01T00:00:00Z", true},
		{"months and years", q1, "2026-03-31T23:59:59Z", true},
		{"months and years: April", q1, "2026-04-01T00:00:00Z", false},
		{"months and years: other year", q1, "2027-02-01T00:00:00Z", false},
		{"any range: Friday night", twoRanges, "2026-01-16T23:00:00Z", true},
		{"any range: Saturday morning", twoRanges, "2026-01-17T05:59:00Z", true},
		{"any range: Saturday noon", twoRanges, "2026-01-17T12:00:00Z", false},
		{"no ranges never match", empty, "2026-01-17T12:00:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv := mustValid(t, tc.iv)
			if got := iv.Contains(at(tc.at)); got != tc.want {
				t.Fatalf("Contains(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	base := func(tr ...TimeRange) Interval {
		return Interval{Name: "x", Namespace: "ns", Tenant: "t1", TimeRanges: tr}
	}
	tests := []struct {
		name string
		iv   Interval
		want string
	}{
		{"empty name", Interval{Namespace: "ns", Tenant: "t"}, "name must not be empty"},
		{"long name", Interval{Name: strings.Repeat("a", 129), Namespace: "ns", Tenant: "t"}, "exceeds 128"},
		{"slash in name", Interval{Name: "a/b", Namespace: "ns", Tenant: "t"}, "must not contain"},
		{"no namespace", Interval{Name: "a", Tenant: "t"}, "namespace"},
		{"no tenant", Interval{Name: "a", Namespace: "ns"}, "tenant"},
		{"end before start", base(TimeRange{Times: []TimeOfDay{{600, 540}}}), "must be after start"},
		{"zero-width window", base(TimeRange{Times: []TimeOfDay{{540, 540}}}), "must be after start"},
		{"end past 24:00", base(TimeRange{Times: []TimeOfDay{{0, 1441}}}), "out of range"},
		{"weekday 0", base(TimeRange{Weekdays: []Range{{0, 5}}}), "weekdays"},
		{"weekday reversed", base(TimeRange{Weekdays: []Range{{5, 1}}}), "must not be after"},
		{"month 13", base(TimeRange{Months: []Range{{1, 13}}}), "months"},
		{"day 0", base(TimeRange{DaysOfMonth: []Range{{0, 3}}}), "days_of_month"},
		{"day 32", base(TimeRange{DaysOfMonth: []Range{{1, 32}}}), "days_of_month"},
		{"negative to positive", base(TimeRange{DaysOfMonth: []Range{{-3, 5}}}), "may not run"},
		{"bad location", Interval{Name: "x", Namespace: "ns", Tenant: "t", Location: "Mars/Base"}, "invalid location"},
		{"Local location", Interval{Name: "x", Namespace: "ns", Tenant: "t", Location: "Local"}, "invalid location"},
		{"too many ranges", base(make([]TimeRange, 65)...), "at most 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.iv.Validate()
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestParseHM(t *testing.T) {
	good := map[string]int{"00:00": 0, "09:30": 570, "9:05": 545, "23:59": 1439, "24:00": 1440}
	for s, want := range good {
		if got, err := ParseHM(s); err != nil || got != want {
			t.Errorf("ParseHM(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "9", "24:01", "25:00", "12:60", "12:5", "ab:cd", "-1:00", "123:00"} {
		if _, err := ParseHM(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseHM(%q) err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestTimeOfDayJSONForms(t *testing.T) {
	var tr TimeRange
	if err := json.Unmarshal([]byte(`{"times":[{"start":"09:00","end":"24:00"},{"start_minute":60,"end_minute":120}]}`), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Times[0] != (TimeOfDay{540, 1440}) || tr.Times[1] != (TimeOfDay{60, 120}) {
		t.Fatalf("times = %+v", tr.Times)
	}
	for _, bad := range []string{`{"times":[{"start":"09:00"}]}`, `{"times":[{}]}`, `{"times":[{"start":"9am","end":"10:00"}]}`} {
		if err := json.Unmarshal([]byte(bad), &tr); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", bad, err)
		}
	}
	out, _ := json.Marshal(TimeRange{Times: []TimeOfDay{{540, 1020}}})
	if string(out) != `{"times":[{"start_minute":540,"end_minute":1020}]}` {
		t.Fatalf("encoded %s", out)
	}
}

func TestCovers(t *testing.T) {
	iv := Interval{Namespace: "ns", Tenant: "acme"}
	for _, c := range []struct {
		ns, tenant string
		want       bool
	}{{"ns", "acme", true}, {"ns", "acme.eu", true}, {"ns", "acme.eu.west", true}, {"ns", "acme-corp", false}, {"ns", "acm", false}, {"other", "acme", false}} {
		if got := iv.Covers(c.ns, c.tenant); got != c.want {
			t.Errorf("Covers(%q,%q) = %v, want %v", c.ns, c.tenant, got, c.want)
		}
	}
}

func TestContainsAllocatesNothing(t *testing.T) {
	iv := mustValid(t, Interval{Location: "America/New_York", TimeRanges: []TimeRange{{Times: []TimeOfDay{{540, 1020}}, Weekdays: []Range{{1, 5}}, DaysOfMonth: []Range{{-7, -1}}}}})
	now := at("2026-01-15T15:00:00Z")
	if n := testing.AllocsPerRun(100, func() { iv.Contains(now) }); n != 0 {
		t.Fatalf("Contains allocates %.0f times", n)
	}
}

func BenchmarkContains(b *testing.B) {
	iv := Interval{Name: "x", Namespace: "ns", Tenant: "t", Location: "America/New_York", TimeRanges: []TimeRange{{Times: []TimeOfDay{{540, 1020}}, Weekdays: []Range{{1, 5}}}}}
	if err := iv.Validate(); err != nil {
		b.Fatal(err)
	}
	now := at("2026-01-15T15:00:00Z")
	b.ReportAllocs()
	for b.Loop() {
		iv.Contains(now)
	}
}
