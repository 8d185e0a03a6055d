package driver_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

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

	var stdout, stderr testenv.Buffer
	res, err := c.Run(t.Context(), stage, driver.RunOptions{
		Build:  driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
		Stdout: &stdout, Stderr: &stderr,
	})
	require.NoError(t, err)
	require.Equal(t, 7, res.ExitCode)
	require.False(t, res.Interrupted)
	require.Equal(t, "hello "+marker+" in /srv/app as 65534\n", stdout.String())
	require.Equal(t, "to-stderr\n", stderr.String())

	stdout = testenv.Buffer{}
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
	var stdout testenv.Buffer
	var res *driver.RunResult
	run := testenv.Start("the run", func() error {
		var err error
		res, err = c.Run(ctx, dsl.From("busybox"), driver.RunOptions{
			Build:  driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
			Args:   []string{"sh", "-c", "trap 'echo got INT; exit 42' INT; echo ready; while true; do sleep 0.1; done"},
			Stdout: &stdout,
		})
		return err
	})
	run.WaitUntil(t, "the process is ready", 2*time.Minute, func() bool { return strings.Contains(stdout.String(), "ready") })
	require.NoError(t, run.Stop(t, time.Minute, cancel))
	require.True(t, res.Interrupted)
	require.Equal(t, 42, res.ExitCode)
	require.Contains(t, stdout.String(), "got INT")
}

// Canceling the context while the image is still building cancels the
// build; nothing is started.
func TestRunCanceledDuringBuild(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	marker := time.Now().Format(time.RFC3339Nano)
	onStatus, started := logSeen("building")
	var stdout testenv.Buffer
	run := testenv.Start("the run", func() error {
		_, err := c.Run(ctx, dsl.From("busybox").Run("echo building "+marker+"; sleep 600").Cmd("echo", "ran"), driver.RunOptions{
			Build:  driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard, OnStatus: onStatus},
			Stdout: &stdout,
		})
		return err
	})
	run.WaitUntil(t, "the build step has started", 2*time.Minute, started)
	err := run.Stop(t, 30*time.Second, cancel)
	require.ErrorContains(t, err, "build canceled")
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, stdout.String(), "nothing ran")
}

func TestRunWithoutCommandFails(t *testing.T) {
	c := connect(t)
	_, err := c.Run(t.Context(), dsl.From("busybox").Cmd(), driver.RunOptions{
		Build: driver.BuildOptions{Progress: "quiet", ProgressOut: io.Discard},
	})
	require.ErrorContains(t, err, "running the image: it has no ENTRYPOINT or CMD; pass the command after --")
}
