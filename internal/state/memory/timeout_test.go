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

// check fails unless x is a min-heap by deadline whose every item is
// recorded at its own position, and which holds exactly the keys of want
// (canonical key to deadline).
func (x *timeoutIndex) check(t *testing.T, want map[string]int64) {
	t.Helper()
	if len(x.heap) != len(want) || len(x.pos) != len(want) {
		t.Fatalf("%d items, %d positions; want %d keys", len(x.heap), len(x.pos), len(want))
	}
	for i, it := range x.heap {
		if p, ok := x.pos[it.key]; !ok || int(p) != i {
			t.Fatalf("item %d (%q) recorded at %d, %v", i, it.key, p, ok)
		}
		if ms, ok := want[it.key]; !ok || ms != it.ms {
			t.Fatalf("item %q at %d, want %d (indexed %v)", it.key, it.ms, ms, ok)
		}
		if i > 0 && x.heap[(i-1)/2].ms > it.ms {
			t.Fatalf("item %d (%d) due before its parent (%d)", i, it.ms, x.heap[(i-1)/2].ms)
		}
	}
}

// TestTimeoutIndexModel runs random puts, removals and due queries, with
// deadlines drawn from a small range so that many tie, against a map of
// key to deadline, checking the heap's invariants after every step.
func TestTimeoutIndexModel(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			var x timeoutIndex
			x.init()
			want := map[string]int64{}
			keys := make([]string, 300)
			for i := range keys {
				keys[i] = state.Key{Namespace: "ns", Tenant: "t", Kind: "pending_groups", ID: fmt.Sprint(i)}.String()
			}
			for step := range 5000 {
				k := keys[r.IntN(len(keys))]
				switch r.IntN(4) {
				case 0, 1:
					ms := r.Int64N(100)
					x.put([]byte(k), ms)
					want[k] = ms
				case 2:
					x.remove([]byte(k))
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
