package config

import (
	"fmt"
	"log/slog"
)

// Redacted is what a non-empty Secret prints as.
const Redacted = "[REDACTED]"

// Secret is a string that never prints itself: String, MarshalText (and so
// encoding/json, TOML and fmt's %v and %s) and slog's LogValue all give
// "[REDACTED]" when it is non-empty and "" when empty. Call Reveal to get
// the value. Decode reads it from a TOML string.
//
// Code that needs the value (an HMAC key, a connection URL) calls Reveal at
// the point of use and must not log the result.
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

// Format implements fmt.Formatter so that every verb (%v, %#v, %x, %d, …)
// prints the redacted form, never the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
