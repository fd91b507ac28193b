package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/acteon/acteon-go/internal/audit"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		fields  []string
		want    string
	}{
		{
			name:    "key name anywhere, case-insensitive",
			payload: `{"Password":"p1","user":{"password":"p2","name":"ann"}}`,
			fields:  []string{"PASSWORD"},
			want:    `{"Password":"[REDACTED]","user":{"password":"[REDACTED]","name":"ann"}}`,
		},
		{
			name:    "dotted path from the root only",
			payload: `{"user":{"token":"t1"},"other":{"token":"t2"},"token":"t3"}`,
			fields:  []string{"user.token"},
			want:    `{"user":{"token":"[REDACTED]"},"other":{"token":"t2"},"token":"t3"}`,
		},
		{
			name:    "dotted path matches case-insensitively",
			payload: `{"User":{"Token":"t1"}}`,
			fields:  []string{"user.TOKEN"},
			want:    `{"User":{"Token":"[REDACTED]"}}`,
		},
		{
			name:    "arrays keep the parent path",
			payload: `{"items":[{"card":"4111","qty":1},{"card":"5500","qty":2}],"card":"x"}`,
			fields:  []string{"items.card"},
			want:    `{"items":[{"card":"[REDACTED]","qty":1},{"card":"[REDACTED]","qty":2}],"card":"x"}`,
		},
		{
			name:    "nested arrays keep the parent path too",
			payload: `{"a":[[{"b":1}],[{"b":2,"c":3}]]}`,
			fields:  []string{"a.b"},
			want:    `{"a":[[{"b":"[REDACTED]"}],[{"b":"[REDACTED]","c":3}]]}`,
		},
		{
			name:    "a redacted subtree is replaced whole",
			payload: `{"secret":{"inner":{"deep":[1,2]},"password":"x"},"keep":true}`,
			fields:  []string{"secret"},
			want:    `{"secret":"[REDACTED]","keep":true}`,
		},
		{
			name:    "top-level array of objects",
			payload: `[{"ssn":"1"},{"ssn":"2"}]`,
			fields:  []string{"ssn"},
			want:    `[{"ssn":"[REDACTED]"},{"ssn":"[REDACTED]"}]`,
		},
		{
			name:    "key order, numbers and escapes are kept",
			payload: `{"z":1.50,"a":1e3,"m":"line\nbreak","pw":null}`,
			fields:  []string{"pw"},
			want:    `{"z":1.50,"a":1e3,"m":"line\nbreak","pw":"[REDACTED]"}`,
		},
		{
			name:    "no match leaves values alone",
			payload: `{"a":{"b":[1,{"c":"d"}]}}`,
			fields:  []string{"x"},
			want:    `{"a":{"b":[1,{"c":"d"}]}}`,
		},
		{
			name:    "a prefix of a key is not a match",
			payload: `{"passwords":"x","pass":"y"}`,
			fields:  []string{"password"},
			want:    `{"passwords":"x","pass":"y"}`,
		},
		{
			name:    "scalar payload is unchanged",
			payload: `"password"`,
			fields:  []string{"password"},
			want:    `"password"`,
		},
		{
			name:    "invalid JSON is replaced whole",
			payload: `{"password":"x"`,
			fields:  []string{"password"},
			want:    `"[REDACTED]"`,
		},
		{
			name:    "trailing data is invalid",
			payload: `{"a":1} {"password":"x"}`,
			fields:  []string{"password"},
			want:    `"[REDACTED]"`,
		},
		{
			name:    "whitespace is dropped when something is redacted",
			payload: " {\n  \"pw\" : \"x\",\n  \"a\" : [ 1 , 2 ]\n} ",
			fields:  []string{"pw"},
			want:    `{"pw":"[REDACTED]","a":[1,2]}`,
		},
		{
			name:    "escaped keys are matched unescaped",
			payload: `{"pass\u0077ord":"x","caf\u00e9":{"K":1}}`,
			fields:  []string{"password", "café.k"},
			want:    `{"pass\u0077ord":"[REDACTED]","caf\u00e9":{"K":"[REDACTED]"}}`,
		},
		{
			name:    "non-ASCII keys fold case",
			payload: `{"ÉTÉ":{"x":1}}`,
			fields:  []string{"été"},
			want:    `{"ÉTÉ":"[REDACTED]"}`,
		},
		{
			name:    "invalid scalar is replaced whole",
			payload: `password`,
			fields:  []string{"password"},
			want:    `"[REDACTED]"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.Redact(json.RawMessage(tc.payload), tc.fields, "")
			if string(got) != tc.want {
				t.Fatalf("Redact(%s, %q)\n got %s\nwant %s", tc.payload, tc.fields, got, tc.want)
			}
		})
	}
}

func TestRedactNoFieldsOrPayload(t *testing.T) {
	p := json.RawMessage(`{ "password" : "x" }`)
	if got := audit.Redact(p, nil, ""); !bytes.Equal(got, p) {
		t.Errorf("Redact without fields = %s, want the payload unchanged", got)
	}
	if got := audit.Redact(nil, []string{"password"}, ""); got != nil {
		t.Errorf("Redact(nil) = %s, want nil", got)
	}
	if got := audit.Redact(json.RawMessage(`{"password":"x"}`), []string{"password"}, "***"); string(got) != `{"password":"***"}` {
		t.Errorf("custom placeholder: got %s", got)
	}
}

// captureStore records what reaches it.
type captureStore struct {
	audit.Store // nil: only Append is called
	got         []audit.Record
}

func (c *captureStore) Append(_ context.Context, rs []audit.Record) error {
	c.got = append(c.got, rs...)
	return nil
}

func TestRedactingStoreNeverPassesSecrets(t *testing.T) {
	inner := &captureStore{}
	s := audit.NewRedacting(inner, []string{"password", "card.number"}, "")
	orig := json.RawMessage(`{"user":"ann","password":"hunter2","card":{"number":"4111-1111","exp":"12/30"}}`)
	recs := []audit.Record{
		{ID: "1", ActionPayload: orig},
		{ID: "2"}, // no payload
	}
	if err := s.Append(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if len(inner.got) != 2 {
		t.Fatalf("inner store got %d records, want 2", len(inner.got))
	}
	for _, secret := range []string{"hunter2", "4111-1111"} {
		for _, r := range inner.got {
			if bytes.Contains(r.ActionPayload, []byte(secret)) {
				t.Errorf("secret %q reached the inner store: %s", secret, r.ActionPayload)
			}
		}
	}
	if want := `{"user":"ann","password":"[REDACTED]","card":{"number":"[REDACTED]","exp":"12/30"}}`; string(inner.got[0].ActionPayload) != want {
		t.Errorf("stored payload = %s, want %s", inner.got[0].ActionPayload, want)
	}
	if !bytes.Equal(recs[0].ActionPayload, orig) || !bytes.Contains(recs[0].ActionPayload, []byte("hunter2")) {
		t.Errorf("the caller's record was modified: %s", recs[0].ActionPayload)
	}
	if inner.got[1].ActionPayload != nil {
		t.Errorf("empty payload became %s", inner.got[1].ActionPayload)
	}
}

func TestNewRedactingWithoutFieldsIsInner(t *testing.T) {
	inner := &captureStore{}
	if s := audit.NewRedacting(inner, nil, ""); s != audit.Store(inner) {
		t.Errorf("NewRedacting without fields wrapped the store")
	}
}

func FuzzRedact(f *testing.F) {
	f.Add([]byte(`{"password":"x","a":[{"b":{"password":1}}]}`), "password")
	f.Add([]byte(`[1,"two",{"a.b":{"c":null}}]`), "a.b")
	f.Add([]byte(`{"a":`), "a")
	f.Add([]byte(`  {"A" : {"B": 2} }  `), "a.b")
	f.Fuzz(func(t *testing.T, payload []byte, field string) {
		got := audit.Redact(payload, []string{field}, "")
		if len(payload) == 0 || field == "" {
			return // nothing to redact: the payload is returned as it came
		}
		if !json.Valid(got) {
			t.Fatalf("Redact(%q, %q) = %q, not valid JSON", payload, field, got)
		}
		if !json.Valid(payload) && string(got) != `"[REDACTED]"` {
			t.Fatalf("Redact(%q, %q) = %q; invalid JSON must be replaced whole", payload, field, got)
		}
		if json.Valid(payload) && !bytes.Contains(got, []byte("[REDACTED]")) {
			// Nothing was redacted: the value must mean the same.
			var a, b any
			_ = json.Unmarshal(payload, &a)
			_ = json.Unmarshal(got, &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("Redact(%q, %q) = %q changed the payload without redacting", payload, field, got)
			}
		}
	})
}

func TestRedactDeepNesting(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 2000) + "1" + strings.Repeat("}", 2000)
	if got := audit.Redact(json.RawMessage(deep), []string{"password"}, ""); string(got) != `"[REDACTED]"` {
		t.Errorf("payload nested 2000 deep = %.40s…, want it replaced whole", got)
	}
	ok := strings.Repeat("[", 999) + strings.Repeat("]", 999)
	if got := audit.Redact(json.RawMessage(ok), []string{"password"}, ""); string(got) != ok {
		t.Errorf("payload nested 999 deep was changed")
	}
}
