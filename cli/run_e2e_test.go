package cli

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// `redis -variant debian run` is the redis example's `docker run`: the image runs on
// the daemon, redis-cli gets PONG over the host network, and Ctrl-C stops
// the server, whose exit code the program reports and exits with.
func TestRunServesRedis(t *testing.T) {
	env := testenv.Get(t)
	bin := filepath.Join(t.TempDir(), "redis")
	out, err := exec.Command("go", "build", "-o", bin, "../examples/redis").CombinedOutput()
	require.NoError(t, err, "%s", out)

	port := strconv.Itoa(testenv.FreePort(t))
	cmd := exec.Command(bin, "--addr", env.BuildkitHost, "--progress", "plain", "-variant", "debian",
		"run", "--", "redis-server", "--port", port)
	cmd.Dir = t.TempDir()
	var stdout, stderr testenv.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill() }) // a no-op once it has exited
	run := testenv.Start("run", cmd.Wait)
	run.Log = func() string { return "stdout:\n" + stdout.String() + "\nstderr:\n" + stderr.String() }

	// A cold build runs apt-get.
	run.WaitUntil(t, "redis answers PING", 10*time.Minute, func() bool {
		reply, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", port, "ping").CombinedOutput()
		return err == nil && strings.TrimSpace(string(reply)) == "PONG"
	})
	// The output streams from the daemon on its own: it may arrive a
	// little after the server answers.
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "Ready to accept connections") },
		30*time.Second, 100*time.Millisecond, "the server's output reaches stdout")

	waitErr := run.Stop(t, time.Minute, func() { require.NoError(t, cmd.Process.Signal(syscall.SIGINT)) })
	m := regexp.MustCompile(`redis: interrupted; redis-server --port ` + port + ` exited with code (\d+)\n`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "the exit code is reported:\n%s", stderr.String())
	code, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.Equal(t, code, cmd.ProcessState.ExitCode(), "the program exits with the server's code (%v)", waitErr)
	require.Contains(t, stdout.String(), "Received SIGINT", "redis got the signal")
	_, err = exec.Command("redis-cli", "-h", "127.0.0.1", "-p", port, "ping").CombinedOutput()
	require.Error(t, err, "the server is gone")
}
