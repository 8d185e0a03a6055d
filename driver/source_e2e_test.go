package driver_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// TestFailingRunShowsItsGoLine: the error of a failing step shows the Go
// line of the call that made it among its neighbours, marked, as docker
// build shows a Dockerfile's line, and carries the source it came from.
func TestFailingRunShowsItsGoLine(t *testing.T) {
	c := connect(t)
	marker := time.Now().Format(time.RFC3339Nano)
	_, _, here, _ := runtime.Caller(0)
	s := dsl.From("busybox").
		Env("MARKER", marker).
		Run("exit 5").
		Cmd("true")
	runLine := here + 3
	_, err := c.Build(t.Context(), s, driver.BuildOptions{Progress: "quiet", ProgressOut: &strings.Builder{}})
	var stepErr *driver.StepError
	require.True(t, errors.As(err, &stepErr), "got %v", err)
	msg := err.Error()
	require.Contains(t, msg, "exit code: 5")
	require.Contains(t, msg, fmt.Sprintf("driver/source_e2e_test.go:%d\n", runLine), "the file and line")
	require.Contains(t, msg, fmt.Sprintf(" %3d | >>> \t\tRun(\"exit 5\").\n", runLine), "the line, marked")
	require.Contains(t, msg, fmt.Sprintf(" %3d |     \t\tEnv(\"MARKER\", marker).\n", runLine-1), "the lines around it")
	require.Len(t, stepErr.Sources, 1)
	require.Equal(t, "driver/source_e2e_test.go", stepErr.Sources[0].Info.Filename)
	require.Equal(t, "Go", stepErr.Sources[0].Info.Language)
}
