package timeinterval

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/rules"
)

// Outcome reasons of the Muted outcome.
const (
	ReasonMute   = "mute_time_interval"
	ReasonActive = "active_time_interval"
)

// Gate applies the matched rule's mute_time_intervals and
// active_time_intervals (spec 02 §4.5) to every verdict of that rule,
// deduplicate included (D26), at the gateway clock's now. It satisfies
// gateway.Gate.
type Gate struct {
	store *Store
	log   *slog.Logger

	warned  sync.Map // "ns\x00tenant\x00name" → struct{}: warn once per missing interval
	nwarned atomic.Int64
}

// maxWarned bounds the warn-once memory (namespaces and tenants come from
// clients).
const maxWarned = 1024

// NewGate returns a gate reading intervals from store's cache.
func NewGate(store *Store, log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{store: store, log: log}
}

// Check returns a Muted outcome or nil. No state is read: the intervals come
// from the store's cache.
//
//  1. Each mute_time_intervals name in order: the first that is defined for
//     the action's namespace/tenant and matches now mutes
//     (reason mute_time_interval). Names not defined there are skipped.
//  2. If active_time_intervals is non-empty and none of them is defined
//     and matching, the action is muted (reason active_time_interval),
//     naming the last defined interval checked, else the first listed.
func (g *Gate) Check(_ context.Context, a *action.Action, res rules.Result, now time.Time) (*action.Outcome, error) {
	r := res.Rule
	if r == nil || (len(r.MuteTimeIntervals) == 0 && len(r.ActiveTimeIntervals) == 0) {
		return nil, nil
	}
	matched := ""
	if res.Verdict.Kind != action.VerdictAllow {
		matched = r.Name
	}
	for _, name := range r.MuteTimeIntervals {
		iv := g.store.Lookup(a.Namespace, a.Tenant, name)
		if iv == nil {
			g.warnMissing(a, r.Name, name, "mute")
			continue
		}
		if iv.Contains(now) {
			return &action.Outcome{Kind: action.OutcomeMuted, Interval: name, MuteReason: ReasonMute, MatchedRule: matched}, nil
		}
	}
	if len(r.ActiveTimeIntervals) == 0 {
		return nil, nil
	}
	last := ""
	for _, name := range r.ActiveTimeIntervals {
		iv := g.store.Lookup(a.Namespace, a.Tenant, name)
		if iv == nil {
			g.warnMissing(a, r.Name, name, "active")
			continue
		}
		if iv.Contains(now) {
			return nil, nil
		}
		last = name
	}
	if last == "" {
		last = r.ActiveTimeIntervals[0]
	}
	return &action.Outcome{Kind: action.OutcomeMuted, Interval: last, MuteReason: ReasonActive, MatchedRule: matched}, nil
}

func (g *Gate) warnMissing(a *action.Action, rule, name, which string) {
	if g.nwarned.Load() >= maxWarned {
		return
	}
	k := a.Namespace + "\x00" + a.Tenant + "\x00" + name
	if _, seen := g.warned.LoadOrStore(k, struct{}{}); seen {
		return
	}
	g.nwarned.Add(1)
	msg := "mute time interval not defined for this namespace/tenant; not muting"
	if which == "active" {
		msg = "active time interval not defined for this namespace/tenant; counted as inactive"
	}
	g.log.Warn(msg, "rule", rule, "interval", name, "namespace", a.Namespace, "tenant", a.Tenant)
}
