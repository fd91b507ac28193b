// Package statetest is the conformance suite every state backend passes
// (decision D14: the memory backend's behaviour is the reference).
//
// A backend's test calls Run with a Harness that builds a fresh store and
// moves time forward: the memory backend advances a clock.Fake, a real
// backend sleeps. The suite uses TTLs of a couple of seconds, so a real
// backend finishes in a few seconds (the cases run in parallel), and every
// case writes under its own random namespace, so the suite can share one
// database with other tests.
//
// Each case is a named subtest that states the rule it enforces; when a
// case fails, the rule is logged next to the failure, in the manner of
// testing/slogtest.
package statetest
