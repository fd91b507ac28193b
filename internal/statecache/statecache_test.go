package statecache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
)

type item struct {
	Name string `json:"name"`
}

type snap struct{ names []string }

var errBad = errors.New("bad item")

func newCache(t *testing.T) (*Cache[item, snap], *statemem.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 17, 12, 0, 0, 0, time.UTC))
	st := statemem.New(statemem.Options{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	c := New(Config[item, snap]{
		Store: st, Clock: clk, Kind: "item",
		VersionKey: state.Key{Namespace: "_system", Tenant: "_global", Kind: "sync_version", ID: "items:v"},
		Decode: DecodeJSON("test", func(it *item) error {
			if it.Name == "" {
				return errBad
			}
			return nil
		}),
		Build: func(list []*item) *snap {
			s := &snap{names: []string{}}
			for _, it := range list {
				s.names = append(s.names, it.Name)
			}
			return s
		},
		ErrPrefix: "test", Noun: "item",
	})
	return c, st, clk
}

func put(t *testing.T, st state.Store, id, val string) {
	t.Helper()
	if err := st.Set(context.Background(), state.Key{Namespace: "ns", Tenant: "t", Kind: "item", ID: id}, val, 0); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshRescansOnlyWhenTheVersionMoves(t *testing.T) {
	ctx := context.Background()
	c, st, clk := newCache(t)
	if got := c.Snapshot().names; len(got) != 0 {
		t.Fatalf("initial snapshot %v, want empty", got)
	}
	tests := []struct {
		name    string
		setup   func()
		rescans bool
		count   int
	}{
		{"first refresh loads", func() { put(t, st, "a", `{"name":"a"}`) }, true, 1},
		{"unchanged version keeps the snapshot", func() { put(t, st, "b", `{"name":"b"}`) }, false, 1},
		{"a bump rescans", func() {
			if err := c.Bump(ctx); err != nil {
				t.Fatal(err)
			}
		}, false, 2}, // Bump already reloaded, so Refresh sees nothing new
		{"periodic full rescan", func() {
			put(t, st, "c", `{"name":"c"}`)
			clk.Advance(FullRescanEvery)
		}, true, 3},
		{"undecodable entries are skipped", func() {
			put(t, st, "d", `{"name":""}`)
			put(t, st, "e", `not json`)
			if _, err := st.Increment(ctx, c.cfg.VersionKey, 1, 0); err != nil {
				t.Fatal(err)
			}
		}, true, 3},
	}
	for _, tt := range tests {
		tt.setup()
		did, err := c.Refresh(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if did != tt.rescans {
			t.Errorf("%s: rescanned = %v, want %v", tt.name, did, tt.rescans)
		}
		if got := len(c.Snapshot().names); got != tt.count {
			t.Errorf("%s: %d cached, want %d", tt.name, got, tt.count)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	dec := DecodeJSON("test", func(it *item) error {
		if it.Name == "" {
			return errBad
		}
		return nil
	})
	if _, err := dec(state.KV{Key: "k", Value: "{"}); err == nil {
		t.Error("malformed JSON decoded")
	}
	if _, err := dec(state.KV{Key: "k", Value: `{}`}); !errors.Is(err, errBad) {
		t.Errorf("check error = %v, want errBad", err)
	}
	it, err := dec(state.KV{Key: "k", Value: `{"name":"x"}`})
	if err != nil || it.Name != "x" {
		t.Errorf("decode = %v, %v", it, err)
	}
}
