package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func TestParseMasterKey(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"64 hex", hex.EncodeToString(testKey), true},
		{"base64 std", base64.StdEncoding.EncodeToString(testKey), true},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString(testKey), true},
		{"too short hex", hex.EncodeToString(testKey[:16]), false},
		{"garbage", "not a key", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseMasterKey(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && !bytes.Equal(k, testKey) {
				t.Errorf("key = %x", k)
			}
			if !tt.ok && !errors.Is(err, ErrBadMasterKey) {
				t.Errorf("err = %v, want ErrBadMasterKey", err)
			}
		})
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	for _, kid := range []string{"", "k1"} {
		v, err := Encrypt(testKey, "s3cret value", kid)
		if err != nil {
			t.Fatal(err)
		}
		if !IsEncrypted(v) || !strings.HasPrefix(v, "ENC[AES256-GCM,") || strings.Contains(v, "s3cret") {
			t.Fatalf("bad ENC form %q", v)
		}
		if kid != "" && !strings.Contains(v, "kid:k1,") {
			t.Errorf("kid missing in %q", v)
		}
		got, err := Decrypt(testKey, v)
		if err != nil || got != "s3cret value" {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
		got, err = Reveal(testKey, v)
		if err != nil || got != "s3cret value" {
			t.Fatalf("Reveal = %q, %v", got, err)
		}
	}
}

func TestDecryptRejects(t *testing.T) {
	good, _ := Encrypt(testKey, "x", "")
	other := bytes.Repeat([]byte{8}, 32)
	tamper := strings.Replace(good, "data:", "data:A", 1)
	tests := []struct {
		name string
		key  []byte
		v    string
		want error
	}{
		{"wrong key", other, good, ErrDecrypt},
		{"tampered data", testKey, tamper, ErrDecrypt},
		{"wrong algorithm", testKey, strings.Replace(good, "AES256-GCM", "AES128-CBC", 1), ErrDecrypt},
		{"missing tag", testKey, good[:strings.Index(good, ",tag:")] + "]", ErrDecrypt},
		{"not base64", testKey, "ENC[AES256-GCM,data:!!,iv:!!,tag:!!]", ErrDecrypt},
		{"duplicate field", testKey, "ENC[AES256-GCM,data:AA==,data:AA==,iv:AA==,tag:AA==]", ErrDecrypt},
		{"short key", testKey[:5], good, ErrBadMasterKey},
		{"not ENC", testKey, "plain", ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decrypt(tt.key, tt.v)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Reveal(nil, good); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("Reveal without key: %v, want ErrNoMasterKey", err)
	}
	if v, err := Reveal(nil, "plain"); err != nil || v != "plain" {
		t.Errorf("Reveal plain = %q, %v", v, err)
	}
}

func TestMasterKeyFromEnv(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	if _, err := MasterKeyFromEnv(); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("unset: %v", err)
	}
	t.Setenv(MasterKeyEnv, "short")
	if _, err := MasterKeyFromEnv(); !errors.Is(err, ErrBadMasterKey) || strings.Contains(err.Error(), "short") {
		t.Errorf("bad key: %v (must not echo the value)", err)
	}
	t.Setenv(MasterKeyEnv, hex.EncodeToString(testKey))
	if k, err := MasterKeyFromEnv(); err != nil || !bytes.Equal(k, testKey) {
		t.Errorf("hex key: %x, %v", k, err)
	}
}

func FuzzDecrypt(f *testing.F) {
	good, _ := Encrypt(testKey, "x", "k")
	f.Add(good)
	f.Add("ENC[AES256-GCM,data:,iv:,tag:]")
	f.Add("ENC[]")
	f.Fuzz(func(t *testing.T, v string) {
		out, err := Decrypt(testKey, v)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			return
		}
		// Only values sealed under the key open (GCM authenticates).
		if !IsEncrypted(v) || out != "x" {
			t.Fatalf("forged value %q opened to %q", v, out)
		}
	})
}
