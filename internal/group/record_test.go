package group

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/state"
)

// sameStrings treats nil and empty string slices alike.
var sameStrings = cmp.Comparer(func(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
})

func sampleHeaders() []*header {
	rep, huge := uint64(3600), uint64(math.MaxUint64)
	return []*header{
		{GroupID: action.UUIDv4(), GroupKey: strings.Repeat("ab", 32), Namespace: "ns", Tenant: "t1", Provider: "email",
			State: StatePending, GroupBy: []string{"metadata.cluster", "status"}, Labels: map[string]string{"metadata.cluster": "a"},
			NotifyAt: 1768471230000, CreatedAt: 1768471200000, GroupInterval: 300, MaxSize: 100, Count: 3},
		{GroupID: "not-a-uuid", GroupKey: "k", Namespace: "n:s", Tenant: "t:1", Provider: "",
			State: StateNotified, GroupBy: []string{}, Labels: map[string]string{},
			NotifyAt: 5, CreatedAt: 9, Repeat: &rep, IdleFlushes: 2, Count: 0},
		{GroupID: strings.ToUpper(action.UUIDv4()), GroupKey: "k", Namespace: "ns", Tenant: "t1", Provider: "we\"b\\hook\n\u2028<>&",
			State: StateFlushed, GroupInterval: huge, Repeat: &huge, MaxSize: huge, NotifyAt: math.MinInt64, CreatedAt: math.MaxInt64, GroupBy: []string{"metadata.x", "metadata.x", "payload.\"q\""},
			Labels: map[string]string{"metadata.x": "v\u00e9\t", "payload.\"q\"": ""}},
	}
}

// Every header survives the compact line: what is read back is what was
// written (namespace, tenant and group key come from the state key unless
// the key cannot tell them apart).
func TestHeaderLineRoundTrip(t *testing.T) {
	for _, h := range sampleHeaders() {
		v, err := encodeRecord(h, "\n[1]")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(v, "{") || !utf8.ValidString(v) {
			t.Errorf("stored value %q", v)
		}
		k := groupKey(h.Namespace, h.Tenant, h.GroupKey)
		if ambiguous(h.Namespace, h.Tenant) {
			k = state.Key{Namespace: "wrong", Tenant: "wrong", Kind: KindGroup, ID: h.GroupKey}
		}
		got, events, err := parseHeader(k, v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if diff := cmp.Diff(h, got, sameStrings); diff != "" {
			t.Errorf("%q read back differently (-wrote +read):\n%s", v, diff)
		}
		if events != "\n[1]" {
			t.Errorf("events = %q", events)
		}
	}
}

// A group read from a scan, whose canonical key cannot be split back into
// namespace and tenant (one contains ':'), has its own namespace, tenant
// and group key.
func TestParseStoredWithColonInNamespace(t *testing.T) {
	h := sampleHeaders()[0]
	h.Namespace, h.Tenant = "prod:eu", "t:1"
	v, err := encodeRecord(h)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := parseStored(groupKey(h.Namespace, h.Tenant, h.GroupKey).String(), v)
	if err != nil || got.Namespace != "prod:eu" || got.Tenant != "t:1" || got.GroupKey != h.GroupKey {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// Invalid UTF-8 in a stored string becomes U+FFFD, as encoding/json made
// it when headers were JSON objects.
func TestHeaderLineReplacesInvalidUTF8(t *testing.T) {
	h := sampleHeaders()[0]
	h.Provider = "a\xffb"
	v, err := encodeRecord(h)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := parseHeader(groupKey(h.Namespace, h.Tenant, h.GroupKey), v)
	if err != nil || got.Provider != "a\ufffdb" {
		t.Fatalf("provider = %q, %v", got.Provider, err)
	}
}

// A header line written by the previous build (a JSON object) is read.
func TestLegacyHeaderLine(t *testing.T) {
	const v = `{"group_id":"9e71efde-03ad-4572-9956-a92121fa7e4d","group_key":"0001c5df","namespace":"benchmark","tenant":"tenant-bench","provider":"email","rule":"bench-group","state":"notified","group_by":["metadata.group","status"],"labels":{"metadata.group":"g-00001788"},"notify_at":1768474800000,"created_at":1768471200000,"updated_at":1768471200000,"group_wait_seconds":3600,"group_interval_seconds":300,"repeat_interval_seconds":60,"max_group_size":100,"idle_flushes":1,"event_count":1}` +
		"\n" + `{"at":1768471200000,"fp":"f1","payload":{"seq":1788}}`
	got, events, err := parseHeader(groupKey("x", "y", "z"), v)
	if err != nil {
		t.Fatal(err)
	}
	rep := uint64(60)
	want := &header{GroupID: "9e71efde-03ad-4572-9956-a92121fa7e4d", GroupKey: "0001c5df", Namespace: "benchmark", Tenant: "tenant-bench",
		Provider: "email", State: StateNotified, GroupBy: []string{"metadata.group", "status"}, Labels: map[string]string{"metadata.group": "g-00001788"},
		NotifyAt: 1768474800000, CreatedAt: 1768471200000, GroupInterval: 300, Repeat: &rep, MaxSize: 100, IdleFlushes: 1, Count: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	fp, p, err := decodeEventLine(eventLines(events)[0])
	if err != nil || fp != "f1" || cmp.Diff(map[string]any{"seq": json.Number("1788")}, p) != "" {
		t.Errorf("legacy event: %q %v %v", fp, p, err)
	}
}

// An event line keeps the payload, and the fingerprint and status when the
// action has them.
func TestEventLine(t *testing.T) {
	for _, a := range []*action.Action{
		{Payload: map[string]any{"seq": json.Number("1")}},
		{Payload: []any{"x", nil}, Fingerprint: "fp"},
		{Payload: nil, Status: "firing"},
		{Payload: "s\n", Fingerprint: "f\"p", Status: "firing"},
	} {
		line, err := encodeEvent(a)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "\n[") || strings.Count(line, "\n") != 1 {
			t.Fatalf("line %q", line)
		}
		fp, p, err := decodeEventLine(line[1:])
		if err != nil || fp != a.Fingerprint || cmp.Diff(a.Payload, p) != "" {
			t.Errorf("%q: fp %q payload %#v err %v", line, fp, p, err)
		}
	}
}

// The stored value of a typical group with its first event (the row of
// `acteon bench --memory`) fits in 128 bytes.
func TestStoredGroupIsCompact(t *testing.T) {
	h := &header{GroupID: action.UUIDv4(), Provider: "email", State: StatePending, GroupBy: []string{"metadata.group"},
		Labels: map[string]string{"metadata.group": "g-00001788"}, NotifyAt: 1768474800000, CreatedAt: 1768471200000,
		GroupInterval: 300, MaxSize: 100, Count: 1}
	ev, err := encodeEvent(&action.Action{Payload: map[string]any{"seq": json.Number("1788")}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := encodeRecord(h, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > 128 {
		t.Errorf("stored value is %d bytes: %s", len(v), v)
	}
}

func FuzzParseHeaderLine(f *testing.F) {
	for _, h := range sampleHeaders() {
		v, _ := encodeRecord(h)
		f.Add(v)
	}
	f.Add(`[2,"x","p",0,1,2,3,-1,4,5,6,[],[]]`)
	f.Add(`[2,"x","p",0,1,2,3,-1,4,5,6,["a"],[null],"n:s","t"]`)
	f.Fuzz(func(t *testing.T, line string) {
		h, err := parseHeaderLine(line)
		if err != nil {
			return
		}
		// What parses is a header that writes and reads back the same.
		if h.Namespace == "" && h.Tenant == "" {
			h.Namespace, h.Tenant = "n", "t"
		}
		v, err := encodeRecord(h)
		if err != nil {
			t.Fatalf("%q parsed but does not encode: %v", line, err)
		}
		k := groupKey(h.Namespace, h.Tenant, h.GroupKey)
		again, _, err := parseHeader(k, v)
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", line, v, err)
		}
		if diff := cmp.Diff(h, again, sameStrings); diff != "" {
			t.Fatalf("%q → %q:\n%s", line, v, diff)
		}
	})
}
