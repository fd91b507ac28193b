package dynamodb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acteon/acteon-go/internal/state"
)

// Locks live in the {prefix}:_locks partition, sort key "_lock:{name}", with
// the holder's random token in owner and the expiry in expires_at_ms (none
// for a ttl of zero). Every change is one conditional write.

const (
	lockSKPrefix  = "_lock:"
	updExtendTTL  = "SET #e = :e, #es = :es"
	updExtendNone = "REMOVE #e, #es"
	condOwnerLive = "#o = :o AND (attribute_not_exists(#e) OR #e > :now)"
	condOwner     = "#o = :o"
	projLock      = "#o, #e"
)

var (
	namesExtendTTL  = names(updExtendTTL, condOwnerLive)
	namesExtendNone = names(updExtendNone, condOwnerLive)
	namesOwner      = names(condOwner)
	namesLock       = names(projLock)
)

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}

func (s *Store) lockKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(s.pkLocks), attrSK: str(lockSKPrefix + name)}
}

// TryLock takes the named lock for ttl (zero: until released) if nobody
// holds it, with one conditional PutItem; otherwise it returns an error
// wrapping state.ErrLockHeld. An expired lock counts as free.
func (s *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (state.Lock, error) {
	now := s.nowMs()
	owner := newToken()
	m := s.lockKey(name)
	m[attrOwner] = str(owner)
	if ttl > 0 {
		e := now + ceilMs(ttl)
		m[attrExpMs], m[attrExpSec] = num(e), num(expSec(e))
	}
	ok, err := s.putIfAbsentOrExpired(ctx, m, now, attrOwner)
	if err != nil {
		return nil, s.fail(ctx, "lock", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("state/dynamodb: lock %s: %w", name, state.ErrLockHeld)
	}
	return &lock{s: s, name: name, owner: owner}, nil
}

// lock is a held lock; owner is its random token.
type lock struct {
	s     *Store
	name  string
	owner string
}

// Extend pushes the expiry to now+ttl (zero: no expiry) if the caller still
// holds the lock, else returns an error wrapping state.ErrLockNotHeld.
func (l *lock) Extend(ctx context.Context, ttl time.Duration) error {
	s := l.s
	now := s.nowMs()
	vals := map[string]types.AttributeValue{":o": str(l.owner), ":now": num(now)}
	upd, nm := updExtendNone, namesExtendNone
	if ttl > 0 {
		e := now + ceilMs(ttl)
		vals[":e"], vals[":es"] = num(e), num(expSec(e))
		upd, nm = updExtendTTL, namesExtendTTL
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.db.UpdateItem(octx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       s.lockKey(l.name),
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(condOwnerLive),
		ExpressionAttributeNames:  nm,
		ExpressionAttributeValues: vals,
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("state/dynamodb: extend lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	if err != nil {
		return s.fail(ctx, "extend lock", l.name, err)
	}
	return nil
}

// Release frees the lock. If the caller no longer holds it (expired, or
// taken over) it returns an error wrapping state.ErrLockNotHeld; the
// caller's own expired entry is removed all the same, someone else's is
// left alone.
func (l *lock) Release(ctx context.Context) error {
	s := l.s
	now := s.nowMs()
	octx, cancel := s.op(ctx)
	defer cancel()
	out, err := s.dbOnce.DeleteItem(octx, &dynamodb.DeleteItemInput{
		TableName:                 s.table,
		Key:                       s.lockKey(l.name),
		ConditionExpression:       aws.String(condOwner),
		ExpressionAttributeNames:  namesOwner,
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(l.owner)},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("state/dynamodb: release lock %s: %w", l.name, state.ErrLockNotHeld)
	}
	if err != nil {
		return s.fail(ctx, "release lock", l.name, err)
	}
	if old, _ := decode(out.Attributes); !old.live(now) {
		return fmt.Errorf("state/dynamodb: release lock %s: expired: %w", l.name, state.ErrLockNotHeld)
	}
	return nil
}

// Held reports whether the caller still owns the lock (strongly consistent
// read).
func (l *lock) Held(ctx context.Context) (bool, error) {
	s := l.s
	octx, cancel := s.op(ctx)
	defer cancel()
	out, err := s.db.GetItem(octx, &dynamodb.GetItemInput{
		TableName:                s.table,
		Key:                      s.lockKey(l.name),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String(projLock),
		ExpressionAttributeNames: namesLock,
	})
	if err != nil {
		return false, s.fail(ctx, "lock held", l.name, err)
	}
	it, err := decode(out.Item)
	if err != nil {
		return false, fmt.Errorf("state/dynamodb: lock held %s: %w", l.name, err)
	}
	return sOf(out.Item, attrOwner) == l.owner && it.live(s.nowMs()), nil
}
