package ratelimit

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/BurntSushi/toml"
)

// Limit is requests per window.
type Limit struct {
	Requests int64
	Window   time.Duration
}

// Config is a parsed ratelimit.toml.
type Config struct {
	CallerDefault   Limit
	CallerAnonymous Limit
	CallerOverrides map[string]Limit
	TenantsEnabled  bool
	TenantDefault   Limit
	TenantOverrides map[string]Limit
}

var fallback = Limit{Requests: 1000, Window: 60 * time.Second}

// Caller returns the bucket and limit for a caller id ("" is anonymous).
func (c *Config) Caller(id string) (string, Limit) {
	if id == "" {
		return "caller:_anonymous", c.CallerAnonymous
	}
	if l, ok := c.CallerOverrides[id]; ok {
		return "caller:" + id, l
	}
	return "caller:" + id, c.CallerDefault
}

// Tenant returns the bucket and limit for a tenant.
func (c *Config) Tenant(t string) (string, Limit) {
	if l, ok := c.TenantOverrides[t]; ok {
		return "tenant:" + t, l
	}
	return "tenant:" + t, c.TenantDefault
}

type limitDoc struct {
	RequestsPerWindow *int64 `toml:"requests_per_window"`
	WindowSeconds     *int64 `toml:"window_seconds"`
}

type fileDoc struct {
	Callers *struct {
		Default   *limitDoc           `toml:"default"`
		Anonymous *limitDoc           `toml:"anonymous"`
		Overrides map[string]limitDoc `toml:"overrides"`
	} `toml:"callers"`
	Tenants *struct {
		Enabled   bool                `toml:"enabled"`
		Default   *limitDoc           `toml:"default"`
		Overrides map[string]limitDoc `toml:"overrides"`
	} `toml:"tenants"`
}

// LoadFile reads ratelimit.toml. Unknown keys are returned as warnings.
func LoadFile(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ratelimit: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a ratelimit.toml document; file names it in messages.
func Parse(data []byte, file string) (*Config, []string, error) {
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, nil, fmt.Errorf("ratelimit: %s: %w", file, err)
	}
	var warns []string
	for _, k := range md.Undecoded() {
		warns = append(warns, fmt.Sprintf("%s: unknown key %s ignored", file, k))
	}
	var errs []error
	conv := func(path string, d *limitDoc, def Limit) Limit {
		if d == nil {
			return def
		}
		l := def
		if d.RequestsPerWindow != nil {
			l.Requests = *d.RequestsPerWindow
		}
		if d.WindowSeconds != nil {
			l.Window = time.Duration(*d.WindowSeconds) * time.Second
		}
		if l.Requests < 1 {
			errs = append(errs, fmt.Errorf("ratelimit: %s: %s.requests_per_window: must be >= 1, got %d", file, path, l.Requests))
		}
		if l.Window < time.Second || l.Window > 366*24*time.Hour {
			errs = append(errs, fmt.Errorf("ratelimit: %s: %s.window_seconds: must be between 1 and 31622400", file, path))
		}
		return l
	}
	c := &Config{
		CallerDefault: fallback, CallerAnonymous: fallback, TenantDefault: fallback,
		CallerOverrides: map[string]Limit{}, TenantOverrides: map[string]Limit{},
	}
	if cs := doc.Callers; cs != nil {
		c.CallerDefault = conv("callers.default", cs.Default, Limit{1000, 60 * time.Second})
		c.CallerAnonymous = conv("callers.anonymous", cs.Anonymous, Limit{100, 60 * time.Second})
		for _, k := range sortedKeys(cs.Overrides) {
			d := cs.Overrides[k]
			c.CallerOverrides[k] = conv(fmt.Sprintf("callers.overrides.%q", k), &d, c.CallerDefault)
		}
	}
	if ts := doc.Tenants; ts != nil {
		c.TenantsEnabled = ts.Enabled
		c.TenantDefault = conv("tenants.default", ts.Default, Limit{10000, 60 * time.Second})
		for _, k := range sortedKeys(ts.Overrides) {
			d := ts.Overrides[k]
			c.TenantOverrides[k] = conv(fmt.Sprintf("tenants.overrides.%q", k), &d, c.TenantDefault)
		}
	}
	if len(errs) > 0 {
		return nil, warns, errors.Join(errs...)
	}
	return c, warns, nil
}

func sortedKeys(m map[string]limitDoc) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
