// Command acteon is the Acteon action gateway.
//
//	acteon serve [-c FILE] [--host H] [--port P]   run the gateway
//	acteon check-config [-c FILE] [--strict]       load and compile config and rules, then exit
//	acteon migrate [-c FILE]                        create backend schemas, idempotently
//	acteon version
//
// A missing config file means all defaults: memory state, no audit, no
// rules, listening on 127.0.0.1:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/acteon/acteon-go/internal/app"
	"github.com/acteon/acteon-go/internal/config"
)

const defaultConfigPath = "acteon.toml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: acteon <command> [flags]

commands:
  serve          run the gateway (-c/--config FILE, --host, --port, --log-level, --log-format)
  check-config   load and compile the config and its rules, then exit (-c FILE, --strict)
  migrate        create the tables and indexes the configured state and audit backends need (-c FILE)
  encrypt        read a secret on stdin and print its ENC[…] form (needs ACTEON_AUTH_KEY)
  bench          measure throughput, latency, dedup accuracy and memory (acteon bench -h)
  version        print the version
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "check-config":
		return checkConfig(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "encrypt":
		return encryptCmd(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "acteon", version())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "acteon: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

type commonFlags struct {
	fs       *flag.FlagSet
	config   string
	explicit bool
}

func newFlags(name string, stderr io.Writer) *commonFlags {
	c := &commonFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.config, "c", defaultConfigPath, "config file")
	c.fs.StringVar(&c.config, "config", defaultConfigPath, "config file")
	return c
}

func (c *commonFlags) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == "c" || f.Name == "config" {
			c.explicit = true
		}
	})
	if c.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(c.fs.Args(), " "))
	}
	return nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

func serve(args []string, stdout, stderr io.Writer) int {
	f := newFlags("serve", stderr)
	host := f.fs.String("host", "", "listen host (overrides [server] host)")
	port := f.fs.Int("port", 0, "listen port (overrides [server] port)")
	level := f.fs.String("log-level", envOr("ACTEON_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	format := f.fs.String("log-format", envOr("ACTEON_LOG_FORMAT", "text"), "log format: text or json")
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "acteon serve:", err)
		return 2
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintln(stderr, "acteon serve:", err)
		return 2
	}
	cfg, warns, err := config.LoadOrDefault(f.config, f.explicit)
	if err != nil {
		fmt.Fprintf(stderr, "acteon serve: invalid configuration:\n%s", app.DescribeError(err))
		return 1
	}
	for _, w := range warns {
		log.Warn("config warning", "warning", w.String())
	}
	if *host != "" {
		cfg.Server.Host = *host
	}
	if *port != 0 {
		if *port < 0 || *port > 65535 {
			fmt.Fprintln(stderr, "acteon serve: --port must be between 0 and 65535")
			return 2
		}
		cfg.Server.Port = uint16(*port)
	}
	a, err := app.Build(cfg, app.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "acteon serve: cannot start:\n%s", app.DescribeError(err))
		return 1
	}
	for _, w := range a.RuleWarnings() {
		log.Warn("rule warning", "warning", w.String())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Serve(ctx, nil); err != nil {
		log.Error("gateway stopped with an error", "err", err)
		return 1
	}
	return 0
}

func checkConfig(args []string, stdout, stderr io.Writer) int {
	f := newFlags("check-config", stderr)
	strict := f.fs.Bool("strict", false, "treat warnings (unknown keys, rule warnings) as errors")
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "acteon check-config:", err)
		return 2
	}
	cfg, warns, err := config.LoadOrDefault(f.config, f.explicit)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%s", f.config, app.DescribeError(err))
		return 1
	}
	var problems []string
	for _, w := range warns {
		problems = append(problems, w.String())
	}
	a, err := app.Build(cfg, app.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%s", f.config, app.DescribeError(err))
		return 1
	}
	defer a.Close(context.Background())
	for _, w := range a.RuleWarnings() {
		problems = append(problems, w.String())
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, "warning:", p)
	}
	if *strict && len(problems) > 0 {
		fmt.Fprintf(stderr, "%s: %d warning(s); failing because of --strict\n", f.config, len(problems))
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d rules, %d providers)\n", f.config, a.Gateway.Rules().Len(), len(a.Gateway.Providers().Names()))
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func migrate(args []string, stdout, stderr io.Writer) int {
	f := newFlags("migrate", stderr)
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "acteon migrate:", err)
		return 2
	}
	cfg, warns, err := config.LoadOrDefault(f.config, f.explicit)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%s", f.config, app.DescribeError(err))
		return 1
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning:", w.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done, err := app.Migrate(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	for _, d := range done {
		fmt.Fprintln(stdout, d)
	}
	if err != nil {
		fmt.Fprintln(stderr, "acteon migrate:", err)
		return 1
	}
	return 0
}
