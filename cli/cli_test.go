package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
)

func seed() dsl.Stage {
	return dsl.From("busybox").Run("echo hello > /hello").Cmd("cat", "/hello")
}

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	err := Run(t.Context(), fs, args, seed, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy"}, `unknown command "deploy"`},
		{[]string{"build", "extra"}, `unexpected argument "extra"`},
		{[]string{"--platform", "linux/"}, `--platform "linux/"`},
		{[]string{"--output", "type=oci"}, "dest=FILE is required for the oci exporter"},
		{[]string{"--output", "dest=x"}, "type=<type> is required"},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"llb", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			require.Equal(t, 2, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	_, stderr, code := run(t, "-h")
	require.Equal(t, 0, code)
	require.Contains(t, stderr, "usage: ")
	require.Contains(t, stderr, "-output")
}

// The errors of driver.Connect name the flags: TLS flags with no tcp://
// address to use them on say which flags need one, and where it goes.
func TestConnectErrorsNameFlags(t *testing.T) {
	t.Setenv("BUILDKIT_HOST", "")
	_, stderr, code := run(t, "--tlsservername", "bk", "llb")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, ": --tlscacert, --tlscert, --tlskey and --tlsservername need a tcp:// address in --addr or BUILDKIT_HOST\n")
}

func TestUnreachableDaemonExitsOne(t *testing.T) {
	t.Parallel()
	_, stderr, code := run(t, "--addr", "unix:///nonexistent/buildkitd.sock", "llb")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "/nonexistent/buildkitd.sock")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
}
