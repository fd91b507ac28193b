package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/BurntSushi/toml"
)

// Load reads, decodes, defaults and validates the config file at path.
//
// It returns the config and the warnings (unknown keys, decision D24) when
// the file is usable. Otherwise the config is nil and the error joins every
// problem found, each a *Error naming file, line and TOML path. A missing
// file is an error wrapping ErrNotFound and fs.ErrNotExist; use
// LoadOrDefault for "a missing file means defaults".
func Load(path string) (*Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, notFound(path, err)
		}
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// LoadOrDefault is Load, except that a file that does not exist gives the
// defaults (upstream: "a missing config file means all defaults"). When
// explicit is set (the user named the file with -c) the defaults come with a
// warning saying the file was not found; at the default path they come
// silently. Relative default paths (auth.toml, ratelimit.toml) are resolved
// against path's directory either way.
func LoadOrDefault(path string, explicit bool) (*Config, []Warning, error) {
	cfg, warns, err := Load(path)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return cfg, warns, err
	}
	cfg = Defaults()
	resolvePaths(cfg, filepath.Dir(path))
	if explicit {
		warns = []Warning{{File: path, Msg: fmt.Sprintf("config file %s not found; using defaults", path)}}
	}
	return cfg, warns, nil
}

// Parse decodes, defaults and validates a config document. file names it in
// messages and anchors relative paths (rules.directory, auth.config_path,
// rate_limit.config_path, TLS certificate paths and *_file secrets) at its
// directory; "" means the current directory.
//
// Parse reads the files named by *_file secret keys (approval_secret_file,
// url_file); it has no other side effects and never panics.
func Parse(data []byte, file string) (*Config, []Warning, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, &Error{File: file, Line: pe.Position.Line, Col: pe.Position.Col, Msg: "syntax error: " + pe.Message, Err: err}
		}
		return nil, nil, &Error{File: file, Msg: err.Error(), Err: err}
	}
	baseDir := filepath.Dir(file)
	if file == "" {
		baseDir = "."
	}
	d := &decoder{file: file, pos: scanPositions(string(data)), baseDir: baseDir}
	cfg := Defaults()
	cfg.File = file
	d.decode("", doc, reflect.ValueOf(cfg).Elem())

	// Defaults that depend on what the file contains.
	if a, ok := doc["audit"].(map[string]any); ok {
		if _, set := a["ttl_seconds"]; !set {
			cfg.Audit.TTLSeconds = nil // upstream quirk: [audit] without ttl_seconds never expires
		}
	}
	if r, ok := doc["rules"].(map[string]any); ok {
		if _, set := r["watch"]; !set {
			t := true
			cfg.Rules.Watch = &t
		}
	}
	applyBackendDefaults(cfg)
	resolvePaths(cfg, baseDir)

	d.validate(cfg)

	sort.SliceStable(d.warns, func(i, j int) bool { return d.warns[i].Line < d.warns[j].Line })
	var warns []Warning
	if len(d.warns) > 0 {
		warns = d.warns
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = e
		}
		return nil, warns, errors.Join(errs...)
	}
	return cfg, warns, nil
}

func applyBackendDefaults(cfg *Config) {
	s := &cfg.State
	switch s.Backend {
	case "redis":
		if s.URL == "" {
			s.URL = DefaultRedisURL
		}
		if s.Prefix == "" {
			s.Prefix = DefaultRedisPrefix
		}
	case "postgres", "clickhouse":
		if s.Prefix == "" {
			s.Prefix = DefaultPostgresPrefix
		}
	case "dynamodb":
		if s.TableName == "" {
			s.TableName = DefaultDynamoDBTable
		}
	}
}

// resolvePaths anchors relative file and directory paths at dir.
func resolvePaths(cfg *Config, dir string) {
	for _, p := range []*string{
		&cfg.Rules.Directory,
		&cfg.Auth.ConfigPath,
		&cfg.RateLimit.ConfigPath,
		&cfg.State.SSLRootCert, &cfg.State.SSLCert, &cfg.State.SSLKey, &cfg.State.TLSCACertPath,
		&cfg.Audit.SSLRootCert, &cfg.Audit.SSLCert, &cfg.Audit.SSLKey,
		&cfg.TLS.Server.CertPath, &cfg.TLS.Server.KeyPath, &cfg.TLS.Server.ClientCAPath,
	} {
		*p = resolve(dir, *p)
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
