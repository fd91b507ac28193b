package action

// VerdictKind is the tag of a rule verdict, as reported by dry-run, the
// playground trace and audit records.
type VerdictKind string

// Verdict kinds. Each corresponds to a rule's `action.type`.
const (
	VerdictAllow           VerdictKind = "allow"
	VerdictDeny            VerdictKind = "deny"
	VerdictDeduplicate     VerdictKind = "deduplicate"
	VerdictSuppress        VerdictKind = "suppress"
	VerdictReroute         VerdictKind = "reroute"
	VerdictThrottle        VerdictKind = "throttle"
	VerdictModify          VerdictKind = "modify"
	VerdictStateMachine    VerdictKind = "state_machine"
	VerdictGroup           VerdictKind = "group"
	VerdictRequestApproval VerdictKind = "request_approval"
	VerdictChain           VerdictKind = "chain"
	VerdictSchedule        VerdictKind = "schedule"
)

// VerdictKinds lists every verdict kind, for pre-creating metric series.
var VerdictKinds = []VerdictKind{
	VerdictAllow, VerdictDeny, VerdictDeduplicate, VerdictSuppress, VerdictReroute,
	VerdictThrottle, VerdictModify, VerdictStateMachine, VerdictGroup,
	VerdictRequestApproval, VerdictChain, VerdictSchedule,
}

// Valid reports whether k is a known verdict kind.
func (k VerdictKind) Valid() bool {
	for _, v := range VerdictKinds {
		if v == k {
			return true
		}
	}
	return false
}
