package timeinterval

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA names must resolve on every host
)

// Limits, as upstream has them.
const (
	MaxTimeRanges = 64
	MaxNameLen    = 128
	// maxListLen bounds each list inside one range.
	maxListLen = 64
)

// ErrInvalid marks a validation failure (HTTP 400).
var ErrInvalid = errors.New("timeinterval: invalid")

// TimeOfDay is a half-open window [StartMinute, EndMinute) in minutes since
// local midnight; EndMinute 1440 is the end of the day. On input it also
// accepts {"start":"HH:MM","end":"HH:MM"} with "24:00" allowed as the end.
type TimeOfDay struct {
	StartMinute int `json:"start_minute" yaml:"start_minute"`
	EndMinute   int `json:"end_minute" yaml:"end_minute"`
}

// UnmarshalJSON accepts both the minutes form and the HH:MM form.
func (t *TimeOfDay) UnmarshalJSON(b []byte) error {
	var raw struct {
		StartMinute *int    `json:"start_minute"`
		EndMinute   *int    `json:"end_minute"`
		Start       *string `json:"start"`
		End         *string `json:"end"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	return t.fill(raw.StartMinute, raw.EndMinute, raw.Start, raw.End)
}

// UnmarshalYAML accepts both forms too (time-intervals.yaml files).
func (t *TimeOfDay) UnmarshalYAML(unmarshal func(any) error) error {
	var raw struct {
		StartMinute *int    `yaml:"start_minute"`
		EndMinute   *int    `yaml:"end_minute"`
		Start       *string `yaml:"start"`
		End         *string `yaml:"end"`
	}
	if err := unmarshal(&raw); err != nil {
		return err
	}
	return t.fill(raw.StartMinute, raw.EndMinute, raw.Start, raw.End)
}

func (t *TimeOfDay) fill(sm, em *int, s, e *string) error {
	switch {
	case s != nil || e != nil:
		if s == nil || e == nil {
			return fmt.Errorf("%w: times: both start and end are required", ErrInvalid)
		}
		a, err := ParseHM(*s)
		if err != nil {
			return err
		}
		b, err := ParseHM(*e)
		if err != nil {
			return err
		}
		t.StartMinute, t.EndMinute = a, b
	case sm != nil && em != nil:
		t.StartMinute, t.EndMinute = *sm, *em
	default:
		return fmt.Errorf("%w: times: want {start, end} as HH:MM or {start_minute, end_minute}", ErrInvalid)
	}
	return nil
}

// ParseHM parses "HH:MM" (24-hour clock; "24:00" is allowed) into minutes
// since midnight.
func ParseHM(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(m) != 2 || len(h) == 0 || len(h) > 2 {
		return 0, fmt.Errorf("%w: time %q must be HH:MM", ErrInvalid, s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%w: time %q must be HH:MM between 00:00 and 24:00", ErrInvalid, s)
	}
	return hh*60 + mm, nil
}

// Range is an inclusive [Start, End] range of weekdays (1=Mon..7=Sun),
// months (1..12), days of month (-31..-1 or 1..31) or years.
type Range struct {
	Start int `json:"start" yaml:"start"`
	End   int `json:"end" yaml:"end"`
}

// TimeRange is one composite predicate: every non-empty list must have a
// matching element. Empty lists match anything.
type TimeRange struct {
	Times       []TimeOfDay `json:"times,omitempty" yaml:"times"`
	Weekdays    []Range     `json:"weekdays,omitempty" yaml:"weekdays"`
	DaysOfMonth []Range     `json:"days_of_month,omitempty" yaml:"days_of_month"`
	Months      []Range     `json:"months,omitempty" yaml:"months"`
	Years       []Range     `json:"years,omitempty" yaml:"years"`
}

// Interval is a named time interval of one namespace and tenant (spec 02
// §4.5). It matches at an instant when any of its ranges does, evaluated in
// Location (UTC when empty). An interval without ranges never matches.
type Interval struct {
	Name        string      `json:"name" yaml:"name"`
	Namespace   string      `json:"namespace" yaml:"namespace"`
	Tenant      string      `json:"tenant" yaml:"tenant"`
	TimeRanges  []TimeRange `json:"time_ranges" yaml:"time_ranges"`
	Location    string      `json:"location,omitempty" yaml:"location"`
	Description string      `json:"description,omitempty" yaml:"description"`
	CreatedBy   string      `json:"created_by" yaml:"-"`
	CreatedAt   time.Time   `json:"created_at" yaml:"-"`
	UpdatedAt   time.Time   `json:"updated_at" yaml:"-"`

	loc *time.Location
}

// Validate checks every field and resolves the location. It must succeed
// before Contains is used.
func (iv *Interval) Validate() error {
	switch {
	case strings.TrimSpace(iv.Name) == "":
		return fmt.Errorf("%w: time interval name must not be empty", ErrInvalid)
	case len(iv.Name) > MaxNameLen:
		return fmt.Errorf("%w: time interval name exceeds %d bytes", ErrInvalid, MaxNameLen)
	case strings.ContainsAny(iv.Name, "/:"):
		return fmt.Errorf("%w: time interval name must not contain '/' or ':'", ErrInvalid)
	case iv.Namespace == "" || strings.Contains(iv.Namespace, ":"):
		return fmt.Errorf("%w: time interval namespace must be non-empty and contain no ':'", ErrInvalid)
	case iv.Tenant == "" || strings.Contains(iv.Tenant, ":"):
		return fmt.Errorf("%w: time interval tenant must be non-empty and contain no ':'", ErrInvalid)
	case len(iv.TimeRanges) > MaxTimeRanges:
		return fmt.Errorf("%w: time interval has %d ranges, at most %d are allowed", ErrInvalid, len(iv.TimeRanges), MaxTimeRanges)
	}
	for i := range iv.TimeRanges {
		if err := iv.TimeRanges[i].validate(); err != nil {
			return fmt.Errorf("%w: time_ranges[%d]: %v", ErrInvalid, i, err)
		}
	}
	iv.loc = time.UTC
	if iv.Location != "" {
		if iv.Location == "Local" {
			return fmt.Errorf("%w: invalid location %q (want an IANA name such as \"Europe/Paris\")", ErrInvalid, iv.Location)
		}
		loc, err := time.LoadLocation(iv.Location)
		if err != nil {
			return fmt.Errorf("%w: invalid location %q: unknown IANA time zone", ErrInvalid, iv.Location)
		}
		iv.loc = loc
	}
	return nil
}

func (tr *TimeRange) validate() error {
	lists := []struct {
		name string
		n    int
	}{{"times", len(tr.Times)}, {"weekdays", len(tr.Weekdays)}, {"days_of_month", len(tr.DaysOfMonth)}, {"months", len(tr.Months)}, {"years", len(tr.Years)}}
	for _, l := range lists {
		if l.n > maxListLen {
			return fmt.Errorf("%s has %d entries, at most %d are allowed", l.name, l.n, maxListLen)
		}
	}
	for _, t := range tr.Times {
		if t.StartMinute < 0 || t.StartMinute >= 1440 {
			return fmt.Errorf("times: start minute %d out of range 0..1439", t.StartMinute)
		}
		if t.EndMinute <= 0 || t.EndMinute > 1440 {
			return fmt.Errorf("times: end minute %d out of range 1..1440", t.EndMinute)
		}
		if t.EndMinute <= t.StartMinute {
			return fmt.Errorf("times: end (%s) must be after start (%s)", hm(t.EndMinute), hm(t.StartMinute))
		}
	}
	if err := checkRanges("weekdays", tr.Weekdays, 1, 7); err != nil {
		return err
	}
	if err := checkRanges("months", tr.Months, 1, 12); err != nil {
		return err
	}
	if err := checkRanges("years", tr.Years, 1, 9999); err != nil {
		return err
	}
	for _, r := range tr.DaysOfMonth {
		ok := func(d int) bool { return (d >= -31 && d <= -1) || (d >= 1 && d <= 31) }
		if !ok(r.Start) || !ok(r.End) {
			return fmt.Errorf("days_of_month: %d..%d: days must be in 1..31 or -31..-1", r.Start, r.End)
		}
		if (r.Start > 0) == (r.End > 0) && r.Start > r.End {
			return fmt.Errorf("days_of_month: start %d must not be after end %d", r.Start, r.End)
		}
		if r.Start < 0 && r.End > 0 {
			return fmt.Errorf("days_of_month: %d..%d: a range may not run from a day counted from the month end to one counted from its start", r.Start, r.End)
		}
	}
	return nil
}

func checkRanges(name string, rs []Range, lo, hi int) error {
	for _, r := range rs {
		if r.Start < lo || r.Start > hi || r.End < lo || r.End > hi {
			return fmt.Errorf("%s: %d..%d must be within %d..%d", name, r.Start, r.End, lo, hi)
		}
		if r.Start > r.End {
			return fmt.Errorf("%s: start %d must not be after end %d", name, r.Start, r.End)
		}
	}
	return nil
}

func hm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Contains reports whether the interval matches at t. It allocates
// nothing.
func (iv *Interval) Contains(t time.Time) bool {
	if len(iv.TimeRanges) == 0 {
		return false
	}
	loc := iv.loc
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	for i := range iv.TimeRanges {
		if iv.TimeRanges[i].contains(lt) {
			return true
		}
	}
	return false
}

func (tr *TimeRange) contains(t time.Time) bool {
	if len(tr.Times) > 0 {
		m := t.Hour()*60 + t.Minute()
		ok := false
		for _, w := range tr.Times {
			if m >= w.StartMinute && m < w.EndMinute {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(tr.Weekdays) > 0 {
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		if !inRanges(tr.Weekdays, wd) {
			return false
		}
	}
	y, mo, d := t.Date()
	if len(tr.Months) > 0 && !inRanges(tr.Months, int(mo)) {
		return false
	}
	if len(tr.Years) > 0 && !inRanges(tr.Years, y) {
		return false
	}
	if len(tr.DaysOfMonth) > 0 {
		dim := daysIn(y, mo)
		ok := false
		for _, r := range tr.DaysOfMonth {
			s, e := r.Start, r.End
			if s < 0 {
				s = dim + s + 1
			}
			if e < 0 {
				e = dim + e + 1
			}
			if s > dim {
				continue
			}
			s, e = max(s, 1), min(e, dim)
			if d >= s && d <= e {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func inRanges(rs []Range, v int) bool {
	for _, r := range rs {
		if v >= r.Start && v <= r.End {
			return true
		}
	}
	return false
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Covers reports whether the interval applies to an action of namespace
// and tenant: the same namespace, and the interval's tenant equal to the
// action's or a dot-separated ancestor ("acme" covers "acme.eu").
func (iv *Interval) Covers(namespace, tenant string) bool {
	return iv.Namespace == namespace && tenantCovers(iv.Tenant, tenant)
}

func tenantCovers(pattern, tenant string) bool {
	return pattern == tenant || (len(tenant) > len(pattern) && tenant[len(pattern)] == '.' && tenant[:len(pattern)] == pattern)
}
