package clickhouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
)

// appendRow appends r as one JSONEachRow line, its fields in the order of
// columns. Times are written as epoch milliseconds (truncated, D20).
func appendRow(b []byte, r *audit.Record) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"action_id":`...)
	b = appendJSONString(b, r.ActionID)
	b = append(b, `,"chain_id":`...)
	b = appendOptString(b, r.ChainID)
	b = append(b, `,"namespace":`...)
	b = appendJSONString(b, r.Namespace)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, r.Tenant)
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, r.Provider)
	b = append(b, `,"action_type":`...)
	b = appendJSONString(b, r.ActionType)
	b = append(b, `,"verdict":`...)
	b = appendJSONString(b, r.Verdict)
	b = append(b, `,"matched_rule":`...)
	b = appendOptString(b, r.MatchedRule)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, r.Outcome)
	b = append(b, `,"action_payload":`...)
	if r.ActionPayload == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONBytes(b, r.ActionPayload)
	}
	b = append(b, `,"verdict_details":`...)
	b = appendJSONBytes(b, r.VerdictDetails)
	b = append(b, `,"outcome_details":`...)
	b = appendJSONBytes(b, r.OutcomeDetails)
	b = append(b, `,"metadata":`...)
	b = appendJSONBytes(b, encodeMetadata(r.Metadata))
	b = append(b, `,"dispatched_at_ms":`...)
	b = strconv.AppendInt(b, millis(r.DispatchedAt), 10)
	b = append(b, `,"completed_at_ms":`...)
	b = strconv.AppendInt(b, millis(r.CompletedAt), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendUint(b, r.DurationMs, 10)
	b = append(b, `,"expires_at_ms":`...)
	if r.ExpiresAt == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, millis(*r.ExpiresAt), 10)
	}
	b = append(b, `,"caller_id":`...)
	b = appendJSONString(b, r.CallerID)
	b = append(b, `,"auth_method":`...)
	b = appendJSONString(b, r.AuthMethod)
	b = append(b, `,"record_hash":`...)
	b = appendOptString(b, r.RecordHash)
	b = append(b, `,"previous_hash":`...)
	b = appendOptString(b, r.PreviousHash)
	b = append(b, `,"sequence_number":`...)
	if r.SequenceNumber == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, *r.SequenceNumber, 10)
	}
	b = append(b, `,"attachment_metadata":`...)
	b = appendJSONBytes(b, encodeAttachments(r.AttachmentMetadata))
	b = append(b, `,"signature":`...)
	b = appendOptString(b, r.Signature)
	b = append(b, `,"signer_id":`...)
	b = appendOptString(b, r.SignerID)
	b = append(b, `,"kid":`...)
	b = appendOptString(b, r.Kid)
	b = append(b, `,"canonical_hash":`...)
	b = appendOptString(b, r.CanonicalHash)
	return append(b, "}\n"...)
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// millis is t in epoch milliseconds, rounded down, the precision every
// backend stores (D20).
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is the UTC time of epoch milliseconds ms.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// encodeMetadata is the metadata column's JSON: an object, "{}" when empty.
func encodeMetadata(m map[string]string) []byte {
	if len(m) == 0 {
		return []byte("{}")
	}
	b, err := json.Marshal(m)
	if err != nil { // cannot happen for map[string]string
		return []byte("{}")
	}
	return b
}

// encodeAttachments is the attachment_metadata column's JSON array. An
// element that is not valid JSON is stored as a JSON string of its text
// rather than failing the batch, which the writer would retry for ever.
func encodeAttachments(as []json.RawMessage) []byte {
	if len(as) == 0 {
		return []byte("[]")
	}
	b := []byte{'['}
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		if json.Valid(a) {
			b = append(b, bytes.TrimSpace(a)...)
		} else {
			s, _ := json.Marshal(string(a)) // a string always marshals
			b = append(b, s...)
		}
	}
	return append(b, ']')
}

// errColumns: a row of the answer does not have one field per column.
var errColumns = errors.New("wrong number of fields")

// parseRows decodes a TabSeparated answer whose rows are the columns, in
// order, into records.
func parseRows(body []byte, out []audit.Record) ([]audit.Record, error) {
	var fields [][]byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		fields = splitTabs(fields[:0], line)
		if len(fields) != len(columns) {
			return out, fmt.Errorf("row %d: %d fields, want %d: %w", len(out)+1, len(fields), len(columns), errColumns)
		}
		r, err := parseRecord(fields)
		if err != nil {
			return out, fmt.Errorf("row %d: %w", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func splitTabs(dst [][]byte, line []byte) [][]byte {
	for {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

// fieldReader decodes the fields of one row in column order, remembering
// the first error.
type fieldReader struct {
	f   [][]byte
	i   int
	err error
}

func (fr *fieldReader) fail(err error) {
	if fr.err == nil {
		fr.err = fmt.Errorf("column %s: %w", columns[fr.i-1].name, err)
	}
}

// raw returns the next field unescaped, and false for NULL.
func (fr *fieldReader) raw() ([]byte, bool) {
	f := fr.f[fr.i]
	fr.i++
	if string(f) == tsvNull {
		return nil, false
	}
	v, err := unescapeTSV(f)
	if err != nil {
		fr.fail(err)
		return nil, false
	}
	return v, true
}

func (fr *fieldReader) str() string {
	v, _ := fr.raw()
	return string(v)
}

func (fr *fieldReader) optStr() *string {
	v, ok := fr.raw()
	if !ok {
		return nil
	}
	s := string(v)
	return &s
}

func (fr *fieldReader) json() json.RawMessage {
	v, ok := fr.raw()
	if !ok || len(v) == 0 {
		return nil
	}
	return json.RawMessage(bytes.Clone(v))
}

func (fr *fieldReader) optInt() *int64 {
	v, ok := fr.raw()
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		fr.fail(err)
	}
	return &n
}

func (fr *fieldReader) int() int64 {
	if p := fr.optInt(); p != nil {
		return *p
	}
	fr.fail(errors.New("unexpected NULL"))
	return 0
}

func (fr *fieldReader) optUint() *uint64 {
	v, ok := fr.raw()
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		fr.fail(err)
	}
	return &n
}

// parseRecord decodes one row's fields (one per column, in order).
func parseRecord(fields [][]byte) (audit.Record, error) {
	fr := &fieldReader{f: fields}
	var r audit.Record
	r.ID = fr.str()
	r.ActionID = fr.str()
	r.ChainID = fr.optStr()
	r.Namespace = fr.str()
	r.Tenant = fr.str()
	r.Provider = fr.str()
	r.ActionType = fr.str()
	r.Verdict = fr.str()
	r.MatchedRule = fr.optStr()
	r.Outcome = fr.str()
	if v, ok := fr.raw(); ok {
		r.ActionPayload = json.RawMessage(bytes.Clone(v))
	}
	r.VerdictDetails = fr.json()
	r.OutcomeDetails = fr.json()
	if v, _ := fr.raw(); len(v) > 0 && string(v) != "{}" {
		if err := json.Unmarshal(v, &r.Metadata); err != nil {
			fr.fail(err)
		}
	}
	r.DispatchedAt = fromMillis(fr.int())
	r.CompletedAt = fromMillis(fr.int())
	if d := fr.optUint(); d != nil {
		r.DurationMs = *d
	}
	if e := fr.optInt(); e != nil {
		t := fromMillis(*e)
		r.ExpiresAt = &t
	}
	r.CallerID = fr.str()
	r.AuthMethod = fr.str()
	r.RecordHash = fr.optStr()
	r.PreviousHash = fr.optStr()
	r.SequenceNumber = fr.optUint()
	if v, _ := fr.raw(); len(v) > 0 && string(v) != "[]" {
		if err := json.Unmarshal(v, &r.AttachmentMetadata); err != nil {
			fr.fail(err)
		}
	}
	r.Signature = fr.optStr()
	r.SignerID = fr.optStr()
	r.Kid = fr.optStr()
	r.CanonicalHash = fr.optStr()
	return r, fr.err
}
