package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/testenv"
)

// sharedBackend is a [state] section several nodes share.
type sharedBackend struct {
	name string
	env  string
}

var sharedBackends = []sharedBackend{{"redis", testenv.Redis}, {"postgres", testenv.Postgres}}

// stateSection returns a [state] section with a fresh prefix and registers
// the cleanup of everything stored under it.
func stateSection(t *testing.T, b sharedBackend) string {
	t.Helper()
	url := testenv.URL(t, b.env)
	prefix := "acteon_evt_" + randomHex(4)
	switch b.name {
	case "redis":
		t.Cleanup(func() { cleanRedis(t, url, prefix) })
		return fmt.Sprintf("[state]\nbackend = \"redis\"\nurl = %q\nprefix = %q\n", url, prefix)
	default:
		t.Cleanup(func() { dropPostgres(t, url, prefix+"_") })
		return fmt.Sprintf("[state]\nbackend = \"postgres\"\nurl = %q\nprefix = %q\n", url, prefix+"_")
	}
}

func cleanRedis(t *testing.T, url, prefix string) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		c.Del(ctx, keys[:n]...)
		keys = keys[n:]
	}
}

func dropPostgres(t *testing.T, url, prefix string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)`, prefix)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, n := range names {
		_, _ = conn.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{n}.Sanitize())
	}
}

const fastBackground = `
[background]
group_flush_interval_seconds = 1
timeout_check_interval_seconds = 1
cleanup_interval_seconds = 1
group_sync_interval_seconds = 1
`

const groupAndStateRules = `rules:
- {name: grp, priority: 1, condition: {field: action.action_type, eq: alert}, action: {type: group, group_by: [metadata.cluster], group_wait_seconds: 60, max_group_size: 1000}}
- {name: lc, priority: 2, condition: {field: action.action_type, eq: incident}, action: {type: state_machine, state_machine: alert, fingerprint_fields: [metadata.host]}}
`

// notificationTally counts group notifications per group id (with their
// event counts) and timeout notifications per fingerprint.
type notificationTally struct {
	groups   map[string][]int
	timeouts map[string]int
}

func tally(p provs) notificationTally {
	nt := notificationTally{groups: map[string][]int{}, timeouts: map[string]int{}}
	for _, a := range calls(p.email, "group_notification") {
		pl := a.Payload.(map[string]any)
		nt.groups[pl["group_id"].(string)] = append(nt.groups[pl["group_id"].(string)], len(pl["events"].([]any)))
	}
	for _, a := range calls(p.email, "timeout_notification") {
		nt.timeouts[a.Payload.(map[string]any)["fingerprint"].(string)]++
	}
	return nt
}

// Three gateway nodes on one backend: concurrent adds from every node lose
// no event, every group is flushed exactly once with all its events and
// every timeout fires exactly once, while one node is closed mid-run.
func TestMultiNodeExactlyOnce(t *testing.T) {
	for _, b := range sharedBackends {
		t.Run(b.name, func(t *testing.T) {
			st := stateSection(t, b)
			clk := clock.NewFake(t0)
			p := newProvs()
			nodes := make([]*app.App, 3)
			for i := range nodes {
				nodes[i] = build(t, st+fastBackground+stateMachineTOML, groupAndStateRules, clk, p)
			}
			ns := uniqueNS(t)
			const groups, perGroup, big, incidents = 30, 10, 1000, 30
			// 30 groups of 10 events plus one group of 1,000, spread over
			// the nodes and sent concurrently.
			type ev struct{ cluster string }
			var evs []ev
			for g := 0; g < groups; g++ {
				for k := 0; k < perGroup; k++ {
					evs = append(evs, ev{fmt.Sprintf("c%d", g)})
				}
			}
			for k := 0; k < big; k++ {
				evs = append(evs, ev{"big"})
			}
			groupIDs := make([]string, len(evs))
			parallel(len(evs), 48, func(i int) {
				a := alertEvent(ns, map[string]string{"cluster": evs[i].cluster}, map[string]any{"i": json.Number(fmt.Sprint(i))})
				out, err := nodes[i%3].Gateway.Dispatch(context.Background(), a, gatewayCaller)
				if err != nil || out.Kind != action.OutcomeGrouped {
					t.Errorf("event %d: %v %v", i, out.Kind, err)
					return
				}
				groupIDs[i] = out.GroupID
			})
			parallel(incidents, 16, func(i int) {
				a := alertEvent(ns, map[string]string{"host": fmt.Sprintf("h%d", i)}, nil)
				a.ActionType, a.Status = "incident", "acknowledged"
				out, err := nodes[(i+1)%3].Gateway.Dispatch(context.Background(), a, gatewayCaller)
				if err != nil || out.NewState != "acknowledged" {
					t.Errorf("incident %d: %+v %v", i, out, err)
				}
			})
			if t.Failed() {
				t.FailNow()
			}
			// Every event of one cluster joined one group.
			byCluster := map[string]map[string]bool{}
			for i, e := range evs {
				if byCluster[e.cluster] == nil {
					byCluster[e.cluster] = map[string]bool{}
				}
				byCluster[e.cluster][groupIDs[i]] = true
			}
			for c, ids := range byCluster {
				if len(ids) != 1 {
					t.Fatalf("cluster %s spread over %d groups", c, len(ids))
				}
			}

			clk.Set(t0.Add(11 * time.Minute))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for _, n := range nodes {
				if err := n.Start(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Node 0 goes away while the first runs are in progress.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); _ = nodes[0].Close(context.Background()) }()

			deadline := time.Now().Add(60 * time.Second)
			for {
				nt := tally(p)
				if len(nt.groups) == groups+1 && len(nt.timeouts) == incidents {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 60 s: %d/%d groups flushed, %d/%d timeouts fired", len(nt.groups), groups+1, len(nt.timeouts), incidents)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Let every node tick a few more times: nothing may fire again.
			time.Sleep(2500 * time.Millisecond)
			wg.Wait()
			nt := tally(p)
			for id, counts := range nt.groups {
				want := perGroup
				if len(counts) == 1 && counts[0] == big {
					want = big
				}
				if len(counts) != 1 || counts[0] != want {
					t.Errorf("group %s flushed %d times with %v events, want once with %d", id, len(counts), counts, want)
				}
			}
			for fp, n := range nt.timeouts {
				if n != 1 {
					t.Errorf("timeout %s fired %d times", fp, n)
				}
			}
			if len(nt.groups) != groups+1 || len(nt.timeouts) != incidents {
				t.Errorf("%d groups, %d timeouts notified", len(nt.groups), len(nt.timeouts))
			}
		})
	}
}

// A gateway stopped with pending groups and open events and started again
// on the same backend loses nothing and fires nothing twice.
func TestRestartKeepsPendingWork(t *testing.T) {
	for _, b := range sharedBackends {
		t.Run(b.name, func(t *testing.T) {
			st := stateSection(t, b)
			clk := clock.NewFake(t0)
			p := newProvs()
			cfg := st + stateMachineTOML
			ns := uniqueNS(t)
			a := build(t, cfg, groupAndStateRules, clk, p)
			send := func(a *app.App, cluster string, n int) {
				for i := 0; i < n; i++ {
					dispatch(t, a, alertEvent(ns, map[string]string{"cluster": cluster}, map[string]any{"i": json.Number(fmt.Sprint(i))}))
				}
			}
			ack := func(a *app.App, host string) {
				e := alertEvent(ns, map[string]string{"host": host}, nil)
				e.ActionType, e.Status = "incident", "acknowledged"
				dispatch(t, a, e)
			}
			// t0: group "early" and incident h1 (due t0+600).
			send(a, "early", 5)
			ack(a, "h1")
			clk.Set(t0.Add(100 * time.Second))
			if n := run(t, a, app.JobGroupFlush); n != 1 {
				t.Fatalf("early flush: %d", n)
			}
			// t0+600: group "late" (due 660), incident h2 (due 1200); h1 fires.
			clk.Set(t0.Add(600 * time.Second))
			send(a, "late", 7)
			ack(a, "h2")
			if n := run(t, a, app.JobStateTimeouts); n != 1 {
				t.Fatalf("h1 timeout: %d", n)
			}
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			// A new process on the same backend.
			b2 := build(t, cfg, groupAndStateRules, clk, p)
			gs, err := b2.Groups().List(context.Background(), func(n, _ string) bool { return n == ns })
			if err != nil || len(gs) != 1 || gs[0].EventCount != 7 {
				t.Fatalf("pending groups after restart: %+v %v", gs, err)
			}
			evs, err := b2.StateMachines().Events(context.Background(), ns, "t1", "", 0)
			if err != nil || len(evs) != 2 {
				t.Fatalf("events after restart: %+v %v", evs, err)
			}
			clk.Set(t0.Add(1300 * time.Second))
			for i := 0; i < 3; i++ {
				run(t, b2, app.JobGroupFlush)
				run(t, b2, app.JobStateTimeouts)
			}
			nt := tally(p)
			if len(nt.groups) != 2 {
				t.Fatalf("groups notified: %v", nt.groups)
			}
			var sizes []int
			for _, c := range nt.groups {
				if len(c) != 1 {
					t.Fatalf("a group was notified %d times", len(c))
				}
				sizes = append(sizes, c[0])
			}
			if !(sizes[0] == 5 && sizes[1] == 7 || sizes[0] == 7 && sizes[1] == 5) {
				t.Fatalf("event counts %v, want 5 and 7", sizes)
			}
			if len(nt.timeouts) != 2 {
				t.Fatalf("timeouts: %v", nt.timeouts)
			}
			for fp, n := range nt.timeouts {
				if n != 1 {
					t.Fatalf("timeout %s fired %d times", fp, n)
				}
			}
			e, err := b2.StateMachines().Event(context.Background(), ns, "t1", evs[0].Fingerprint)
			if err != nil || e.State != "closed" {
				t.Fatalf("%+v %v", e, err)
			}
			if !strings.HasPrefix(e.Fingerprint, evs[0].Fingerprint) {
				t.Fatal("fingerprint mismatch")
			}
		})
	}
}
