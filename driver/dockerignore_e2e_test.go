package driver_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// The context's .dockerignore keeps files out of COPY ., as docker build
// does, and build args reach the ARG they set.
func TestDockerignoreAndBuildArgs(t *testing.T) {
	c := connect(t)
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"app.txt":       "app\n",
		"secret.env":    "TOKEN=1\n",
		"docs/a.md":     "# a\n",
		"docs/keep.md":  "# keep\n",
		".dockerignore": "*.env\ndocs/*.md\n!docs/keep.md\n",
	})
	out := filepath.Join(t.TempDir(), "out")
	o := driver.Output{Type: "local", Dest: out}
	stage := dsl.From("busybox").Arg("FLAVOUR", "plain").Copy(".", "/ctx/").Run("echo $FLAVOUR > /flavour")
	_, err := c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: ctxDir, Outputs: []driver.Output{o}, Progress: "quiet", ProgressOut: io.Discard,
		Compile: []dsl.CompileOption{dsl.WithBuildArgs(map[string]string{"FLAVOUR": "spicy"})},
	})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "ctx", "app.txt"))
	require.FileExists(t, filepath.Join(out, "ctx", "docs", "keep.md"), "a ! pattern keeps a file")
	require.NoFileExists(t, filepath.Join(out, "ctx", "secret.env"), "ignored by *.env")
	require.NoFileExists(t, filepath.Join(out, "ctx", "docs", "a.md"), "ignored by docs/*.md")
	flavour, err := os.ReadFile(filepath.Join(out, "flavour"))
	require.NoError(t, err)
	require.Equal(t, "spicy\n", string(flavour))
}
