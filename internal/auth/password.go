package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrBadPasswordHash: a password_hash is not an argon2 PHC string this
// build can verify.
var ErrBadPasswordHash = errors.New("auth: password_hash is not an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)")

// Argon2Params are the cost parameters of an argon2id hash.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   int
	KeyLen    int
}

// DefaultArgon2Params are the parameters HashPassword uses by default
// (argon2's RFC 9106 second recommended option: 64 MiB, t=3, p=4).
var DefaultArgon2Params = Argon2Params{MemoryKiB: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// Limits that keep a hostile or mistyped hash from exhausting the machine.
const (
	maxArgonMemoryKiB = 4 << 20 // 4 GiB
	maxArgonTime      = 64
	maxArgonKeyLen    = 1024
)

// phc is a parsed argon2 PHC string.
type phc struct {
	variant string
	p       Argon2Params
	salt    []byte
	hash    []byte
}

func parsePHC(s string) (*phc, error) {
	// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, ErrBadPasswordHash
	}
	out := &phc{variant: parts[1]}
	if out.variant != "argon2id" && out.variant != "argon2i" {
		return nil, ErrBadPasswordHash
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("%w: only version 19 is supported", ErrBadPasswordHash)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return nil, ErrBadPasswordHash
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, ErrBadPasswordHash
		}
		switch k {
		case "m":
			out.p.MemoryKiB = uint32(n)
		case "t":
			out.p.Time = uint32(n)
		case "p":
			if n > 255 {
				return nil, ErrBadPasswordHash
			}
			out.p.Threads = uint8(n)
		default:
			return nil, ErrBadPasswordHash
		}
	}
	if !seen["m"] || !seen["t"] || !seen["p"] || out.p.Time == 0 || out.p.Threads == 0 ||
		out.p.MemoryKiB < 8*uint32(out.p.Threads) || out.p.MemoryKiB > maxArgonMemoryKiB || out.p.Time > maxArgonTime {
		return nil, fmt.Errorf("%w: parameters out of range", ErrBadPasswordHash)
	}
	var err error
	if out.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(out.salt) < 8 {
		return nil, fmt.Errorf("%w: bad salt", ErrBadPasswordHash)
	}
	if out.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(out.hash) < 4 || len(out.hash) > maxArgonKeyLen {
		return nil, fmt.Errorf("%w: bad hash", ErrBadPasswordHash)
	}
	return out, nil
}

// CheckPasswordHash reports whether s is a PHC string VerifyPassword can use.
func CheckPasswordHash(s string) error {
	_, err := parsePHC(s)
	return err
}

// VerifyPassword reports whether password matches the argon2 PHC string.
// The comparison is constant-time.
func VerifyPassword(phcString, password string) (bool, error) {
	h, err := parsePHC(phcString)
	if err != nil {
		return false, err
	}
	var got []byte
	if h.variant == "argon2id" {
		got = argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, uint32(len(h.hash)))
	} else {
		got = argon2.Key([]byte(password), h.salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, uint32(len(h.hash)))
	}
	return subtle.ConstantTimeCompare(got, h.hash) == 1, nil
}

// HashPassword returns an argon2id PHC string for password.
func HashPassword(password string, p Argon2Params) (string, error) {
	if p.SaltLen == 0 {
		p.SaltLen = 16
	}
	if p.KeyLen == 0 {
		p.KeyLen = 32
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(p.KeyLen))
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}
