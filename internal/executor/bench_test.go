package executor

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/provider"
)

// instantProvider answers at once with a shared response.
type instantProvider struct{}

func (instantProvider) Name() string                      { return "instant" }
func (instantProvider) HealthCheck(context.Context) error { return nil }
func (instantProvider) Execute(context.Context, *action.Action) (*action.ProviderResponse, error) {
	return okResp, nil
}

// BenchmarkExecute measures one successful delivery to an instant provider
// with everything switched on: metrics, health and a breaker.
func BenchmarkExecute(b *testing.B) {
	for _, bc := range []struct {
		name  string
		extra bool
	}{{"bare", false}, {"health+breaker", true}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := Options{Registerer: prometheus.NewRegistry()}
			if bc.extra {
				opts.Health = provider.NewHealth()
				opts.Breakers = NewBreakers(BreakerConfig{}, []string{"instant"}, clock.Real{})
			}
			e, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			a := testAction()
			p := instantProvider{}
			b.ReportAllocs()
			for b.Loop() {
				if r := e.Execute(ctx, p, a); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkExecuteParallel runs deliveries from many goroutines against the
// default 10 slots.
func BenchmarkExecuteParallel(b *testing.B) {
	e, err := New(Options{Registerer: prometheus.NewRegistry(), Health: provider.NewHealth()})
	if err != nil {
		b.Fatal(err)
	}
	a := testAction()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			e.Execute(ctx, instantProvider{}, a)
		}
	})
}
