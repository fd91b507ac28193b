package statemachine

import (
	"fmt"
	"sort"
	"time"

	"github.com/acteon/acteon-go/internal/config"
)

// Transition is one allowed move.
type Transition struct {
	From, To   string
	Notify     bool
	WebhookURL string
	Metadata   map[string]string
}

// Timeout moves an event out of a state after a delay.
type Timeout struct {
	After        time.Duration
	TransitionTo string
}

// Machine is one compiled state machine.
type Machine struct {
	Name         string
	InitialState string
	// States is empty when the config lists none (any state name is then
	// accepted).
	States      []string
	states      map[string]bool
	transitions map[[2]string]*Transition
	timeouts    map[string]Timeout
}

// Compile builds machines from the config tables (already validated by
// the config loader). A duplicate name is an error.
func Compile(cfgs []config.StateMachine) (map[string]*Machine, error) {
	out := make(map[string]*Machine, len(cfgs))
	for _, c := range cfgs {
		if c.Name == "" {
			return nil, fmt.Errorf("statemachine: a state machine has no name")
		}
		if _, dup := out[c.Name]; dup {
			return nil, fmt.Errorf("statemachine: duplicate state machine %q", c.Name)
		}
		m := &Machine{Name: c.Name, InitialState: c.InitialState, States: append([]string(nil), c.States...),
			states: map[string]bool{}, transitions: map[[2]string]*Transition{}, timeouts: map[string]Timeout{}}
		for _, s := range c.States {
			m.states[s] = true
		}
		for _, t := range c.Transitions {
			m.transitions[[2]string{t.From, t.To}] = &Transition{From: t.From, To: t.To, Notify: t.OnTransition.Notify,
				WebhookURL: t.OnTransition.WebhookURL, Metadata: t.OnTransition.Metadata}
		}
		for _, t := range c.Timeouts {
			if _, dup := m.timeouts[t.InState]; !dup {
				m.timeouts[t.InState] = Timeout{After: time.Duration(t.AfterSeconds) * time.Second, TransitionTo: t.TransitionTo}
			}
		}
		out[c.Name] = m
	}
	return out, nil
}

// Transition returns the configured transition from → to, or nil.
func (m *Machine) Transition(from, to string) *Transition {
	return m.transitions[[2]string{from, to}]
}

// TimeoutIn returns the timeout of a state.
func (m *Machine) TimeoutIn(s string) (Timeout, bool) {
	t, ok := m.timeouts[s]
	return t, ok
}

// KnownState reports whether s is a state of the machine (any name when
// the machine lists no states).
func (m *Machine) KnownState(s string) bool {
	return len(m.states) == 0 || m.states[s]
}

// AllowedFrom lists the targets reachable from state s, sorted.
func (m *Machine) AllowedFrom(s string) []string {
	out := []string{}
	for k := range m.transitions {
		if k[0] == s {
			out = append(out, k[1])
		}
	}
	sort.Strings(out)
	return out
}
