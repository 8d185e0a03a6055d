package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestMultiStageEndToEnd builds the example on the test daemon with a secret
// from the environment, and checks the exported files and config, and that
// the secret's value is nowhere: not in the LLB, not in the image, not in
// the progress output.
func TestMultiStageEndToEnd(t *testing.T) {
	env := testenv.Get(t)
	ctx := t.Context()
	c, err := driver.Connect(ctx, driver.ConnectOptions{Addr: env.BuildkitHost})
	require.NoError(t, err)
	defer c.Close()

	secret := "s3cr3t-" + strings.Repeat("x", 8) + "-" + filepath.Base(t.TempDir())
	t.Setenv("SLIPWAY_TEST_TOKEN", secret)
	store, err := secretsprovider.NewStore([]secretsprovider.Source{{ID: "token", Env: "SLIPWAY_TEST_TOKEN"}})
	require.NoError(t, err)
	secrets := secretsprovider.NewSecretProvider(store)

	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	archive := filepath.Join(dir, "image.oci.tar")
	local := driver.Output{Type: "local", Dest: files}
	oci := driver.Output{Type: "oci", Dest: archive}
	var progress strings.Builder
	res, err := c.Build(ctx, Build(), driver.BuildOptions{
		Outputs:     []driver.Output{local, oci},
		Session:     []session.Attachable{secrets},
		Progress:    "plain",
		ProgressOut: &progress,
	})
	require.NoError(t, err, progress.String())

	// The final stage has only what was copied from the build stage.
	app, err := os.ReadFile(filepath.Join(files, "srv", "app.txt"))
	require.NoError(t, err)
	require.Equal(t, "hello from slipway\n", string(app))
	sum := sha256.Sum256([]byte(secret))
	got, err := os.ReadFile(filepath.Join(files, "srv", "token.sha"))
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(sum[:])[:16], strings.TrimSpace(string(got)), "the secret reached the build step")
	runs, err := os.ReadFile(filepath.Join(files, "srv", "cache-runs"))
	require.NoError(t, err)
	require.NotEmpty(t, strings.TrimSpace(string(runs)), "the cache mount was writable")
	require.NoDirExists(t, filepath.Join(files, "cache"), "the cache mount is not part of the image")
	require.NoDirExists(t, filepath.Join(files, "src"), "the build stage is not part of the image")
	require.FileExists(t, filepath.Join(files, "bin", "busybox"), "the final stage is busybox")

	// The image config is the DSL's.
	cfg := res.Compiled.Image
	require.Equal(t, []string{"cat", "/srv/app.txt"}, cfg.Config.Cmd)
	require.Equal(t, "/srv", cfg.Config.WorkingDir)
	require.Equal(t, "multistage", cfg.Config.Labels["org.opencontainers.image.title"])
	exported := imageConfigFromArchive(t, archive)
	require.Equal(t, cfg.Config.Cmd, exported.Config.Cmd)
	require.Equal(t, cfg.Config.Labels, exported.Config.Labels)

	// The secret's value is nowhere.
	var def bytes.Buffer
	require.NoError(t, llb.WriteTo(res.Compiled.Definition, &def))
	require.NotContains(t, def.String(), secret, "LLB")
	tarball, err := os.ReadFile(archive)
	require.NoError(t, err)
	require.NotContains(t, string(tarball), secret, "image archive")
	require.NotContains(t, progress.String(), secret, "progress output")
	require.NoError(t, filepath.Walk(files, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Mode()&os.ModeSymlink != 0 {
			return err
		}
		dt, err := os.ReadFile(p)
		if err == nil && bytes.Contains(dt, []byte(secret)) {
			t.Errorf("the secret is in %s", p)
		}
		return nil
	}))
}

// imageConfigFromArchive reads the image config out of an OCI archive.
func imageConfigFromArchive(t *testing.T, archive string) struct {
	Config struct {
		Cmd    []string
		Labels map[string]string
	}
} {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	blobs := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		dt, err := io.ReadAll(tr)
		require.NoError(t, err)
		blobs[h.Name] = dt
	}
	blob := func(d string) []byte {
		dt, ok := blobs["blobs/"+strings.Replace(d, ":", "/", 1)]
		require.True(t, ok, "blob %s", d)
		return dt
	}
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	require.NoError(t, json.Unmarshal(blobs["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	var manifest struct {
		Config struct{ Digest string } `json:"config"`
	}
	require.NoError(t, json.Unmarshal(blob(index.Manifests[0].Digest), &manifest))
	var cfg struct {
		Config struct {
			Cmd    []string
			Labels map[string]string
		}
	}
	require.NoError(t, json.Unmarshal(blob(manifest.Config.Digest), &cfg))
	return cfg
}
