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

// A named build context is sent beside the main one, with its own
// .dockerignore, and read by COPY and bind mounts.
func TestNamedBuildContext(t *testing.T) {
	c := connect(t)
	conf := t.TempDir()
	writeTree(t, conf, map[string]string{
		"app.yaml":      "port: 8080\n",
		"app.yaml.bak":  "old\n",
		"certs/ca.pem":  "CA\n",
		".dockerignore": "*.bak\n",
	})
	out := filepath.Join(t.TempDir(), "out")
	o, err := driver.ParseOutput("type=local,dest=" + out)
	require.NoError(t, err)
	ctx := dsl.Context("conf")
	stage := dsl.From("busybox").
		Copy("app.yaml*", "/etc/app/", ctx).
		Run("cat /certs/ca.pem > /ca.copy", dsl.BindMount("/certs", ctx, dsl.Source("certs")))
	_, err = c.Build(t.Context(), stage, driver.BuildOptions{
		ContextDir: t.TempDir(), Contexts: map[string]string{"conf": conf},
		Outputs: []driver.Output{o}, Progress: "quiet", ProgressOut: io.Discard,
	})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "etc", "app", "app.yaml"))
	require.NoFileExists(t, filepath.Join(out, "etc", "app", "app.yaml.bak"), "the context's .dockerignore applies")
	ca, err := os.ReadFile(filepath.Join(out, "ca.copy"))
	require.NoError(t, err)
	require.Equal(t, "CA\n", string(ca))

	_, err = c.Build(t.Context(), stage, driver.BuildOptions{
		Contexts: map[string]string{"conf": filepath.Join(conf, "missing")}, Progress: "quiet", ProgressOut: io.Discard,
	})
	require.ErrorContains(t, err, "build context conf:")
}
