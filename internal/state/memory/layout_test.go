package memory

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestEntryLayout pins what a cached key costs besides the bytes of its
// packed key (prefix handle and id): a map slot of string key and *entry
// (24 bytes) and a 24-byte entry, the dedup marker "1" sharing smallValues.
// Growing either shows up in the "per cached dedup key" figure of `acteon
// bench --memory`.
func TestEntryLayout(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 24 {
		t.Errorf("entry is %d bytes, want 24", got)
	}
	f, _ := reflect.TypeFor[shard]().FieldByName("m")
	if k, v := f.Type.Key(), f.Type.Elem(); k.Kind() != reflect.String || v != reflect.TypeFor[*entry]() {
		t.Errorf("shard.m is map[%s]%s, want map[string]*entry", k, v)
	}
	var e entry
	e.setValue("1")
	if e.val != &smallValues[1] {
		t.Error(`value "1" got its own allocation, want it shared from smallValues`)
	}
	if got := unsafe.Sizeof(shard{}); got%64 != 0 {
		t.Errorf("shard is %d bytes, want a multiple of 64 (one cache line per mutex)", got)
	}
}

// TestTimeoutIndexLayout pins what an indexed timeout costs besides its
// packed key's bytes (prefix handle and id): a 24-byte heap item (deadline
// and key) and a map slot of string key and int32 position, the key string
// shared by both.
func TestTimeoutIndexLayout(t *testing.T) {
	if got := unsafe.Sizeof(titem{}); got != 24 {
		t.Errorf("titem is %d bytes, want 24", got)
	}
	f, _ := reflect.TypeFor[timeoutIndex]().FieldByName("pos")
	if k, v := f.Type.Key(), f.Type.Elem(); k.Kind() != reflect.String || v.Kind() != reflect.Int32 {
		t.Errorf("timeoutIndex.pos is map[%s]%s, want map[string]int32", k, v)
	}
	var x timeoutIndex
	x.init()
	x.put(nil, []byte("ns:t:pending_groups:g1"), 1000)
	for k := range x.pos {
		if unsafe.StringData(k) != unsafe.StringData(x.heap[0].key) {
			t.Error("the map and the heap item hold two copies of the key, want one string")
		}
	}
}

// TestHandles checks that a prefix's handle lives exactly as long as some
// entry carries it, and that freed handles are reused.
func TestHandles(t *testing.T) {
	var sh shard
	sh.m = make(map[string]*entry)
	sh.handles = make(map[string]uint32)
	var dst [keyBufSize]byte
	const prefix = "ns:t:dedup:"
	put := func(id string) {
		b := []byte(prefix + id)
		k, _, e := sh.find(dst[:0], b, len(prefix))
		if e != nil {
			t.Fatalf("%s already stored", id)
		}
		sh.add(dst[:0], k, b, len(prefix), newEntry("1", 0))
	}
	del := func(id string) {
		b := []byte(prefix + id)
		k, _, e := sh.find(dst[:0], b, len(prefix))
		if e == nil {
			t.Fatalf("%s not stored", id)
		}
		delete(sh.m, string(k))
		if h, _ := handleOf(k); sh.release(h) {
			sh.freeHandle(h, prefix)
		}
	}
	put("a")
	put("b")
	if len(sh.handles) != 1 || sh.uses[0] != 2 {
		t.Fatalf("two ids of one prefix: handles %v, uses %v; want one handle used twice", sh.handles, sh.uses)
	}
	if got := sh.prefixes(); len(got) != 1 || got[0] != prefix {
		t.Fatalf("prefixes() = %q, want [%q]", got, prefix)
	}
	del("a")
	if len(sh.handles) != 1 {
		t.Fatal("handle freed while b still carries it")
	}
	del("b")
	if len(sh.handles) != 0 || len(sh.free) != 1 {
		t.Fatalf("after the last entry: handles %v, free %v; want the handle freed", sh.handles, sh.free)
	}
	if k, _, _ := sh.find(dst[:0], []byte(prefix+"a"), len(prefix)); k != nil {
		t.Fatalf("find after the prefix's handle was freed = %q, want no key", k)
	}
	const other = "ns:t2:dedup:"
	sh.add(dst[:0], nil, []byte(other+"x"), len(other), newEntry("1", 0))
	if h := sh.handles[other]; h != 0 || len(sh.uses) != 1 || len(sh.free) != 0 {
		t.Fatalf("new prefix got handle %d (%d handles, %d free), want the freed handle 0 reused", h, len(sh.uses), len(sh.free))
	}
	if _, ok := sh.m["\x00x"]; !ok {
		t.Fatalf("packed key of handle 0 and id x missing: %q", keys(sh.m))
	}
}

func keys(m map[string]*entry) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestHandleOf round-trips handles of one to five bytes.
func TestHandleOf(t *testing.T) {
	for _, h := range []uint32{0, 1, 127, 128, 300, 16383, 16384, 1 << 21, 1<<32 - 1} {
		b := packKey(nil, h, []byte("id"))
		got, n := handleOf(b)
		if got != h || string(b[n:]) != "id" {
			t.Errorf("handleOf(%x) = %d, %d; want %d and the id after it", b, got, n, h)
		}
		if gs, ns := handleOf(string(b)); gs != got || ns != n {
			t.Errorf("handleOf of the string differs: %d, %d", gs, ns)
		}
	}
}
