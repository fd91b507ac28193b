package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/sim"
	"github.com/acteon/acteon-go/internal/testenv"
)

// A state backend that drops mid-run makes dedup dispatches fail with
// ErrStateUnavailable (503) and nothing delivered; when it returns the same
// gateway works again without a restart.
func TestStateOutageIs503AndRecovers(t *testing.T) {
	for _, bc := range []struct{ name, env, scheme string }{
		{"redis", testenv.Redis, "redis"}, {"postgres", testenv.Postgres, "postgres"},
	} {
		t.Run(bc.name, func(t *testing.T) {
			raw := testenv.URL(t, bc.env)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			p := testenv.NewProxy(t, u.Host)
			u.Host = p.Addr()
			toml := fmt.Sprintf("[state]\nbackend = %q\nurl = %q\nprefix = \"acteon_apptest_\"\nop_timeout_ms = 500\n", bc.name, u.String())
			cfg, _, err := config.Parse([]byte(toml), "t.toml")
			if err != nil {
				t.Fatal(err)
			}
			email := sim.NewRecording("email")
			a, err := Build(cfg, Options{ExtraProviders: []provider.Provider{email}})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(context.Background())
			a.Gateway.SwapRules(mustSet(t, dedupRule))
			ns := "outage-" + action.UUIDv4()[:8]
			send := func(key string) (action.Outcome, error) {
				return a.Gateway.Dispatch(context.Background(), alert(ns, key), gateway.Caller{})
			}
			if out, err := send("k1"); err != nil || out.Kind != action.OutcomeExecuted {
				t.Fatalf("before the outage: %v %v", out.Kind, err)
			}
			p.Cut()
			start := time.Now()
			_, err = send("k2")
			if !errors.Is(err, gateway.ErrStateUnavailable) {
				t.Fatalf("during the outage: err %v, want ErrStateUnavailable", err)
			}
			if waited := time.Since(start); waited > 10*time.Second {
				t.Errorf("the failing dispatch hung for %s", waited)
			}
			if email.CallCount() != 1 {
				t.Errorf("nothing may be delivered during the outage; calls %d", email.CallCount())
			}
			p.Restore()
			deadline := time.Now().Add(15 * time.Second)
			for {
				out, err := send("k2")
				if err == nil {
					if out.Kind != action.OutcomeExecuted {
						t.Fatalf("after recovery k2 should execute (its marker was never written), got %s", out.Kind)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("gateway did not recover: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if out, _ := send("k2"); out.Kind != action.OutcomeDeduplicated {
				t.Errorf("k2 again: %s, want deduplicated", out.Kind)
			}
		})
	}
}
