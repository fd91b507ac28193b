package memory

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/acteon/acteon-go/internal/state"
)

// canonical returns the canonical form of the packed key k.
func (x *timeoutIndex) canonical(k string) string {
	h, n := handleOf(k)
	return x.prefix[h] + k[n:]
}

// check fails unless x is a min-heap by deadline whose every item is
// recorded at its own position, which holds exactly the keys of want
// (canonical key to deadline), and whose prefix handles are those of its
// keys, each counted once per key.
func (x *timeoutIndex) check(t *testing.T, want map[string]int64) {
	t.Helper()
	if len(x.heap) != len(want) || len(x.pos) != len(want) {
		t.Fatalf("%d items, %d positions; want %d keys", len(x.heap), len(x.pos), len(want))
	}
	uses := make([]int32, len(x.uses))
	for i, it := range x.heap {
		if p, ok := x.pos[it.key]; !ok || int(p) != i {
			t.Fatalf("item %d (%q) recorded at %d, %v", i, it.key, p, ok)
		}
		ck := x.canonical(it.key)
		if ms, ok := want[ck]; !ok || ms != it.ms {
			t.Fatalf("item %q at %d, want %d (indexed %v)", ck, it.ms, ms, ok)
		}
		if i > 0 && x.heap[(i-1)/arity].ms > it.ms {
			t.Fatalf("item %d (%d) due before its parent (%d)", i, it.ms, x.heap[(i-1)/arity].ms)
		}
		h, n := handleOf(it.key)
		if p := x.prefix[h]; p == "" || ck != p+it.key[n:] || prefixLen([]byte(ck)) != len(p) {
			t.Fatalf("item %q: handle %d of prefix %q", ck, h, p)
		}
		uses[h]++
	}
	if !slices.Equal(uses, x.uses) {
		t.Fatalf("uses by handle = %v, counted %v", x.uses, uses)
	}
	for h, p := range x.prefix {
		if got, ok := x.handles[p]; (p != "") != ok || (ok && got != uint32(h)) {
			t.Fatalf("handle %d of prefix %q: handles[%q] = %d, %v", h, p, p, got, ok)
		}
	}
	if len(x.handles)+len(x.free) != len(x.prefix) {
		t.Fatalf("%d handles in use and %d free of %d", len(x.handles), len(x.free), len(x.prefix))
	}
}

// TestTimeoutIndexModel runs random puts, removals and due queries, with
// deadlines drawn from a small range so that many tie and keys under a few
// prefixes (some escaped) that come and go, against a map of key to
// deadline, checking the index's invariants after every step.
func TestTimeoutIndexModel(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			var x timeoutIndex
			x.init()
			want := map[string]int64{}
			keys := make([]string, 300)
			tenants := []string{"t", "t:1", "%", ""}
			for i := range keys {
				keys[i] = state.Key{Namespace: "ns", Tenant: tenants[i%len(tenants)], Kind: "pending_groups", ID: fmt.Sprint(i / len(tenants) % 50)}.String()
				if i%7 == 0 {
					keys[i] = state.Key{Namespace: "ns", Tenant: fmt.Sprint("u", i), Kind: "event_timeout", ID: "x:y"}.String()
				}
			}
			var dst [keyBufSize]byte
			for step := range 5000 {
				k := keys[r.IntN(len(keys))]
				switch r.IntN(4) {
				case 0, 1:
					ms := r.Int64N(100)
					x.put(dst[:0], []byte(k), ms)
					want[k] = ms
				case 2:
					x.remove(dst[:0], []byte(k))
					delete(want, k)
				case 3:
					now := r.Int64N(110) - 5
					var due []string
					for k, ms := range want {
						if ms <= now {
							due = append(due, k)
						}
					}
					slices.SortFunc(due, func(a, b string) int {
						return cmp.Or(cmp.Compare(want[a], want[b]), strings.Compare(a, b))
					})
					if got := x.due(now); !slices.Equal(got, due) {
						t.Fatalf("step %d: due(%d) = %v, want %v", step, now, got, due)
					}
				}
				x.check(t, want)
			}
		})
	}
}
