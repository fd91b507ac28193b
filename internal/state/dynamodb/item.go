package dynamodb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acteon/acteon-go/internal/state"
)

// Attribute names. Every item has pk and sk; state entries carry value or
// n, version and (when they expire) expires_at_ms and expires_at; locks
// carry owner; timeout index items carry key, tok, deadline_ms and
// written_ms.
const (
	attrPK       = "pk"
	attrSK       = "sk"
	attrValue    = "value"
	attrN        = "n"
	attrVersion  = "version"
	attrExpMs    = "expires_at_ms"
	attrExpSec   = "expires_at"
	attrOwner    = "owner"
	attrKey      = "key"
	attrTok      = "tok"
	attrDeadline = "deadline_ms"
	attrWritten  = "written_ms"
	attrWriter   = "w"
)

// placeholders maps the expression attribute names used in expressions to
// attribute names. Several are DynamoDB reserved words (value, key, owner),
// so every attribute but pk and sk is referred to through its placeholder.
var placeholders = map[string]string{
	"#v":   attrValue,
	"#n":   attrN,
	"#ver": attrVersion,
	"#e":   attrExpMs,
	"#es":  attrExpSec,
	"#o":   attrOwner,
	"#k":   attrKey,
	"#t":   attrTok,
	"#d":   attrDeadline,
	"#w":   attrWritten,
}

// names returns the ExpressionAttributeNames for exactly the placeholders
// that occur in exprs (DynamoDB rejects unused names). It is called once per
// expression set, at package initialisation.
func names(exprs ...string) map[string]string {
	m := map[string]string{}
	for _, e := range exprs {
		for i := 0; i < len(e); i++ {
			if e[i] != '#' {
				continue
			}
			j := i + 1
			for j < len(e) && (e[j] >= 'a' && e[j] <= 'z') {
				j++
			}
			p := e[i:j]
			a, ok := placeholders[p]
			if !ok {
				panic("state/dynamodb: unknown placeholder " + p + " in " + e)
			}
			m[p] = a
		}
	}
	return m
}

var (
	one  types.AttributeValue = &types.AttributeValueMemberN{Value: "1"}
	zero types.AttributeValue = &types.AttributeValueMemberN{Value: "0"}
)

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(i int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(i, 10)}
}

func unum(u uint64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(u, 10)}
}

// ceilMs converts a positive duration to whole milliseconds, rounding up so
// that a sub-millisecond TTL still lives for a moment.
func ceilMs(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// expSec is the native-TTL attribute for an expiry in ms: whole seconds,
// rounded up so that DynamoDB never deletes a live item.
func expSec(ms int64) int64 { return (ms + 999) / 1000 }

// pk and sk of a state key.
func (s *Store) pk(k state.Key) string {
	return s.pkPrefix + state.Segment(k.Namespace) + ":" + state.Segment(k.Tenant)
}
func sk(k state.Key) string { return k.Kind + ":" + k.ID }

func (s *Store) key(k state.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(s.pk(k)), attrSK: str(sk(k))}
}

// item is a decoded state entry. A counter keeps its value in n (a number,
// so that UpdateItem can add to it atomically); every other value is the
// string value. An item has one or the other, and its text is the same
// decimal either way, so Set, Get and Increment agree (D14).
type item struct {
	found    bool
	value    string
	hasValue bool
	n        int64
	hasN     bool
	version  uint64
	expMs    int64
	hasExp   bool
}

func (it item) live(nowMs int64) bool { return it.found && (!it.hasExp || it.expMs > nowMs) }

// text is the value as Get returns it.
func (it item) text() string {
	if it.hasN {
		return strconv.FormatInt(it.n, 10)
	}
	return it.value
}

func decode(m map[string]types.AttributeValue) (item, error) {
	var it item
	if m == nil {
		return it, nil
	}
	it.found = true
	var err error
	if v, ok := m[attrValue].(*types.AttributeValueMemberS); ok {
		it.value, it.hasValue = v.Value, true
	}
	if v, ok := m[attrN].(*types.AttributeValueMemberN); ok {
		if it.n, err = parseInt(v.Value); err != nil {
			return it, fmt.Errorf("state/dynamodb: counter %q: %w", v.Value, err)
		}
		it.hasN = true
	}
	if v, ok := m[attrVersion].(*types.AttributeValueMemberN); ok {
		if it.version, err = strconv.ParseUint(v.Value, 10, 64); err != nil {
			return it, fmt.Errorf("state/dynamodb: version %q: %w", v.Value, err)
		}
	}
	if v, ok := m[attrExpMs].(*types.AttributeValueMemberN); ok {
		if it.expMs, err = parseInt(v.Value); err != nil {
			return it, fmt.Errorf("state/dynamodb: expiry %q: %w", v.Value, err)
		}
		it.hasExp = true
	}
	return it, nil
}

// parseInt reads a DynamoDB number that should be an integer. DynamoDB
// normalises numbers, but an integral value may still come back with a
// fractional zero part or an exponent from other writers; those are
// rejected rather than guessed.
func parseInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	return strconv.ParseInt(s, 10, 64)
}

func sOf(m map[string]types.AttributeValue, name string) string {
	if v, ok := m[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
