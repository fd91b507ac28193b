package audit

import "errors"

// ErrUnavailable: the audit backend cannot be reached (refused, reset,
// timed out). Backends wrap it around connectivity failures so callers can
// tell "try again later" (HTTP 503) from a bad request or a bug.
var ErrUnavailable = errors.New("audit: backend unavailable")
