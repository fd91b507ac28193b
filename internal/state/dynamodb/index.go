package dynamodb

import (
	"context"

	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acteon/acteon-go/internal/state"
)

// The timeout index is two partitions:
//
//   - {prefix}:timeout_index holds one item per (deadline, key), sort key
//     "{deadline_ms zero-padded to 20 digits}#{canonical key}" as upstream
//     lays it out, so "what is due" is one range Query;
//   - {prefix}:timeout_keys holds one pointer per canonical key with its
//     current deadline and a random token.
//
// The pointer is authoritative: an index item counts only while the pointer
// of its key names its deadline. IndexTimeout writes the new index item
// first, then swaps the pointer (getting the old one back), then deletes
// the old index item on condition that it still carries the old token, so
// a crash leaves at worst a stale item (ignored, and removed by Purge), and
// a concurrent re-index of the same deadline is never deleted by mistake.

const (
	updPointer    = "SET #d = :d, #t = :t"
	condToken     = "#t = :t"
	projIndex     = "sk, #k, #d, #t, #w"
	projPointer   = "sk, #d"
	keyCondBefore = "pk = :pk AND sk < :bound"

	// staleGrace is how old an unreferenced index item must be before
	// Purge deletes it: younger ones may belong to an IndexTimeout that has
	// written its item but not yet its pointer.
	staleGrace = time.Minute
)

var (
	namesPointer   = names(updPointer)
	namesToken     = names(condToken)
	namesIndex     = names(projIndex)
	namesPointerRd = names(projPointer)
)

func indexSK(deadlineMs int64, canon string) string {
	if deadlineMs < 0 {
		deadlineMs = 0
	}
	b := make([]byte, 0, 21+len(canon))
	d := strconv.AppendInt(nil, deadlineMs, 10)
	for range 20 - len(d) {
		b = append(b, '0')
	}
	b = append(b, d...)
	b = append(b, '#')
	return string(append(b, canon...))
}

// IndexTimeout puts the canonical key in the timeout index with a deadline
// in epoch milliseconds, replacing any earlier deadline. It takes two or
// three writes (see the comment on the layout above).
func (s *Store) IndexTimeout(ctx context.Context, key state.Key, deadlineMs int64) error {
	canon := key.String()
	tok := newToken()
	newSK := indexSK(deadlineMs, canon)
	octx, cancel := s.op(ctx)
	_, err := s.db.PutItem(octx, &dynamodb.PutItemInput{
		TableName: s.table,
		Item: map[string]types.AttributeValue{
			attrPK: str(s.pkIndex), attrSK: str(newSK),
			attrKey: str(canon), attrTok: str(tok), attrDeadline: num(deadlineMs), attrWritten: num(s.nowMs()),
		},
	})
	cancel()
	if err != nil {
		return s.fail(ctx, "index timeout", canon, err)
	}
	octx, cancel = s.op(ctx)
	out, err := s.db.UpdateItem(octx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       map[string]types.AttributeValue{attrPK: str(s.pkPointers), attrSK: str(canon)},
		UpdateExpression:          aws.String(updPointer),
		ExpressionAttributeNames:  namesPointer,
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(deadlineMs), ":t": str(tok)},
		ReturnValues:              types.ReturnValueAllOld,
	})
	cancel()
	if err != nil {
		return s.fail(ctx, "index timeout", canon, err)
	}
	if out.Attributes == nil {
		return nil
	}
	oldD, err := parseInt(nOf(out.Attributes, attrDeadline))
	if err != nil {
		return nil // a pointer without a deadline has no item to remove
	}
	if oldSK := indexSK(oldD, canon); oldSK != newSK {
		if err := s.deleteIndexItem(ctx, oldSK, sOf(out.Attributes, attrTok)); err != nil {
			return s.fail(ctx, "index timeout", canon, err)
		}
	}
	return nil
}

// deleteIndexItem deletes an index item if it still carries tok.
func (s *Store) deleteIndexItem(ctx context.Context, indexSK, tok string) error {
	octx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.db.DeleteItem(octx, &dynamodb.DeleteItemInput{
		TableName:                 s.table,
		Key:                       map[string]types.AttributeValue{attrPK: str(s.pkIndex), attrSK: str(indexSK)},
		ConditionExpression:       aws.String(condToken),
		ExpressionAttributeNames:  namesToken,
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tok)},
	})
	if _, ok := conditionFailed(err); ok {
		return nil // re-indexed at the same deadline since: keep it
	}
	return err
}

// RemoveTimeoutIndex removes the key from the timeout index (idempotent):
// it deletes the pointer and then the index item it named.
func (s *Store) RemoveTimeoutIndex(ctx context.Context, key state.Key) error {
	canon := key.String()
	octx, cancel := s.op(ctx)
	out, err := s.db.DeleteItem(octx, &dynamodb.DeleteItemInput{
		TableName:    s.table,
		Key:          map[string]types.AttributeValue{attrPK: str(s.pkPointers), attrSK: str(canon)},
		ReturnValues: types.ReturnValueAllOld,
	})
	cancel()
	if err != nil {
		return s.fail(ctx, "remove timeout index", canon, err)
	}
	if out.Attributes == nil {
		return nil
	}
	d, err := parseInt(nOf(out.Attributes, attrDeadline))
	if err != nil {
		return nil
	}
	if err := s.deleteIndexItem(ctx, indexSK(d, canon), sOf(out.Attributes, attrTok)); err != nil {
		return s.fail(ctx, "remove timeout index", canon, err)
	}
	return nil
}

// indexEntry is one index item as read back.
type indexEntry struct {
	sk, key, tok string
	deadline     int64
	written      int64
}

// queryIndex returns the index items with a sort key below bound (all of
// them when bound is empty), in sort-key order: by deadline, then key.
func (s *Store) queryIndex(ctx context.Context, bound string) ([]indexEntry, error) {
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ProjectionExpression:      aws.String(projIndex),
		ConsistentRead:            aws.Bool(true),
		ExpressionAttributeNames:  namesIndex,
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(s.pkIndex)},
	}
	if bound != "" {
		in.KeyConditionExpression = aws.String(keyCondBefore)
		in.ExpressionAttributeValues[":bound"] = str(bound)
	}
	var out []indexEntry
	for {
		octx, cancel := s.op(ctx)
		page, err := s.db.Query(octx, in)
		cancel()
		if err != nil {
			return nil, err
		}
		for _, m := range page.Items {
			d, err := parseInt(nOf(m, attrDeadline))
			if err != nil {
				continue
			}
			w, _ := parseInt(nOf(m, attrWritten))
			out = append(out, indexEntry{sk: sOf(m, attrSK), key: sOf(m, attrKey), tok: sOf(m, attrTok), deadline: d, written: w})
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// pointers reads the current deadline of each key (strongly consistent
// BatchGetItem, 100 keys a call). Keys without a pointer are absent from
// the map.
func (s *Store) pointers(ctx context.Context, keys []string) (map[string]int64, error) {
	out := make(map[string]int64, len(keys))
	seen := make(map[string]bool, len(keys))
	var batch []map[string]types.AttributeValue
	flush := func() error {
		req := map[string]types.KeysAndAttributes{*s.table: {
			Keys:                     batch,
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String(projPointer),
			ExpressionAttributeNames: namesPointerRd,
		}}
		for wait := 10 * time.Millisecond; len(req) > 0; wait = min(2*wait, 500*time.Millisecond) {
			octx, cancel := s.op(ctx)
			res, err := s.db.BatchGetItem(octx, &dynamodb.BatchGetItemInput{RequestItems: req})
			cancel()
			if err != nil {
				return err
			}
			for _, m := range res.Responses[*s.table] {
				if d, err := parseInt(nOf(m, attrDeadline)); err == nil {
					out[sOf(m, attrSK)] = d
				}
			}
			req = res.UnprocessedKeys
			if len(req) > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		batch = append(batch, map[string]types.AttributeValue{attrPK: str(s.pkPointers), attrSK: str(k)})
		if len(batch) == 100 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetExpiredTimeouts returns the canonical keys whose deadline is <= nowMs,
// ordered by deadline then key, without removing them: one range Query on
// the index partition plus one BatchGetItem per 100 candidates to drop
// stale items.
func (s *Store) GetExpiredTimeouts(ctx context.Context, nowMs int64) ([]string, error) {
	if nowMs < 0 {
		return nil, nil
	}
	cands, err := s.queryIndex(ctx, indexSK(nowMs, "")[:20]+"~")
	if err != nil {
		return nil, s.fail(ctx, "get expired timeouts", strconv.FormatInt(nowMs, 10), err)
	}
	if len(cands) == 0 {
		return nil, nil
	}
	keys := make([]string, len(cands))
	for i, c := range cands {
		keys[i] = c.key
	}
	cur, err := s.pointers(ctx, keys)
	if err != nil {
		return nil, s.fail(ctx, "get expired timeouts", strconv.FormatInt(nowMs, 10), err)
	}
	var out []string
	for _, c := range cands {
		if d, ok := cur[c.key]; ok && d == c.deadline && d <= nowMs {
			out = append(out, c.key)
		}
	}
	return out, nil
}

// purgeIndex deletes index items that no pointer refers to and that are
// older than staleGrace.
func (s *Store) purgeIndex(ctx context.Context, nowMs int64) (int, error) {
	all, err := s.queryIndex(ctx, "")
	if err != nil {
		return 0, err
	}
	var old []indexEntry
	for _, e := range all {
		if e.written < nowMs-staleGrace.Milliseconds() {
			old = append(old, e)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	keys := make([]string, len(old))
	for i, e := range old {
		keys[i] = e.key
	}
	cur, err := s.pointers(ctx, keys)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range old {
		if d, ok := cur[e.key]; ok && indexSK(d, e.key) == e.sk {
			continue
		}
		if err := s.deleteIndexItem(ctx, e.sk, e.tok); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func nOf(m map[string]types.AttributeValue, name string) string {
	if v, ok := m[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}
