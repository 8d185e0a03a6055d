package driver_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// examples/multistage with --source-date-epoch gives one image digest on
// two fresh daemons: `verify --addr A --addr2 B` passes and prints it.
func TestVerifyMultistageOnTwoDaemons(t *testing.T) {
	env := testenv.Get(t)
	bin := filepath.Join(t.TempDir(), "multistage")
	out, err := exec.Command("go", "build", "-o", bin, "../examples/multistage").CombinedOutput()
	require.NoError(t, err, "%s", out)
	d1 := startDaemon(t, env, nil, connectReady(t, driver.ConnectOptions{}))
	d2 := startDaemon(t, env, nil, connectReady(t, driver.ConnectOptions{}))

	verify := func(args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--addr", d1.addr, "--addr2", d2.addr, "--progress", "quiet",
			"--secret", "id=token,env=TOKEN"}, args...)...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "TOKEN=s3cret", "SOURCE_DATE_EPOCH=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		t.Logf("verify %v:\n%s%s", args, stdout.String(), stderr.String())
		return stdout.String(), err
	}
	got, err := verify("--source-date-epoch", "1700000000", "verify")
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^reproducible: both builds gave sha256:[0-9a-f]{64}\n$`), got)

	// Without it the images differ (the files' times, and the cache mount's
	// run count, which the two daemons' earlier builds left apart): verify
	// names a layer and a file, and exits 1.
	got, err = verify("verify")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, got, "not reproducible: ")
	require.Regexp(t, `first differing layer: \d+ `, got)
	require.Regexp(t, `  /\S+: .*(content|mode|owner|time)`, got)
}

// A step that writes the time (in seconds, a second apart: busybox's date
// may have no %N) makes verify fail, naming the layer the step
// made and the file, even with SOURCE_DATE_EPOCH (which fixes file times,
// not what a step writes).
func TestVerifyNamesLayerAndFile(t *testing.T) {
	c := connect(t)
	epoch := int64(1700000000)
	stage := dsl.From("busybox").Run("echo same > /same && sleep 1 && date +%s > /t")
	v, err := c.Verify(t.Context(), stage, driver.BuildOptions{
		Progress:        "quiet",
		SourceDateEpoch: &epoch,
		Compile:         []dsl.CompileOption{dsl.WithBuildArgs(map[string]string{"SOURCE_DATE_EPOCH": "1700000000"})},
	}, nil)
	require.NoError(t, err)
	require.False(t, v.Identical(), "%+v", v)
	require.Equal(t, 1, v.Layer, "busybox is layer 0; the RUN made layer 1")
	require.NotEqual(t, v.LayerDigests[0], v.LayerDigests[1])
	require.Equal(t, []driver.FileDiff{{Path: "t", What: "content"}}, v.Files, "only /t differs, and only in content: the times were rewritten")
}
