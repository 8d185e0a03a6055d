package driver_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// Two platforms in one build give an image index with one manifest each,
// each with its own config. The build has no RUN, so 386 binaries need
// not execute here.
func TestTwoPlatformsMakeAnIndex(t *testing.T) {
	env := testenv.Get(t)
	c := connect(t)
	marker := strings.NewReplacer(":", "-", ".", "-", "+", "-").Replace(time.Now().Format(time.RFC3339Nano))
	ref := env.Image("slipway-test/multi:" + marker)
	out := driver.Output{Type: "image", Attrs: map[string]string{"push": "true", "name": ref}}
	stage := dsl.From("scratch").Env("MARKER", marker).Workdir("/app").Cmd("/app/run")
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{
		Outputs:     []driver.Output{out},
		Platforms:   []ocispecs.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "386"}},
		Progress:    "quiet",
		ProgressOut: io.Discard,
	})
	require.NoError(t, err)
	require.Len(t, res.PerPlatform, 2)
	require.Equal(t, "386", res.PerPlatform["linux/386"].Image.Architecture)
	require.Equal(t, "amd64", res.PerPlatform["linux/amd64"].Image.Architecture)

	r, err := name.ParseReference(ref, name.Insecure)
	require.NoError(t, err)
	idx, err := remote.Index(r, remote.WithContext(t.Context()))
	require.NoError(t, err)
	digest, err := idx.Digest()
	require.NoError(t, err)
	require.Equal(t, digest.String(), res.ImageDigest(), "the digest reported is the index's")
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var archs []string
	for _, m := range im.Manifests {
		require.NotNil(t, m.Platform)
		if m.Platform.Architecture == "unknown" {
			continue // an attestation manifest, if the daemon adds one
		}
		archs = append(archs, m.Platform.OS+"/"+m.Platform.Architecture)
		img, err := idx.Image(m.Digest)
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		require.Equal(t, m.Platform.Architecture, cfg.Architecture)
		require.Equal(t, []string{"/app/run"}, cfg.Config.Cmd)
		require.Contains(t, cfg.Config.Env, "MARKER="+marker)
		require.Equal(t, "/app", cfg.Config.WorkingDir)
	}
	require.ElementsMatch(t, []string{"linux/amd64", "linux/386"}, archs)
}
