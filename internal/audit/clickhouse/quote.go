package clickhouse

import (
	"errors"
	"github.com/acteon/acteon-go/internal/jsonw"
	"strconv"
)

// This file holds every escaping rule the backend relies on. Nothing the
// caller passes reaches SQL text or a request body except through these
// helpers.

// appendQuoted appends s as a ClickHouse string literal: in single quotes,
// with backslash and quote escaped, and NUL written as \0 so that no raw
// zero byte enters a query. Every other byte, valid UTF-8 or not, stands
// for itself inside a literal.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\'':
			b = append(b, '\\', '\'')
		case 0:
			b = append(b, '\\', '0')
		default:
			b = append(b, c)
		}
	}
	return append(b, '\'')
}

// quote returns s as a ClickHouse string literal (see appendQuoted).
func quote(s string) string { return string(appendQuoted(nil, s)) }

// quoteIdent returns an identifier in backquotes. Config.Validate admits
// only [A-Za-z0-9_] names; the escaping is a second line of defence.
func quoteIdent(s string) string {
	b := []byte{'`'}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '`' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, c)
		}
	}
	return string(append(b, '`'))
}

// appendJSONString appends s as a JSON string for a JSONEachRow body.
// ClickHouse stores the bytes of a JSON string verbatim, so jsonw keeps
// invalid UTF-8 exactly, unlike encoding/json.
func appendJSONString(b []byte, s string) []byte { return jsonw.AppendString(b, s) }

// appendJSONBytes is appendJSONString for a byte slice.
func appendJSONBytes(b, s []byte) []byte { return jsonw.AppendString(b, s) }

// errTSV: a TabSeparated answer that does not parse.
var errTSV = errors.New("malformed TabSeparated answer")

// tsvNull is how TabSeparated writes NULL.
const tsvNull = `\N`

// unescapeTSV decodes one TabSeparated field as ClickHouse escapes it:
// \b \f \n \r \t \0 \' \\ and \xHH; any other escaped byte stands for
// itself. The field must not be \N (the caller checks for NULL first). A
// field without backslashes is returned without copying.
func unescapeTSV(f []byte) ([]byte, error) {
	i := 0
	for i < len(f) && f[i] != '\\' {
		i++
	}
	if i == len(f) {
		return f, nil
	}
	out := make([]byte, i, len(f))
	copy(out, f[:i])
	for ; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(f) {
			return nil, errTSV // dangling backslash
		}
		switch e := f[i]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case 'a':
			out = append(out, '\a')
		case 'v':
			out = append(out, '\v')
		case 'x':
			if i+2 >= len(f) {
				return nil, errTSV
			}
			v, err := strconv.ParseUint(string(f[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, errTSV
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, e)
		}
	}
	return out, nil
}
