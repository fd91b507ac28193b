package config

import "log/slog"

// Redacted is what a non-empty Secret prints as.
const Redacted = "[REDACTED]"

// Secret is a string that never prints itself: String, MarshalText (and so
// encoding/json, TOML and fmt's %v and %s) and slog's LogValue all give
// "[REDACTED]" when it is non-empty and "" when empty. Call Reveal to get
// the value. Decode reads it from a TOML string.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer, so %#v redacts too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
