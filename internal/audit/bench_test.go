package audit_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
)

// nopStore accepts every batch at once.
type nopStore struct{ audit.Store }

func (nopStore) Append(context.Context, []audit.Record) error { return nil }

// BenchmarkWriterWrite is the audit cost on the dispatch path: queueing one
// record for the background writer.
func BenchmarkWriterWrite(b *testing.B) {
	w := audit.NewWriter(nopStore{}, audit.WriterOptions{})
	defer w.Close(context.Background())
	ctx := b.Context()
	rec := audit.Record{ID: "0190", ActionID: "a", Namespace: "ns", Tenant: "t", DispatchedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	p := json.RawMessage(`{"to":"ops@example.com","subject":"disk full","password":"x","items":[{"card":"4111","qty":1},{"card":"5500","qty":2}],"meta":{"host":"db-1","region":"eu"}}`)
	fields := []string{"password", "items.card"}
	b.ReportAllocs()
	for b.Loop() {
		audit.Redact(p, fields, "")
	}
}
