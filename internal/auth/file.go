package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultJWTExpiry is the token lifetime when auth.toml sets none.
const DefaultJWTExpiry = time.Hour

// fileDoc is auth.toml in upstream's format.
type fileDoc struct {
	Settings struct {
		JWTSecret        string `toml:"jwt_secret"`
		JWTExpirySeconds *int64 `toml:"jwt_expiry_seconds"`
	} `toml:"settings"`
	Users []struct {
		Username     string  `toml:"username"`
		PasswordHash string  `toml:"password_hash"`
		Role         string  `toml:"role"`
		Grants       []grant `toml:"grants"`
	} `toml:"users"`
	APIKeys []struct {
		Name    string  `toml:"name"`
		KeyHash string  `toml:"key_hash"`
		Role    string  `toml:"role"`
		Grants  []grant `toml:"grants"`
	} `toml:"api_keys"`
}

// grant is a Grant as written in auth.toml; agent_id is read and ignored
// (the agentic bus is not part of this build).
type grant struct {
	Tenants    []string `toml:"tenants"`
	Namespaces []string `toml:"namespaces"`
	Providers  []string `toml:"providers"`
	Actions    []string `toml:"actions"`
	AgentID    string   `toml:"agent_id"`
}

func (g grant) toGrant() Grant {
	return Grant{Tenants: g.Tenants, Namespaces: g.Namespaces, Providers: g.Providers, Actions: g.Actions}
}

// Credentials is one immutable snapshot of auth.toml: the JWT settings, the
// users and the API keys. Secrets are held decrypted, in memory only.
type Credentials struct {
	jwtSecret []byte
	expiry    time.Duration
	users     map[string]*user
	keys      []apiKey
	// dummy is verified against for unknown users so that a wrong user
	// name costs as much as a wrong password.
	dummyOnce sync.Once
	dummy     string
	dummyP    Argon2Params
}

type user struct {
	hash string
	id   Identity // TokenID empty; copied per login
}

type apiKey struct {
	hash [sha256.Size]byte
	id   *Identity
}

// Users returns the number of users (for logs).
func (c *Credentials) Users() int { return len(c.users) }

// APIKeys returns the number of API keys (for logs).
func (c *Credentials) APIKeys() int { return len(c.keys) }

// Expiry returns the JWT lifetime.
func (c *Credentials) Expiry() time.Duration { return c.expiry }

// LoadFile reads and validates auth.toml. ENC[…] values are decrypted with
// masterKey (nil: such values are an error). It returns warnings for keys
// it does not know. Every problem is reported with the file name and the
// entry; errors never contain secret values.
func LoadFile(path string, masterKey []byte) (*Credentials, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	return ParseFile(data, path, masterKey)
}

// ParseFile is LoadFile on bytes; file names the document in messages.
func ParseFile(data []byte, file string, masterKey []byte) (*Credentials, []string, error) {
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("auth: %s:%d: syntax error: %s", file, pe.Position.Line, pe.Message)
		}
		// Type errors from the decoder name the key, never the value.
		return nil, nil, fmt.Errorf("auth: %s: %w", file, err)
	}
	var warns []string
	for _, k := range md.Undecoded() {
		warns = append(warns, fmt.Sprintf("%s: unknown key %s ignored", file, k))
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("auth: %s: "+format, append([]any{file}, a...)...))
	}
	c := &Credentials{expiry: DefaultJWTExpiry, users: map[string]*user{}}

	secret, err := Reveal(masterKey, doc.Settings.JWTSecret)
	switch {
	case err != nil:
		bad("settings.jwt_secret: %v", err)
	case secret == "":
		bad("settings.jwt_secret: required")
	case len(secret) < 16:
		bad("settings.jwt_secret: must be at least 16 bytes")
	}
	c.jwtSecret = []byte(secret)
	if e := doc.Settings.JWTExpirySeconds; e != nil {
		if *e <= 0 {
			bad("settings.jwt_expiry_seconds: must be > 0, got %d", *e)
		} else {
			c.expiry = time.Duration(*e) * time.Second
		}
	}

	for i, u := range doc.Users {
		where := fmt.Sprintf("users[%d]", i)
		if u.Username == "" {
			bad("%s.username: required", where)
			continue
		}
		where += " (" + u.Username + ")"
		if _, dup := c.users[u.Username]; dup {
			bad("%s: duplicate username", where)
			continue
		}
		role, err := ParseRole(u.Role)
		if err != nil {
			bad("%s.role: invalid role %q (want admin, operator or viewer)", where, u.Role)
			continue
		}
		hash, err := Reveal(masterKey, u.PasswordHash)
		if err != nil {
			bad("%s.password_hash: %v", where, err)
			continue
		}
		if err := CheckPasswordHash(hash); err != nil {
			bad("%s.password_hash: %v", where, err)
			continue
		}
		c.users[u.Username] = &user{hash: hash, id: Identity{
			CallerID: u.Username, Method: "jwt", Role: role, Grants: toGrants(u.Grants),
		}}
	}

	names := map[string]bool{}
	for i, k := range doc.APIKeys {
		where := fmt.Sprintf("api_keys[%d]", i)
		if k.Name == "" {
			bad("%s.name: required", where)
			continue
		}
		where += " (" + k.Name + ")"
		if names[k.Name] {
			bad("%s: duplicate name", where)
			continue
		}
		names[k.Name] = true
		// Upstream: an invalid role on a key means viewer.
		role, err := ParseRole(k.Role)
		if err != nil {
			role = RoleViewer
			warns = append(warns, fmt.Sprintf("%s: %s.role: invalid role %q; the key gets viewer", file, where, k.Role))
		}
		h, err := Reveal(masterKey, k.KeyHash)
		if err != nil {
			bad("%s.key_hash: %v", where, err)
			continue
		}
		raw, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(raw) != sha256.Size {
			bad("%s.key_hash: must be the SHA-256 of the key as 64 hex characters", where)
			continue
		}
		ak := apiKey{id: &Identity{CallerID: k.Name, Method: "api_key", Role: role, Grants: toGrants(k.Grants)}}
		copy(ak.hash[:], raw)
		for _, o := range c.keys {
			if o.hash == ak.hash {
				bad("%s.key_hash: the same key is also configured as %q", where, o.id.CallerID)
			}
		}
		c.keys = append(c.keys, ak)
	}
	if len(errs) > 0 {
		return nil, warns, errors.Join(errs...)
	}
	return c, warns, nil
}

func toGrants(gs []grant) []Grant {
	out := make([]Grant, len(gs))
	for i, g := range gs {
		out[i] = g.toGrant()
	}
	return out
}

// HashAPIKey returns the hex SHA-256 of a raw API key: the key_hash value
// to put in auth.toml.
func HashAPIKey(raw string) string {
	s := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(s[:])
}

// LookupAPIKey returns the identity of a raw API key, or nil. Every
// configured hash is compared, in constant time, whatever matches.
func (c *Credentials) LookupAPIKey(raw string) *Identity {
	sum := sha256.Sum256([]byte(raw))
	var found *Identity
	for i := range c.keys {
		if subtle.ConstantTimeCompare(c.keys[i].hash[:], sum[:]) == 1 && found == nil {
			found = c.keys[i].id
		}
	}
	return found
}

// CheckPassword returns a copy of the user's identity when the password is
// right, or nil. An unknown user name costs one argon2 computation too.
func (c *Credentials) CheckPassword(username, password string) *Identity {
	u, ok := c.users[username]
	if !ok {
		c.dummyOnce.Do(func() {
			c.dummyP = DefaultArgon2Params
			for _, u := range c.users {
				if h, err := parsePHC(u.hash); err == nil {
					c.dummyP = h.p
					c.dummyP.SaltLen, c.dummyP.KeyLen = len(h.salt), len(h.hash)
				}
				break
			}
			c.dummy, _ = HashPassword("\x00not a password", c.dummyP)
		})
		_, _ = VerifyPassword(c.dummy, password)
		return nil
	}
	if ok, err := VerifyPassword(u.hash, password); err != nil || !ok {
		return nil
	}
	id := u.id
	return &id
}
