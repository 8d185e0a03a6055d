package cli

import (
	"net"
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

// `redis -variant debian run` is the seed's `docker run`: the image runs on
// the daemon, redis-cli gets PONG over the host network, and Ctrl-C stops
// the server, whose exit code the program reports and exits with.
func TestRunServesRedis(t *testing.T) {
	env := testenv.Get(t)
	bin := filepath.Join(t.TempDir(), "redis")
	out, err := exec.Command("go", "build", "-o", bin, "../examples/redis").CombinedOutput()
	require.NoError(t, err, "%s", out)

	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--addr", env.BuildkitHost, "--progress", "plain", "-variant", "debian",
		"run", "--", "redis-server", "--port", port)
	cmd.Dir = t.TempDir()
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()

	deadline := time.Now().Add(10 * time.Minute) // a cold build runs apt-get
	for {
		reply, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", port, "ping").CombinedOutput()
		if err == nil && strings.TrimSpace(string(reply)) == "PONG" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before redis answered: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "redis never answered PING:\n%s", stderr.String())
	}
	// The output streams from the daemon on its own: it may arrive a
	// little after the server answers.
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "Ready to accept connections") },
		30*time.Second, 100*time.Millisecond, "the server's output reaches stdout")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	var waitErr error
	select {
	case waitErr = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("run did not stop after Ctrl-C:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`redis: interrupted; redis-server --port ` + port + ` exited with code (\d+)\n`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "the exit code is reported:\n%s", stderr.String())
	code, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.Equal(t, code, cmd.ProcessState.ExitCode(), "the program exits with the server's code (%v)", waitErr)
	require.Contains(t, stdout.String(), "Received SIGINT", "redis got the signal")
	_, err = exec.Command("redis-cli", "-h", "127.0.0.1", "-p", port, "ping").CombinedOutput()
	require.Error(t, err, "the server is gone")
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", "type=oci,dest=x.tar", "run"}, "run exports nothing"},
		{[]string{"--export-cache", "type=registry", "run"}, "ref=REF is required for the registry cache"},
		{[]string{"build", "--", "sh"}, `unexpected argument "sh"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
