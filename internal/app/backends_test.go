package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/testenv"
)

// backendCase is one [state] backend under test.
type backendCase struct {
	name string
	// toml is the [state] section; %s is replaced by the server URL.
	toml string
	env  string
	// exactAcrossNodes: several gateway nodes sharing the backend dedup
	// exactly (ClickHouse is exact on one node only, D17).
	exactAcrossNodes bool
}

var stateBackends = []backendCase{
	{"memory", "[state]\nbackend = \"memory\"\n", "", false},
	{"redis", "[state]\nbackend = \"redis\"\nurl = %q\nprefix = \"acteon_apptest\"\n", testenv.Redis, true},
	{"postgres", "[state]\nbackend = \"postgres\"\nurl = %q\nprefix = \"acteon_apptest_\"\n", testenv.Postgres, true},
	{"dynamodb", "[state]\nbackend = \"dynamodb\"\nurl = %q\ntable_name = \"acteon_apptest_state\"\n", testenv.DynamoDB, true},
	{"clickhouse", "[state]\nbackend = \"clickhouse\"\nurl = %q\nprefix = \"acteon_apptest_\"\n", testenv.ClickHouse, false},
}

// node builds one gateway node from a [state] section, with a recording
// provider "email" shared by every node of a test and the given rules.
func node(t *testing.T, stateTOML, rulesYAML string, email *sim.Recording) *App {
	t.Helper()
	cfg, _, err := config.Parse([]byte(stateTOML), "test.toml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := Build(cfg, Options{ExtraProviders: []provider.Provider{email}})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	a.Gateway.SwapRules(mustSet(t, rulesYAML))
	return a
}

func mustSet(t *testing.T, rulesYAML string) *rules.Set {
	t.Helper()
	rs, _, err := rules.ParseFile("test.yaml", []byte(rulesYAML), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func stateTOML(t *testing.T, bc backendCase) string {
	if bc.env == "" {
		return bc.toml
	}
	return fmt.Sprintf(bc.toml, testenv.URL(t, bc.env))
}

const dedupRule = `rules: [{name: dd, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: deduplicate, ttl_seconds: 300}}]`

// dispatchSpread sends n actions concurrently, action i to node i % len(nodes).
func dispatchSpread(t *testing.T, nodes []*App, n int, mk func(i int) *action.Action) map[action.OutcomeKind]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[action.OutcomeKind]int{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out, err := nodes[i%len(nodes)].Gateway.Dispatch(context.Background(), mk(i), gateway.Caller{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("dispatch %d: %v", i, err)
				return
			}
			counts[out.Kind]++
		}(i)
	}
	close(start)
	wg.Wait()
	return counts
}

func alert(ns, dedupKey string) *action.Action {
	return &action.Action{ID: action.UUIDv4(), Namespace: ns, Tenant: "t1", Provider: "email",
		ActionType: "alert", Payload: map[string]any{}, DedupKey: dedupKey}
}

// The seed's second table: 20 concurrent dispatches with one dedup_key
// execute exactly once, on every backend, on one node and (where the backend
// has atomic conditional writes) across three nodes.
func TestConcurrentDedupAccuracy(t *testing.T) {
	for _, bc := range stateBackends {
		t.Run(bc.name, func(t *testing.T) {
			st := stateTOML(t, bc)
			for _, nodes := range []int{1, 3} {
				if nodes > 1 && !bc.exactAcrossNodes {
					continue
				}
				t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
					email := sim.NewRecording("email", sim.WithoutCapture())
					var ns []*App
					for i := 0; i < nodes; i++ {
						ns = append(ns, node(t, st, dedupRule, email))
					}
					for round := 0; round < 5; round++ {
						namespace := "dedup-" + action.UUIDv4()[:8]
						counts := dispatchSpread(t, ns, 20, func(int) *action.Action { return alert(namespace, "same-key") })
						if counts[action.OutcomeExecuted] != 1 || counts[action.OutcomeDeduplicated] != 19 {
							t.Fatalf("round %d: %v, want 1 executed and 19 deduplicated", round, counts)
						}
					}
					if got := email.CallCount(); got != 5 {
						t.Errorf("provider calls %d, want 5 (one per round)", got)
					}
				})
			}
		})
	}
}

// Throttle windows hold across nodes: N nodes sharing a backend let exactly
// max_count through per window.
func TestThrottleAcrossNodes(t *testing.T) {
	for _, bc := range stateBackends {
		if !bc.exactAcrossNodes {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			st := stateTOML(t, bc)
			email := sim.NewRecording("email", sim.WithoutCapture())
			rule := `rules: [{name: thr, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: throttle, max_count: 7, window_seconds: 3600}}]`
			ns := []*App{node(t, st, rule, email), node(t, st, rule, email), node(t, st, rule, email)}
			namespace := "thr-" + action.UUIDv4()[:8]
			counts := dispatchSpread(t, ns, 40, func(int) *action.Action { return alert(namespace, "") })
			if counts[action.OutcomeExecuted] != 7 || counts[action.OutcomeThrottled] != 33 {
				t.Fatalf("%v, want exactly 7 executed and 33 throttled", counts)
			}
		})
	}
}

// With auto_migrate = false a missing schema stops the start with a message
// naming it; Migrate then creates it and the same config starts.
func TestAutoMigrateFalseFailsFastThenMigrate(t *testing.T) {
	url := testenv.URL(t, testenv.Postgres)
	prefix := "acteon_mig_" + strings.ReplaceAll(action.UUIDv4()[:8], "-", "") + "_"
	toml := fmt.Sprintf("[state]\nbackend = \"postgres\"\nurl = %q\nprefix = %q\nauto_migrate = false\n", url, prefix)
	cfg, _, err := config.Parse([]byte(toml), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), prefix+"state") || !strings.Contains(err.Error(), "auto_migrate") {
		t.Fatalf("want a start-up error naming the missing table %sstate, got %v", prefix, err)
	}
	done, err := Migrate(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("migrate: %v (%v)", err, done)
	}
	if _, err := Migrate(context.Background(), cfg, nil); err != nil {
		t.Fatalf("second migrate must be a no-op: %v", err)
	}
	a, err := Build(cfg, Options{})
	if err != nil {
		t.Fatalf("after migrate: %v", err)
	}
	a.Close(context.Background())
	dropPostgresTables(t, url, prefix)
}

func TestUnreachableBackendIsAClearStartError(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[state]\nbackend = \"redis\"\nurl = \"redis://:hunter2@127.0.0.1:1\"\nconnect_timeout_ms = 500\n", "redis"},
		{"[state]\nbackend = \"postgres\"\nurl = \"postgres://u:hunter2@127.0.0.1:1/x\"\nconnect_timeout_ms = 500\n", "postgres"},
		{"[audit]\nenabled = true\nbackend = \"clickhouse\"\nurl = \"http://u:hunter2@127.0.0.1:1\"\n", "clickhouse"},
	} {
		cfg, _, err := config.Parse([]byte(tc.toml), "test.toml")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Build(cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error leaks the password: %v", err)
		}
	}
}
