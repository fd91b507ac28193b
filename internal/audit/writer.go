package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrWriterClosed: Write, or a Flush that cannot complete, after Close.
var ErrWriterClosed = errors.New("audit: writer closed")

// Defaults for WriterOptions.
const (
	DefaultQueueSize     = 10000
	DefaultBatchSize     = 500
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultRetryBackoff  = 100 * time.Millisecond
	DefaultConcurrency   = 2
)

// WriterOptions configures a Writer. Zero values take the defaults.
type WriterOptions struct {
	// QueueSize bounds the records accepted but not yet stored (those in a
	// batch being written included). A Write that finds the queue full
	// waits. Default 10000.
	QueueSize int
	// BatchSize is the most records one Append carries. Default 500.
	BatchSize int
	// FlushInterval is how long a partial batch waits for more records
	// before it is written anyway. Default 100ms.
	FlushInterval time.Duration
	// Sync writes each record through to the store inside Write (the
	// `[audit] sync = true` mode) instead of queueing it.
	Sync bool
	// Logger receives retry warnings and lost-record errors; nil discards.
	Logger *slog.Logger
	// Registerer receives the writer's metrics; nil means no metrics.
	Registerer prometheus.Registerer
	// RetryBackoff is the first wait after a failed batch; it doubles on
	// every further failure up to 64 times itself. Default 100ms.
	RetryBackoff time.Duration
	// Concurrency is the most batches being stored at once, each by its own
	// Append call. Batches may then complete out of order; Flush still
	// waits for every record queued before it. Default 2.
	Concurrency int
}

// Writer appends audit records to a Store asynchronously and in batches
// (decision D21), so that the store's latency stays off the dispatch path.
//
// Records go into a bounded FIFO queue. One background goroutine takes up to
// BatchSize records at a time, as soon as a batch is full or FlushInterval
// after the first record of a partial batch, and hands the batch to one of
// Concurrency storing goroutines, which appends it; while all of them are
// busy the queue fills, so the next batch is full when one is free. A batch
// that fails is retried with exponential backoff for as long as the writer runs:
// it is never dropped, and since Append is idempotent on record id a retry
// never duplicates. While the store is failing the queue fills, and Write
// then blocks (back-pressure) until there is room or its context is done.
// Records are lost only when Close gives up at its deadline; that is
// returned by Close and logged at error level with the count.
//
// A Writer is safe for concurrent use. It does not close the store.
type Writer struct {
	store Store
	opts  WriterOptions
	log   *slog.Logger
	m     writerMetrics

	// ctx is the writer's own lifetime; it is cancelled when Close gives up,
	// which stops retries and abandons what is left.
	ctx     context.Context
	cancel  context.CancelFunc
	wake    chan struct{} // pokes the worker; capacity 1
	done    chan struct{} // closed when the worker and every storer have returned
	free    chan []Record // batch buffers not in use; taking one is a storing slot
	storers sync.WaitGroup

	mu          sync.Mutex
	ring        []Record // pending records: ring[head], …, ring[head+n-1] (mod len)
	head, n     int
	inflight    int      // records taken by the worker, not yet settled
	enqueued    uint64   // records ever accepted
	taken       uint64   // records ever taken from the queue into a batch
	starts      []uint64 // acceptance number of the first record of each batch in flight
	settled     uint64   // every record numbered below this is stored (or abandoned)
	flushTarget uint64   // a Flush waits for settled >= this: write partial batches now
	closing     bool
	exited      bool
	lost        int           // records abandoned by a Close that gave up
	space       chan struct{} // closed and replaced when room frees up or closing starts
	progress    chan struct{} // closed and replaced when settled grows or the worker exits

	closeOnce sync.Once
	closeErr  error
}

// NewWriter returns a running Writer for store. In sync mode it starts no
// goroutine.
func NewWriter(store Store, opts WriterOptions) *Writer {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	opts.BatchSize = min(opts.BatchSize, opts.QueueSize)
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		store:    store,
		opts:     opts,
		log:      log.With("component", "audit_writer"),
		m:        newWriterMetrics(opts.Registerer),
		ctx:      ctx,
		cancel:   cancel,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		space:    make(chan struct{}),
		progress: make(chan struct{}),
	}
	if opts.Sync {
		close(w.done)
		w.exited = true
		return w
	}
	w.ring = make([]Record, opts.QueueSize)
	w.free = make(chan []Record, opts.Concurrency)
	for range opts.Concurrency {
		w.free <- nil // allocated on first use
	}
	go w.run()
	return w
}

// Write hands rec to the writer. In async mode it returns once the record
// is queued, waiting while the queue is full; it fails only if ctx is done
// first or the writer is closed, and the record is then not queued. In sync
// mode it appends rec before returning and returns the store's error.
func (w *Writer) Write(ctx context.Context, rec Record) error {
	if w.opts.Sync {
		return w.writeSync(ctx, rec)
	}
	w.mu.Lock()
	for {
		if w.closing {
			w.mu.Unlock()
			return fmt.Errorf("audit: write %s: %w", rec.ID, ErrWriterClosed)
		}
		if w.n+w.inflight < len(w.ring) {
			break
		}
		ch := w.space
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("audit: write %s: queue full: %w", rec.ID, context.Cause(ctx))
		}
		w.mu.Lock()
	}
	w.ring[(w.head+w.n)%len(w.ring)] = rec
	w.n++
	w.enqueued++
	poke := w.n == 1 || w.n == w.opts.BatchSize
	// Set under mu so that concurrent updates land in order.
	w.m.depth.Set(float64(w.n + w.inflight))
	w.mu.Unlock()
	if poke {
		w.poke()
	}
	return nil
}

func (w *Writer) writeSync(ctx context.Context, rec Record) error {
	w.mu.Lock()
	closed := w.closing
	w.mu.Unlock()
	if closed {
		return fmt.Errorf("audit: write %s: %w", rec.ID, ErrWriterClosed)
	}
	start := time.Now()
	err := w.store.Append(ctx, []Record{rec})
	w.m.duration.Observe(time.Since(start).Seconds())
	w.m.batchSize.Observe(1)
	if err != nil {
		w.m.failures.Inc()
		return fmt.Errorf("audit: write %s: %w", rec.ID, err)
	}
	w.m.written.Inc()
	return nil
}

// Flush waits until every record queued before the call is stored, writing
// a partial batch at once instead of waiting for FlushInterval. It returns
// ctx's error if ctx ends first (the records stay queued), or an error if
// the writer was closed before storing them.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.enqueued
	w.flushTarget = max(w.flushTarget, target)
	for w.settled < target {
		if w.exited {
			err := w.lostErr()
			w.mu.Unlock()
			return fmt.Errorf("audit: flush: %w", err)
		}
		ch := w.progress
		w.mu.Unlock()
		w.poke()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("audit: flush: %w", context.Cause(ctx))
		}
		w.mu.Lock()
	}
	err := error(nil)
	if w.lost > 0 {
		err = fmt.Errorf("audit: flush: %w", w.lostErr())
	}
	w.mu.Unlock()
	return err
}

// lostErr describes abandoned records; the caller holds mu.
func (w *Writer) lostErr() error {
	if w.lost == 0 {
		return ErrWriterClosed
	}
	return fmt.Errorf("%d records were not stored: %w", w.lost, ErrWriterClosed)
}

// Close stops accepting records, stores everything queued and stops the
// writer. Writes waiting for room fail with ErrWriterClosed. If ctx ends
// before the queue is drained, Close stops retrying, abandons what is left
// (logging the count) and returns an error saying how many records were
// lost. Close is idempotent: later calls return the first call's result.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closing = true
		close(w.space)
		w.space = make(chan struct{})
		w.mu.Unlock()
		w.poke()
		select {
		case <-w.done:
		case <-ctx.Done():
			w.mu.Lock()
			left := w.n + w.inflight
			w.mu.Unlock()
			w.cancel()
			w.closeErr = fmt.Errorf("audit: close: gave up with %d records not stored: %w", left, context.Cause(ctx))
			return
		}
		w.cancel()
		w.mu.Lock()
		if w.lost > 0 {
			w.closeErr = fmt.Errorf("audit: close: %w", w.lostErr())
		}
		w.mu.Unlock()
	})
	return w.closeErr
}

// Depth returns the number of records accepted but not yet stored.
func (w *Writer) Depth() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n + w.inflight
}

func (w *Writer) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run is the worker: wait for a free storing slot, take a batch, hand it
// to a storer, repeat. When there is nothing more to take it waits for the
// storers and settles what they could not store.
func (w *Writer) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var buf []Record
		select {
		case buf = <-w.free:
		case <-w.ctx.Done():
			w.finish()
			return
		}
		if buf == nil {
			buf = make([]Record, 0, w.opts.BatchSize)
		}
		batch, start := w.next(buf[:0], timer)
		if batch == nil {
			w.free <- buf
			w.finish()
			return
		}
		w.storers.Add(1)
		go func() {
			defer w.storers.Done()
			w.store1(batch, start)
			clear(batch) // let the records go
			w.free <- batch[:0]
		}()
	}
}

// finish waits for the storers, then abandons whatever is left.
func (w *Writer) finish() {
	w.storers.Wait()
	w.mu.Lock()
	w.exit()
}

// next waits for a batch and takes it, returning it with the acceptance
// number of its first record, or returns nil when the writer is done
// (closing with nothing left, or given up).
func (w *Writer) next(batch []Record, timer *time.Timer) ([]Record, uint64) {
	w.mu.Lock()
	// Wait for a first record.
	for w.n == 0 {
		if w.closing || w.ctx.Err() != nil {
			w.mu.Unlock()
			return nil, 0
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.ctx.Done():
		}
		w.mu.Lock()
	}
	// Give a partial batch up to FlushInterval to fill, unless someone is
	// waiting for it.
	timer.Reset(w.opts.FlushInterval)
	for w.n < w.opts.BatchSize && !w.closing && w.flushTarget <= w.taken && w.ctx.Err() == nil {
		w.mu.Unlock()
		expired := false
		select {
		case <-w.wake:
		case <-timer.C:
			expired = true
		case <-w.ctx.Done():
		}
		w.mu.Lock()
		if expired {
			break
		}
	}
	timer.Stop()
	if w.ctx.Err() != nil {
		w.mu.Unlock()
		return nil, 0
	}
	k := min(w.n, w.opts.BatchSize)
	for i := range k {
		j := (w.head + i) % len(w.ring)
		batch = append(batch, w.ring[j])
		w.ring[j] = Record{}
	}
	w.head = (w.head + k) % len(w.ring)
	w.n -= k
	w.inflight += k
	start := w.taken
	w.taken += uint64(k)
	w.starts = append(w.starts, start)
	w.mu.Unlock()
	return batch, start
}

// exit abandons whatever is left and wakes everyone; the caller holds mu
// and exit releases it. No storer is running.
func (w *Writer) exit() {
	if left := w.n + w.inflight; left > 0 {
		w.lost += left
		w.log.Error("audit records lost: writer closed before they could be stored", "count", left)
		clear(w.ring)
		w.n, w.inflight = 0, 0
	}
	w.taken = w.enqueued
	w.starts = w.starts[:0]
	w.settled = w.enqueued
	w.exited = true
	close(w.progress)
	w.progress = make(chan struct{})
	w.m.depth.Set(0)
	w.mu.Unlock()
}

// store1 appends one batch, retrying with backoff until it succeeds or the
// writer gives up, then settles it. start is the acceptance number of its
// first record.
func (w *Writer) store1(batch []Record, start uint64) {
	if !w.appendRetry(batch, 0) {
		return // Close gave up; finish() abandons the batch as inflight
	}
	w.m.batchSize.Observe(float64(len(batch)))
	w.m.written.Add(float64(len(batch)))
	w.mu.Lock()
	w.inflight -= len(batch)
	// Settled is the first record of the oldest batch still in flight (or
	// everything taken): batches may complete out of order.
	low := w.taken
	for i := 0; i < len(w.starts); i++ {
		if w.starts[i] == start {
			w.starts = append(w.starts[:i], w.starts[i+1:]...)
			i--
			continue
		}
		low = min(low, w.starts[i])
	}
	w.settled = low
	w.m.depth.Set(float64(w.n + w.inflight))
	close(w.progress)
	w.progress = make(chan struct{})
	close(w.space)
	w.space = make(chan struct{})
	w.mu.Unlock()
}

// transient reports whether a store error may go away by itself (the
// backend is down or slow); anything else is a property of the records.
func transient(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// appendRetry stores recs. Transient errors are retried with backoff for as
// long as the writer runs. A permanent error splits the batch so that one bad
// record cannot stall the trail: the halves are stored separately, and a
// single record the store keeps refusing (three tries) is dropped loudly,
// with an error log naming it and the rejected-records metric. It returns
// false only when the writer is closing.
func (w *Writer) appendRetry(recs []Record, permanentTries int) bool {
	backoff := w.opts.RetryBackoff
	maxBackoff := 64 * w.opts.RetryBackoff
	var lastErr string
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := w.store.Append(w.ctx, recs)
		w.m.duration.Observe(time.Since(start).Seconds())
		if err == nil {
			if attempt > 1 {
				w.log.Info("audit store recovered", "attempt", attempt, "count", len(recs))
			}
			return true
		}
		w.m.failures.Inc()
		if w.ctx.Err() != nil {
			return false
		}
		if !transient(err) {
			if len(recs) > 1 {
				mid := len(recs) / 2
				return w.appendRetry(recs[:mid], 0) && w.appendRetry(recs[mid:], 0)
			}
			permanentTries++
			if permanentTries >= 3 {
				w.m.rejected.Inc()
				w.log.Error("audit record rejected by the store and dropped", "id", recs[0].ID, "action_id", recs[0].ActionID, "err", err)
				return true
			}
		}
		if msg := err.Error(); msg != lastErr {
			w.log.Warn("audit batch not stored, retrying", "attempt", attempt, "count", len(recs), "err", err)
			lastErr = msg
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return false
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

type writerMetrics struct {
	depth     prometheus.Gauge
	batchSize prometheus.Histogram
	duration  prometheus.Histogram
	failures  prometheus.Counter
	written   prometheus.Counter
	rejected  prometheus.Counter
}

func newWriterMetrics(reg prometheus.Registerer) writerMetrics {
	return writerMetrics{
		depth: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "acteon_audit_queue_depth",
			Help: "Audit records accepted by the writer and not yet stored.",
		})),
		batchSize: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "acteon_audit_batch_size",
			Help:    "Records per stored audit batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
		})),
		duration: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "acteon_audit_write_duration_seconds",
			Help:    "Time of one audit store append call, failed ones included.",
			Buckets: prometheus.DefBuckets,
		})),
		failures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "acteon_audit_write_failures_total",
			Help: "Audit store append calls that failed (each retry counts).",
		})),
		written: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "acteon_audit_records_written_total",
			Help: "Audit records stored.",
		})),
		rejected: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "acteon_audit_records_rejected_total",
			Help: "Audit records the store refused permanently (logged at error level with their ids).",
		})),
	}
}

// register registers c with reg, reusing an identical collector already
// registered (say, by a writer built before a reload). With a nil reg, or
// if registration fails otherwise, c works unregistered.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}
