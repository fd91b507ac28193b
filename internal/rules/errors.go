package rules

import (
	"errors"
	"strconv"
	"strings"
)

// LoadError is one problem found while loading rules. Its text is
// "file:line: rule \"name\": msg", leaving out the parts that are unknown.
// LoadDir and ParseFile return every LoadError of a load joined with
// errors.Join; use errors.As or LoadErrors to get them back.
type LoadError struct {
	File string
	Line int
	Rule string
	Msg  string
}

// Error implements error.
func (e *LoadError) Error() string { return formatDiag(e.File, e.Line, e.Rule, e.Msg) }

// Warning is a problem that does not stop a load (an unknown rule key, a
// dedup TTL of 0, …).
type Warning struct {
	File string
	Line int
	Rule string
	Msg  string
}

// String renders the warning as "file:line: rule \"x\": msg".
func (w Warning) String() string { return formatDiag(w.File, w.Line, w.Rule, w.Msg) }

func formatDiag(file string, line int, rule, msg string) string {
	var b strings.Builder
	pos := posString(file, line)
	if pos != "" {
		b.WriteString(pos)
		b.WriteString(": ")
	}
	if rule != "" {
		b.WriteString("rule ")
		b.WriteString(strconv.Quote(rule))
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return b.String()
}

func posString(file string, line int) string {
	switch {
	case file != "" && line > 0:
		return file + ":" + strconv.Itoa(line)
	case file != "":
		return file
	case line > 0:
		return "line " + strconv.Itoa(line)
	}
	return ""
}

func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// LoadErrors extracts the *LoadError values from an error returned by
// LoadDir, ParseFile or NewSet.
func LoadErrors(err error) []*LoadError {
	var out []*LoadError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if le, ok := e.(*LoadError); ok {
			out = append(out, le)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var le *LoadError
		if errors.As(e, &le) {
			out = append(out, le)
		}
	}
	walk(err)
	return out
}
