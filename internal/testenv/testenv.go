// Package testenv tells backend tests where their real servers are.
// scripts/test starts every backend and sets ACTEON_TEST_*_URL plus
// ACTEON_TEST_REQUIRE_BACKENDS=1; under it a missing backend is a test
// failure. Run alone (plain `go test`), a test without its variable skips and
// says which variable to set.
package testenv

import (
	"os"
	"testing"
)

// Variables naming each backend's address.
const (
	Postgres   = "ACTEON_TEST_POSTGRES_URL"
	Redis      = "ACTEON_TEST_REDIS_URL"
	ClickHouse = "ACTEON_TEST_CLICKHOUSE_URL"
	DynamoDB   = "ACTEON_TEST_DYNAMODB_URL"
	// Require makes a missing variable a failure instead of a skip.
	Require = "ACTEON_TEST_REQUIRE_BACKENDS"
)

// URL returns the value of the backend variable, skipping the test when it
// is unset (or failing it when ACTEON_TEST_REQUIRE_BACKENDS=1).
func URL(t testing.TB, variable string) string {
	t.Helper()
	if v := os.Getenv(variable); v != "" {
		return v
	}
	if os.Getenv(Require) == "1" {
		t.Fatalf("%s is not set but %s=1: the backend must be reachable (run ./scripts/test)", variable, Require)
	}
	t.Skipf("set %s to run this test against a real server (./scripts/test does)", variable)
	return ""
}

// Unreachable reports a backend that is configured but does not answer: a
// failure under ./scripts/test, never a silent skip.
func Unreachable(t testing.TB, variable string, err error) {
	t.Helper()
	t.Fatalf("backend at %s=%q is unreachable: %v", variable, os.Getenv(variable), err)
}
