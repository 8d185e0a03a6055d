package driver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

func connect(t *testing.T) *driver.Client {
	t.Helper()
	env := testenv.Get(t)
	c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFailingRunNamesStepAndOutput(t *testing.T) {
	c := connect(t)
	dir := t.TempDir()
	out := driver.Output{Type: "oci", Dest: filepath.Join(dir, "img.tar")}
	// A unique marker keeps the step out of the cache of earlier runs.
	marker := time.Now().Format(time.RFC3339Nano)
	s := dsl.From("busybox").Run("echo first line; echo 'it went wrong " + marker + "' >&2; exit 3")
	var progress strings.Builder
	_, err := c.Build(t.Context(), s, driver.BuildOptions{Outputs: []driver.Output{out}, Progress: "plain", ProgressOut: &progress})
	require.Error(t, err)

	var stepErr *driver.StepError
	require.True(t, errors.As(err, &stepErr), "got %v", err)
	msg := err.Error()
	require.Contains(t, msg, "RUN echo first line", "the step is named")
	require.Contains(t, msg, "exit code: 3")
	require.Contains(t, msg, "it went wrong "+marker, "the tail of its output is shown")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no output file is left behind")
}

func TestCancelStopsTheSolve(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := make(chan struct{}, 1)
	marker := time.Now().Format(time.RFC3339Nano)
	s := dsl.From("busybox").Run("echo started " + marker + "; sleep 600")
	done := make(chan error, 1)
	go func() {
		_, err := c.Build(ctx, s, driver.BuildOptions{
			Progress:    "quiet",
			ProgressOut: &strings.Builder{},
			OnStatus: func(st *client.SolveStatus) {
				for _, l := range st.Logs {
					if strings.Contains(string(l.Data), "started") {
						select {
						case started <- struct{}{}:
						default:
						}
					}
				}
			},
		})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("build ended before it was canceled: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the step never started")
	}
	cancel()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "build canceled")
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("the build did not stop after cancel")
	}
}

func TestConnectToDeadAddressFailsFast(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: "unix://" + filepath.Join(t.TempDir(), "none.sock")})
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second)
}
