package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/acteon/acteon-go/internal/audit"
	auditch "github.com/acteon/acteon-go/internal/audit/clickhouse"
	auditmem "github.com/acteon/acteon-go/internal/audit/memory"
	auditpg "github.com/acteon/acteon-go/internal/audit/postgres"
	"github.com/acteon/acteon-go/internal/clock"
	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/state"
	statech "github.com/acteon/acteon-go/internal/state/clickhouse"
	statedynamo "github.com/acteon/acteon-go/internal/state/dynamodb"
	statemem "github.com/acteon/acteon-go/internal/state/memory"
	statepg "github.com/acteon/acteon-go/internal/state/postgres"
	stateredis "github.com/acteon/acteon-go/internal/state/redis"
)

// schemaOwner is what backends with a schema implement.
type schemaOwner interface {
	Migrate(ctx context.Context) error
	CheckSchema(ctx context.Context) error
}

func ms(n uint64) time.Duration { return time.Duration(n) * time.Millisecond }

// openState builds the configured state backend. The table maps a
// `[state] backend` name to its constructor; config validation already
// rejected unknown names, but the error here names the valid ones too.
func openState(ctx context.Context, c config.State, clk clock.Clock, log *slog.Logger) (state.Store, error) {
	url := c.URL.Reveal()
	switch c.Backend {
	case "", "memory":
		return statemem.New(statemem.Options{Clock: clk, SweepInterval: time.Duration(c.MemorySweepIntervalSecs) * time.Second}), nil
	case "redis":
		return stateredis.New(ctx, stateredis.Config{
			URL: url, Prefix: c.Prefix, PoolSize: int(c.PoolSize),
			DialTimeout: ms(c.ConnectTimeoutMs), OpTimeout: ms(c.OpTimeoutMs), Logger: log,
		})
	case "postgres":
		return statepg.New(ctx, statepg.Config{
			URL: url, Prefix: c.Prefix, MaxConns: int32(c.PoolSize),
			ConnectTimeout: ms(c.ConnectTimeoutMs), OpTimeout: ms(c.OpTimeoutMs), Logger: log,
		})
	case "dynamodb":
		return statedynamo.New(ctx, statedynamo.Config{
			URL: url, Region: c.Region, TableName: c.TableName, Prefix: c.Prefix,
			OpTimeout: ms(c.OpTimeoutMs), MaxConns: int(c.PoolSize),
		})
	case "clickhouse":
		return statech.New(ctx, statech.Config{
			URL: url, Database: c.Database, Prefix: c.Prefix, OpTimeout: ms(c.OpTimeoutMs),
			MaxConns: int(c.PoolSize), Clock: clk,
		})
	}
	return nil, fmt.Errorf("invalid state backend %q (want one of %s)", c.Backend, strings.Join(config.StateBackends, ", "))
}

// openAudit builds the configured audit backend.
func openAudit(ctx context.Context, c config.Audit, clk clock.Clock) (audit.Store, error) {
	url := c.URL.Reveal()
	switch c.Backend {
	case "", "memory":
		return auditmem.New(auditmem.Options{Clock: clk}), nil
	case "postgres":
		return auditpg.New(ctx, auditpg.Config{
			URL: url, Prefix: c.Prefix, MaxConns: int(c.PoolSize),
			ConnectTimeout: ms(c.ConnectTimeoutMs), OpTimeout: ms(c.OpTimeoutMs), Clock: clk,
		})
	case "clickhouse":
		return auditch.New(ctx, auditch.Config{
			URL: url, Database: c.Database, Prefix: c.Prefix, OpTimeout: ms(c.OpTimeoutMs),
			MaxConns: int(c.PoolSize), Clock: clk,
		})
	}
	return nil, fmt.Errorf("invalid audit backend %q (want one of %s)", c.Backend, strings.Join(config.AuditBackends, ", "))
}

// prepareSchema creates what is missing (auto_migrate, the default) or,
// with auto_migrate = false, fails fast naming the missing schema.
func prepareSchema(ctx context.Context, what string, store any, autoMigrate *bool) error {
	so, ok := store.(schemaOwner)
	if !ok {
		return nil
	}
	if autoMigrate == nil || *autoMigrate {
		if err := so.Migrate(ctx); err != nil {
			return fmt.Errorf("%s: creating schema: %w", what, err)
		}
		return nil
	}
	if err := so.CheckSchema(ctx); err != nil {
		return fmt.Errorf("%s: schema not ready and auto_migrate = false: %w", what, err)
	}
	return nil
}

// Migrate creates every table, index and keyspace the configured state and
// audit backends need, idempotently (`acteon migrate`).
func Migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]string, error) {
	var done []string
	st, err := openState(ctx, cfg.State, clock.Real{}, log)
	if err != nil {
		return done, fmt.Errorf("state backend %s: %w", backendName(cfg.State.Backend), err)
	}
	defer st.Close()
	if so, ok := st.(schemaOwner); ok {
		if err := so.Migrate(ctx); err != nil {
			return done, fmt.Errorf("state backend %s: %w", cfg.State.Backend, err)
		}
		done = append(done, "state: "+backendName(cfg.State.Backend)+" schema ready")
	} else {
		done = append(done, "state: "+backendName(cfg.State.Backend)+" needs no schema")
	}
	if cfg.Audit.Enabled {
		as, err := openAudit(ctx, cfg.Audit, clock.Real{})
		if err != nil {
			return done, fmt.Errorf("audit backend %s: %w", backendName(cfg.Audit.Backend), err)
		}
		defer as.Close()
		if so, ok := as.(schemaOwner); ok {
			if err := so.Migrate(ctx); err != nil {
				return done, fmt.Errorf("audit backend %s: %w", cfg.Audit.Backend, err)
			}
			done = append(done, "audit: "+backendName(cfg.Audit.Backend)+" schema ready")
		} else {
			done = append(done, "audit: "+backendName(cfg.Audit.Backend)+" needs no schema")
		}
	}
	return done, nil
}

func backendName(b string) string {
	if b == "" {
		return "memory"
	}
	return b
}
