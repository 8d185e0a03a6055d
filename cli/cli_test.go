package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
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

func TestUnreachableDaemonExitsOne(t *testing.T) {
	t.Parallel()
	_, stderr, code := run(t, "--addr", "unix:///nonexistent/buildkitd.sock", "llb")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "/nonexistent/buildkitd.sock")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
}

func TestLLBModeWritesDefinition(t *testing.T) {
	env := testenv.Get(t)
	stdout, stderr, code := run(t, "--addr", env.BuildkitHost, "llb")
	require.Equal(t, 0, code, stderr)
	def, err := llb.ReadFrom(strings.NewReader(stdout))
	require.NoError(t, err)
	require.Len(t, def.Def, 3, "image source, RUN, return")
	var cfg string
	for _, md := range def.Metadata {
		if v, ok := md.Description[dsl.ImageConfigKey]; ok {
			cfg = v
		}
	}
	require.Contains(t, cfg, `"Cmd":["cat","/hello"]`, "the image config rides in the metadata")
}
