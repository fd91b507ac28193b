package clickhouse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// appendQuoted appends s as a ClickHouse single-quoted string literal. Every
// byte outside printable ASCII, and the quote and backslash, is written as a
// \xHH escape, so the query text is pure ASCII whatever s holds (including
// NUL, newlines and invalid UTF-8) and the literal decodes to exactly s.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '\'' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return append(b, '\'')
}

// quote returns s as a ClickHouse string literal (see appendQuoted).
func quote(s string) string { return string(appendQuoted(nil, s)) }

// validIdent reports whether s can be used unquoted as a database or table
// name part: ASCII letters, digits and '_', not starting with a digit.
// Database and Prefix come from configuration, never from requests; they
// are still checked so that a typo cannot turn into SQL.
func validIdent(s string, allowEmpty bool) bool {
	if s == "" {
		return allowEmpty
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, and false when there is none (p empty or all 0xff bytes).
// ScanKeys uses [p, prefixEnd(p)) so the primary key index is used.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// RowBinary encoding: the wire format of INSERT bodies and SELECT results.
// Strings are a uvarint length then the bytes; integers are little endian.

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func appendI64(b []byte, v int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(v)) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// errShort is returned by reader on a truncated or malformed result.
var errShort = errors.New("truncated RowBinary result")

// reader decodes a RowBinary result. The first error sticks; methods
// return zero values after it.
type reader struct {
	b   []byte
	err error
}

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *reader) string() string {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > math.MaxInt32 || uint64(len(r.b)-k) < n {
		r.fail()
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) i64() int64 { return int64(r.u64()) }

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// done returns the sticky error, or an error if bytes are left over.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d unexpected bytes after RowBinary result", len(r.b))
	}
	return nil
}
