package memory_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	"github.com/acteon/acteon-go/internal/audit/audittest"
	"github.com/acteon/acteon-go/internal/audit/memory"
	"github.com/acteon/acteon-go/internal/clock"
)

func TestConformance(t *testing.T) {
	audittest.Run(t, func(t *testing.T) audit.Store {
		s := memory.New(memory.Options{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestCopies checks that the store neither keeps the caller's slices and
// maps nor hands out its own.
func TestCopies(t *testing.T) {
	s := memory.New(memory.Options{})
	ctx := t.Context()
	r := audit.Record{ID: "r1", ActionID: "a1", ActionPayload: json.RawMessage(`{"a":1}`), Metadata: map[string]string{"k": "v"}}
	if err := s.Append(ctx, []audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	r.ActionPayload[2] = 'X'
	r.Metadata["k"] = "changed"
	got, _ := s.GetByID(ctx, "r1")
	if string(got.ActionPayload) != `{"a":1}` || got.Metadata["k"] != "v" {
		t.Fatalf("stored record changed with the caller's: %s %v", got.ActionPayload, got.Metadata)
	}
	got.Metadata["k"] = "mine"
	again, _ := s.GetByID(ctx, "r1")
	if again.Metadata["k"] != "v" {
		t.Fatal("a returned record shares its map with the store")
	}
}

func TestAppendWithoutID(t *testing.T) {
	s := memory.New(memory.Options{})
	ctx := t.Context()
	err := s.Append(ctx, []audit.Record{{ID: "ok"}, {}})
	if err == nil {
		t.Fatal("Append of a record without id succeeded")
	}
	if _, err := s.GetByID(ctx, "ok"); err == nil {
		t.Fatal("a failed Append stored part of its batch")
	}
}

func TestCleanupUsesClock(t *testing.T) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	c := clock.NewFake(now)
	s := memory.New(memory.Options{Clock: c})
	exp := now.Add(time.Minute)
	_ = s.Append(t.Context(), []audit.Record{{ID: "r", ExpiresAt: &exp}})
	if n, _ := s.CleanupExpired(t.Context(), time.Time{}); n != 0 {
		t.Fatalf("cleanup before expiry removed %d", n)
	}
	c.Advance(time.Minute)
	if n, _ := s.CleanupExpired(t.Context(), time.Time{}); n != 1 {
		t.Fatalf("cleanup at expiry removed %d, want 1", n)
	}
}

// TestCleanupKeepsTheActionsOtherRecords: when one of an action's records
// expires, lookup by action id finds the one left, and nothing once both
// are gone.
func TestCleanupKeepsTheActionsOtherRecords(t *testing.T) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.Options{})
	ctx := t.Context()
	soon, later := now.Add(time.Minute), now.Add(time.Hour)
	err := s.Append(ctx, []audit.Record{
		{ID: "newer", ActionID: "a", DispatchedAt: now.Add(time.Second), ExpiresAt: &soon},
		{ID: "older", ActionID: "a", DispatchedAt: now, ExpiresAt: &later},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetByActionID(ctx, "a"); got.ID != "newer" {
		t.Fatalf("before cleanup: %q, want the latest record", got.ID)
	}
	if n, _ := s.CleanupExpired(ctx, soon); n != 1 {
		t.Fatalf("cleanup removed %d, want 1", n)
	}
	if got, err := s.GetByActionID(ctx, "a"); err != nil || got.ID != "older" {
		t.Fatalf("after the newer record expired: %q, %v; want the older one", got.ID, err)
	}
	if n, _ := s.CleanupExpired(ctx, later); n != 1 {
		t.Fatalf("second cleanup removed %d, want 1", n)
	}
	if _, err := s.GetByActionID(ctx, "a"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("after both expired: %v, want ErrNotFound", err)
	}
}
