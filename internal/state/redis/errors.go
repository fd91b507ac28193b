package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/acteon/acteon-go/internal/state"
)

// fail wraps an operation's error: with the caller's own context error
// when ctx ended, with state.ErrUnavailable when the server could not be
// reached or did not answer in time, as a plain error otherwise (a reply
// error such as WRONGTYPE or a script error).
func (s *Store) fail(ctx context.Context, op, what string, err error) error {
	if what != "" {
		op += " " + what
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("state/redis: %s: %w", op, err)
	}
	if errors.Is(err, errMalformed) || errors.Is(err, errBadReply) {
		return fmt.Errorf("state/redis: %s: %w", op, err)
	}
	if errors.Is(err, errClosed) {
		return fmt.Errorf("state/redis: %s: %w (%w)", op, err, state.ErrUnavailable)
	}
	if unavailable(err) {
		return fmt.Errorf("state/redis: %s at %s: %w (%w)", op, s.addr, err, state.ErrUnavailable)
	}
	return fmt.Errorf("state/redis: %s: %w", op, err)
}

// errBadReply marks a reply of an unexpected shape: the server answered,
// so it is not ErrUnavailable.
var errBadReply = errors.New("unexpected reply")

func badReply(got any, err error) error {
	return fmt.Errorf("%w %v: %v", errBadReply, got, err)
}

// downPrefixes are server replies that mean "cannot serve now" rather
// than "your command is wrong".
var downPrefixes = []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY", "NOREPLICAS"}

// unavailable reports whether err is a connectivity failure: anything that
// is not a reply from the server (dial, I/O, timeout, pool exhausted,
// client closed), or a reply that says the server cannot serve now.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) {
		return false
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range downPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
