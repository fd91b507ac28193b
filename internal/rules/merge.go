package rules

import "github.com/acteon/acteon-go/action"

// MergePatch applies patch to target as an RFC 7386 JSON merge patch and
// returns the result: an object patch merges recursively (null deletes a
// key; arrays and scalars replace), a non-object target becomes {} first,
// and a non-object patch replaces the target wholesale. Inputs are decoded
// JSON values and are never mutated; the result shares no maps or slices
// with them.
func MergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return action.CloneJSON(patch)
	}
	var out map[string]any
	if tm, ok := target.(map[string]any); ok {
		out = make(map[string]any, len(tm)+len(pm))
		for k, v := range tm {
			out[k] = action.CloneJSON(v)
		}
	} else {
		out = make(map[string]any, len(pm))
	}
	for k, v := range pm {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = MergePatch(out[k], v)
	}
	return out
}
