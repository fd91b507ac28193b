// Package statemachine carries out the state_machine verdict (spec 02
// §3.8, decision D11): each event is identified by a fingerprint and moves
// through the states of a machine configured with [[state_machines]] in
// the TOML config; states can time out into another state.
//
// In an action's path it is a gateway.VerdictHandler: the dispatch ends
// with StateChanged{fingerprint, previous_state, new_state, notify}. The
// event's own provider is not called. When the transition taken has
// on_transition.notify = true, a notification action is dispatched through
// the gateway (rules apply):
//
//	action_type "state_notification", same namespace, tenant, provider and
//	metadata as the event; payload {"fingerprint","state_machine",
//	"previous_state","new_state","transitioned_by":"event"|"api",
//	"action_id","action_type","payload":<the event's payload>,
//	"metadata":<on_transition.metadata>,"webhook_url"?,"_state_notification":true}
//
// A timeout that fires dispatches "timeout_notification" with the same
// payload shape (transitioned_by "timeout", plus "expires_at") to the
// provider of the event that last moved the state.
//
// # Storage
//
//	ns:tenant:event_state:<fp>    {"state","fingerprint","updated_at","action_type",
//	                               "state_machine","provider","transitioned_by"?,"timeout"?}
//	ns:tenant:active_events:<action_type>   {"state","fingerprint"} (last writer wins)
//	ns:tenant:event_timeout:<fp>  name in the state timeout index, deadline = timeout.expires_at
//	ns:tenant:event_timeout_claim:<fp>:<expires_at ms>   timeout claim, 60 s (D18)
//
// The armed timeout lives inside the event_state entry (not in a separate
// event_timeout value as upstream does), so one compare-and-swap moves the
// state and its timeout together and a timeout can never fire for a state
// the event has already left.
//
// # Decisions beyond upstream
//
//   - Every read-modify-write is a compare-and-swap with retry (serialised
//     per fingerprint inside one process); no lock round trips.
//   - A timeout is armed when the event enters a state that has one; more
//     events in the same state do not push it back (upstream re-arms on
//     every event, so a chatty alert never times out).
//   - Timeouts are claimed, so with several nodes each fires once (upstream
//     has no claim there, spec 03 §10.8). The state write is committed
//     before the notification is sent: a timeout is never sent twice.
//   - PUT /v1/events/{fp}/transition validates against the machine: an
//     unknown state or a transition the machine does not allow is 409 with
//     the allowed transitions; an allowed one notifies and arms timeouts
//     like an event would.
//   - A state_notification or timeout_notification that reaches a
//     state_machine verdict is delivered as is (loop guard).
package statemachine
