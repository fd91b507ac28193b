package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// migrateWait bounds how long Migrate waits for a new table to become
// ACTIVE (the context may end it earlier).
const migrateWait = 2 * time.Minute

// Migrate creates the table (pk S HASH, sk S RANGE, on-demand billing) if it
// does not exist, waits until it is ACTIVE, and asks DynamoDB to expire
// items by their expires_at attribute (native TTL; emulators that do not
// know the call are fine, since expiry is enforced on read anyway). It is
// idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	octx, cancel := s.op(ctx)
	_, err := s.db.CreateTable(octx, &dynamodb.CreateTableInput{
		TableName: s.table,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	cancel()
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return s.fail(ctx, "migrate: create table", *s.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(s.db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: s.table}, migrateWait); err != nil {
		return s.fail(ctx, "migrate: wait for table", *s.table, err)
	}
	octx, cancel = s.op(ctx)
	defer cancel()
	_, err = s.db.UpdateTimeToLive(octx, &dynamodb.UpdateTimeToLiveInput{
		TableName: s.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpSec),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil && !ttlAlreadyHandled(err) {
		return s.fail(ctx, "migrate: enable ttl", *s.table, err)
	}
	return nil
}

// ttlAlreadyHandled reports UpdateTimeToLive failures that leave nothing to
// do: TTL already enabled, or an emulator without the call.
func ttlAlreadyHandled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "UnknownOperationException", "UnrecognizedClientException":
		return true
	case "ValidationException":
		return strings.Contains(strings.ToLower(ae.ErrorMessage()), "already enabled")
	}
	return false
}

// CheckSchema returns nil when the table exists, is usable, and has the key
// schema this backend writes; otherwise an error naming what is missing or
// wrong.
func (s *Store) CheckSchema(ctx context.Context) error {
	octx, cancel := s.op(ctx)
	defer cancel()
	out, err := s.db.DescribeTable(octx, &dynamodb.DescribeTableInput{TableName: s.table})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return fmt.Errorf("state/dynamodb: table %s does not exist at %s (run migrate)", *s.table, s.endpoint)
	}
	if err != nil {
		return s.fail(ctx, "check schema: describe table", *s.table, err)
	}
	t := out.Table
	var errs []error
	switch t.TableStatus {
	case types.TableStatusActive, types.TableStatusUpdating:
	default:
		errs = append(errs, fmt.Errorf("state/dynamodb: table %s is %s, not ACTIVE", *s.table, t.TableStatus))
	}
	want := map[string]types.KeyType{attrPK: types.KeyTypeHash, attrSK: types.KeyTypeRange}
	got := map[string]types.KeyType{}
	for _, k := range t.KeySchema {
		got[aws.ToString(k.AttributeName)] = k.KeyType
	}
	types_ := map[string]types.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		types_[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	for _, name := range []string{attrPK, attrSK} {
		if got[name] != want[name] || types_[name] != types.ScalarAttributeTypeS {
			errs = append(errs, fmt.Errorf("state/dynamodb: table %s: key attribute %s must be a %s key of type S", *s.table, name, want[name]))
		}
	}
	if len(t.KeySchema) != 2 {
		errs = append(errs, fmt.Errorf("state/dynamodb: table %s: key schema must be exactly (pk HASH, sk RANGE), has %d elements", *s.table, len(t.KeySchema)))
	}
	return errors.Join(errs...)
}

// DropTable deletes the table and everything in it. Tests use it to clean
// up; nothing in the gateway calls it.
func (s *Store) DropTable(ctx context.Context) error {
	octx, cancel := s.op(ctx)
	defer cancel()
	_, err := s.db.DeleteTable(octx, &dynamodb.DeleteTableInput{TableName: s.table})
	var notFound *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		return s.fail(ctx, "drop table", *s.table, err)
	}
	return nil
}
