package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors of token validation. Their text is what a client sees
// after "invalid token: "; none of them ever includes the token.
var (
	ErrTokenMalformed = errors.New("malformed token")
	ErrTokenAlgorithm = errors.New("unsupported signing algorithm (only HS256 is accepted)")
	ErrTokenSignature = errors.New("signature mismatch")
	ErrTokenExpired   = errors.New("token has expired")
	ErrTokenClaims    = errors.New("invalid claims")
	ErrTokenRevoked   = errors.New("token has been revoked")
)

// maxTokenLen bounds the work done on an attacker-supplied token.
const maxTokenLen = 16 << 10

// Claims are the JWT claims the gateway issues (upstream's shape).
type Claims struct {
	Sub    string  `json:"sub"`
	JTI    string  `json:"jti"`
	Role   Role    `json:"role"`
	Grants []Grant `json:"grants"`
	Exp    int64   `json:"exp"`
	Iat    int64   `json:"iat,omitempty"`
}

// jwtHeader is the only header SignJWT writes; ParseJWT accepts any header
// whose alg is exactly HS256.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// SignJWT returns the compact HS256 JWT for c.
func SignJWT(c Claims, secret []byte) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: empty JWT secret")
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("auth: encode claims: %w", err)
	}
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// ParseJWT validates a compact JWT: exactly three base64url parts, a header
// whose alg is HS256 (alg "none" and every other algorithm are rejected), a
// valid HMAC-SHA256 signature under secret (checked before the claims are
// read), well-formed claims with sub, jti, a known role and exp, and exp
// after now. Errors wrap the sentinels above.
func ParseJWT(token string, secret []byte, now time.Time) (*Claims, error) {
	if len(token) == 0 || len(token) > maxTokenLen {
		return nil, ErrTokenMalformed
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrTokenMalformed
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 || h == "" || p == "" {
		return nil, ErrTokenMalformed
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	var hdr struct {
		Alg  *string `json:"alg"`
		Crit []any   `json:"crit"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg == nil {
		return nil, ErrTokenMalformed
	}
	if *hdr.Alg != "HS256" || hdr.Crit != nil {
		return nil, ErrTokenAlgorithm
	}
	if len(secret) == 0 {
		return nil, ErrTokenSignature
	}
	sb, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(token[:len(h)+1+len(p)]))
	if !hmac.Equal(mac.Sum(nil), sb) {
		return nil, ErrTokenSignature
	}
	pb, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return nil, ErrTokenMalformed
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(pb))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTokenClaims, "claims are not a JSON object of the expected shape")
	}
	switch {
	case c.Sub == "":
		return nil, fmt.Errorf("%w: missing sub", ErrTokenClaims)
	case c.JTI == "":
		return nil, fmt.Errorf("%w: missing jti", ErrTokenClaims)
	case c.Exp == 0:
		return nil, fmt.Errorf("%w: missing exp", ErrTokenClaims)
	}
	role, err := ParseRole(string(c.Role))
	if err != nil {
		return nil, fmt.Errorf("%w: unknown role", ErrTokenClaims)
	}
	c.Role = role
	if now.Unix() >= c.Exp {
		return nil, ErrTokenExpired
	}
	return &c, nil
}

// ParseRole reads admin, operator or viewer, ignoring case.
func ParseRole(s string) (Role, error) {
	switch Role(strings.ToLower(s)) {
	case RoleAdmin:
		return RoleAdmin, nil
	case RoleOperator:
		return RoleOperator, nil
	case RoleViewer:
		return RoleViewer, nil
	}
	return "", fmt.Errorf("auth: invalid role %q (want admin, operator or viewer)", s)
}
