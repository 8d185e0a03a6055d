package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// Ctrl-C during a build cancels the solve and exits non-zero, leaving no
// output file.
func TestInterruptCancelsBuild(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "sleeper")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/sleeper").CombinedOutput()
	require.NoError(t, err, "%s", out)

	work := t.TempDir()
	cmd := exec.Command(bin, "--addr", env.BuildkitHost, "--progress", "plain")
	cmd.Dir = work
	seconds := strconv.FormatInt(1e8+time.Now().UnixNano()%1e8, 10)
	marker := "sleep\x00" + seconds
	cmd.Env = append(os.Environ(), "SLEEPER_SECONDS="+seconds)
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill() }) // a no-op once it has exited
	prog := testenv.Start("the program", cmd.Wait)
	prog.Log = stderr.String

	prog.WaitUntil(t, "the step has started", 2*time.Minute, func() bool { return strings.Contains(stderr.String(), "sleeping") })
	// The shell prints "sleeping" before it starts sleep.
	require.Eventually(t, func() bool { return processRunning(marker) }, 20*time.Second, 50*time.Millisecond,
		"the step's sleep runs on this machine's daemon")
	err = prog.Stop(t, 30*time.Second, func() { require.NoError(t, cmd.Process.Signal(syscall.SIGINT)) })
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, stderr.String(), "build canceled")
	entries, err := os.ReadDir(work)
	require.NoError(t, err)
	require.Empty(t, entries, "no output file is left behind")

	// The daemon stops the step's process too (it runs on this machine).
	require.Eventually(t, func() bool { return !processRunning(marker) }, 20*time.Second, 100*time.Millisecond,
		"the RUN step is still running on the daemon")
}

// processRunning reports a process whose command line contains s.
func processRunning(s string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if dt, err := os.ReadFile(p); err == nil && strings.Contains(string(dt), s) {
			return true
		}
	}
	return false
}
