package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/grpcerrors"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/grpc/codes"
)

// ConnectionLostError is a build that failed because the daemon went away:
// it stopped, crashed or the network between broke.
type ConnectionLostError struct {
	Addr string
	Err  error
}

func (e *ConnectionLostError) Error() string {
	return fmt.Sprintf("lost the connection to BuildKit at %s during the build (did the daemon stop?): %s", e.Addr, shortErr(e.Err))
}

func (e *ConnectionLostError) Unwrap() error { return e.Err }

// lostConnection reports an error that means the daemon is gone.
func lostConnection(err error) bool {
	if grpcerrors.Code(err) == codes.Unavailable {
		return true
	}
	s := err.Error()
	for _, sign := range []string{"error reading from server", "connection reset by peer", "transport is closing", "broken pipe"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// stepLog remembers each vertex's name, error and last lines of output, to
// explain a failed build in one message.
type stepLog struct {
	mu    sync.Mutex
	names map[digest.Digest]string
	errs  map[digest.Digest]string
	order []digest.Digest
	tails map[digest.Digest][]string
}

const tailLines = 15

func newStepLog() *stepLog {
	return &stepLog{
		names: map[digest.Digest]string{},
		errs:  map[digest.Digest]string{},
		tails: map[digest.Digest][]string{},
	}
}

func (l *stepLog) update(st *client.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range st.Vertexes {
		if _, ok := l.names[v.Digest]; !ok {
			l.order = append(l.order, v.Digest)
		}
		l.names[v.Digest] = v.Name
		if v.Error != "" {
			l.errs[v.Digest] = v.Error
		}
	}
	for _, lg := range st.Logs {
		lines := strings.Split(strings.TrimRight(string(lg.Data), "\n"), "\n")
		t := append(l.tails[lg.Vertex], lines...)
		if len(t) > tailLines {
			t = t[len(t)-tailLines:]
		}
		l.tails[lg.Vertex] = t
	}
}

// explain wraps a solve error with the failing step and its output tail.
func (l *stepLog) explain(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.order {
		msg, failed := l.errs[d]
		if !failed || strings.Contains(msg, "context canceled") {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "step %s failed: %s", l.names[d], msg)
		if t := l.tails[d]; len(t) > 0 {
			b.WriteString("\n  last lines of its output:")
			for _, line := range t {
				b.WriteString("\n    " + line)
			}
		}
		srcs := errdefs.Sources(err)
		for _, src := range srcs {
			b.WriteString("\n")
			printSource(&b, src)
		}
		return &StepError{Step: l.names[d], Msg: strings.TrimRight(b.String(), "\n"), Sources: srcs, Err: err}
	}
	return err
}

// printSource writes where in the program the failing step was made: the
// lines around the call with the call marked, as docker build shows a
// Dockerfile's (BuildKit's own printer), or FILE:LINE alone when the
// definition does not hold the file.
func printSource(b *strings.Builder, src *errdefs.Source) {
	if src.Info == nil {
		return
	}
	if len(src.Info.Data) > 0 {
		var out strings.Builder
		if err := src.Print(&out); err == nil && out.Len() > 0 {
			b.WriteString(out.String())
			return
		}
	}
	for _, r := range src.Ranges {
		fmt.Fprintf(b, "%s:%d\n", src.Info.Filename, r.GetStart().GetLine())
	}
}

// StepError is a build that failed in one step.
type StepError struct {
	// Step is the step's name in the progress display.
	Step string
	// Msg is the whole explanation: the step, its error, the last lines
	// of its output and the source lines that made it.
	Msg string
	// Sources are where the step was made, from the definition's source
	// map: the Go file and line of the builder call.
	Sources []*errdefs.Source
	Err     error
}

func (e *StepError) Error() string { return e.Msg }
func (e *StepError) Unwrap() error { return e.Err }

// buildError is what a failed solve returns: the cancellation, the step
// that failed with the tail of its output, or a lost connection to the
// daemon; else BuildKit's own error.
func (c *Client) buildError(ctx context.Context, steps *stepLog, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("build canceled: %w", ctx.Err())
	}
	explained := steps.explain(err)
	var stepErr *StepError
	if !errors.As(explained, &stepErr) && lostConnection(err) {
		return &ConnectionLostError{Addr: c.addr, Err: err}
	}
	return explained
}
