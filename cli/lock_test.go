package cli

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/lockfile"
)

// seedLock writes a lock file with the redis example's base image for amd64 and
// arm64.
func seedLock(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.lock.json")
	l := lockfile.New(path)
	u := l.Updater(dsltest.NewResolver(nil), lockfile.UpdateMissing, nil)
	for _, arch := range []string{"amd64", "arm64"} {
		p := ocispecs.Platform{OS: "linux", Architecture: arch}
		_, _, _, err := u.ResolveImageConfig(t.Context(), "busybox", sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p}})
		require.NoError(t, err)
	}
	require.NoError(t, l.Save())
	return path
}

// With --lock, llb compiles offline: the daemon address given cannot be
// reached, and the command still succeeds, the same bytes every time.
func TestLLBWithLockNeedsNoDaemon(t *testing.T) {
	t.Parallel()
	lock := seedLock(t)
	nowhere := "unix://" + filepath.Join(t.TempDir(), "no.sock")
	var first string
	for i := range 3 {
		stdout, stderr, code := run(t, "--addr", nowhere, "--lock", lock, "--platform", "linux/arm64", "llb")
		require.Equal(t, 0, code, stderr)
		require.Empty(t, stderr)
		def, err := llb.ReadFrom(bytes.NewReader([]byte(stdout)))
		require.NoError(t, err)
		require.Len(t, def.Def, 3)
		if i == 0 {
			first = stdout
		}
		require.True(t, stdout == first, "run %d gave different bytes", i)
	}
}

func TestLockUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--update-lock", "llb"}, "--update-lock needs --lock FILE"},
		{[]string{"--update-lock=sometimes", "llb"}, `invalid boolean value "sometimes" for -update-lock: want missing (the default) or all`},
	} {
		_, stderr, code := run(t, tc.args...)
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, tc.want)
	}
}

func TestLLBLockErrors(t *testing.T) {
	lock := seedLock(t)
	nowhere := "unix://" + filepath.Join(t.TempDir(), "no.sock")
	t.Setenv(cmdutil.UpdateLockCommandEnv, `["dsl2llb","--update-lock","--lock","x.json","./prog"]`)

	_, stderr, code := run(t, "--addr", nowhere, "--lock", lock, "--platform", "linux/s390x", "llb")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "image docker.io/library/busybox:latest for platform linux/s390x is not in the lock file "+lock+"; add it with: dsl2llb --update-lock --lock x.json ./prog\n")

	missing := filepath.Join(t.TempDir(), "none.json")
	_, stderr, code = run(t, "--addr", nowhere, "--lock", missing, "llb")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "reading lock file: open "+missing+": no such file or directory")
}

func TestUpdateLockCommandFromArgs(t *testing.T) {
	t.Setenv(cmdutil.UpdateLockCommandEnv, "")
	cmd := updateLockCommand()
	require.Equal(t, programName(), cmd[0])
	require.Equal(t, "--update-lock", cmd[1])
}
