package config

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is one configuration problem: a TOML syntax error, a value of the
// wrong type, or a value that fails validation. Load and Parse return all
// problems at once, joined with errors.Join; use errors.As to get at each
// *Error.
type Error struct {
	// File is the config file's path as given to Load (or Parse's file).
	File string
	// Line is 1-based; 0 when unknown.
	Line int
	// Col is 1-based and set only for syntax errors.
	Col int
	// Path is the dotted TOML path of the offending key, e.g.
	// "providers[2].type"; empty for syntax errors.
	Path string
	// Msg says what is wrong, naming the bad value.
	Msg string
	// Err is the underlying error (a toml.ParseError for syntax errors).
	Err error
}

// Error formats the problem as "file:line: path: msg".
func (e *Error) Error() string {
	return location(e.File, e.Line) + prefixPath(e.Path) + e.Msg
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

func location(file string, line int) string {
	if file == "" {
		file = "config"
	}
	if line > 0 {
		return file + ":" + strconv.Itoa(line) + ": "
	}
	return file + ": "
}

func prefixPath(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// Warning is a problem that does not stop the load: today, a key this build
// does not know (decision D24). `acteon check-config --strict` turns warnings
// into errors (see Warnings.AsErrors).
type Warning struct {
	File string
	Line int
	// Path is the dotted TOML path of the key.
	Path string
	// Msg is the whole message, e.g. "unknown key llm_guardrail.model".
	Msg string
}

// String formats the warning as "file:line: msg".
func (w Warning) String() string { return location(w.File, w.Line) + w.Msg }

// Error makes a Warning usable as an error (for strict mode).
func (w Warning) Error() string { return w.String() }

// Warnings is a list of warnings.
type Warnings []Warning

// AsErrors joins the warnings into one error, or returns nil when there are
// none. check-config --strict uses it to fail on unknown keys.
func (ws Warnings) AsErrors() error {
	if len(ws) == 0 {
		return nil
	}
	errs := make([]error, len(ws))
	for i, w := range ws {
		errs[i] = w
	}
	return errors.Join(errs...)
}

// ErrNotFound is wrapped by Load when the config file does not exist.
var ErrNotFound = errors.New("config: file not found")

func notFound(path string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrNotFound, path, err)
}
