package action

import (
	"encoding/json"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte(fullBody))
	f.Add([]byte(`{"namespace":"n","tenant":"t","provider":"p","action_type":"x","payload":null}`))
	f.Add([]byte(`{"metadata":{"labels":{"a":"b"}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode again.
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("encode of decoded action failed: %v", err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("re-decode failed: %v\n%s", err, b)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`[` + fullBody + `,{}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		acts, errs, err := DecodeBatch(data)
		if err != nil {
			return
		}
		if len(acts) != len(errs) {
			t.Fatalf("slots differ: %d actions, %d errors", len(acts), len(errs))
		}
	})
}
