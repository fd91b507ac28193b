package timeinterval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"
)

// FileKey is the top-level key of interval definitions in YAML files of the
// rules directory (the form `acteon import alertmanager` writes to
// time-intervals.yaml).
const FileKey = "time_intervals"

// LoadDir reads the `time_intervals:` list of every .yaml/.yml file at the
// top level of dir, in file-name order. Each entry is
// {name, namespace, tenant, location?, description?, time_ranges: […]},
// validated like an API request. Files without the key contribute nothing.
// A duplicate (namespace, tenant, name) across files is an error. Every
// problem is reported, naming the file and the entry.
func LoadDir(dir string) ([]Interval, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("timeinterval: read %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if ext == ".yaml" || ext == ".yml" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var (
		out  []Interval
		errs []error
		seen = map[string]string{}
	)
	for _, name := range names {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		ivs, err := ParseFile(path, data)
		if err != nil {
			errs = append(errs, err)
		}
		for _, iv := range ivs {
			k := iv.Namespace + "/" + iv.Tenant + "/" + iv.Name
			if prev, dup := seen[k]; dup {
				errs = append(errs, fmt.Errorf("%s: time interval %s is also defined in %s", path, k, prev))
				continue
			}
			seen[k] = path
			out = append(out, iv)
		}
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return out, nil
}

// ParseFile reads the `time_intervals:` list of one YAML document (nil
// when the key is absent). It returns the valid entries and, when some are
// invalid, an error naming each of them. It never panics.
func ParseFile(path string, data []byte) (out []Interval, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%s: internal error while parsing time intervals: %v", path, r)
		}
	}()
	var doc struct {
		TimeIntervals []yaml.Node `yaml:"time_intervals"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// A file that is not a mapping is the rule loader's problem.
		return nil, nil
	}
	var errs []error
	for i := range doc.TimeIntervals {
		n := &doc.TimeIntervals[i]
		var iv Interval
		if err := n.Decode(&iv); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: time_intervals[%d]: %v", path, n.Line, i, err))
			continue
		}
		if err := iv.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: time_intervals[%d] (%q): %v", path, n.Line, i, iv.Name, err))
			continue
		}
		iv.CreatedBy = "file:" + filepath.Base(path)
		out = append(out, iv)
	}
	if len(errs) > 0 {
		return out, joinErrs(errs)
	}
	return out, nil
}
