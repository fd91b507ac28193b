package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/acteon/acteon-go/internal/auth"
)

// encryptCmd reads a secret on stdin and prints its ENC[…] form, encrypted
// with ACTEON_AUTH_KEY, for auth.toml (jwt_secret, password_hash,
// key_hash). One trailing newline is stripped so that `echo x | acteon
// encrypt` encrypts "x".
func encryptCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("encrypt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kid := fs.String("kid", "", "key id to record in the value (optional)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: acteon encrypt [--kid ID] < secret\n\nReads a value on stdin and prints ENC[AES256-GCM,…] encrypted with $"+auth.MasterKeyEnv+".")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "acteon encrypt: the value is read from stdin, not from arguments")
		return 2
	}
	key, err := auth.MasterKeyFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "acteon encrypt:", err)
		return 1
	}
	data, err := io.ReadAll(io.LimitReader(stdin, 1<<20+1))
	if err != nil {
		fmt.Fprintln(stderr, "acteon encrypt: reading stdin:", err)
		return 1
	}
	if len(data) > 1<<20 {
		fmt.Fprintln(stderr, "acteon encrypt: input larger than 1 MiB")
		return 1
	}
	plain := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if plain == "" {
		fmt.Fprintln(stderr, "acteon encrypt: nothing on stdin")
		return 1
	}
	out, err := auth.Encrypt(key, plain, *kid)
	if err != nil {
		fmt.Fprintln(stderr, "acteon encrypt:", err)
		return 1
	}
	fmt.Fprintln(stdout, out)
	return 0
}
