package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MasterKeyEnv names the environment variable holding the key that
// decrypts ENC[…] values (32 bytes as 64 hex characters or base64).
const MasterKeyEnv = "ACTEON_AUTH_KEY"

// Sentinel errors of secret handling.
var (
	// ErrNoMasterKey: ACTEON_AUTH_KEY is not set but a value needs it.
	ErrNoMasterKey = errors.New("auth: " + MasterKeyEnv + " is not set")
	// ErrBadMasterKey: the master key is not 32 bytes of hex or base64.
	ErrBadMasterKey = errors.New("auth: master key must be 32 bytes given as 64 hex characters or base64")
	// ErrDecrypt: an ENC[…] value is malformed or does not decrypt with the
	// master key (wrong key or tampered data).
	ErrDecrypt = errors.New("auth: cannot decrypt ENC[…] value")
)

const (
	encPrefix = "ENC["
	encAlg    = "AES256-GCM"
)

// ParseMasterKey reads a 32-byte key given as 64 hex characters or as
// base64 (standard or URL alphabet, padded or not).
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, ErrBadMasterKey
}

// MasterKeyFromEnv reads ACTEON_AUTH_KEY. It returns ErrNoMasterKey when the
// variable is unset or empty.
func MasterKeyFromEnv() ([]byte, error) {
	v := os.Getenv(MasterKeyEnv)
	if v == "" {
		return nil, ErrNoMasterKey
	}
	k, err := ParseMasterKey(v)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", MasterKeyEnv, err)
	}
	return k, nil
}

// IsEncrypted reports whether v is an ENC[…] value.
func IsEncrypted(v string) bool {
	return strings.HasPrefix(v, encPrefix) && strings.HasSuffix(v, "]")
}

// Encrypt seals plaintext with AES-256-GCM under key and returns
// ENC[AES256-GCM,kid:<kid>,data:<b64>,iv:<b64>,tag:<b64>] (the kid part is
// left out when kid is empty).
func Encrypt(key []byte, plaintext, kid string) (string, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	iv := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("auth: encrypt: %w", err)
	}
	sealed := gcm.Seal(nil, iv, []byte(plaintext), nil)
	data, tag := sealed[:len(sealed)-gcm.Overhead()], sealed[len(sealed)-gcm.Overhead():]
	var b strings.Builder
	b.WriteString(encPrefix + encAlg + ",")
	if kid != "" {
		if strings.ContainsAny(kid, ",:]") {
			return "", errors.New("auth: encrypt: kid must not contain ',', ':' or ']'")
		}
		b.WriteString("kid:" + kid + ",")
	}
	b.WriteString("data:" + base64.StdEncoding.EncodeToString(data))
	b.WriteString(",iv:" + base64.StdEncoding.EncodeToString(iv))
	b.WriteString(",tag:" + base64.StdEncoding.EncodeToString(tag) + "]")
	return b.String(), nil
}

// Decrypt opens an ENC[…] value. Errors wrap ErrDecrypt (or ErrBadMasterKey)
// and never contain the value.
func Decrypt(key []byte, v string) (string, error) {
	if !IsEncrypted(v) {
		return "", fmt.Errorf("%w: not an ENC[…] value", ErrDecrypt)
	}
	parts := strings.Split(v[len(encPrefix):len(v)-1], ",")
	if len(parts) < 4 || parts[0] != encAlg {
		return "", fmt.Errorf("%w: want ENC[%s,data:…,iv:…,tag:…]", ErrDecrypt, encAlg)
	}
	fields := map[string]string{}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, ":")
		if !ok {
			return "", fmt.Errorf("%w: malformed field", ErrDecrypt)
		}
		if _, dup := fields[k]; dup {
			return "", fmt.Errorf("%w: duplicate field %q", ErrDecrypt, k)
		}
		fields[k] = val
	}
	dec := func(name string) ([]byte, error) {
		s, ok := fields[name]
		if !ok {
			return nil, fmt.Errorf("%w: missing %s", ErrDecrypt, name)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not base64", ErrDecrypt, name)
		}
		return b, nil
	}
	data, err := dec("data")
	if err != nil {
		return "", err
	}
	iv, err := dec("iv")
	if err != nil {
		return "", err
	}
	tag, err := dec("tag")
	if err != nil {
		return "", err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	if len(iv) != gcm.NonceSize() || len(tag) != gcm.Overhead() {
		return "", fmt.Errorf("%w: iv must be %d bytes and tag %d bytes", ErrDecrypt, gcm.NonceSize(), gcm.Overhead())
	}
	plain, err := gcm.Open(nil, iv, append(data, tag...), nil)
	if err != nil {
		return "", fmt.Errorf("%w: wrong key or tampered value", ErrDecrypt)
	}
	return string(plain), nil
}

// Reveal returns v, decrypted when it is an ENC[…] value. A nil key with an
// encrypted value is ErrNoMasterKey.
func Reveal(key []byte, v string) (string, error) {
	if !IsEncrypted(v) {
		return v, nil
	}
	if key == nil {
		return "", ErrNoMasterKey
	}
	return Decrypt(key, v)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, ErrBadMasterKey
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return cipher.NewGCM(blk)
}
