package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/internal/state"
)

// client talks to the ClickHouse HTTP interface: one POST per statement
// over a pool of keep-alive connections.
type client struct {
	hc        *http.Client
	endpoint  string // scheme://host[:port]/path?database=…, no credentials
	addr      string // scheme://host[:port] for error messages
	user      string
	password  string
	hasAuth   bool
	opTimeout time.Duration
}

func newClient(cfg Config) (*client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold a password.
		return nil, errors.New("state/clickhouse: invalid url (cannot be parsed)")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("state/clickhouse: invalid url: scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("state/clickhouse: invalid url: no host")
	}
	c := &client{opTimeout: cfg.OpTimeout}
	if u.User != nil {
		c.hasAuth = true
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
		u.User = nil
	}
	c.addr = u.Scheme + "://" + u.Host
	q := u.Query()
	q.Set("database", cfg.Database)
	u.RawQuery = q.Encode()
	u.Fragment = ""
	c.endpoint = u.String()
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: cfg.OpTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.MaxConns,
		MaxIdleConnsPerHost: cfg.MaxConns,
		MaxConnsPerHost:     cfg.MaxConns,
		// ClickHouse closes idle keep-alive connections after 3 s
		// (keep_alive_timeout); dropping ours first avoids sending a
		// non-idempotent INSERT on a connection the server is closing.
		IdleConnTimeout:       2 * time.Second,
		ResponseHeaderTimeout: cfg.OpTimeout,
		DisableCompression:    true,
	}
	c.hc = &http.Client{Transport: tr}
	return c, nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// chError is an exception reported by the server.
type chError struct {
	status int
	code   int // ClickHouse error code, 0 if none was found
	msg    string
}

func (e *chError) Error() string {
	if e.code != 0 {
		return fmt.Sprintf("clickhouse error %d: %s", e.code, e.msg)
	}
	return fmt.Sprintf("clickhouse http %d: %s", e.status, e.msg)
}

// ClickHouse error codes the store reacts to.
const (
	codeUnknownTable     = 60
	codeTimeoutExceeded  = 159
	codeTooManyQueries   = 202
	codeSocketTimeout    = 209
	codeNetworkError     = 210
	codeMemoryLimit      = 241
	codeTableReadOnly    = 242
	codeTooManyParts     = 252
	codeThrowIfNonZero   = 395
	codeAllConnectFailed = 279
)

// transient reports whether a server exception means "try again later"
// (overload, timeouts) rather than a bad statement.
func (e *chError) transient() bool {
	switch e.code {
	case codeTimeoutExceeded, codeTooManyQueries, codeSocketTimeout, codeNetworkError,
		codeMemoryLimit, codeTableReadOnly, codeTooManyParts, codeAllConnectFailed:
		return true
	case 0:
		return e.status == http.StatusBadGateway || e.status == http.StatusServiceUnavailable || e.status == http.StatusGatewayTimeout
	}
	return false
}

// parseCode extracts N from "Code: N, e.displayText() = …".
func parseCode(body string) int {
	i := strings.Index(body, "Code: ")
	if i < 0 {
		return 0
	}
	rest := body[i+len("Code: "):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(rest[:j])
	return n
}

// unavailableError marks a connectivity failure; it matches
// state.ErrUnavailable and keeps the cause.
type unavailableError struct {
	addr  string
	cause error
}

func (e *unavailableError) Error() string {
	return "cannot reach clickhouse at " + e.addr + ": " + e.cause.Error()
}

func (e *unavailableError) Unwrap() []error { return []error{state.ErrUnavailable, e.cause} }

// classify turns a transport or server failure into the error callers see.
func (c *client) classify(err error) error {
	var ce *chError
	if errors.As(err, &ce) && !ce.transient() {
		return err
	}
	return &unavailableError{addr: c.addr, cause: err}
}

// do runs one statement. query goes in the URL when body is non-nil
// (INSERT … FORMAT RowBinary with the rows as body), otherwise the query is
// the POST body. idempotent marks reads, which net/http may then retry on
// a connection the server had closed. It returns the response body.
func (c *client) do(parent context.Context, query string, body []byte, idempotent bool, extra string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(parent, c.opTimeout)
	defer cancel()
	u := c.endpoint
	if extra != "" {
		u += "&" + extra
	}
	var rd io.Reader
	if body != nil {
		u += "&query=" + url.QueryEscape(query)
		rd = bytes.NewReader(body)
	} else {
		rd = strings.NewReader(query)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if c.hasAuth {
		req.SetBasicAuth(c.user, c.password)
	}
	if idempotent {
		req.Header["X-Idempotency-Key"] = nil // net/http: treat as idempotent, retry on a stale connection
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if pe := parent.Err(); errors.Is(pe, context.Canceled) {
			return nil, pe // the caller gave up; the server is not at fault
		}
		return nil, c.classify(stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.classify(stripURL(err))
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		return nil, c.classify(&chError{status: resp.StatusCode, code: parseCode(msg), msg: msg})
	}
	return data, nil
}

// stripURL removes the request URL (which carries the query) from a
// *url.Error so messages stay short; credentials are never in it.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
