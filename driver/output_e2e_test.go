package driver_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// One build, every exporter: pushed to the registry and pulled back, a
// docker archive that go-containerregistry loads as `docker load` would, a
// tar and a local directory with the built files. All carry the DSL's
// image config where an image has one.
func TestOutputs(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	marker := time.Now().Format(time.RFC3339Nano)
	tag := strings.NewReplacer(":", "-", ".", "-", "+", "-").Replace(marker)
	stage := dsl.From("busybox").
		Run("mkdir -p /srv && echo '"+marker+"' > /srv/marker").
		Env("MARKER", marker).
		Cmd("cat", "/srv/marker")

	dir := t.TempDir()
	ref := env.Image("slipway-test/outputs:" + tag)
	outs := []driver.Output{
		{Type: "image", Attrs: map[string]string{"push": "true", "name": ref}},
		{Type: "docker", Attrs: map[string]string{"name": "slipway/outputs:" + tag}, Dest: filepath.Join(dir, "docker.tar")},
		{Type: "tar", Dest: filepath.Join(dir, "fs.tar")},
		{Type: "local", Dest: filepath.Join(dir, "local")},
	}
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{Outputs: outs, Progress: "quiet", ProgressOut: io.Discard})
	require.NoError(t, err)

	checkConfig := func(t *testing.T, img v1.Image) {
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, []string{"cat", "/srv/marker"}, cfg.Config.Cmd)
		require.Contains(t, cfg.Config.Env, "MARKER="+marker)
	}

	t.Run("image pushed", func(t *testing.T) {
		r, err := name.ParseReference(ref, name.Insecure)
		require.NoError(t, err)
		img, err := remote.Image(r, remote.WithContext(t.Context()))
		require.NoError(t, err)
		dgst, err := img.Digest()
		require.NoError(t, err)
		require.Equal(t, res.ImageDigest(), dgst.String(), "the registry serves the digest the build reported")
		checkConfig(t, img)
	})
	t.Run("docker archive", func(t *testing.T) {
		tg, err := name.NewTag("slipway/outputs:" + tag)
		require.NoError(t, err)
		img, err := tarball.ImageFromPath(filepath.Join(dir, "docker.tar"), &tg)
		require.NoError(t, err)
		layers, err := img.Layers()
		require.NoError(t, err)
		require.NotEmpty(t, layers)
		checkConfig(t, img)
	})
	t.Run("tar", func(t *testing.T) {
		f, err := os.Open(filepath.Join(dir, "fs.tar"))
		require.NoError(t, err)
		defer f.Close()
		tr := tar.NewReader(f)
		found := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if strings.TrimPrefix(h.Name, "./") == "srv/marker" {
				dt, err := io.ReadAll(tr)
				require.NoError(t, err)
				require.Equal(t, marker+"\n", string(dt))
				found = true
			}
		}
		require.True(t, found, "srv/marker is in the tar")
	})
	t.Run("local", func(t *testing.T) {
		dt, err := os.ReadFile(filepath.Join(dir, "local", "srv", "marker"))
		require.NoError(t, err)
		require.Equal(t, marker+"\n", string(dt))
		_, err = os.Stat(filepath.Join(dir, "local", "bin", "busybox"))
		require.NoError(t, err, "the whole root file system is written")
	})
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers)
}
