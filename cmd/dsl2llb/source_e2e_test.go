package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

const failingPkg = "./testdata/failing"

// failingRunLine is the line of the failing program's RUN, as a failure
// shows it: " 13 | >>>   Run(…".
func failingRunLine(t *testing.T) (int, string) {
	t.Helper()
	src := string(mustRead(t, filepath.Join(failingPkg, "main.go")))
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "exit 7") {
			return i + 1, fmt.Sprintf(" %3d | >>> %s\n", i+1, l)
		}
	}
	t.Fatal("no RUN in the failing program")
	return 0, ""
}

// TestFailureShowsTheGoLine: a RUN that fails is shown at the Go line that
// made it, with the lines around it and the line marked, by the program's
// own build and by `buildctl build` of dsl2llb's output, which has the
// source map in the definition.
func TestFailureShowsTheGoLine(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	line, marked := failingRunLine(t)
	place := fmt.Sprintf("cmd/dsl2llb/testdata/failing/main.go:%d\n", line)

	lockPath := filepath.Join(dir, "failing.lock.json")
	llbPath := filepath.Join(dir, "failing.llb")
	_, stderr, code := dsl2llb(t, "--lock", lockPath, "--update-lock", "-o", llbPath, failingPkg)
	require.Equal(t, 0, code, stderr)

	t.Run("buildctl build", func(t *testing.T) {
		bc := env.BuildctlCmd(t.Context(), "build", "--progress", "plain")
		bc.Stdin = bytes.NewReader(mustRead(t, llbPath))
		out, err := bc.CombinedOutput()
		require.Error(t, err, "%s", out)
		require.Contains(t, string(out), place, "the file and line")
		require.Contains(t, string(out), marked, "the line, marked")
		require.Contains(t, string(out), "exit code: 7")
	})

	t.Run("the program", func(t *testing.T) {
		prog := filepath.Join(dir, "failing")
		out, err := exec.CommandContext(t.Context(), "go", "build", "-o", prog, failingPkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		dest := filepath.Join(dir, "never.tar")
		cmd := exec.CommandContext(t.Context(), prog, "--lock", lockPath, "--progress", "quiet", "-o", "type=oci,dest="+dest)
		out, err = cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s", out)
		require.NotEqual(t, 0, exit.ExitCode())
		require.Contains(t, string(out), place, "the file and line")
		require.Contains(t, string(out), marked, "the line, marked")
		require.Contains(t, string(out), "exit code: 7")
		_, err = os.Stat(dest)
		require.True(t, os.IsNotExist(err), "no output file")
	})
}
