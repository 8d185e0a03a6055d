package testenv

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Background is work a test started in a goroutine (a build, a run, a
// process) in order to interrupt it midway: wait until it reaches a point,
// stop it, and see how it ended.
type Background struct {
	name string
	done chan error
	// Log, if set, is added to a failure's message: the work's output so
	// far.
	Log func() string
}

// Start runs work in a goroutine. name says what it is in a failure's
// message: "the build".
func Start(name string, work func() error) *Background {
	b := &Background{name: name, done: make(chan error, 1)}
	go func() { b.done <- work() }()
	return b
}

// pollEvery is how often WaitUntil asks ready.
const pollEvery = 100 * time.Millisecond

// WaitUntil waits until ready reports true. The test fails when the work
// ends first or timeout passes; point says what is awaited, in a failure's
// message: "the step has started".
func (b *Background) WaitUntil(t testing.TB, point string, timeout time.Duration, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("%s ran %v and never got to where %s%s", b.name, timeout, point, b.log())
		}
		select {
		case err := <-b.done:
			t.Fatalf("%s ended before %s: %v%s", b.name, point, err, b.log())
		case <-time.After(pollEvery):
		}
	}
}

// Stop calls stop (a cancel, a signal, a kill), waits up to timeout for
// the work to end, and returns its error. The test fails when the work
// does not end in time.
func (b *Background) Stop(t testing.TB, timeout time.Duration, stop func()) error {
	t.Helper()
	stop()
	select {
	case err := <-b.done:
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not end within %v of being stopped%s", b.name, timeout, b.log())
		return nil
	}
}

func (b *Background) log() string {
	if b.Log == nil {
		return ""
	}
	return fmt.Sprintf("\noutput so far:\n%s", b.Log())
}

// Buffer collects output that a build, process or goroutine writes while
// the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write adds p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Close does nothing: a Buffer can stand for a process's stdout.
func (b *Buffer) Close() error { return nil }

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
