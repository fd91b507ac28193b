package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// TargetRow is the HTTP workload against a running server.
type TargetRow struct {
	// URL is the dispatch endpoint, without credentials.
	URL            string
	Provider       string
	Concurrency    int
	Actions, Reps  int
	AcceptedPerSec Spread
	RequestsPerSec Spread
	P50, P95, P99  time.Duration
	Statuses       map[string]int
	Outcomes       map[string]int
	Errors         int
	FirstErr       string
	Unavailable    string
}

// MarshalJSON writes one "target" row.
func (t TargetRow) MarshalJSON() ([]byte, error) {
	type out struct {
		Kind        string         `json:"kind"`
		Target      string         `json:"target"`
		Provider    string         `json:"provider"`
		Concurrency int            `json:"concurrency"`
		Actions     int            `json:"actions"`
		Reps        int            `json:"reps"`
		Unavailable string         `json:"unavailable,omitempty"`
		APS         *float64       `json:"accepted_per_sec,omitempty"`
		APSMin      *float64       `json:"accepted_per_sec_min,omitempty"`
		APSMax      *float64       `json:"accepted_per_sec_max,omitempty"`
		RPS         *float64       `json:"requests_per_sec,omitempty"`
		P50         *float64       `json:"p50_us,omitempty"`
		P95         *float64       `json:"p95_us,omitempty"`
		P99         *float64       `json:"p99_us,omitempty"`
		Statuses    map[string]int `json:"statuses,omitempty"`
		Outcomes    map[string]int `json:"outcomes,omitempty"`
		Errors      *int           `json:"errors,omitempty"`
		FirstErr    string         `json:"first_error,omitempty"`
	}
	o := out{Kind: "target", Target: t.URL, Provider: t.Provider, Concurrency: t.Concurrency, Actions: t.Actions, Reps: t.Reps, Unavailable: t.Unavailable}
	if t.Unavailable == "" {
		o.APS, o.APSMin, o.APSMax = f(round(t.AcceptedPerSec.Median, 0)), f(round(t.AcceptedPerSec.Min, 0)), f(round(t.AcceptedPerSec.Max, 0))
		o.RPS = f(round(t.RequestsPerSec.Median, 0))
		o.P50, o.P95, o.P99 = f(round(micros(t.P50), 1)), f(round(micros(t.P95), 1)), f(round(micros(t.P99), 1))
		o.Statuses, o.Outcomes, o.Errors, o.FirstErr = t.Statuses, t.Outcomes, &t.Errors, t.FirstErr
	}
	return json.Marshal(o)
}

// dispatchURL turns a server's base URL into its dispatch endpoint.
func dispatchURL(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: --target wants an http(s) URL such as http://127.0.0.1:8080", ErrSpec)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/dispatch"
	}
	return u, nil
}

// Target sends the workload to a running server's POST /v1/dispatch with c
// concurrent connections. The server's own rules and providers apply; the
// actions name providerName. A response with a 2xx status is accepted.
func (r *Runner) Target(ctx context.Context, target, providerName string, c int) TargetRow {
	row := TargetRow{Provider: providerName, Concurrency: c, Actions: r.o.Actions, Reps: r.o.Reps}
	u, err := dispatchURL(target)
	if err != nil {
		row.URL = target
		row.Unavailable = err.Error()
		return row
	}
	if c < 1 {
		row.Unavailable = fmt.Sprintf("%v: concurrency must be >= 1", ErrSpec)
		return row
	}
	row.URL = u.Redacted()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = c
	tr.MaxIdleConnsPerHost = c
	tr.MaxConnsPerHost = c
	tr.DisableCompression = true
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	endpoint := u.String()

	bodies := func(n int) ([][]byte, error) {
		acts := buildActions(n)
		out := make([][]byte, n)
		for i, a := range acts {
			a.Provider = providerName
			b, err := json.Marshal(a)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	if r.o.Warmup > 0 {
		r.progress("target %s: warm-up %d requests", row.URL, r.o.Warmup)
		bs, err := bodies(r.o.Warmup)
		if err != nil {
			row.Unavailable = err.Error()
			return row
		}
		w := postAll(ctx, client, endpoint, bs, c)
		if w.accepted == 0 {
			row.Unavailable = "no request was accepted during warm-up: " + w.describeFailure()
			return row
		}
	}
	var acc, req, p50s, p95s, p99s []float64
	row.Statuses, row.Outcomes = map[string]int{}, map[string]int{}
	for rep := range r.o.Reps {
		bs, err := bodies(r.o.Actions)
		if err != nil {
			row.Unavailable = err.Error()
			return row
		}
		res := postAll(ctx, client, endpoint, bs, c)
		sec := res.elapsed.Seconds()
		acc = append(acc, float64(res.accepted)/sec)
		req = append(req, float64(len(bs))/sec)
		p50s = append(p50s, float64(percentile(res.lat, 0.50)))
		p95s = append(p95s, float64(percentile(res.lat, 0.95)))
		p99s = append(p99s, float64(percentile(res.lat, 0.99)))
		for k, v := range res.statuses {
			row.Statuses[k] += v
		}
		for k, v := range res.outcomes {
			row.Outcomes[k] += v
		}
		row.Errors += res.errors
		if res.firstErr != nil && row.FirstErr == "" {
			row.FirstErr = firstLine(res.firstErr)
		}
		r.progress("  rep %d/%d: %.0f accepted/s", rep+1, r.o.Reps, acc[len(acc)-1])
	}
	row.AcceptedPerSec, row.RequestsPerSec = spreadOf(acc), spreadOf(req)
	row.P50 = time.Duration(spreadOf(p50s).Median)
	row.P95 = time.Duration(spreadOf(p95s).Median)
	row.P99 = time.Duration(spreadOf(p99s).Median)
	return row
}

type postResult struct {
	elapsed  time.Duration
	lat      []time.Duration
	accepted int
	statuses map[string]int
	outcomes map[string]int
	errors   int
	firstErr error
}

func (p postResult) describeFailure() string {
	if p.firstErr != nil {
		return firstLine(p.firstErr)
	}
	return fmt.Sprintf("statuses %v", p.statuses)
}

// postAll posts every body with c workers.
func postAll(ctx context.Context, client *http.Client, endpoint string, bodies [][]byte, c int) postResult {
	n := len(bodies)
	lat := make([]time.Duration, n)
	status := make([]int, n)
	outcome := make([]string, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range max(min(c, n), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 512)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				status[i], outcome[i], buf, errs[i] = post(ctx, client, endpoint, bodies[i], buf)
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	res := postResult{elapsed: time.Since(start), lat: lat, statuses: map[string]int{}, outcomes: map[string]int{}}
	for i := range n {
		if errs[i] != nil {
			res.errors++
			if res.firstErr == nil {
				res.firstErr = errs[i]
			}
			continue
		}
		res.statuses[strconv.Itoa(status[i])]++
		if status[i] >= 200 && status[i] < 300 {
			res.accepted++
			res.outcomes[outcome[i]]++
		}
	}
	slices.Sort(res.lat)
	return res
}

func post(ctx context.Context, client *http.Client, endpoint string, body, buf []byte) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, "", buf, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", buf, redactURLError(err)
	}
	defer resp.Body.Close()
	buf = buf[:0]
	b := bytes.NewBuffer(buf)
	_, err = io.Copy(b, io.LimitReader(resp.Body, 1<<20))
	buf = b.Bytes()
	if err != nil {
		return resp.StatusCode, "", buf, err
	}
	return resp.StatusCode, outcomeName(buf), buf, nil
}

// outcomeName reads the variant of an outcome body without decoding it:
// {"Executed":{…}} → "executed", "Deduplicated" → "deduplicated".
func outcomeName(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2 && b[0] == '{' {
		b = bytes.TrimSpace(b[1:])
	}
	if len(b) < 2 || b[0] != '"' {
		return "other"
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return "other"
	}
	name := b[1 : 1+end]
	out := make([]byte, 0, len(name)+4)
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				out = append(out, '_')
			}
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}
