package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMiddleware measures authenticating one request, with 10 API
// keys configured (every key is compared) or a JWT (signature check plus
// one state read of the token id, memory backend).
func BenchmarkMiddleware(b *testing.B) {
	keys := map[string]string{}
	for i := 0; i < 10; i++ {
		keys["k"+string(rune('a'+i))] = "raw-key-" + string(rune('a'+i))
	}
	f := newFixture(b, keys)
	tok, _, _ := f.a.Login(b.Context(), "alice", "wonderland")
	h := f.a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct{ name, header, value string }{
		{"api_key", "X-API-Key", "raw-key-e"},
		{"jwt", "Authorization", "Bearer " + tok},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/v1/audit", nil)
			r.Header.Set(c.header, c.value)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}
