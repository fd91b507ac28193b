package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/acteon/acteon-go/internal/config"
)

// baselineReps is the number of measured repetitions of a baseline.
const baselineReps = 3

// opTimeout bounds one bare round trip.
const opTimeout = 5 * time.Second

// Baseline is a backend's bare round trip measured with the same client
// libraries the backends use, at a given concurrency (unpipelined: each
// goroutine waits for its answer).
type Baseline struct {
	Backend     string
	Op          string // "PING", "SELECT 1", "ListTables"
	Concurrency int
	Ops, Reps   int
	OpsPerSec   Spread
	P50         time.Duration
	Unavailable string
}

// MarshalJSON writes one "baseline" row.
func (b Baseline) MarshalJSON() ([]byte, error) {
	type out struct {
		Kind        string   `json:"kind"`
		Backend     string   `json:"state"`
		Op          string   `json:"op"`
		Concurrency int      `json:"concurrency"`
		Ops         int      `json:"ops"`
		Reps        int      `json:"reps"`
		Unavailable string   `json:"unavailable,omitempty"`
		PerSec      *float64 `json:"ops_per_sec,omitempty"`
		Min         *float64 `json:"ops_per_sec_min,omitempty"`
		Max         *float64 `json:"ops_per_sec_max,omitempty"`
		P50         *float64 `json:"p50_us,omitempty"`
	}
	o := out{Kind: "baseline", Backend: b.Backend, Op: b.Op, Concurrency: b.Concurrency, Ops: b.Ops, Reps: b.Reps, Unavailable: b.Unavailable}
	if b.Unavailable == "" {
		o.PerSec, o.Min, o.Max = f(round(b.OpsPerSec.Median, 0)), f(round(b.OpsPerSec.Min, 0)), f(round(b.OpsPerSec.Max, 0))
		o.P50 = f(round(micros(b.P50), 1))
	}
	return json.Marshal(o)
}

// pinger does one bare round trip.
type pinger interface {
	op() string
	ping(ctx context.Context) error
	close()
}

// Baseline measures (once per run, then cached) the bare round trip of a
// backend at concurrency c.
func (r *Runner) Baseline(ctx context.Context, backend string, c int) Baseline {
	k := baselineKey{backend, c}
	r.mu.Lock()
	b, ok := r.baselines[k]
	r.mu.Unlock()
	if ok {
		return b
	}
	r.progress("baseline %s concurrency=%d", backend, c)
	b = measureBaseline(ctx, backend, r.o.URLs.For(backend), r.o.BaselineOps, c)
	r.mu.Lock()
	r.baselines[k] = b
	r.mu.Unlock()
	return b
}

// Baselines returns every baseline measured so far, sorted.
func (r *Runner) Baselines() []Baseline {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Baseline, 0, len(r.baselines))
	for _, b := range r.baselines {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Baseline) int {
		if c := strings.Compare(a.Backend, b.Backend); c != 0 {
			return c
		}
		return a.Concurrency - b.Concurrency
	})
	return out
}

func measureBaseline(ctx context.Context, backend, addr string, ops, c int) Baseline {
	b := Baseline{Backend: backend, Concurrency: c, Ops: ops, Reps: baselineReps}
	p, err := newPinger(ctx, backend, addr, c)
	if err != nil {
		b.Unavailable = firstLine(err)
		return b
	}
	defer p.close()
	b.Op = p.op()
	// Warm-up: open the pool's connections.
	if res := runOps(ctx, min(ops, 50*c), c, baselineMaxDuration, p.ping); res.firstErr != nil {
		b.Unavailable = fmt.Sprintf("%s %s: %s", backend, p.op(), firstLine(res.firstErr))
		return b
	}
	var rates, p50s []float64
	for range baselineReps {
		res := runOps(ctx, ops, c, baselineMaxDuration, p.ping)
		if res.firstErr != nil {
			b.Unavailable = fmt.Sprintf("%s %s: %s", backend, p.op(), firstLine(res.firstErr))
			return b
		}
		b.Ops = min(b.Ops, res.done)
		rates = append(rates, float64(res.done)/res.elapsed.Seconds())
		p50s = append(p50s, float64(percentile(res.lat, 0.5)))
	}
	b.OpsPerSec = spreadOf(rates)
	b.P50 = time.Duration(spreadOf(p50s).Median)
	return b
}

type opsResult struct {
	done     int
	elapsed  time.Duration
	lat      []time.Duration // sorted, one per completed op
	firstErr error
}

// baselineMaxDuration bounds one baseline repetition: a slow backend
// (an emulator under 64 clients) completes fewer operations instead of
// stalling the run.
const baselineMaxDuration = 3 * time.Second

// runOps calls op up to n times with c goroutines, starting no new call
// after maxDur (0: no limit), and times each call.
func runOps(ctx context.Context, n, c int, maxDur time.Duration, op func(context.Context) error) opsResult {
	lat := make([]time.Duration, n)
	var next, done atomic.Int64
	var errOnce sync.Once
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	for range max(min(c, n), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if maxDur > 0 && time.Since(start) > maxDur {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				octx, cancel := context.WithTimeout(ctx, opTimeout)
				t := time.Now()
				err := op(octx)
				lat[i] = time.Since(t)
				cancel()
				if err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n)) // stop early
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	res := opsResult{done: int(done.Load()), elapsed: time.Since(start), firstErr: first}
	// Completed calls have a latency; calls never started have none.
	taken := min(int(next.Load()), n)
	res.lat = lat[:taken]
	slices.Sort(res.lat)
	if len(res.lat) > res.done {
		res.lat = res.lat[len(res.lat)-res.done:]
	}
	return res
}

func newPinger(ctx context.Context, backend, addr string, c int) (pinger, error) {
	switch backend {
	case "redis":
		if addr == "" {
			addr = config.DefaultRedisURL
		}
		opts, err := redis.ParseURL(addr)
		if err != nil {
			return nil, fmt.Errorf("redis address: %w", err)
		}
		opts.PoolSize = max(c, 10)
		return redisPinger{redis.NewClient(opts)}, nil
	case "postgres":
		pc, err := pgxpool.ParseConfig(addr)
		if err != nil {
			return nil, fmt.Errorf("postgres address: %w", err)
		}
		pc.MaxConns = int32(max(c, 4))
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		return pgPinger{pool}, nil
	case "clickhouse":
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("clickhouse address: not an http URL")
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(c, 2)
		p := &chPinger{client: &http.Client{Transport: tr}, user: u.User}
		u.User = nil
		u.Path = "/"
		u.RawQuery = ""
		p.url = u.String()
		return p, nil
	case "dynamodb":
		opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion("us-east-1")}
		if addr != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		if r := os.Getenv("AWS_REGION"); r != "" {
			opts[0] = awsconfig.WithRegion(r)
		}
		ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("dynamodb: %w", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(c, 2)
		db := dynamodb.NewFromConfig(ac, func(o *dynamodb.Options) {
			o.HTTPClient = &http.Client{Transport: tr}
			if addr != "" {
				o.BaseEndpoint = aws.String(addr)
			}
		})
		p := &dynPinger{db: db, getItem: &dynamodb.GetItemInput{
			TableName: aws.String(dynamoTable),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "acteon_bench:baseline"},
				"sk": &types.AttributeValueMemberS{Value: "baseline"},
			},
		}}
		pctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		if _, err := db.GetItem(pctx, p.getItem); err == nil {
			p.useTable = true
		}
		return p, nil
	}
	return nil, fmt.Errorf("no baseline for backend %q", backend)
}

type redisPinger struct{ c *redis.Client }

func (redisPinger) op() string                       { return "PING" }
func (p redisPinger) ping(ctx context.Context) error { return p.c.Ping(ctx).Err() }
func (p redisPinger) close()                         { _ = p.c.Close() }

type pgPinger struct{ pool *pgxpool.Pool }

func (pgPinger) op() string { return "SELECT 1" }
func (p pgPinger) ping(ctx context.Context) error {
	var n int
	return p.pool.QueryRow(ctx, "SELECT 1").Scan(&n)
}
func (p pgPinger) close() { p.pool.Close() }

type chPinger struct {
	client *http.Client
	url    string
	user   *url.Userinfo
}

func (*chPinger) op() string { return "SELECT 1" }
func (p *chPinger) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader("SELECT 1"))
	if err != nil {
		return err
	}
	if p.user != nil {
		pw, _ := p.user.Password()
		req.SetBasicAuth(p.user.Username(), pw)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "1" {
		return fmt.Errorf("clickhouse: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
func (p *chPinger) close() { p.client.CloseIdleConnections() }

// dynPinger reads one missing item of the bench's table (GetItem, the
// cheapest single-item round trip); before that table exists it lists
// tables instead.
type dynPinger struct {
	db       *dynamodb.Client
	getItem  *dynamodb.GetItemInput
	useTable bool
}

func (p *dynPinger) op() string {
	if p.useTable {
		return "GetItem"
	}
	return "ListTables"
}

func (p *dynPinger) ping(ctx context.Context) error {
	if p.useTable {
		_, err := p.db.GetItem(ctx, p.getItem)
		return err
	}
	_, err := p.db.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	return err
}

func (*dynPinger) close() {}

// redactURLError drops the URL (which may carry credentials) from an
// *url.Error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
