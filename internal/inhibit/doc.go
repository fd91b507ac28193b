// Package inhibit carries out inhibition (decision D12): rule files may
// declare, beside `rules:`, a top-level list
//
//	inhibitions:
//	  - name: node-down
//	    source: {field: action.metadata.alertname, eq: NodeDown}
//	    target: {field: action.metadata.severity, eq: warning}
//	    equal: [instance]
//	    ttl_seconds: 3600   # optional; 0 or absent = until resolved
//
// with source and target in the rule condition grammar. An action that
// matches a source becomes an active source event, stored in the state
// backend under "<ns>:<tenant>:inhibit_source:<name>:<equal label values>";
// a later action matching the source with status "resolved" removes it,
// and ttl_seconds lets a forgotten source expire. An action that matches a
// target (and not the same inhibition's source) while an active source
// with the same equal label values exists in its namespace and tenant ends
// with Suppressed{rule: <inhibition name>}.
//
// In an action's path: RecorderGate runs first among the gateway's gates
// (a silenced source still inhibits), TargetGate last (after silences and
// time intervals). Neither runs in dry runs. Cost: nothing when no
// inhibition is loaded; one state write per matching source and one read
// per matching target otherwise.
package inhibit
