package dynamodb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	filterExpired = "#e <= :now"
	projPurge     = "pk, sk, #e"
)

var (
	namesExpired = names(filterExpired)
	namesPurge   = names(filterExpired, projPurge)
)

// Purge deletes expired entries and locks, and timeout-index items that no
// key refers to any more, and returns how many items it deleted. Expired
// items are invisible whether or not they are purged; purging only keeps
// the table small. Each delete is conditioned on the item still being
// expired, so an entry rewritten in the meantime survives. Purge scans the
// whole table: run it rarely (Config.PurgeInterval), or rely on DynamoDB's
// native TTL on expires_at, which Migrate enables.
func (s *Store) Purge(ctx context.Context) (int, error) {
	now := s.nowMs()
	in := &dynamodb.ScanInput{
		TableName:                 s.table,
		FilterExpression:          aws.String(filterExpired),
		ProjectionExpression:      aws.String(projPurge),
		ExpressionAttributeNames:  namesPurge,
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now)},
	}
	n := 0
	for {
		octx, cancel := s.op(ctx)
		page, err := s.db.Scan(octx, in)
		cancel()
		if err != nil {
			return n, s.fail(ctx, "purge", *s.table, err)
		}
		for _, m := range page.Items {
			octx, cancel := s.op(ctx)
			_, err := s.db.DeleteItem(octx, &dynamodb.DeleteItemInput{
				TableName:                 s.table,
				Key:                       map[string]types.AttributeValue{attrPK: m[attrPK], attrSK: m[attrSK]},
				ConditionExpression:       aws.String(filterExpired),
				ExpressionAttributeNames:  namesExpired,
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now)},
			})
			cancel()
			if _, ok := conditionFailed(err); ok {
				continue
			}
			if err != nil {
				return n, s.fail(ctx, "purge", *s.table, err)
			}
			n++
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	m, err := s.purgeIndex(ctx, now)
	n += m
	if err != nil {
		return n, s.fail(ctx, "purge timeout index", *s.table, err)
	}
	return n, nil
}
