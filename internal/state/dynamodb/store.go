package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/state"
)

// Store is the DynamoDB state backend. It is safe for concurrent use.
type Store struct {
	db          *dynamodb.Client // SDK retries on: reads and idempotent writes
	dbOnce      *dynamodb.Client // no SDK retries: conditional and counting writes
	maxAttempts int
	transport   *http.Transport
	table       *string
	endpoint    string // for messages, without user info
	clock       clock.Clock
	timeout     time.Duration

	// Partition keys of the reserved partitions and the prefix of state
	// partitions ("{prefix}:").
	pkPrefix   string
	pkLocks    string
	pkIndex    string
	pkPointers string

	purgeEvery time.Duration
	startOnce  sync.Once
	closeOnce  sync.Once
	stop       chan struct{}
	done       chan struct{}
	started    bool
}

var _ state.Store = (*Store)(nil)

// New builds a Store and checks that the endpoint answers (a missing table
// is fine: Migrate creates it). It does not create anything. An endpoint
// that cannot be reached gives an error naming it and wrapping
// state.ErrUnavailable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = 100 * time.Millisecond
				// No client-side retry quota: during an outage every
				// operation should fail with the transport error, not
				// with "retry quota exceeded".
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.URL != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("state/dynamodb: load aws config: %w", err)
	}
	// Our own transport, so that Close can drop its connections and the
	// pool is sized for many operations in flight. It starts from the SDK's
	// transport, which carries the AWS_CA_BUNDLE roots if any are set.
	var tr *http.Transport
	if bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.MaxIdleConns = cfg.MaxConns
	tr.MaxIdleConnsPerHost = cfg.MaxConns
	// Shorter than common server keep-alive timeouts (Node's, hence
	// dynalite's, is 5 s), so that a request is rarely sent on a connection
	// the server is closing: that failure is ambiguous for a write and is
	// not retried.
	tr.IdleConnTimeout = 4 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: cfg.OpTimeout, KeepAlive: 30 * time.Second}).DialContext
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: tr}
		if cfg.URL != "" {
			o.BaseEndpoint = aws.String(cfg.URL)
		}
	})

	// Writes whose retry after a lost answer would give a wrong result
	// (a dedup marker reported as a duplicate of itself, a hit counted
	// twice) go through a client that never retries; CheckAndSet and
	// TryLock retry themselves, recognising their own write by a token.
	dbOnce := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.HTTPClient = db.Options().HTTPClient
		o.BaseEndpoint = db.Options().BaseEndpoint
		o.Retryer = aws.NopRetryer{}
	})

	endpoint := "dynamodb (region " + cfg.Region + ")"
	if cfg.URL != "" {
		endpoint = redact(cfg.URL)
	}
	s := &Store{
		db:          db,
		dbOnce:      dbOnce,
		maxAttempts: cfg.MaxAttempts,
		transport:   tr,
		table:       aws.String(cfg.TableName),
		endpoint:    endpoint,
		clock:       cfg.Clock,
		timeout:     cfg.OpTimeout,
		pkPrefix:    cfg.Prefix + ":",
		pkLocks:     cfg.Prefix + ":_locks",
		pkIndex:     cfg.Prefix + ":timeout_index",
		pkPointers:  cfg.Prefix + ":timeout_keys",
		purgeEvery:  cfg.PurgeInterval,
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}

	octx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err = s.db.DescribeTable(octx, &dynamodb.DescribeTableInput{TableName: s.table})
	var notFound *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		tr.CloseIdleConnections()
		if ctx.Err() == nil && unavailable(err) {
			return nil, fmt.Errorf("state/dynamodb: cannot reach dynamodb at %s: %w: %w", s.endpoint, state.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("state/dynamodb: describe table %s at %s: %w", cfg.TableName, s.endpoint, err)
	}
	return s, nil
}

// Close stops the purger and closes idle connections. Operations after Close
// still work (they open new connections); Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() {})
		close(s.stop)
		if s.started {
			<-s.done
		}
		s.transport.CloseIdleConnections()
	})
	return nil
}

// Start runs the background purger (Config.PurgeInterval) until ctx is done
// or Close is called. Only the first call has an effect; it does nothing
// when PurgeInterval is zero. Purge errors are returned by nothing: the
// next round retries.
func (s *Store) Start(ctx context.Context) {
	if s.purgeEvery <= 0 {
		return
	}
	s.startOnce.Do(func() {
		s.started = true
		go func() {
			defer close(s.done)
			t := time.NewTicker(s.purgeEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-s.stop:
					return
				case <-t.C:
					_, _ = s.Purge(ctx)
				}
			}
		}()
	})
}

// op returns a context bounded by the operation timeout.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// fail wraps a driver error for operation op on subject. Connectivity
// failures (transport errors, the operation timeout, throttling, 5xx) wrap
// state.ErrUnavailable; the caller's own cancellation is passed through.
func (s *Store) fail(ctx context.Context, op, subject string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("state/dynamodb: %s %s: %w", op, subject, ctx.Err())
	}
	if unavailable(err) {
		return fmt.Errorf("state/dynamodb: %s %s at %s: %w: %w", op, subject, s.endpoint, state.ErrUnavailable, err)
	}
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return fmt.Errorf("state/dynamodb: %s %s: table %s does not exist (run migrate): %w", op, subject, *s.table, err)
	}
	return fmt.Errorf("state/dynamodb: %s %s: %w", op, subject, err)
}

// unavailable reports whether err means the service could not be reached or
// could not serve the request now, as opposed to rejecting it.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException",
			"InternalServerError", "ServiceUnavailable", "InternalFailure":
			return true
		}
		return false
	}
	// Transport errors: connection refused or reset, DNS, TLS, a response
	// that could not be read.
	return true
}

// conditionFailed reports whether err is a failed condition expression and
// returns the old item when the service sent it back (real DynamoDB does
// with ReturnValuesOnConditionCheckFailure; emulators may not).
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}
