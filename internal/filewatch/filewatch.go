// Package filewatch calls a function when files in a directory change.
//
// The directory is watched rather than the file, so an editor that saves by
// writing a new file and renaming it over the old one is seen too. Bursts of
// events (a save is often several) are debounced: the callback runs once,
// Debounce after the last relevant event, on the watcher's own goroutine, so
// two calls never overlap.
package filewatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configures Watch.
type Options struct {
	// Dir is the directory watched (not recursively).
	Dir string
	// Match reports whether a change to the named file (Dir joined with the
	// file's name) should trigger OnChange. Nil matches every file.
	Match func(path string) bool
	// Debounce is the quiet time after the last matching event before
	// OnChange runs. Zero means 200 ms.
	Debounce time.Duration
	// OnChange runs after a burst of matching changes.
	OnChange func()
	// Logger receives watcher errors (at warn level); Name tags them.
	Logger *slog.Logger
	Name   string
}

// File returns Options that watch one file: its directory, matching only
// that file's path.
func File(path string, onChange func()) Options {
	target := filepath.Clean(path)
	return Options{
		Dir:      filepath.Dir(target),
		Match:    func(p string) bool { return filepath.Clean(p) == target },
		OnChange: onChange,
	}
}

// Watch starts watching and returns once the watch is in place (an error if
// it cannot be). The watch stops when ctx is done.
func Watch(ctx context.Context, o Options) error {
	if o.OnChange == nil {
		return errors.New("filewatch: OnChange is required")
	}
	if o.Debounce <= 0 {
		o.Debounce = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("%s watcher: %w", o.Name, err)
	}
	if err := w.Add(o.Dir); err != nil {
		w.Close()
		return fmt.Errorf("%s watcher: watch %s: %w", o.Name, o.Dir, err)
	}
	go run(ctx, w, o)
	return nil
}

func run(ctx context.Context, w *fsnotify.Watcher, o Options) {
	defer w.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if o.Match != nil && !o.Match(ev.Name) {
				continue
			}
			timer.Reset(o.Debounce)
		case <-timer.C:
			o.OnChange()
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			o.Logger.Warn("file watcher error", "watcher", o.Name, "dir", o.Dir, "err", err)
		}
	}
}
