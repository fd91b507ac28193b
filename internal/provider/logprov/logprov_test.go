package logprov

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/acteon/acteon-go/action"
)

func TestExecuteLogsAndSucceeds(t *testing.T) {
	var buf bytes.Buffer
	p, err := New(Config{Name: "audit-log", Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Execute(t.Context(), &action.Action{ID: "a-1", Namespace: "ns", Tenant: "t", ActionType: "send"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(resp)
	want := `{"status":"success","body":{"logged":true,"provider":"audit-log"},"headers":{}}`
	if string(got) != want {
		t.Errorf("response = %s\nwant       %s", got, want)
	}
	line := buf.String()
	for _, s := range []string{`"level":"DEBUG"`, `"action_id":"a-1"`, `"provider":"audit-log"`} {
		if !strings.Contains(line, s) {
			t.Errorf("log line %q lacks %s", line, s)
		}
	}
	if err := p.HealthCheck(t.Context()); err != nil {
		t.Errorf("HealthCheck: %v", err)
	}
}

func TestExecuteQuietAboveDebug(t *testing.T) {
	var buf bytes.Buffer
	p, _ := New(Config{Name: "l", Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if _, err := p.Execute(t.Context(), &action.Action{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %s", buf.String())
	}
}

func TestValidate(t *testing.T) {
	if _, err := New(Config{}); err == nil || err.Error() != "logprov: name: must not be empty" {
		t.Errorf("err = %v", err)
	}
	p, err := New(Config{Name: "l"})
	if err != nil || p.Name() != "l" {
		t.Errorf("New = %v, %v", p, err)
	}
	if _, err := p.Execute(t.Context(), nil); err == nil {
		t.Error("nil action accepted")
	}
}

func BenchmarkExecute(b *testing.B) {
	p, _ := New(Config{Name: "l"})
	a := &action.Action{ID: "x"}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.Execute(ctx, a)
	}
}
