// Package logprov is the `log` provider: it writes each action to the
// gateway's logger at debug level and reports success. It is the provider
// used for dry deployments, smoke tests and benchmarks; in an action's path
// it stands where a real integration would (executor → provider).
package logprov
