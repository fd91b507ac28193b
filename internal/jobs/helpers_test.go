package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/rules"
)

// t0 is the scenarios' start time.
var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

const stateMachineTOML = `
[[state_machines]]
name = "alert"
initial_state = "open"
states = ["open", "acknowledged", "closed"]

[[state_machines.transitions]]
from = "open"
to = "acknowledged"
on_transition = { notify = true }

[[state_machines.transitions]]
from = "acknowledged"
to = "closed"

[[state_machines.timeouts]]
in_state = "acknowledged"
after_seconds = 600
transition_to = "closed"
`

// provs are the recording providers of one test.
type provs struct {
	email, webhook *sim.Recording
}

func newProvs() provs {
	return provs{email: sim.NewRecording("email"), webhook: sim.NewRecording("webhook")}
}

func (p provs) list() []provider.Provider { return []provider.Provider{p.email, p.webhook} }

// build makes an App from a TOML config and YAML rules. It does not start
// background jobs; tests run them with Jobs().RunOnce unless they call
// Start.
func build(t testing.TB, tomlText, rulesYAML string, clk clock.Clock, p provs) *app.App {
	t.Helper()
	cfg, _, err := config.Parse([]byte(tomlText), "test.toml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.Build(cfg, app.Options{Clock: clk, ExtraProviders: p.list()})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	rs, _, err := rules.ParseFile("test.yaml", []byte(rulesYAML), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	a.Gateway.SwapRules(set)
	return a
}

func dispatch(t testing.TB, a *app.App, act *action.Action) action.Outcome {
	t.Helper()
	out, err := a.Gateway.Dispatch(context.Background(), act, gateway.Caller{})
	if err != nil {
		t.Fatalf("dispatch %s: %v", act.ID, err)
	}
	return out
}

func run(t testing.TB, a *app.App, job string) int {
	t.Helper()
	n, err := a.Jobs().RunOnce(context.Background(), job)
	if err != nil {
		t.Fatalf("%s: %v", job, err)
	}
	return n
}

// base is the scenarios' B action.
func base(ns string) *action.Action {
	return &action.Action{ID: action.UUIDv4(), Namespace: ns, Tenant: "t1", Provider: "email",
		ActionType: "send_email", Payload: map[string]any{"to": "u@example.com"}, CreatedAt: t0}
}

func alertEvent(ns string, meta map[string]string, payload map[string]any) *action.Action {
	a := base(ns)
	a.ActionType = "alert"
	a.Metadata = meta
	a.Payload = payload
	return a
}

// calls returns the actions a recording received of one action type.
func calls(r *sim.Recording, actionType string) []*action.Action {
	var out []*action.Action
	for _, c := range r.Calls() {
		if c.Action.ActionType == actionType {
			out = append(out, c.Action)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uniqueNS(t testing.TB) string { return fmt.Sprintf("ev%s", randomHex(4)) }

// parallel runs f(i) for i in [0,n) on up to par goroutines.
func parallel(n, par int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}(i)
	}
	wg.Wait()
}

var gatewayCaller = gateway.Caller{ID: "test"}
