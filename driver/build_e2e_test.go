package driver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	marker := time.Now().Format(time.RFC3339Nano)
	s := dsl.From("busybox").Run("echo started " + marker + "; sleep 600")
	onStatus, started := logSeen("started")
	build := testenv.Start("the build", func() error {
		_, err := c.Build(ctx, s, driver.BuildOptions{Progress: "quiet", ProgressOut: &strings.Builder{}, OnStatus: onStatus})
		return err
	})
	build.WaitUntil(t, "the step has started", 2*time.Minute, started)
	err := build.Stop(t, 30*time.Second, cancel)
	require.ErrorContains(t, err, "build canceled")
	require.ErrorIs(t, err, context.Canceled)
}
