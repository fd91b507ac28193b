package statemachine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/statemachine"
)

func TestFingerprint(t *testing.T) {
	a := &action.Action{Namespace: "ns", Tenant: "t1", ActionType: "alert", Metadata: map[string]string{"host": "h1"}}
	sum := sha256.Sum256([]byte("action_type=alert;metadata.host=h1;metadata.missing=;action.id=;"))
	if got := statemachine.Fingerprint(a, []string{"action_type", "metadata.host", "metadata.missing", "action.id"}); got != hex.EncodeToString(sum[:]) {
		t.Errorf("fingerprint = %s (missing and action.-prefixed fields must give \"\")", got)
	}
	a.Fingerprint = "X"
	if got := statemachine.Fingerprint(a, []string{"action_type"}); got != "X" {
		t.Errorf("explicit fingerprint ignored: %s", got)
	}
}

func TestCompile(t *testing.T) {
	ms, err := statemachine.Compile([]config.StateMachine{{
		Name: "alert", InitialState: "open", States: []string{"open", "ack", "closed"},
		Transitions: []config.StateTransition{{From: "open", To: "ack", OnTransition: config.OnTransition{Notify: true}}, {From: "open", To: "closed"}},
		Timeouts:    []config.StateMachineTimeout{{InState: "ack", AfterSeconds: 60, TransitionTo: "closed"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := ms["alert"]
	if d := cmp.Diff([]string{"ack", "closed"}, m.AllowedFrom("open")); d != "" {
		t.Error(d)
	}
	if tr := m.Transition("open", "ack"); tr == nil || !tr.Notify {
		t.Errorf("open→ack = %+v", tr)
	}
	if m.Transition("ack", "open") != nil || m.KnownState("bogus") || !m.KnownState("ack") {
		t.Error("transition or state checks wrong")
	}
	if to, ok := m.TimeoutIn("ack"); !ok || to.TransitionTo != "closed" || to.After.Seconds() != 60 {
		t.Errorf("timeout = %+v %v", to, ok)
	}
	if _, err := statemachine.Compile([]config.StateMachine{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Error("duplicate names accepted")
	}
}
