// Package config loads the gateway's TOML configuration file (upstream
// Acteon's acteon.toml, spec 01 §4) into an immutable *Config.
//
// It sits before everything else in an action's path: cmd/acteon calls
// LoadOrDefault once at start-up (and check-config calls it to test a file),
// and internal/app builds the state and audit backends, the providers, the
// executor, the background jobs and the rule engine from the result.
//
// Loading runs in a fixed order: parse (syntax errors carry the line and
// column), decode onto the defaults, apply the defaults that depend on which
// sections are present, resolve relative paths against the config file's
// directory, then validate. Every problem found is returned at once, joined
// with errors.Join; each is a *Error naming file, line and TOML path:
//
//	acteon.toml:42: executor.max_concurrent: must be >= 1, got 0
//
// Keys this build does not know never fail a load (decision D24): an upstream
// config may carry sections for features not implemented here. Each one is
// returned as a Warning with its line and path, and `check-config --strict`
// turns them into errors with Warnings.AsErrors.
//
// A missing file at the default path means all defaults (LoadOrDefault).
// Defaults differ from upstream in one place: [background] enabled is true
// (decision D18). Upstream's [audit] ttl_seconds quirk is kept: 30 days when
// the [audit] section is absent, no expiry when it is present without the
// key.
//
// [[providers]] tables are kept generic (ProviderConfig.Raw) and decoded by
// their provider package with ProviderConfig.Decode. [[state_machines]]
// (decision D11) are decoded and their state references checked here.
//
// Secret values (approval secrets, backend URLs) redact themselves when
// printed, marshalled or logged; Config.Sanitized gives a redacted snapshot
// for the admin API. A Secret key "k" may instead be given as "k_file",
// naming a file that holds the value.
//
// Nothing in this package keeps global mutable state except
// KnownProviderTypes, which is read during validation and should only be
// changed before loading starts.
package config
