package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
)

// idleTimeout is shorter than ClickHouse's default keep_alive_timeout (3 s)
// so the pool rarely hands out a connection the server has just closed; the
// requests are marked idempotent, so the transport retries one that it does.
const idleTimeout = 2 * time.Second

// maxErrorBody bounds how much of an error answer is read into a message.
const maxErrorBody = 4 << 10

// client sends statements to one ClickHouse server over HTTP.
type client struct {
	http     *http.Client
	base     url.URL    // scheme, host and path; no credentials, no query
	params   url.Values // from the configured URL, plus database and limits
	user     string
	password string
	auth     bool
	addr     string // what messages call the server
	timeout  time.Duration
}

func newClient(cfg Config) (*client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("audit/clickhouse: url: not a valid URL")
	}
	c := &client{
		base:    url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path},
		params:  u.Query(),
		addr:    redactURL(u),
		timeout: cfg.OpTimeout,
	}
	if c.base.Path == "" {
		c.base.Path = "/"
	}
	if u.User != nil {
		c.auth = true
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	c.params.Set("database", cfg.Database)
	// Let the server give up when the client would anyway.
	c.params.Set("max_execution_time", strconv.Itoa(max(1, int((cfg.OpTimeout+time.Second-1)/time.Second))))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = cfg.MaxConns
	tr.MaxIdleConnsPerHost = cfg.MaxConns
	tr.MaxConnsPerHost = cfg.MaxConns
	tr.IdleConnTimeout = idleTimeout
	tr.Proxy = nil
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// exec runs one statement. With insert set, stmt goes into the URL's query
// parameter and body is the data; otherwise stmt is the body. read asks for
// the whole answer to be produced before the status is sent
// (wait_end_of_query), so an error part-way through a result is an HTTP
// error rather than a truncated 200. It returns the answer's body.
//
// op names the operation in error messages. ctx's own cancellation is
// reported as such; the per-operation timeout, transport failures and
// server overload wrap audit.ErrUnavailable.
func (c *client) exec(ctx context.Context, op, stmt string, body []byte, read bool) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errOpTimeout)
	defer cancel()

	params := make(url.Values, len(c.params)+2)
	for k, v := range c.params {
		params[k] = v
	}
	if read {
		params.Set("wait_end_of_query", "1")
	}
	if body == nil {
		body = []byte(stmt)
	} else {
		params.Set("query", stmt)
	}
	u := c.base
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("audit/clickhouse: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	// Every statement this backend sends may be repeated safely (inserts
	// are collapsed by id, see doc.go), so let the transport retry one that
	// met a keep-alive connection the server had just closed. A nil value
	// marks the request without sending the header.
	req.Header["X-Idempotency-Key"] = nil
	if c.auth {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection reusable
		return nil, c.serverError(op, resp.StatusCode, msg)
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.transportError(ctx, op, err)
	}
	return out, nil
}

// errOpTimeout is the cause of an operation's own deadline.
var errOpTimeout = errors.New("operation timed out")

// transportError describes a failure to talk to the server. It never
// includes the request URL, whose query may hold credentials.
func (c *client) transportError(ctx context.Context, op string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if errors.Is(cause, errOpTimeout) {
			return fmt.Errorf("audit/clickhouse: %s at %s: timed out after %v: %w", op, c.addr, c.timeout, audit.ErrUnavailable)
		}
		// The caller gave up: not the server's fault.
		return fmt.Errorf("audit/clickhouse: %s at %s: %w", op, c.addr, cause)
	}
	return fmt.Errorf("audit/clickhouse: %s: cannot reach %s: %w: %w", op, c.addr, audit.ErrUnavailable, err)
}

// ServerError is an error answer from ClickHouse.
type ServerError struct {
	// Status is the HTTP status code.
	Status int
	// Code is ClickHouse's error code, 0 when the answer had none.
	Code int
	// Message is the server's text, trimmed.
	Message string
}

// Error returns the code, the HTTP status and the server's message.
func (e *ServerError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("clickhouse error %d (HTTP %d): %s", e.Code, e.Status, e.Message)
	}
	return fmt.Sprintf("clickhouse HTTP %d: %s", e.Status, e.Message)
}

// transientCodes are ClickHouse error codes that mean "overloaded or
// unreachable, try again", reported as audit.ErrUnavailable.
var transientCodes = map[int]bool{
	159: true, // TIMEOUT_EXCEEDED
	160: true, // TOO_SLOW
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	252: true, // TOO_MANY_PARTS
}

func (c *client) serverError(op string, status int, body []byte) error {
	e := &ServerError{Status: status, Message: strings.TrimSpace(string(body))}
	// 18.16 answers "Code: 60, e.displayText() = DB::Exception: …".
	if rest, ok := strings.CutPrefix(e.Message, "Code: "); ok {
		if i := strings.IndexByte(rest, ','); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				e.Code = n
			}
		}
	}
	if transientCodes[e.Code] || status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout {
		return fmt.Errorf("audit/clickhouse: %s at %s: %w: %w", op, c.addr, audit.ErrUnavailable, e)
	}
	return fmt.Errorf("audit/clickhouse: %s at %s: %w", op, c.addr, e)
}

func (c *client) close() { c.http.CloseIdleConnections() }
