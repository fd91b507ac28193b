package inhibit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/gateway"
	"github.com/acteon/acteon-go/internal/rules"
	"github.com/acteon/acteon-go/internal/state"
)

// Kind is the state kind of active source events.
const Kind = "inhibit_source"

// maxKeyID is the longest readable key id; longer ones are hashed.
const maxKeyID = 400

// Tracker records active inhibition sources and answers whether a target is
// inhibited. Sources live in the state backend, so every gateway node sees
// the same ones and a restart forgets none.
type Tracker struct {
	st    state.Store
	rules func() *rules.Set
}

// New returns a tracker over st; rulesFn returns the current rule set,
// whose Inhibitions are applied.
func New(st state.Store, rulesFn func() *rules.Set) *Tracker {
	return &Tracker{st: st, rules: rulesFn}
}

// SourceKey is the state key of the active source of inh that a carries:
// the action's namespace and tenant, the inhibition name and the values of
// its equal labels (an absent label counts as "").
func SourceKey(inh *rules.Inhibition, a *action.Action) state.Key {
	var b strings.Builder
	b.WriteString(inh.Name)
	for _, l := range inh.Equal {
		b.WriteByte(':')
		b.WriteString(url.QueryEscape(a.Metadata[l]))
	}
	id := b.String()
	if len(id) > maxKeyID {
		sum := sha256.Sum256([]byte(id))
		id = inh.Name + ":sha256:" + hex.EncodeToString(sum[:])
	}
	return state.Key{Namespace: a.Namespace, Tenant: a.Tenant, Kind: Kind, ID: id}
}

// Resolved reports whether the action reports the end of its event
// (status "resolved", any case).
func Resolved(a *action.Action) bool { return strings.EqualFold(a.Status, "resolved") }

func unavailable(what string, key state.Key, err error) error {
	if errors.Is(err, state.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: inhibition %s %s: %v", gateway.ErrStateUnavailable, what, key, err)
	}
	return fmt.Errorf("inhibit: %s %s: %w", what, key, err)
}

// Record makes a an active source of every inhibition whose source
// condition it matches, or removes that source when a is resolved. A
// source expires after the inhibition's ttl_seconds unless refreshed.
func (t *Tracker) Record(ctx context.Context, a *action.Action, now time.Time) error {
	set := t.rules()
	for _, inh := range set.Inhibitions() {
		if !inh.MatchesSource(ctx, a, now, t.st) {
			continue
		}
		key := SourceKey(inh, a)
		if Resolved(a) {
			if _, err := t.st.Delete(ctx, key); err != nil {
				return unavailable("resolve source", key, err)
			}
			continue
		}
		ttl := time.Duration(inh.TTLSeconds) * time.Second
		if err := t.st.Set(ctx, key, a.ID, ttl); err != nil {
			return unavailable("record source", key, err)
		}
	}
	return nil
}

// Inhibited returns the first inhibition that mutes a: a matches its
// target (and not its source) and an active source with the same equal
// label values exists in a's namespace and tenant.
func (t *Tracker) Inhibited(ctx context.Context, a *action.Action, now time.Time) (*rules.Inhibition, error) {
	set := t.rules()
	for _, inh := range set.Inhibitions() {
		if !inh.MatchesTarget(ctx, a, now, t.st) || inh.MatchesSource(ctx, a, now, t.st) {
			continue
		}
		key := SourceKey(inh, a)
		_, err := t.st.Get(ctx, key)
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, unavailable("read source", key, err)
		}
		return inh, nil
	}
	return nil, nil
}

// RecorderGate records sources; it never ends a dispatch. Install it
// before the silence and time-interval gates so that a silenced or muted
// source still inhibits.
type RecorderGate struct{ T *Tracker }

// Check implements gateway.Gate.
func (g RecorderGate) Check(ctx context.Context, a *action.Action, _ rules.Result, now time.Time) (*action.Outcome, error) {
	return nil, g.T.Record(ctx, a, now)
}

// TargetGate ends the dispatch of an inhibited target with
// Suppressed{rule: <inhibition name>}.
type TargetGate struct{ T *Tracker }

// Check implements gateway.Gate.
func (g TargetGate) Check(ctx context.Context, a *action.Action, _ rules.Result, now time.Time) (*action.Outcome, error) {
	inh, err := g.T.Inhibited(ctx, a, now)
	if err != nil || inh == nil {
		return nil, err
	}
	return &action.Outcome{Kind: action.OutcomeSuppressed, Rule: inh.Name}, nil
}
