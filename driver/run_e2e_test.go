package driver_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Close() error { return nil }

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The image's entrypoint and cmd run with its env, working directory and
// user, and the exit code comes back; args replace the cmd and keep the
// entrypoint.
func TestRunUsesImageConfigAndExitCode(t *testing.T) {
	c := connect(t)
	marker := time.Now().Format(time.RFC3339Nano)
	stage := dsl.From("busybox").
		Env("GREETING", "hello "+marker).
		Workdir("/srv/app").
		User("nobody").
		Entrypoint("sh", "-c").
		Cmd(`echo "$GREETING in $(pwd) as $(id -u)"; echo to-stderr >&2; exit 7`)

	var stdout, stderr lockedBuffer
	res, err := c.Run(t.Context(), stage, driver.RunOptions{
		Build:  driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
		Stdout: &stdout, Stderr: &stderr,
	})
	require.NoError(t, err)
	require.Equal(t, 7, res.ExitCode)
	require.False(t, res.Interrupted)
	require.Equal(t, "hello "+marker+" in /srv/app as 65534\n", stdout.String())
	require.Equal(t, "to-stderr\n", stderr.String())

	stdout = lockedBuffer{}
	res, err = c.Run(t.Context(), stage, driver.RunOptions{
		Build:  driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
		Args:   []string{"echo replaced"},
		Stdout: &stdout,
	})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	require.Equal(t, []string{"sh", "-c", "echo replaced"}, res.Args, "the entrypoint stays")
	require.Equal(t, "replaced\n", stdout.String())
}

// Canceling the context while the process runs sends it SIGINT; its exit
// code is reported.
func TestRunInterruptStopsProcess(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout lockedBuffer
	type result struct {
		res *driver.RunResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Run(ctx, dsl.From("busybox"), driver.RunOptions{
			Build:  driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
			Args:   []string{"sh", "-c", "trap 'echo got INT; exit 42' INT; echo ready; while true; do sleep 0.1; done"},
			Stdout: &stdout,
		})
		done <- result{res, err}
	}()
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "ready") }, 2*time.Minute, 50*time.Millisecond)
	cancel()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.True(t, r.res.Interrupted)
		require.Equal(t, 42, r.res.ExitCode)
		require.Contains(t, stdout.String(), "got INT")
	case <-time.After(time.Minute):
		t.Fatal("the process did not stop after the context was canceled")
	}
}

// Canceling the context while the image is still building cancels the
// build; nothing is started.
func TestRunCanceledDuringBuild(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	marker := time.Now().Format(time.RFC3339Nano)
	started := make(chan struct{})
	var once sync.Once
	var stdout lockedBuffer
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, dsl.From("busybox").Run("echo building "+marker+"; sleep 600").Cmd("echo", "ran"), driver.RunOptions{
			Build: driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard, OnStatus: func(st *client.SolveStatus) {
				for _, l := range st.Logs {
					if strings.Contains(string(l.Data), "building") {
						once.Do(func() { close(started) })
					}
				}
			}},
			Stdout: &stdout,
		})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("run ended before it was canceled: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the build step never started")
	}
	cancel()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "build canceled")
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, stdout.String(), "nothing ran")
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}

func TestRunWithoutCommandFails(t *testing.T) {
	c := connect(t)
	_, err := c.Run(t.Context(), dsl.From("busybox").Cmd(), driver.RunOptions{
		Build: driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
	})
	require.ErrorContains(t, err, "running the image: it has no ENTRYPOINT or CMD; pass the command after --")
}
