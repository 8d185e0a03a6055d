package gen_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/gen"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestGeneratedFailureNamesBothLines: a program generated from a
// Dockerfile whose RUN fails, built on the daemon, prints the Go file and
// line of the failing call, marked among its neighbours, and that line
// names the RUN's line in the Dockerfile.
func TestGeneratedFailureNamesBothLines(t *testing.T) {
	env := testenv.Get(t)
	const dockerfile = `FROM busybox
WORKDIR /work
# The step that fails.
RUN echo about to fail && exit 7
CMD ["true"]
`
	src, err := gen.Generate([]byte(dockerfile), gen.Options{})
	require.NoError(t, err)
	dir := generatedModule(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644))
	bin := filepath.Join(dir, "prog")
	build := exec.Command("go", "build", "-mod=mod", "-o", bin, ".")
	build.Dir = dir
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the generated program:\n%s", out)

	// The Go line of the RUN, as generated.
	runLine, text := 0, ""
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, `Run("echo about to fail && exit 7")`) {
			runLine, text = i+1, l
		}
	}
	require.NotZero(t, runLine, "no RUN in:\n%s", src)
	require.True(t, strings.HasSuffix(text, "// Dockerfile:4"), "the RUN's Go line names its Dockerfile line: %q", text)

	cmd := exec.Command(bin, "build", "--addr", env.BuildkitHost, "--progress", "plain")
	cmd.Dir = dir
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr:\n%s", stderr.String())
	msg := stderr.String()
	require.Contains(t, msg, "exit code: 7")
	require.Contains(t, msg, fmt.Sprintf("main.go:%d\n", runLine), "the Go file and line")
	require.Contains(t, msg, fmt.Sprintf(" %3d | >>> %s\n", runLine, text), "the Go line, marked, with the Dockerfile's")
}
