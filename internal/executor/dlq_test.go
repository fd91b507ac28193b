package executor

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

func newTestDLQ(t *testing.T) (*DLQ, *clock.Fake, state.Store) {
	c := clock.NewFake(time.Unix(1_700_000_000, 0))
	s := memory.New(memory.Options{Clock: c})
	return NewDLQ(s, c), c, s
}

func entry(id string) Entry {
	a := testAction()
	a.ID = id
	return Entry{ActionID: id, Namespace: "ns", Tenant: "t", Provider: "p", ActionType: "send",
		Error: "connection error: down", Attempts: 4, Action: a}
}

func TestDLQPushListDrain(t *testing.T) {
	d, c, _ := newTestDLQ(t)
	ctx := t.Context()
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := d.Push(ctx, entry(id)); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	if n, err := d.Count(ctx); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3", n, err)
	}
	list, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var stamps []int64
	for _, e := range list {
		ids = append(ids, e.ActionID)
		stamps = append(stamps, e.Timestamp)
		if e.ID == "" || e.Action == nil || e.Action.ID != e.ActionID {
			t.Errorf("entry %+v lacks its id or action", e)
		}
	}
	if diff := cmp.Diff([]string{"a1", "a2", "a3"}, ids); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1_700_000_000, 1_700_000_001, 1_700_000_002}, stamps); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
	if n, _ := d.Count(ctx); n != 3 {
		t.Errorf("List removed entries: count %d", n)
	}

	drained, err := d.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list, drained, cmpopts.IgnoreFields(action.Action{}, "CreatedAt")); diff != "" {
		t.Errorf("Drain != List (-list +drain):\n%s", diff)
	}
	if n, _ := d.Count(ctx); n != 0 {
		t.Errorf("count after drain = %d", n)
	}
	if again, _ := d.Drain(ctx); len(again) != 0 {
		t.Errorf("second drain returned %d entries", len(again))
	}
}

func TestDLQEntryJSON(t *testing.T) {
	e := entry("a1")
	e.Timestamp = 1_700_000_000
	e.Action = nil
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action_id":"a1","namespace":"ns","tenant":"t","provider":"p","action_type":"send","error":"connection error: down","attempts":4,"timestamp":1700000000}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
}

func TestDLQConcurrentDrainReturnsEachEntryOnce(t *testing.T) {
	d, _, _ := newTestDLQ(t)
	ctx := t.Context()
	const n = 200
	for i := range n {
		if err := d.Push(ctx, entry("a"+string(rune('0'+i%10)))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := d.Drain(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			for _, e := range got {
				seen[e.ID]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("drained %d distinct entries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("entry %s returned %d times", id, c)
		}
	}
}

func TestDLQCorruptEntrySkippedAndDrained(t *testing.T) {
	d, _, s := newTestDLQ(t)
	ctx := t.Context()
	if err := s.Set(ctx, dlqKey("00000000000000000001-bad"), "{not json", 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Push(ctx, entry("ok")); err != nil {
		t.Fatal(err)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0].ActionID != "ok" {
		t.Fatalf("List = %+v, %v; want only the good entry", list, err)
	}
	got, err := d.Drain(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("Drain = %+v, %v", got, err)
	}
	if n, _ := d.Count(ctx); n != 0 {
		t.Errorf("corrupt entry left behind: count %d", n)
	}
}

func TestDLQDelete(t *testing.T) {
	d, _, _ := newTestDLQ(t)
	ctx := t.Context()
	_ = d.Push(ctx, entry("a"))
	list, _ := d.List(ctx)
	if ok, err := d.Delete(ctx, list[0].ID); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if ok, _ := d.Delete(ctx, list[0].ID); ok {
		t.Error("second Delete reported a removal")
	}
}
