// Package jsonw appends JSON fragments to byte slices without reflection,
// for the few hot paths that write JSON by hand (audit records and their
// batch bodies).
package jsonw

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Quote, backslash and control
// bytes are escaped; every other byte is copied as is, so multi-byte UTF-8
// passes through unchanged (and invalid UTF-8 is kept byte for byte, which
// storage backends that keep JSON strings verbatim rely on).
func AppendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
