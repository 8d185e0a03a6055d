package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every flag in buildctl's syntax is checked before any daemon is
// contacted; a bad value exits 2 with one line naming the flag.
func TestBuildFlagUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "x.pem")
	require.NoError(t, os.WriteFile(pemFile, []byte("pem"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "tcp://127.0.0.1"}, `--addr: buildkit address "tcp://127.0.0.1": the port is missing`},
		{[]string{"--addr", "127.0.0.1:1234"}, `--addr: buildkit address "127.0.0.1:1234"`},
		{[]string{"--addr", "kube-pod://"}, `--addr: buildkit address "kube-pod://": kube-pod://: url lacks pod name`},
		{[]string{"--addr", "unix:///run/b.sock", "--tlscacert", pemFile}, "need a tcp:// address"},
		{[]string{"--addr", "tcp://127.0.0.1:1234", "--tlscert", pemFile}, "--tlscert is set but --tlskey is not"},
		{[]string{"--addr", "tcp://127.0.0.1:1234", "--tlscacert", filepath.Join(dir, "none.pem")}, "--tlscacert: stat "},
		{[]string{"--export-cache", "type=local"}, `--export-cache "type=local": dest=DIR is required for the local cache`},
		{[]string{"--import-cache", "type=registry,ref"}, `--import-cache "type=registry,ref": invalid value ref`},
		{[]string{"--secret", "id=tok,src=" + filepath.Join(dir, "none")}, `--secret "id=tok,src=`},
		{[]string{"--secret", "tok"}, `--secret "tok": invalid field 'tok' must be a key=value pair`},
		{[]string{"--ssh", "key=" + filepath.Join(dir, "none")}, `--ssh "key=`},
		{[]string{"--allow", "network.none"}, `--allow "network.none": unknown entitlement`},
		{[]string{"--no-cache=maybe"}, `invalid boolean value "maybe" for -no-cache`},
		{[]string{"--platform", "linux/amd64,linux/386", "run"}, `--platform "linux/amd64,linux/386": several platforms are for build only`},
		{[]string{"--platform", "linux/amd64,linux/386", "llb"}, "several platforms are for build only"},
		{[]string{"--platform", "linux/amd64,windows/"}, `--platform "windows/"`},
		{[]string{"--output", "type=cacheonly,dest=x"}, "the cacheonly exporter takes no dest"},
		{[]string{"--progress", "fancy"}, `--progress "fancy": want auto, tty, plain, rawjson or quiet`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestParseBuildArgs(t *testing.T) {
	t.Setenv("SLIPWAY_TEST_FROM_ENV", "env value")
	args, err := parseBuildArgs([]string{"A=1", "B=", "C=x=y", "SLIPWAY_TEST_FROM_ENV", "SLIPWAY_TEST_UNSET_XYZ"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"A": "1", "B": "", "C": "x=y", "SLIPWAY_TEST_FROM_ENV": "env value"}, args)
	for _, bad := range []string{"=x", "", "A B=1"} {
		_, err := parseBuildArgs([]string{bad})
		require.ErrorContains(t, err, "--build-arg", bad)
	}
	_, stderr, code := run(t, "--build-arg", "=x", "llb")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `--build-arg "=x": want KEY=VALUE or KEY`)
}

func TestBuildContextFlag(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"conf":             `--build-context "conf": want NAME=DIR or NAME=URL`,
		"=dir":             `--build-context "=dir": want NAME=DIR or NAME=URL`,
		"s3=s3://bucket/x": "want a directory, docker-image://REF, oci-layout://PATH, a git URL or an http(s) URL",
	} {
		_, stderr, code := run(t, "--build-context", spec)
		require.Equal(t, 2, code, spec)
		require.Contains(t, stderr, want, spec)
	}
}
