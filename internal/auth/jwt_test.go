package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	jwtSecret = []byte("0123456789abcdef0123456789abcdef")
	jwtNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func testClaims() Claims {
	return Claims{Sub: "alice", JTI: "j-1", Role: RoleOperator, Exp: jwtNow.Add(time.Hour).Unix(),
		Grants: []Grant{{Tenants: []string{"acme"}, Namespaces: []string{"*"}, Actions: []string{"*"}}}}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw signs header.payload with HS256 whatever the header says.
func signRaw(header, payload string, secret []byte) string {
	si := b64(header) + "." + b64(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(si))
	return si + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestJWTRoundTrip(t *testing.T) {
	tok, err := SignJWT(testClaims(), jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseJWT(tok, jwtSecret, jwtNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sub != "alice" || c.JTI != "j-1" || c.Role != RoleOperator || len(c.Grants) != 1 || c.Grants[0].Tenants[0] != "acme" {
		t.Errorf("claims = %+v", c)
	}
}

func TestJWTRejects(t *testing.T) {
	good, _ := SignJWT(testClaims(), jwtSecret)
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	expired := testClaims()
	expired.Exp = jwtNow.Unix()
	expiredTok, _ := SignJWT(expired, jwtSecret)
	upper := testClaims()
	upper.Role = "ROOT"
	badRole, _ := SignJWT(upper, jwtSecret)
	noJTI := testClaims()
	noJTI.JTI = ""
	noJTITok, _ := SignJWT(noJTI, jwtSecret)

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"expired (exp == now)", expiredTok, ErrTokenExpired},
		{"bad signature", parts[0] + "." + parts[1] + "." + b64("not the signature at all, 32 b"), ErrTokenSignature},
		{"signed with another secret", signRaw(`{"alg":"HS256","typ":"JWT"}`, string(payload), []byte("another secret of enough length")), ErrTokenSignature},
		{"alg none, empty signature", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", ErrTokenAlgorithm},
		{"alg none, no signature part", b64(`{"alg":"none"}`) + "." + parts[1], ErrTokenMalformed},
		{"alg None", b64(`{"alg":"None"}`) + "." + parts[1] + "." + parts[2], ErrTokenAlgorithm},
		{"alg HS512 with HS256 mac", signRaw(`{"alg":"HS512"}`, string(payload), jwtSecret), ErrTokenAlgorithm},
		{"alg RS256 (key confusion)", signRaw(`{"alg":"RS256"}`, string(payload), jwtSecret), ErrTokenAlgorithm},
		{"alg hs256 lower case", signRaw(`{"alg":"hs256"}`, string(payload), jwtSecret), ErrTokenAlgorithm},
		{"no alg", signRaw(`{"typ":"JWT"}`, string(payload), jwtSecret), ErrTokenMalformed},
		{"crit header", signRaw(`{"alg":"HS256","crit":["exp"]}`, string(payload), jwtSecret), ErrTokenAlgorithm},
		{"four parts", good + ".x", ErrTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrTokenMalformed},
		{"empty", "", ErrTokenMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], ErrTokenMalformed},
		{"payload not JSON", signRaw(`{"alg":"HS256"}`, "not json", jwtSecret), ErrTokenClaims},
		{"unknown role", badRole, ErrTokenClaims},
		{"missing jti", noJTITok, ErrTokenClaims},
		{"huge", strings.Repeat("a", maxTokenLen+1), ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseJWT(tt.token, jwtSecret, jwtNow)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseJWT = %+v, %v; want %v", c, err, tt.want)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"admin": RoleAdmin, "Operator": RoleOperator, "VIEWER": RoleViewer} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("root accepted")
	}
}

// FuzzParseJWT: no input panics, and whatever parses was signed with the
// secret by HS256 and is unexpired.
func FuzzParseJWT(f *testing.F) {
	good, _ := SignJWT(testClaims(), jwtSecret)
	f.Add(good)
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{"sub":"x","jti":"y","role":"admin","exp":99999999999}`) + ".")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(signRaw(`{"alg":"HS256"}`, `{"sub":"x","jti":"y","role":"admin","exp":1e400}`, jwtSecret))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ParseJWT(tok, jwtSecret, jwtNow)
		if err != nil {
			return
		}
		parts := strings.Split(tok, ".")
		m := hmac.New(sha256.New, jwtSecret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
			t.Fatalf("accepted a token without a valid HS256 signature: %q", tok)
		}
		if c.Exp <= jwtNow.Unix() || c.Sub == "" || c.JTI == "" {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}
