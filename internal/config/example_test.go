package config_test

import (
	"fmt"

	"github.com/acteon/acteon-go/internal/config"
)

func ExampleParse() {
	src := []byte(`
[server]
port = 9000
approval_secret = "c0ffee"

[executor]
max_concurrent = 32

[telemetry]
enabled = true

[[providers]]
name = "ops-log"
type = "log"
`)
	cfg, warns, err := config.Parse(src, "acteon.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warns {
		fmt.Println("warning:", w)
	}
	fmt.Println(cfg.ListenAddr(), cfg.Executor.MaxConcurrent, cfg.Providers[0].Name)
	fmt.Println("secret:", cfg.Server.ApprovalSecret)
	// Output:
	// warning: acteon.toml:10: unknown key telemetry.enabled
	// 127.0.0.1:9000 32 ops-log
	// secret: [REDACTED]
}

func ExampleParse_errors() {
	_, _, err := config.Parse([]byte("[executor]\nmax_concurrent = 0\n\n[state]\nbackend = \"x\"\n"), "acteon.toml")
	fmt.Println(err)
	// Output:
	// acteon.toml:2: executor.max_concurrent: must be >= 1, got 0
	// acteon.toml:5: state.backend: invalid state backend "x" (want one of memory, redis, postgres, dynamodb, clickhouse)
}
