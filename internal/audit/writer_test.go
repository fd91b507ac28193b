package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acteon/acteon-go/internal/audit"
)

// countingStore counts how often each record id was stored. Its first
// failFirst Append calls fail; while block is open, Append waits on it.
type countingStore struct {
	mu        sync.Mutex
	counts    map[string]int
	calls     int
	failFirst int
	failAll   bool
	block     chan struct{}
	// poison is a record id the store always refuses (a permanent error).
	poison string
}

func newCountingStore() *countingStore { return &countingStore{counts: map[string]int{}} }

var errStoreDown = fmt.Errorf("store down: %w", audit.ErrUnavailable)

func (s *countingStore) Append(ctx context.Context, rs []audit.Record) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failAll || s.calls <= s.failFirst {
		return errStoreDown
	}
	for _, r := range rs {
		if r.ID == s.poison {
			return errors.New("invalid record " + r.ID)
		}
	}
	for _, r := range rs {
		s.counts[r.ID]++
	}
	return nil
}

// check fails unless exactly ids were stored, each once.
func (s *countingStore) check(t *testing.T, ids []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if n := s.counts[id]; n != 1 {
			t.Errorf("record %s stored %d times, want once", id, n)
		}
	}
	if len(s.counts) != len(ids) {
		t.Errorf("%d distinct records stored, want %d", len(s.counts), len(ids))
	}
}

func (s *countingStore) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts)
}

func (s *countingStore) GetByActionID(context.Context, string) (audit.Record, error) {
	return audit.Record{}, audit.ErrNotFound
}
func (s *countingStore) GetByID(context.Context, string) (audit.Record, error) {
	return audit.Record{}, audit.ErrNotFound
}
func (s *countingStore) Query(context.Context, audit.Query) (audit.Page, error) {
	return audit.Page{}, nil
}
func (s *countingStore) CleanupExpired(context.Context, time.Time) (int, error) { return 0, nil }
func (s *countingStore) Close() error                                           { return nil }

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

func write(t *testing.T, w *audit.Writer, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := w.Write(t.Context(), audit.Record{ID: id}); err != nil {
			t.Fatalf("Write(%s): %v", id, err)
		}
	}
}

func TestWriterAsyncStoresEachRecordOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		reg := prometheus.NewPedanticRegistry()
		w := audit.NewWriter(s, audit.WriterOptions{QueueSize: 500, BatchSize: 100, Registerer: reg})
		all := ids("r", 2345)
		var wg sync.WaitGroup
		for g := range 4 { // concurrent writers; the queue is smaller than the total
			wg.Go(func() {
				for i := g; i < len(all); i += 4 {
					if err := w.Write(t.Context(), audit.Record{ID: all[i]}); err != nil {
						t.Errorf("Write: %v", err)
					}
				}
			})
		}
		wg.Wait()
		if err := w.Flush(t.Context()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		s.check(t, all)
		if d := w.Depth(); d != 0 {
			t.Errorf("Depth after Flush = %d, want 0", d)
		}
		if err := testutil.GatherAndCompare(reg, stringsReader(`
# HELP acteon_audit_records_written_total Audit records stored.
# TYPE acteon_audit_records_written_total counter
acteon_audit_records_written_total 2345
# HELP acteon_audit_write_failures_total Audit store append calls that failed (each retry counts).
# TYPE acteon_audit_write_failures_total counter
acteon_audit_write_failures_total 0
# HELP acteon_audit_queue_depth Audit records accepted by the writer and not yet stored.
# TYPE acteon_audit_queue_depth gauge
acteon_audit_queue_depth 0
`), "acteon_audit_records_written_total", "acteon_audit_write_failures_total", "acteon_audit_queue_depth"); err != nil {
			t.Error(err)
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

func TestWriterBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		s.block = make(chan struct{})
		w := audit.NewWriter(s, audit.WriterOptions{QueueSize: 3, BatchSize: 1})
		write(t, w, "r0")
		synctest.Wait() // the worker took r0 and is stuck in Append
		write(t, w, "r1", "r2")
		if d := w.Depth(); d != 3 {
			t.Fatalf("Depth = %d, want 3 (the queue is full)", d)
		}

		// A write whose context is already done gives up instead of waiting,
		// and says so.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := w.Write(ctx, audit.Record{ID: "gave-up"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write on a full queue with a done context = %v, want context.Canceled", err)
		}

		// A write with a live context blocks until there is room.
		returned := make(chan error, 1)
		go func() { returned <- w.Write(t.Context(), audit.Record{ID: "r3"}) }()
		synctest.Wait()
		select {
		case err := <-returned:
			t.Fatalf("Write on a full queue returned (%v) instead of blocking", err)
		default:
		}

		close(s.block)
		if err := <-returned; err != nil {
			t.Fatalf("blocked Write: %v", err)
		}
		if err := w.Flush(t.Context()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		s.check(t, []string{"r0", "r1", "r2", "r3"})
		_ = w.Close(t.Context())
	})
}

func TestWriterRetriesFailedBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		s.failFirst = 3
		reg := prometheus.NewPedanticRegistry()
		w := audit.NewWriter(s, audit.WriterOptions{BatchSize: 4, RetryBackoff: time.Second, Registerer: reg})
		all := ids("r", 10)
		write(t, w, all...)
		if err := w.Flush(t.Context()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		s.check(t, all)
		if err := testutil.GatherAndCompare(reg, stringsReader(`
# HELP acteon_audit_write_failures_total Audit store append calls that failed (each retry counts).
# TYPE acteon_audit_write_failures_total counter
acteon_audit_write_failures_total 3
# HELP acteon_audit_records_written_total Audit records stored.
# TYPE acteon_audit_records_written_total counter
acteon_audit_records_written_total 10
`), "acteon_audit_write_failures_total", "acteon_audit_records_written_total"); err != nil {
			t.Error(err)
		}
		_ = w.Close(t.Context())
	})
}

func TestWriterPartialBatchWaitsForInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		w := audit.NewWriter(s, audit.WriterOptions{BatchSize: 10, FlushInterval: 100 * time.Millisecond})
		write(t, w, "a", "b", "c")
		synctest.Wait()
		if n := s.stored(); n != 0 {
			t.Fatalf("%d records stored before the flush interval, want 0", n)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		s.check(t, []string{"a", "b", "c"})

		// A full batch does not wait.
		write(t, w, ids("full", 10)...)
		synctest.Wait()
		if n := s.stored(); n != 13 {
			t.Fatalf("%d records stored after a full batch, want 13", n)
		}
		_ = w.Close(t.Context())
	})
}

func TestWriterCloseFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		w := audit.NewWriter(s, audit.WriterOptions{BatchSize: 7, FlushInterval: time.Hour})
		all := ids("r", 30)
		write(t, w, all...)
		if err := w.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s.check(t, all)
		if err := w.Write(t.Context(), audit.Record{ID: "late"}); !errors.Is(err, audit.ErrWriterClosed) {
			t.Fatalf("Write after Close = %v, want ErrWriterClosed", err)
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
		if err := w.Flush(t.Context()); err != nil {
			t.Fatalf("Flush after Close with nothing queued = %v, want nil", err)
		}
	})
}

func TestWriterCloseGivesUpAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		s.failAll = true
		w := audit.NewWriter(s, audit.WriterOptions{BatchSize: 2})
		write(t, w, ids("r", 5)...)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err := w.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close with a failing store = %v, want DeadlineExceeded", err)
		}
		synctest.Wait() // the worker abandons what is left
		if err := w.Flush(t.Context()); !errors.Is(err, audit.ErrWriterClosed) {
			t.Fatalf("Flush after a Close that gave up = %v, want ErrWriterClosed", err)
		}
		if d := w.Depth(); d != 0 {
			t.Fatalf("Depth after giving up = %d, want 0", d)
		}
		if again := w.Close(t.Context()); again == nil || again.Error() != err.Error() {
			t.Fatalf("second Close = %v, want the first result %v", again, err)
		}
	})
}

func TestWriterCloseReleasesBlockedWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		s.block = make(chan struct{})
		w := audit.NewWriter(s, audit.WriterOptions{QueueSize: 1, BatchSize: 1})
		write(t, w, "r0")
		synctest.Wait()
		returned := make(chan error, 1)
		go func() { returned <- w.Write(t.Context(), audit.Record{ID: "r1"}) }()
		synctest.Wait()
		closed := make(chan error, 1)
		go func() { closed <- w.Close(t.Context()) }()
		if err := <-returned; !errors.Is(err, audit.ErrWriterClosed) {
			t.Fatalf("blocked Write during Close = %v, want ErrWriterClosed", err)
		}
		close(s.block)
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
		s.check(t, []string{"r0"})
	})
}

func TestWriterSync(t *testing.T) {
	s := newCountingStore()
	w := audit.NewWriter(s, audit.WriterOptions{Sync: true})
	write(t, w, "a")
	if n := s.stored(); n != 1 {
		t.Fatalf("sync Write returned before storing: %d stored", n)
	}
	s.failAll = true
	if err := w.Write(t.Context(), audit.Record{ID: "b"}); !errors.Is(err, errStoreDown) {
		t.Fatalf("sync Write with a failing store = %v, want the store's error", err)
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatalf("Flush in sync mode: %v", err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatalf("Close in sync mode: %v", err)
	}
	if err := w.Write(t.Context(), audit.Record{ID: "c"}); !errors.Is(err, audit.ErrWriterClosed) {
		t.Fatalf("sync Write after Close = %v, want ErrWriterClosed", err)
	}
}

func TestWriterMetricsRegistration(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	w1 := audit.NewWriter(newCountingStore(), audit.WriterOptions{Registerer: reg})
	// A second writer on the same registry (as after a reload) must not
	// panic and shares the series.
	w2 := audit.NewWriter(newCountingStore(), audit.WriterOptions{Registerer: reg})
	write(t, w2, "x")
	_ = w2.Flush(t.Context())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{
		"acteon_audit_queue_depth", "acteon_audit_batch_size", "acteon_audit_write_duration_seconds",
		"acteon_audit_write_failures_total", "acteon_audit_records_written_total",
	} {
		if !got[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
	_ = w1.Close(t.Context())
	_ = w2.Close(t.Context())
	// No registerer: no metrics, and no panic.
	w3 := audit.NewWriter(newCountingStore(), audit.WriterOptions{})
	write(t, w3, "y")
	_ = w3.Close(t.Context())
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func TestWriterIsolatesARecordTheStoreRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		s.poison = "r00005"
		reg := prometheus.NewPedanticRegistry()
		w := audit.NewWriter(s, audit.WriterOptions{BatchSize: 8, RetryBackoff: time.Second, Registerer: reg})
		all := ids("r", 20)
		write(t, w, all...)
		if err := w.Flush(t.Context()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		var good []string
		for _, id := range all {
			if id != s.poison {
				good = append(good, id)
			}
		}
		// Every other record is stored exactly once; the poisoned one does
		// not stall the trail, and its loss is counted.
		s.check(t, good)
		if got := testutil.ToFloat64(mustCounter(t, reg, "acteon_audit_records_rejected_total")); got != 1 {
			t.Errorf("rejected = %v, want 1", got)
		}
		_ = w.Close(t.Context())
	})
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetCounter().GetValue()
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "copy"})
			c.Add(v)
			return c
		}
	}
	t.Fatalf("metric %s not found", name)
	return nil
}

// gateStore blocks Append for any batch holding a gated record id until
// its gate is opened; other batches are stored at once.
type gateStore struct {
	countingStore
	gates   map[string]chan struct{}
	mu2     sync.Mutex
	active  int // Append calls in progress
	maxSeen int
}

func (s *gateStore) Append(ctx context.Context, rs []audit.Record) error {
	s.mu2.Lock()
	s.active++
	s.maxSeen = max(s.maxSeen, s.active)
	s.mu2.Unlock()
	defer func() {
		s.mu2.Lock()
		s.active--
		s.mu2.Unlock()
	}()
	for _, r := range rs {
		if g := s.gates[r.ID]; g != nil {
			select {
			case <-g:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return s.countingStore.Append(ctx, rs)
}

func TestWriterStoresConcurrencyBatchesAtOnce(t *testing.T) {
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency=%d", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &gateStore{countingStore: *newCountingStore(), gates: map[string]chan struct{}{}}
				gate := make(chan struct{})
				all := ids("r", 50)
				for i := 0; i < len(all); i += 10 {
					s.gates[all[i]] = gate // every batch waits
				}
				w := audit.NewWriter(s, audit.WriterOptions{QueueSize: 50, BatchSize: 10, Concurrency: k})
				write(t, w, all...)
				synctest.Wait()
				s.mu2.Lock()
				active := s.active
				s.mu2.Unlock()
				if active != k {
					t.Errorf("%d batches in flight, want %d", active, k)
				}
				if d := w.Depth(); d != 50 {
					t.Errorf("Depth = %d, want 50", d)
				}
				close(gate)
				if err := w.Flush(t.Context()); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				s.check(t, all)
				if s.maxSeen != k {
					t.Errorf("at most %d batches were in flight, want %d", s.maxSeen, k)
				}
				if err := w.Close(t.Context()); err != nil {
					t.Fatalf("Close: %v", err)
				}
			})
		})
	}
}

// A later batch that is stored first must not let Flush return before an
// earlier one.
func TestWriterFlushWaitsForAnEarlierSlowBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &gateStore{countingStore: *newCountingStore(), gates: map[string]chan struct{}{}}
		slow := make(chan struct{})
		s.gates["r00000"] = slow // the first batch
		w := audit.NewWriter(s, audit.WriterOptions{QueueSize: 100, BatchSize: 5, Concurrency: 4})
		all := ids("r", 15)
		write(t, w, all...)
		flushed := make(chan error, 1)
		go func() { flushed <- w.Flush(t.Context()) }()
		synctest.Wait()
		if n := s.stored(); n != 10 {
			t.Fatalf("%d records stored while the first batch is stuck, want 10", n)
		}
		select {
		case err := <-flushed:
			t.Fatalf("Flush returned (%v) before the first batch was stored", err)
		default:
		}
		if d := w.Depth(); d != 5 {
			t.Errorf("Depth = %d, want 5 (the stuck batch)", d)
		}
		close(slow)
		if err := <-flushed; err != nil {
			t.Fatalf("Flush: %v", err)
		}
		s.check(t, all)
		_ = w.Close(t.Context())
	})
}

// Close gives up on every batch still in flight and counts them all lost.
func TestWriterCloseGivesUpOnEveryBatchInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newCountingStore()
		s.failAll = true
		w := audit.NewWriter(s, audit.WriterOptions{QueueSize: 100, BatchSize: 3, Concurrency: 3})
		write(t, w, ids("r", 20)...)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err := w.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "20 records") {
			t.Fatalf("Close with a failing store = %v, want DeadlineExceeded naming 20 records", err)
		}
		synctest.Wait()
		if err := w.Flush(t.Context()); !errors.Is(err, audit.ErrWriterClosed) || !strings.Contains(err.Error(), "20 records") {
			t.Fatalf("Flush after a Close that gave up = %v, want ErrWriterClosed naming 20 records", err)
		}
		if d := w.Depth(); d != 0 {
			t.Fatalf("Depth after giving up = %d, want 0", d)
		}
	})
}
