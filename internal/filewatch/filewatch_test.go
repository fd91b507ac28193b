package filewatch_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acteon/acteon-go/internal/filewatch"
)

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFileRewriteAndRename: writing the file, and replacing it by a rename
// (as editors do), both trigger the callback; other files in the directory
// do not.
func TestFileRewriteAndRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "limits.toml")
	if err := os.WriteFile(path, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	o := filewatch.File(path, func() { calls.Add(1) })
	o.Debounce = 20 * time.Millisecond
	if err := filewatch.Watch(t.Context(), o); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, "other.toml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call after a write", func() bool { return calls.Load() >= 1 })

	n := calls.Load()
	tmp := filepath.Join(dir, ".limits.toml.tmp")
	if err := os.WriteFile(tmp, []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call after a rename", func() bool { return calls.Load() > n })
}

// TestOtherFileIgnored: changes to files Match rejects never call back.
func TestOtherFileIgnored(t *testing.T) {
	dir := t.TempDir()
	var calls, control atomic.Int32
	o := filewatch.File(filepath.Join(dir, "watched"), func() { calls.Add(1) })
	o.Debounce = 10 * time.Millisecond
	if err := filewatch.Watch(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	// A second watcher on the same directory that sees everything tells
	// when the events have been delivered.
	if err := filewatch.Watch(t.Context(), filewatch.Options{Dir: dir, Debounce: 10 * time.Millisecond,
		OnChange: func() { control.Add(1) }}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "unwatched"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the control watcher", func() bool { return control.Load() >= 1 })
	time.Sleep(50 * time.Millisecond) // past the watched one's debounce too
	if n := calls.Load(); n != 0 {
		t.Fatalf("a change to another file called back %d times", n)
	}
}

// TestDebounce: a burst of writes is one call.
func TestDebounce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	var calls atomic.Int32
	o := filewatch.File(path, func() { calls.Add(1) })
	o.Debounce = 300 * time.Millisecond
	if err := filewatch.Watch(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := os.WriteFile(path, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the call after the burst", func() bool { return calls.Load() >= 1 })
	time.Sleep(400 * time.Millisecond)
	// 20 writes within far less than the debounce are one burst; a very
	// slow machine could split it, never into 20.
	if n := calls.Load(); n >= 20 {
		t.Fatalf("20 quick writes gave %d calls", n)
	}
}

// TestMissingDir: watching a directory that does not exist is an error
// naming it.
func TestMissingDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	err := filewatch.Watch(t.Context(), filewatch.Options{Dir: missing, OnChange: func() {}, Name: "limits"})
	if err == nil {
		t.Fatal("no error")
	}
	if got := err.Error(); !contains(got, missing) || !contains(got, "limits") {
		t.Fatalf("error %q does not name the watcher and directory", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
