package redis

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestClientLogger: the Redis client's messages go to the configured
// logger at debug level, tagged with the component, and nowhere when the
// logger is nil or above debug.
func TestClientLogger(t *testing.T) {
	ctx := context.Background()
	clientLogger{}.Printf(ctx, "dial tcp %s: connection refused", "127.0.0.1:1") // nil: dropped, no panic

	var info bytes.Buffer
	clientLogger{slog.New(slog.NewTextHandler(&info, &slog.HandlerOptions{Level: slog.LevelInfo}))}.
		Printf(ctx, "dial tcp %s: connection refused", "127.0.0.1:1")
	if info.Len() != 0 {
		t.Errorf("an info-level logger got %q", info.String())
	}

	var debug bytes.Buffer
	clientLogger{slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}))}.
		Printf(ctx, "dial tcp %s: connection refused", "127.0.0.1:1")
	got := debug.String()
	for _, want := range []string{"level=DEBUG", `msg="dial tcp 127.0.0.1:1: connection refused"`, "component=state/redis"} {
		if !strings.Contains(got, want) {
			t.Errorf("debug log %q lacks %q", got, want)
		}
	}
}
