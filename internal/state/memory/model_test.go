package memory_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
	"github.com/acteon/acteon-go/internal/state/memory"
)

// model is the memory store's semantics written the plain way: one map by
// canonical key string. The store keeps keys split into prefix and id; the
// two must not be told apart.
type model struct {
	now int64
	m   map[string]modelEntry
}

type modelEntry struct {
	value   string
	version uint64
	expires int64
}

func (m *model) live(k string) (modelEntry, bool) {
	e, ok := m.m[k]
	return e, ok && (e.expires == 0 || m.now < e.expires)
}

func (m *model) deadline(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return m.now + int64(ttl)
}

func (m *model) scan(match func(k string) bool) []state.KV {
	var out []state.KV
	for k := range m.m {
		if e, ok := m.live(k); ok && match(k) {
			out = append(out, state.KV{Key: k, Value: e.value})
		}
	}
	slices.SortFunc(out, func(a, b state.KV) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// TestModel runs random operations on keys whose fields share prefixes and
// contain ':' (so that different fields give the same canonical key, and
// scan prefixes cross the kind/id boundary), with values that are small
// decimals, other strings and counters, against the model.
func TestModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	c := clock.NewFake(epoch)
	s := memory.New(memory.Options{Clock: c})
	m := &model{now: epoch.UnixNano(), m: map[string]modelEntry{}}
	ctx := t.Context()
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	key := func() state.Key {
		return state.Key{
			Namespace: pick("a", "a:b", "ab"),
			Tenant:    pick("b", "b:c", "c", ""),
			Kind:      pick("dedup", "dedup:x", "x", "c:dedup"),
			ID:        pick("x", "x:y", "y", "1", "10", "", "order-00000001"),
		}
	}
	value := func() string {
		return pick("1", "0", "42", "99", "100", "", "v", `{"state":"open"}`, strconv.Itoa(r.IntN(300)))
	}
	ttl := func() time.Duration { return time.Duration(r.IntN(3)) * time.Second }

	for step := range 3000 {
		k := key()
		ck := k.String()
		where := func() string { return fmt.Sprintf("seed %d step %d key %q", seed, step, ck) }
		switch op := r.IntN(11); op {
		case 0, 1:
			v, d := value(), ttl()
			if err := s.Set(ctx, k, v, d); err != nil {
				t.Fatal(where(), err)
			}
			e, ok := m.live(ck)
			if !ok {
				e.version = 0
			}
			m.m[ck] = modelEntry{value: v, version: e.version + 1, expires: m.deadline(d)}
		case 2, 3:
			v, d := value(), ttl()
			got, err := s.CheckAndSet(ctx, k, v, d)
			_, live := m.live(ck)
			if err != nil || got == live {
				t.Fatalf("%s: CheckAndSet = %v, %v; want %v", where(), got, err, !live)
			}
			if !live {
				m.m[ck] = modelEntry{value: v, version: 1, expires: m.deadline(d)}
			}
		case 4:
			got, err := s.Delete(ctx, k)
			_, live := m.live(ck)
			delete(m.m, ck)
			if err != nil || got != live {
				t.Fatalf("%s: Delete = %v, %v; want %v", where(), got, err, live)
			}
		case 5:
			delta, d := int64(r.IntN(120)-10), ttl()
			got, err := s.Increment(ctx, k, delta, d)
			e, live := m.live(ck)
			var n int64
			if live {
				var perr error
				if n, perr = strconv.ParseInt(e.value, 10, 64); perr != nil {
					if err == nil {
						t.Fatalf("%s: Increment of %q succeeded", where(), e.value)
					}
					break
				}
			} else {
				e = modelEntry{}
			}
			n += delta
			e.value, e.version = strconv.FormatInt(n, 10), e.version+1
			if d > 0 {
				e.expires = m.now + int64(d)
			}
			m.m[ck] = e
			if err != nil || got != n {
				t.Fatalf("%s: Increment = %d, %v; want %d", where(), got, err, n)
			}
		case 6:
			got, err := s.GetVersioned(ctx, k)
			e, live := m.live(ck)
			if live != (err == nil) || (live && (got.Value != e.value || got.Version != e.version)) {
				t.Fatalf("%s: GetVersioned = %+v, %v; want %+v (live %v)", where(), got, err, e, live)
			}
		case 7:
			prefix := pick("", "x", "x:", "1", ":")
			got, _ := s.ScanKeys(ctx, k.Namespace, k.Tenant, k.Kind, prefix)
			p := state.ScanPrefix(k.Namespace, k.Tenant, k.Kind, prefix)
			want := m.scan(func(k string) bool { return strings.HasPrefix(k, p) })
			if !slices.Equal(got, want) {
				t.Fatalf("%s: ScanKeys(%q) = %v, want %v", where(), p, got, want)
			}
		case 8:
			kind := pick("dedup", "dedup:x", "x", "c", "c:dedup", "b:c", "")
			got, _ := s.ScanKeysByKind(ctx, kind)
			want := m.scan(func(k string) bool {
				parts := strings.SplitN(k, ":", 3)
				return strings.HasPrefix(parts[2], kind+":")
			})
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d step %d: ScanKeysByKind(%q) = %v, want %v", seed, step, kind, got, want)
			}
		case 9:
			d := time.Duration(r.IntN(1500)) * time.Millisecond
			c.Advance(d)
			m.now += int64(d)
		case 10:
			want := 0
			for k, e := range m.m {
				if e.expires != 0 && m.now >= e.expires {
					delete(m.m, k)
					want++
				}
			}
			if got := s.Sweep(); got != want {
				t.Fatalf("seed %d step %d: Sweep = %d, want %d", seed, step, got, want)
			}
		}
	}
	// Everything the model holds reads the same.
	for ck, e := range m.m {
		k, _ := state.ParseKey(ck)
		got, err := s.GetVersioned(ctx, k)
		if _, live := m.live(ck); !live {
			if !errors.Is(err, state.ErrNotFound) {
				t.Errorf("%q expired but GetVersioned = %+v, %v", ck, got, err)
			}
			continue
		}
		if err != nil || got.Value != e.value || got.Version != e.version {
			t.Errorf("%q: GetVersioned = %+v, %v; want %+v", ck, got, err, e)
		}
	}
}
