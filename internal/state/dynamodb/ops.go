package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acteon/acteon-go/internal/state"
)

// maxRounds bounds the read-decide-write loops of Set, Increment and
// IncrementWindow. Each round makes progress unless another writer changed
// the same key in between, so running out means pathological contention.
const maxRounds = 16

// errContention is returned when maxRounds is exhausted.
var errContention = errors.New("too much contention on one key")

// Condition and update expressions. :now is always the client's clock in
// epoch milliseconds.
const (
	condAbsentOrExpired = "attribute_not_exists(pk) OR #e <= :now"
	condAbsentOrLive    = "attribute_not_exists(pk) OR attribute_not_exists(#e) OR #e > :now"
	condLive            = "attribute_not_exists(#e) OR #e > :now"
	projEntry           = "#v, #n, #ver, #e"

	updSetTTL   = "SET #v = :v, #ver = if_not_exists(#ver, :zero) + :one, #e = :e, #es = :es REMOVE #n"
	updSetNoTTL = "SET #v = :v, #ver = if_not_exists(#ver, :zero) + :one REMOVE #n, #e, #es"

	updIncr       = "SET #n = if_not_exists(#n, :zero) + :d, #ver = if_not_exists(#ver, :zero) + :one"
	updIncrTTL    = updIncr + ", #e = :e, #es = :es"
	condIncr      = "attribute_not_exists(pk) OR (attribute_exists(#n) AND (attribute_not_exists(#e) OR #e > :now))"
	updConvert    = "SET #n = :nn, #ver = #ver + :one REMOVE #v"
	updConvertTTL = "SET #n = :nn, #ver = #ver + :one, #e = :e, #es = :es REMOVE #v"
	condConvert   = "#ver = :ov AND #v = :ovalue AND (attribute_not_exists(#e) OR #e > :now)"

	updWindow          = "SET #n = if_not_exists(#n, :zero) + :one, #ver = if_not_exists(#ver, :zero) + :one, #e = if_not_exists(#e, :e), #es = if_not_exists(#es, :es)"
	condWindow         = "attribute_not_exists(pk) OR (attribute_exists(#n) AND #e > :now)"
	updWindowPermanent = "SET #n = #n + :one, #ver = #ver + :one"
	condWindowPerm     = "attribute_exists(#n) AND attribute_not_exists(#e)"

	updCASTTL   = "SET #v = :v, #ver = #ver + :one, #e = :e, #es = :es REMOVE #n"
	updCASNoTTL = "SET #v = :v, #ver = #ver + :one REMOVE #n"
	condCAS     = "#ver = :exp AND (attribute_not_exists(#e) OR #e > :now)"

	filterLive    = "attribute_not_exists(#e) OR #e > :now"
	projScan      = "sk, #v, #n, #e"
	filterByKind  = "begins_with(sk, :k) AND begins_with(pk, :pfx) AND attribute_exists(#ver) AND (attribute_not_exists(#e) OR #e > :now)"
	projScanKind  = "pk, sk, #v, #n, #e"
	keyCondPrefix = "pk = :pk AND begins_with(sk, :p)"
)

var (
	namesAbsentOrExpired = names(condAbsentOrExpired)
	namesEntry           = names(projEntry)
	namesSetTTL          = names(updSetTTL, condAbsentOrLive)
	namesSetNoTTL        = names(updSetNoTTL, condAbsentOrLive)
	namesIncr            = names(updIncr, condIncr)
	namesIncrTTL         = names(updIncrTTL, condIncr)
	namesConvert         = names(updConvert, condConvert)
	namesConvertTTL      = names(updConvertTTL, condConvert)
	namesWindow          = names(updWindow, condWindow)
	namesWindowPerm      = names(updWindowPermanent, condWindowPerm)
	namesCASTTL          = names(updCASTTL, condCAS)
	namesCASNoTTL        = names(updCASNoTTL, condCAS)
	namesScan            = names(filterLive, projScan)
	namesScanKind        = names(filterByKind, projScanKind)
)

func (s *Store) nowMs() int64 { return s.clock.Now().UnixMilli() }

// newEntry builds a whole state item at version 1 with the value in the
// string attribute (or, for counters, in n) and an expiry when ttl > 0.
func (s *Store) newEntry(key state.Key, nowMs int64, ttl time.Duration, valueAttr string, value types.AttributeValue) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		attrPK:      str(s.pk(key)),
		attrSK:      str(sk(key)),
		valueAttr:   value,
		attrVersion: one,
	}
	if ttl > 0 {
		e := nowMs + ceilMs(ttl)
		m[attrExpMs] = num(e)
		m[attrExpSec] = num(expSec(e))
	}
	return m
}

// putIfAbsentOrExpired writes a whole new item unless a live one exists and
// reports whether it did. It is one PutItem, sent without SDK retries: a
// conditional write retried after its answer was lost would see its own
// item and report a failure. When tokenAttr names an attribute of m that
// holds a token unique to this call, a failed attempt that may have been
// applied is retried (up to Config.MaxAttempts, within one OpTimeout), and
// a retry that finds the item present decides by the token whether the
// earlier attempt won.
func (s *Store) putIfAbsentOrExpired(ctx context.Context, m map[string]types.AttributeValue, nowMs int64, tokenAttr string) (bool, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	in := &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      m,
		ConditionExpression:       aws.String(condAbsentOrExpired),
		ExpressionAttributeNames:  namesAbsentOrExpired,
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(nowMs)},
	}
	ambiguous := false
	for attempt := 1; ; attempt++ {
		_, err := s.dbOnce.PutItem(octx, in)
		if err == nil {
			return true, nil
		}
		if sent, ok := conditionFailed(err); ok {
			if !ambiguous {
				return false, nil
			}
			if sent == nil {
				out, err := s.db.GetItem(octx, &dynamodb.GetItemInput{
					TableName:      s.table,
					Key:            map[string]types.AttributeValue{attrPK: m[attrPK], attrSK: m[attrSK]},
					ConsistentRead: aws.Bool(true),
				})
				if err != nil {
					return false, err
				}
				sent = out.Item
			}
			return sOf(sent, tokenAttr) == sOf(m, tokenAttr), nil
		}
		if tokenAttr == "" || attempt >= s.maxAttempts || octx.Err() != nil || !unavailable(err) {
			return false, err
		}
		ambiguous = true
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
}

// CheckAndSet stores value at version 1 if key has no live entry and reports
// whether it did. It is one conditional PutItem: the condition "absent or
// expired" is checked by DynamoDB against the client's now. The item carries
// a random writer token so that a retry after a lost answer recognises its
// own write.
func (s *Store) CheckAndSet(ctx context.Context, key state.Key, value string, ttl time.Duration) (bool, error) {
	now := s.nowMs()
	m := s.newEntry(key, now, ttl, attrValue, str(value))
	m[attrWriter] = str(newToken())
	ok, err := s.putIfAbsentOrExpired(ctx, m, now, attrWriter)
	if err != nil {
		return false, s.fail(ctx, "check-and-set", key.String(), err)
	}
	return ok, nil
}

// read fetches one entry with a strongly consistent GetItem.
func (s *Store) read(ctx context.Context, key state.Key, proj *string, nm map[string]string) (map[string]types.AttributeValue, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	out, err := s.db.GetItem(octx, &dynamodb.GetItemInput{
		TableName:                s.table,
		Key:                      s.key(key),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     proj,
		ExpressionAttributeNames: nm,
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

func (s *Store) getLive(ctx context.Context, op string, key state.Key) (item, error) {
	m, err := s.read(ctx, key, aws.String(projEntry), namesEntry)
	if err != nil {
		return item{}, s.fail(ctx, op, key.String(), err)
	}
	it, err := decode(m)
	if err != nil {
		return item{}, fmt.Errorf("state/dynamodb: %s %s: %w", op, key, err)
	}
	if !it.live(s.nowMs()) {
		return item{}, fmt.Errorf("state/dynamodb: %s %s: %w", op, key, state.ErrNotFound)
	}
	return it, nil
}

// Get returns the live value or an error wrapping state.ErrNotFound.
func (s *Store) Get(ctx context.Context, key state.Key) (string, error) {
	it, err := s.getLive(ctx, "get", key)
	if err != nil {
		return "", err
	}
	return it.text(), nil
}

// GetVersioned returns the live value and its version or an error wrapping
// state.ErrNotFound.
func (s *Store) GetVersioned(ctx context.Context, key state.Key) (state.Entry, error) {
	it, err := s.getLive(ctx, "get versioned", key)
	if err != nil {
		return state.Entry{}, err
	}
	return state.Entry{Value: it.text(), Version: it.version}, nil
}

// Set upserts value: a live entry's version grows by one, a missing or
// expired one starts again at 1. The expiry becomes now+ttl, or none when
// ttl is zero. Usually one UpdateItem; replacing an expired entry takes a
// second, conditional PutItem.
func (s *Store) Set(ctx context.Context, key state.Key, value string, ttl time.Duration) error {
	for range maxRounds {
		now := s.nowMs()
		vals := map[string]types.AttributeValue{":v": str(value), ":zero": zero, ":one": one, ":now": num(now)}
		upd, nm := updSetNoTTL, namesSetNoTTL
		if ttl > 0 {
			e := now + ceilMs(ttl)
			vals[":e"], vals[":es"] = num(e), num(expSec(e))
			upd, nm = updSetTTL, namesSetTTL
		}
		octx, cancel := s.op(ctx)
		_, err := s.db.UpdateItem(octx, &dynamodb.UpdateItemInput{
			TableName:                 s.table,
			Key:                       s.key(key),
			UpdateExpression:          aws.String(upd),
			ConditionExpression:       aws.String(condAbsentOrLive),
			ExpressionAttributeNames:  nm,
			ExpressionAttributeValues: vals,
		})
		cancel()
		if err == nil {
			return nil
		}
		if _, ok := conditionFailed(err); !ok {
			return s.fail(ctx, "set", key.String(), err)
		}
		// The entry exists but expired: replace it as a new one.
		ok, err := s.putIfAbsentOrExpired(ctx, s.newEntry(key, now, ttl, attrValue, str(value)), now, "")
		if err != nil {
			return s.fail(ctx, "set", key.String(), err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("state/dynamodb: set %s: %w", key, errContention)
}

// Delete removes the entry, live or expired, and reports whether a live one
// existed. It is one DeleteItem that returns the old item.
func (s *Store) Delete(ctx context.Context, key state.Key) (bool, error) {
	now := s.nowMs()
	octx, cancel := s.op(ctx)
	defer cancel()
	out, err := s.dbOnce.DeleteItem(octx, &dynamodb.DeleteItemInput{
		TableName:    s.table,
		Key:          s.key(key),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return false, s.fail(ctx, "delete", key.String(), err)
	}
	it, err := decode(out.Attributes)
	if err != nil {
		return false, fmt.Errorf("state/dynamodb: delete %s: %w", key, err)
	}
	return it.live(now), nil
}

// oldItem returns the item a failed condition saw: the one DynamoDB sent
// back, or (for emulators that do not) a fresh consistent read.
func (s *Store) oldItem(ctx context.Context, key state.Key, sent map[string]types.AttributeValue) (item, error) {
	if sent == nil {
		var err error
		if sent, err = s.read(ctx, key, aws.String(projEntry), namesEntry); err != nil {
			return item{}, err
		}
	}
	return decode(sent)
}

// Increment adds delta to the counter (missing or expired counts as 0) and
// returns the result. A counter that is already numeric, or missing, takes
// one UpdateItem. Replacing an expired entry, or converting a decimal string
// written by Set, takes a second conditional write.
func (s *Store) Increment(ctx context.Context, key state.Key, delta int64, ttl time.Duration) (int64, error) {
	for range maxRounds {
		now := s.nowMs()
		vals := map[string]types.AttributeValue{":d": num(delta), ":zero": zero, ":one": one, ":now": num(now)}
		upd, nm := updIncr, namesIncr
		if ttl > 0 {
			e := now + ceilMs(ttl)
			vals[":e"], vals[":es"] = num(e), num(expSec(e))
			upd, nm = updIncrTTL, namesIncrTTL
		}
		octx, cancel := s.op(ctx)
		out, err := s.dbOnce.UpdateItem(octx, &dynamodb.UpdateItemInput{
			TableName:                           s.table,
			Key:                                 s.key(key),
			UpdateExpression:                    aws.String(upd),
			ConditionExpression:                 aws.String(condIncr),
			ExpressionAttributeNames:            nm,
			ExpressionAttributeValues:           vals,
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		cancel()
		if err == nil {
			it, err := decode(out.Attributes)
			if err != nil {
				return 0, fmt.Errorf("state/dynamodb: increment %s: %w", key, err)
			}
			return it.n, nil
		}
		sent, ok := conditionFailed(err)
		if !ok {
			return 0, s.fail(ctx, "increment", key.String(), err)
		}
		old, err := s.oldItem(ctx, key, sent)
		if err != nil {
			return 0, s.fail(ctx, "increment", key.String(), err)
		}
		switch {
		case !old.found:
			continue // deleted in between: try again
		case !old.live(now):
			ok, err := s.putIfAbsentOrExpired(ctx, s.newEntry(key, now, ttl, attrN, num(delta)), now, "")
			if err != nil {
				return 0, s.fail(ctx, "increment", key.String(), err)
			}
			if ok {
				return delta, nil
			}
		case old.hasValue:
			n, done, err := s.convert(ctx, "increment", key, old, delta, ttl, now)
			if err != nil || done {
				return n, err
			}
		}
	}
	return 0, fmt.Errorf("state/dynamodb: increment %s: %w", key, errContention)
}

// convert turns a live string entry holding a decimal integer into a
// counter holding that integer plus delta, if nobody changed it since old
// was read. It reports whether it wrote.
func (s *Store) convert(ctx context.Context, op string, key state.Key, old item, delta int64, ttl time.Duration, now int64) (int64, bool, error) {
	cur, err := strconv.ParseInt(old.value, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("state/dynamodb: %s %s: value is not an integer", op, key)
	}
	n := cur + delta
	vals := map[string]types.AttributeValue{
		":nn": num(n), ":one": one, ":ov": unum(old.version), ":ovalue": str(old.value), ":now": num(now),
	}
	upd, nm := updConvert, namesConvert
	if ttl > 0 {
		e := now + ceilMs(ttl)
		vals[":e"], vals[":es"] = num(e), num(expSec(e))
		upd, nm = updConvertTTL, namesConvertTTL
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	_, err = s.dbOnce.UpdateItem(octx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       s.key(key),
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(condConvert),
		ExpressionAttributeNames:  nm,
		ExpressionAttributeValues: vals,
	})
	if err == nil {
		return n, true, nil
	}
	if _, ok := conditionFailed(err); ok {
		return 0, false, nil
	}
	return 0, false, s.fail(ctx, op, key.String(), err)
}

// IncrementWindow counts one hit in a fixed window that starts at the first
// hit (D10). A hit on a live window or on a missing key is one UpdateItem
// (if_not_exists creates the count and the expiry); the first hit after a
// window ended costs a second, conditional PutItem that starts the next
// window, so two nodes cannot both restart it.
func (s *Store) IncrementWindow(ctx context.Context, key state.Key, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("state/dynamodb: increment window %s: window must be > 0, got %s", key, window)
	}
	for range maxRounds {
		now := s.nowMs()
		e := now + ceilMs(window)
		octx, cancel := s.op(ctx)
		out, err := s.dbOnce.UpdateItem(octx, &dynamodb.UpdateItemInput{
			TableName:                s.table,
			Key:                      s.key(key),
			UpdateExpression:         aws.String(updWindow),
			ConditionExpression:      aws.String(condWindow),
			ExpressionAttributeNames: namesWindow,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":zero": zero, ":one": one, ":now": num(now), ":e": num(e), ":es": num(expSec(e)),
			},
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		cancel()
		if err == nil {
			it, err := decode(out.Attributes)
			if err != nil {
				return 0, 0, fmt.Errorf("state/dynamodb: increment window %s: %w", key, err)
			}
			return it.n, min(window, time.Duration(it.expMs-now)*time.Millisecond), nil
		}
		sent, ok := conditionFailed(err)
		if !ok {
			return 0, 0, s.fail(ctx, "increment window", key.String(), err)
		}
		old, err := s.oldItem(ctx, key, sent)
		if err != nil {
			return 0, 0, s.fail(ctx, "increment window", key.String(), err)
		}
		switch {
		case !old.found:
			continue
		case !old.live(now):
			ok, err := s.putIfAbsentOrExpired(ctx, s.newEntry(key, now, window, attrN, one), now, "")
			if err != nil {
				return 0, 0, s.fail(ctx, "increment window", key.String(), err)
			}
			if ok {
				return 1, window, nil
			}
		case old.hasN && !old.hasExp:
			// A permanent counter (written by Increment without a ttl):
			// count on, no window.
			n, ok, err := s.bumpPermanent(ctx, key)
			if err != nil || ok {
				return n, 0, err
			}
		case old.hasValue:
			n, done, err := s.convert(ctx, "increment window", key, old, 1, 0, now)
			if err != nil || done {
				var left time.Duration
				if old.hasExp {
					left = time.Duration(old.expMs-now) * time.Millisecond
				}
				return n, left, err
			}
		}
	}
	return 0, 0, fmt.Errorf("state/dynamodb: increment window %s: %w", key, errContention)
}

func (s *Store) bumpPermanent(ctx context.Context, key state.Key) (int64, bool, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	out, err := s.dbOnce.UpdateItem(octx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       s.key(key),
		UpdateExpression:          aws.String(updWindowPermanent),
		ConditionExpression:       aws.String(condWindowPerm),
		ExpressionAttributeNames:  namesWindowPerm,
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": one},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		if _, ok := conditionFailed(err); ok {
			return 0, false, nil
		}
		return 0, false, s.fail(ctx, "increment window", key.String(), err)
	}
	it, err := decode(out.Attributes)
	if err != nil {
		return 0, false, fmt.Errorf("state/dynamodb: increment window %s: %w", key, err)
	}
	return it.n, true, nil
}

// CompareAndSwap writes value if the live entry's version equals expected:
// one UpdateItem conditioned on the version and the expiry. Otherwise it
// returns an error wrapping state.ErrConflict (a missing or expired key is a
// conflict too). A zero ttl keeps the old expiry.
func (s *Store) CompareAndSwap(ctx context.Context, key state.Key, expected uint64, value string, ttl time.Duration) error {
	now := s.nowMs()
	vals := map[string]types.AttributeValue{":v": str(value), ":one": one, ":exp": unum(expected), ":now": num(now)}
	upd, nm := updCASNoTTL, namesCASNoTTL
	if ttl > 0 {
		e := now + ceilMs(ttl)
		vals[":e"], vals[":es"] = num(e), num(expSec(e))
		upd, nm = updCASTTL, namesCASTTL
	}
	octx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.dbOnce.UpdateItem(octx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 s.key(key),
		UpdateExpression:                    aws.String(upd),
		ConditionExpression:                 aws.String(condCAS),
		ExpressionAttributeNames:            nm,
		ExpressionAttributeValues:           vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	sent, ok := conditionFailed(err)
	if !ok {
		return s.fail(ctx, "compare-and-swap", key.String(), err)
	}
	if sent == nil {
		return fmt.Errorf("state/dynamodb: compare-and-swap %s: expected version %d, key missing or at another version: %w", key, expected, state.ErrConflict)
	}
	old, _ := decode(sent)
	if !old.live(now) {
		return fmt.Errorf("state/dynamodb: compare-and-swap %s: expected version %d, key missing: %w", key, expected, state.ErrConflict)
	}
	return fmt.Errorf("state/dynamodb: compare-and-swap %s: expected version %d, found %d: %w", key, expected, old.version, state.ErrConflict)
}

// ScanKeys returns the live entries whose canonical key starts with
// "namespace:tenant:kind:" + prefix, sorted by key: a strongly consistent,
// paginated Query on the (namespace, tenant) partition.
func (s *Store) ScanKeys(ctx context.Context, namespace, tenant, kind, prefix string) ([]state.KV, error) {
	now := s.nowMs()
	canon := state.Segment(namespace) + ":" + state.Segment(tenant) + ":"
	in := &dynamodb.QueryInput{
		TableName:                s.table,
		KeyConditionExpression:   aws.String(keyCondPrefix),
		FilterExpression:         aws.String(filterLive),
		ProjectionExpression:     aws.String(projScan),
		ConsistentRead:           aws.Bool(true),
		ExpressionAttributeNames: namesScan,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(s.pkPrefix + canon[:len(canon)-1]), ":p": str(kind + ":" + prefix), ":now": num(now),
		},
	}
	var out []state.KV
	for {
		octx, cancel := s.op(ctx)
		page, err := s.db.Query(octx, in)
		cancel()
		if err != nil {
			return nil, s.fail(ctx, "scan keys", canon+kind+":"+prefix, err)
		}
		for _, m := range page.Items {
			it, err := decode(m)
			if err != nil {
				return nil, fmt.Errorf("state/dynamodb: scan keys %s%s: %w", canon, sOf(m, attrSK), err)
			}
			if it.live(now) {
				out = append(out, state.KV{Key: canon + sOf(m, attrSK), Value: it.text()})
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	sortKV(out)
	return out, nil
}

// ScanKeysByKind returns the live entries of one kind across every
// namespace and tenant, sorted by key. It is a full-table Scan with a
// filter: expensive, as upstream's is; callers avoid it on hot paths.
func (s *Store) ScanKeysByKind(ctx context.Context, kind string) ([]state.KV, error) {
	now := s.nowMs()
	in := &dynamodb.ScanInput{
		TableName:                s.table,
		FilterExpression:         aws.String(filterByKind),
		ProjectionExpression:     aws.String(projScanKind),
		ConsistentRead:           aws.Bool(true),
		ExpressionAttributeNames: namesScanKind,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": str(kind + ":"), ":pfx": str(s.pkPrefix), ":now": num(now),
		},
	}
	var out []state.KV
	for {
		octx, cancel := s.op(ctx)
		page, err := s.db.Scan(octx, in)
		cancel()
		if err != nil {
			return nil, s.fail(ctx, "scan keys by kind", kind, err)
		}
		for _, m := range page.Items {
			pk := sOf(m, attrPK)
			if len(pk) < len(s.pkPrefix) {
				continue
			}
			it, err := decode(m)
			if err != nil {
				return nil, fmt.Errorf("state/dynamodb: scan keys by kind %s: %w", kind, err)
			}
			if it.live(now) {
				out = append(out, state.KV{Key: pk[len(s.pkPrefix):] + ":" + sOf(m, attrSK), Value: it.text()})
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	sortKV(out)
	return out, nil
}

func sortKV(kvs []state.KV) {
	slices.SortFunc(kvs, func(a, b state.KV) int { return cmp.Compare(a.Key, b.Key) })
}
