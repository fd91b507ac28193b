// Package keylock serialises work on one key inside one process with a
// fixed set of striped mutexes, so that compare-and-swap retries on a
// state entry only come from other nodes. Distinct keys may share a
// stripe; that only serialises them, it never deadlocks a single Lock.
package keylock

import (
	"hash/maphash"
	"sync"
)

// Stripes is the number of mutexes of a Striped.
const Stripes = 256

// Striped maps keys onto Stripes mutexes. Create it with New; it is safe
// for concurrent use.
type Striped struct {
	seed maphash.Seed
	mu   [Stripes]sync.Mutex
}

// New returns a Striped with a fresh hash seed.
func New() *Striped { return &Striped{seed: maphash.MakeSeed()} }

// For returns the mutex that guards key.
func (s *Striped) For(key string) *sync.Mutex {
	return &s.mu[maphash.String(s.seed, key)%Stripes]
}
