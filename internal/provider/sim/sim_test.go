package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/provider"
)

func act(id string) *action.Action { return &action.Action{ID: id} }

// outcomes runs n calls and returns "ok" or "fail" per call.
func outcomes(t *testing.T, p provider.Provider, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		_, err := p.Execute(t.Context(), act(fmt.Sprint(i)))
		if err != nil {
			out = append(out, "fail")
		} else {
			out = append(out, "ok")
		}
	}
	return out
}

func TestRecordingFailureModes(t *testing.T) {
	tests := []struct {
		name string
		mode FailureMode
		want []string
	}{
		{"none", FailureMode{}, []string{"ok", "ok", "ok", "ok", "ok", "ok"}},
		{"always", FailureMode{Kind: Always}, []string{"fail", "fail", "fail", "fail", "fail", "fail"}},
		{"first 2", FailureMode{Kind: FirstN, N: 2}, []string{"fail", "fail", "ok", "ok", "ok", "ok"}},
		{"every 3rd", FailureMode{Kind: EveryN, N: 3}, []string{"ok", "ok", "fail", "ok", "ok", "fail"}},
		{"every 0th is never", FailureMode{Kind: EveryN}, []string{"ok", "ok", "ok", "ok", "ok", "ok"}},
		{"probability 0", FailureMode{Kind: Probabilistic, P: 0}, []string{"ok", "ok", "ok", "ok", "ok", "ok"}},
		{"probability 1", FailureMode{Kind: Probabilistic, P: 1}, []string{"fail", "fail", "fail", "fail", "fail", "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecording("rec", WithFailureMode(tt.mode))
			if diff := cmp.Diff(tt.want, outcomes(t, r, len(tt.want))); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordingProbabilisticSeeded(t *testing.T) {
	a := NewRecording("a", WithFailureMode(FailureMode{Kind: Probabilistic, P: 0.5}), WithSeed(42))
	b := NewRecording("b", WithFailureMode(FailureMode{Kind: Probabilistic, P: 0.5}), WithSeed(42))
	oa, ob := outcomes(t, a, 200), outcomes(t, b, 200)
	if diff := cmp.Diff(oa, ob); diff != "" {
		t.Errorf("same seed, different outcomes:\n%s", diff)
	}
	fails := 0
	for _, o := range oa {
		if o == "fail" {
			fails++
		}
	}
	if fails == 0 || fails == 200 {
		t.Errorf("p=0.5 produced %d failures of 200", fails)
	}
}

func TestRecordingInjectedErrorIsRetryableConnection(t *testing.T) {
	r := NewRecording("rec", WithFailureMode(FailureMode{Kind: EveryN, N: 2}))
	_, _ = r.Execute(t.Context(), act("1"))
	_, err := r.Execute(t.Context(), act("2"))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindConnection || !pe.Retryable() ||
		pe.Error() != "connection error: simulated failure on call #2" {
		t.Errorf("err = %v, want retryable CONNECTION on call #2", err)
	}
}

func TestRecordingRecordsCalls(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewRecording("rec", WithClock(clock.NewFake(now)), WithFailureMode(FailureMode{Kind: FirstN, N: 1}))
	a1, a2 := act("x1"), act("x2")
	_, err1 := r.Execute(t.Context(), a1)
	resp2, err2 := r.Execute(t.Context(), a2)
	if err1 == nil || err2 != nil {
		t.Fatalf("errors = %v, %v", err1, err2)
	}
	calls := r.Calls()
	if len(calls) != 2 || r.CallCount() != 2 {
		t.Fatalf("recorded %d calls, count %d", len(calls), r.CallCount())
	}
	if calls[0].Action != a1 || calls[0].Err != err1 || calls[0].Response != nil || !calls[0].Time.Equal(now) {
		t.Errorf("call 0 = %+v", calls[0])
	}
	if calls[1].Action != a2 || calls[1].Response != resp2 {
		t.Errorf("call 1 = %+v", calls[1])
	}
	if got, _ := json.Marshal(resp2.Body); string(got) != `{"provider":"rec","action_id":"x2","simulated":true}` {
		t.Errorf("default body = %s", got)
	}
	if r.LastAction() != a2 {
		t.Error("LastAction is not the latest action")
	}
	r.AssertCalled(t, 2)
	r.AssertCalledAtLeast(t, 1)
	r.Clear()
	if len(r.Calls()) != 0 || r.CallCount() != 0 || r.LastAction() != nil {
		t.Error("Clear kept state")
	}
	r.AssertNotCalled(t)
}

// fakeTB records assertion failures.
type fakeTB struct{ errs []string }

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func TestRecordingAssertionsFail(t *testing.T) {
	r := NewRecording("rec")
	_, _ = r.Execute(t.Context(), act("1"))
	tb := &fakeTB{}
	r.AssertCalled(tb, 2)
	r.AssertCalledAtLeast(tb, 3)
	r.AssertNotCalled(tb)
	want := []string{
		"provider rec called 1 times, want 2",
		"provider rec called 1 times, want at least 3",
		"provider rec called 1 times, want none",
	}
	if diff := cmp.Diff(want, tb.errs); diff != "" {
		t.Errorf("assertion messages (-want +got):\n%s", diff)
	}
}

func TestRecordingResponseFunc(t *testing.T) {
	want := &action.ProviderResponse{Status: action.StatusPartial, Body: "custom"}
	r := NewRecording("rec", WithResponseFunc(func(a *action.Action) (*action.ProviderResponse, error) { return want, nil }))
	got, err := r.Execute(t.Context(), act("1"))
	if err != nil || got != want {
		t.Errorf("got %v, %v; want the response func's answer", got, err)
	}
}

func TestRecordingWithoutCapture(t *testing.T) {
	r := NewRecording("rec", WithoutCapture())
	for range 5 {
		_, _ = r.Execute(t.Context(), act("1"))
	}
	if r.CallCount() != 5 || len(r.Calls()) != 0 || r.LastAction() != nil {
		t.Errorf("count %d, calls %d: want counter only", r.CallCount(), len(r.Calls()))
	}
}

func TestRecordingDelayHonoursCtx(t *testing.T) {
	r := NewRecording("rec", WithDelay(time.Hour))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := r.Execute(ctx, act("1"))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout {
		t.Errorf("err = %v, want TIMEOUT after the ctx ended", err)
	}
}

func TestRecordingConcurrent(t *testing.T) {
	r := NewRecording("rec", WithFailureMode(FailureMode{Kind: EveryN, N: 4}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = r.Execute(t.Context(), act("x"))
			}
		})
	}
	wg.Wait()
	calls := r.Calls()
	fails := 0
	for _, c := range calls {
		if c.Err != nil {
			fails++
		}
	}
	if len(calls) != 800 || r.CallCount() != 800 || fails != 200 {
		t.Errorf("calls %d, count %d, failures %d; want 800/800/200", len(calls), r.CallCount(), fails)
	}
}

func TestFailing(t *testing.T) {
	tests := []struct {
		name    string
		kind    provider.Kind
		msg     string
		wantErr string
		retry   bool
	}{
		{"execution failed", provider.KindExecutionFailed, "nope", "execution failed: nope", false},
		{"connection", provider.KindConnection, "down", "connection error: down", true},
		{"rate limited", provider.KindRateLimited, "slow down", "rate limited", true},
		{"configuration", provider.KindConfiguration, "no key", "invalid configuration: no key", false},
		{"timeout", provider.KindTimeout, "", "timeout after 0s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFailing("f", tt.kind, tt.msg)
			for range 3 {
				_, err := f.Execute(t.Context(), act("1"))
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Kind != tt.kind || pe.Error() != tt.wantErr || pe.Retryable() != tt.retry {
					t.Fatalf("err = %v, want %q (retryable %v)", err, tt.wantErr, tt.retry)
				}
			}
			if f.CallCount() != 3 {
				t.Errorf("CallCount = %d", f.CallCount())
			}
			if err := f.HealthCheck(t.Context()); err == nil {
				t.Error("HealthCheck passed on an always-failing provider")
			}
		})
	}
}

func TestFailingFailUntil(t *testing.T) {
	f := NewFailing("f", provider.KindConnection, "down", FailUntil(2))
	if err := f.HealthCheck(t.Context()); err == nil {
		t.Error("healthy before recovering")
	}
	if diff := cmp.Diff([]string{"fail", "fail", "ok", "ok"}, outcomes(t, f, 4)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	resp, err := f.Execute(t.Context(), act("a9"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"provider": "f", "action_id": "a9", "recovered_after": int64(2)}
	if diff := cmp.Diff(want, resp.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if err := f.HealthCheck(t.Context()); err != nil {
		t.Errorf("HealthCheck after recovery: %v", err)
	}
	f.Reset()
	if f.CallCount() != 0 || f.HealthCheck(t.Context()) == nil {
		t.Error("Reset did not restart the failing phase")
	}
}

func TestFailingTimeoutSleepsHonouringCtx(t *testing.T) {
	f := NewTimeout("slow", time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	_, err := f.Execute(ctx, act("1"))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout || !pe.Retryable() {
		t.Errorf("err = %v, want retryable TIMEOUT", err)
	}
	g := NewTimeout("slow", time.Millisecond)
	_, err = g.Execute(t.Context(), act("1"))
	if err == nil || err.Error() != "timeout after 1ms" {
		t.Errorf("err = %v, want \"timeout after 1ms\"", err)
	}
}

func TestFailingRetryAfter(t *testing.T) {
	f := NewFailing("f", provider.KindRateLimited, "", WithRetryAfter(3*time.Second))
	_, err := f.Execute(t.Context(), act("1"))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.RetryAfter != 3*time.Second {
		t.Errorf("err = %#v, want RetryAfter 3s", err)
	}
}

func BenchmarkRecordingWithoutCapture(b *testing.B) {
	r := NewRecording("rec", WithoutCapture())
	a := act("x")
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.Execute(ctx, a)
	}
}
