package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
)

// rootKind is the first segment of a condition field path (spec §2.3).
type rootKind uint8

const (
	rootAction rootKind = iota
	rootTime
	rootNow
	rootEnv
)

// afield selects a field of the action root.
type afield uint8

const (
	afWhole afield = iota
	afID
	afNamespace
	afTenant
	afProvider
	afActionType
	afPayload
	afMetadata
	afDedupKey
	afStatus
	afFingerprint
	afTemplate
	afStartsAt
	afEndsAt
	afCreatedAt
	afTraceContext
	afAttachments
	afSignature
	afSignerID
	afKid
)

var actionFields = map[string]afield{
	"id": afID, "namespace": afNamespace, "tenant": afTenant, "provider": afProvider,
	"action_type": afActionType, "payload": afPayload, "metadata": afMetadata,
	"dedup_key": afDedupKey, "status": afStatus, "fingerprint": afFingerprint,
	"template": afTemplate, "starts_at": afStartsAt, "ends_at": afEndsAt,
	"created_at": afCreatedAt, "trace_context": afTraceContext,
	"attachments": afAttachments, "signature": afSignature, "signer_id": afSignerID,
	"kid": afKid,
}

// actionFieldNames are the keys of actionFields, index = afield ("" for
// afWhole).
var actionFieldNames = func() (names [afKid + 1]string) {
	for name, f := range actionFields {
		names[f] = name
	}
	return names
}()

// tfield selects a field of the time root.
type tfield uint8

const (
	tfWhole tfield = iota
	tfHour
	tfMinute
	tfSecond
	tfDay
	tfMonth
	tfYear
	tfWeekday
	tfWeekdayNum
	tfTimestamp
)

var timeFields = map[string]tfield{
	"hour": tfHour, "minute": tfMinute, "second": tfSecond, "day": tfDay,
	"month": tfMonth, "year": tfYear, "weekday": tfWeekday,
	"weekday_num": tfWeekdayNum, "timestamp": tfTimestamp,
}

// accessor is a field path compiled at load time into a direct read.
type accessor struct {
	root rootKind
	af   afield
	tf   tfield
	rest []string // map-key lookups after the root field
	path string   // source text, for display
}

// Path errors (load time).
var (
	errEmptyPath    = errors.New("empty field path")
	errEmptySegment = errors.New("empty segment in field path")
)

func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, errEmptyPath
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%w %q", errEmptySegment, p)
		}
	}
	return segs, nil
}

// compileAccessor validates an absolute path (action.*, time.*, now, env.*).
func compileAccessor(p string) (accessor, error) {
	segs, err := splitPath(p)
	if err != nil {
		return accessor{}, err
	}
	acc := accessor{path: p}
	switch segs[0] {
	case "action":
		acc.root = rootAction
		if len(segs) == 1 {
			acc.af = afWhole
			return acc, nil
		}
		f, ok := actionFields[segs[1]]
		if !ok {
			return accessor{}, fmt.Errorf("unknown action field %q in %q (fields: %s)", segs[1], p, strings.Join(sortedKeys(actionFields), ", "))
		}
		acc.af = f
		acc.rest = restSegs(segs[2:])
		switch f {
		case afPayload, afAttachments:
		case afMetadata, afTraceContext:
			if len(acc.rest) > 1 {
				return accessor{}, fmt.Errorf("%q: %s values are strings and have no fields", p, segs[1])
			}
		default:
			if len(acc.rest) > 0 {
				return accessor{}, fmt.Errorf("%q: action.%s is a string and has no fields", p, segs[1])
			}
		}
	case "time":
		acc.root = rootTime
		if len(segs) == 1 {
			return acc, nil
		}
		f, ok := timeFields[segs[1]]
		if !ok {
			return accessor{}, fmt.Errorf("unknown time field %q in %q (fields: %s)", segs[1], p, strings.Join(sortedKeys(timeFields), ", "))
		}
		if len(segs) > 2 {
			return accessor{}, fmt.Errorf("%q: time.%s has no fields", p, segs[1])
		}
		acc.tf = f
	case "now":
		acc.root = rootNow
		if len(segs) > 1 {
			return accessor{}, fmt.Errorf("%q: now is an int and has no fields", p)
		}
	case "env", "environment":
		acc.root = rootEnv
		if len(segs) > 2 {
			return accessor{}, fmt.Errorf("%q: environment values are strings and have no fields", p)
		}
		acc.rest = restSegs(segs[1:])
	default:
		return accessor{}, fmt.Errorf("unknown root %q in field path %q (roots are action, time, now, env)", segs[0], p)
	}
	return acc, nil
}

// restSegs is nil for no segments, so that an accessor without map-key
// lookups does not keep the split path's array alive.
func restSegs(segs []string) []string {
	if len(segs) == 0 {
		return nil
	}
	return segs
}

// get reads the field for one evaluation. It allocates only for the rare
// whole-object reads (action, time) and for timestamps.
func (acc *accessor) get(ec *evalCtx, r *Rule) (value, error) {
	var v value
	switch acc.root {
	case rootAction:
		a := ec.a
		switch acc.af {
		case afID:
			return strV(a.ID), nil
		case afNamespace:
			return strV(a.Namespace), nil
		case afTenant:
			return strV(a.Tenant), nil
		case afProvider:
			return strV(a.Provider), nil
		case afActionType:
			return strV(a.ActionType), nil
		case afDedupKey:
			return optStr(a.DedupKey), nil
		case afStatus:
			return optStr(a.Status), nil
		case afFingerprint:
			return optStr(a.Fingerprint), nil
		case afTemplate:
			return optStr(a.Template), nil
		case afSignature:
			return optStr(a.Signature), nil
		case afSignerID:
			return optStr(a.SignerID), nil
		case afKid:
			return optStr(a.Kid), nil
		case afCreatedAt:
			return strV(action.FormatTime(a.CreatedAt)), nil
		case afStartsAt:
			return optTime(a.StartsAt), nil
		case afEndsAt:
			return optTime(a.EndsAt), nil
		case afMetadata:
			if len(acc.rest) == 1 {
				s, ok := a.Metadata[acc.rest[0]]
				if !ok {
					return value{}, nil
				}
				return strV(s), nil
			}
			return value{k: vMap, x: nonNilSS(a.Metadata)}, nil
		case afTraceContext:
			if len(acc.rest) == 1 {
				s, ok := a.TraceContext[acc.rest[0]]
				if !ok {
					return value{}, nil
				}
				return strV(s), nil
			}
			return value{k: vMap, x: nonNilSS(a.TraceContext)}, nil
		case afPayload:
			v = toValue(a.Payload)
		case afAttachments:
			v = toValue(attachmentsJSON(a.Attachments))
		case afWhole:
			v = value{k: vMap, x: actionMap(a)}
		}
	case rootTime:
		t := ec.now.In(r.location())
		switch acc.tf {
		case tfHour:
			return intV(int64(t.Hour())), nil
		case tfMinute:
			return intV(int64(t.Minute())), nil
		case tfSecond:
			return intV(int64(t.Second())), nil
		case tfDay:
			return intV(int64(t.Day())), nil
		case tfMonth:
			return intV(int64(t.Month())), nil
		case tfYear:
			return intV(int64(t.Year())), nil
		case tfWeekday:
			return strV(t.Weekday().String()), nil
		case tfWeekdayNum:
			return intV(int64(weekdayNum(t.Weekday()))), nil
		case tfTimestamp:
			return intV(ec.now.Unix()), nil
		}
		return value{k: vMap, x: timeMap(ec.now, r.location())}, nil
	case rootNow:
		return intV(ec.now.Unix()), nil
	case rootEnv:
		if len(acc.rest) == 0 {
			return value{k: vMap, x: emptySS}, nil
		}
		return value{}, nil // the environment is always empty
	}
	for _, seg := range acc.rest {
		var err error
		if v, err = v.field(seg); err != nil {
			return value{}, err
		}
	}
	return v, nil
}

var emptySS = map[string]string{}

func nonNilSS(m map[string]string) map[string]string {
	if m == nil {
		return emptySS
	}
	return m
}

func optTime(t *time.Time) value {
	if t == nil {
		return value{}
	}
	return strV(action.FormatTime(*t))
}

func weekdayNum(d time.Weekday) int {
	if d == time.Sunday {
		return 7
	}
	return int(d)
}

// timeMap is the `time` root (spec §2.3) in loc.
func timeMap(now time.Time, loc *time.Location) map[string]any {
	t := now.In(loc)
	return map[string]any{
		"hour": int64(t.Hour()), "minute": int64(t.Minute()), "second": int64(t.Second()),
		"day": int64(t.Day()), "month": int64(t.Month()), "year": int64(t.Year()),
		"weekday": t.Weekday().String(), "weekday_num": int64(weekdayNum(t.Weekday())),
		"timestamp": now.Unix(),
	}
}

func attachmentsJSON(as []action.Attachment) any {
	if len(as) == 0 {
		return nil
	}
	out := make([]any, len(as))
	for i, at := range as {
		out[i] = map[string]any{
			"id": at.ID, "name": at.Name, "filename": at.Filename,
			"content_type": at.ContentType, "data_base64": at.DataBase64,
		}
	}
	return out
}

// actionMap is the JSON view of an action (spec §2.3) as decoded values:
// optional strings are nil when unset, attachments and signature fields are
// absent when unset.
func actionMap(a *action.Action) map[string]any {
	m := make(map[string]any, 20)
	m["id"] = a.ID
	m["namespace"] = a.Namespace
	m["tenant"] = a.Tenant
	m["provider"] = a.Provider
	m["action_type"] = a.ActionType
	m["payload"] = a.Payload
	m["metadata"] = nonNilSS(a.Metadata)
	m["dedup_key"] = optAny(a.DedupKey)
	m["status"] = optAny(a.Status)
	m["fingerprint"] = optAny(a.Fingerprint)
	m["template"] = optAny(a.Template)
	m["starts_at"] = optTimeAny(a.StartsAt)
	m["ends_at"] = optTimeAny(a.EndsAt)
	m["created_at"] = action.FormatTime(a.CreatedAt)
	m["trace_context"] = nonNilSS(a.TraceContext)
	if at := attachmentsJSON(a.Attachments); at != nil {
		m["attachments"] = at
	}
	if a.Signature != "" {
		m["signature"] = a.Signature
	}
	if a.SignerID != "" {
		m["signer_id"] = a.SignerID
	}
	if a.Kid != "" {
		m["kid"] = a.Kid
	}
	return m
}

func optAny(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func optTimeAny(t *time.Time) any {
	if t == nil {
		return nil
	}
	return action.FormatTime(*t)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ---------------------------------------------------------------------------
// Relative paths: throttle key_fields, group_by, fingerprint_fields.

var relTopFields = map[string]bool{
	"id": true, "namespace": true, "tenant": true, "provider": true, "action_type": true,
	"status": true, "dedup_key": true, "fingerprint": true, "template": true,
}

// ValidateFieldPath reports whether path is a relative action path that
// FieldValue understands: id, namespace, tenant, provider, action_type,
// status, dedup_key, fingerprint, template, metadata.<label>, payload or
// payload.<dot.path>.
func ValidateFieldPath(path string) error {
	if path == "" {
		return errEmptyPath
	}
	if relTopFields[path] || path == "payload" {
		return nil
	}
	if k, ok := strings.CutPrefix(path, "metadata."); ok {
		if k == "" {
			return fmt.Errorf("%w %q", errEmptySegment, path)
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(path, "payload."); ok {
		if _, err := splitPath(rest); err != nil {
			return fmt.Errorf("%w %q", errEmptySegment, path)
		}
		return nil
	}
	hint := ""
	if strings.HasPrefix(path, "action.") {
		hint = " (these paths are relative: drop the \"action.\" prefix)"
	}
	return fmt.Errorf("unknown field %q%s; want one of id, namespace, tenant, provider, action_type, status, dedup_key, fingerprint, template, metadata.<label>, payload.<path>", path, hint)
}

// FieldValue renders a relative action path (see ValidateFieldPath) as
// spec 01 §1.3 does: strings raw, numbers and bools as JSON text, objects
// and arrays as compact JSON; null, missing and empty optional fields report
// false. Numeric payload segments index arrays. Unknown paths report false.
func FieldValue(a *action.Action, path string) (string, bool) {
	if a == nil {
		return "", false
	}
	switch path {
	case "id":
		return a.ID, true
	case "namespace":
		return a.Namespace, true
	case "tenant":
		return a.Tenant, true
	case "provider":
		return a.Provider, true
	case "action_type":
		return a.ActionType, true
	case "status":
		return a.Status, a.Status != ""
	case "dedup_key":
		return a.DedupKey, a.DedupKey != ""
	case "fingerprint":
		return a.Fingerprint, a.Fingerprint != ""
	case "template":
		return a.Template, a.Template != ""
	case "payload":
		return renderJSONValue(a.Payload)
	}
	if k, ok := strings.CutPrefix(path, "metadata."); ok {
		s, ok := a.Metadata[k]
		return s, ok
	}
	rest, ok := strings.CutPrefix(path, "payload.")
	if !ok {
		return "", false
	}
	cur := a.Payload
	for rest != "" {
		seg := rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		switch t := cur.(type) {
		case map[string]any:
			cur, ok = t[seg]
			if !ok {
				return "", false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return "", false
			}
			cur = t[i]
		default:
			return "", false
		}
	}
	return renderJSONValue(cur)
}

func renderJSONValue(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		return t, true
	case json.Number:
		return string(t), true
	case bool:
		return strconv.FormatBool(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.Itoa(t), true
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}
