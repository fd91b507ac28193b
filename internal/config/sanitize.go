package config

import (
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Sanitized returns a JSON-ready snapshot of the configuration for GET
// /admin/config, keyed by TOML names, with every Secret redacted. Provider
// tables are shown from Raw with values under secret-looking keys (token,
// password, key, secret, auth, headers, …) redacted, and passwords in URLs
// replaced. The result shares nothing with c.
func (c *Config) Sanitized() map[string]any {
	m, _ := sanitizeValue(reflect.ValueOf(c).Elem()).(map[string]any)
	return m
}

// sensitiveKey matches provider keys whose values must not be shown.
var sensitiveKey = regexp.MustCompile(`(?i)(secret|token|password|passwd|pass$|key|auth|credential|signature|header|cookie|dsn|webhook_url|private)`)

func sanitizeValue(v reflect.Value) any {
	if v.Type() == secretType {
		return Secret(v.String()).String()
	}
	if v.Type() == providerConfigType {
		p := v.Interface().(ProviderConfig)
		out := sanitizeRaw(p.Raw).(map[string]any)
		out["name"] = p.Name
		out["type"] = p.Type
		return out
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for k, fi := range fieldsOf(v.Type()) {
			if k != fi.name { // fieldsOf lists aliases too; emit each field once
				continue
			}
			f := v.Field(fi.index)
			if f.Kind() == reflect.Pointer && f.IsNil() {
				continue
			}
			out[fi.name] = sanitizeValue(f)
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return sanitizeValue(v.Elem())
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = sanitizeValue(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[it.Key().String()] = sanitizeValue(it.Value())
		}
		return out
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return sanitizeRaw(v.Interface())
	default:
		return nil
	}
}

// sanitizeRaw deep-copies a generic TOML value, redacting secret-looking
// keys and URL passwords.
func sanitizeRaw(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if sensitiveKey.MatchString(k) && !isEmptyValue(e) {
				out[k] = Redacted
				continue
			}
			out[k] = sanitizeRaw(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sanitizeRaw(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sanitizeRaw(e)
		}
		return out
	case string:
		return redactURLPassword(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	default:
		return v
	}
}

func isEmptyValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// redactURLPassword replaces the password of a URL and the values of
// secret-looking query parameters (token, key, secret, sig, …).
func redactURLPassword(s string) string {
	if !strings.Contains(s, "://") || (!strings.Contains(s, "@") && !strings.Contains(s, "?")) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			changed = true
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			// Unparseable query: hide it whole rather than risk a token.
			u.RawQuery = Redacted
			return u.String()
		}
		for k, vs := range q {
			if sensitiveKey.MatchString(k) || strings.EqualFold(k, "sig") || strings.EqualFold(k, "code") {
				for i := range vs {
					vs[i] = "xxxxx"
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return s
	}
	return u.String()
}
