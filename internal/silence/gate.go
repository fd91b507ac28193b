package silence

import (
	"context"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/rules"
)

// Gate ends a dispatch with Silenced{silence_id, matched_rule} when an
// active silence matches the action's metadata labels, whatever the
// verdict (spec 02 §4.4). The gateway skips gates in dry runs. It satisfies
// gateway.Gate and reads no state: silences come from the store's cache.
type Gate struct{ store *Store }

// NewGate returns a gate over store's cache.
func NewGate(store *Store) *Gate { return &Gate{store: store} }

// Check implements gateway.Gate. matched_rule is the decided rule's name,
// null for allow verdicts.
func (g *Gate) Check(_ context.Context, a *action.Action, res rules.Result, now time.Time) (*action.Outcome, error) {
	sl := g.store.Match(a.Namespace, a.Tenant, a.Metadata, now)
	if sl == nil {
		return nil, nil
	}
	out := &action.Outcome{Kind: action.OutcomeSilenced, SilenceID: sl.ID}
	if res.Rule != nil && res.Verdict.Kind != action.VerdictAllow {
		out.MatchedRule = res.Rule.Name
	}
	return out, nil
}
