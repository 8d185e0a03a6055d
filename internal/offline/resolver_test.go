package offline_test

import (
	"encoding/json"
	"testing"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/offline"
)

func TestResolverIsDeterministicAndOffline(t *testing.T) {
	t.Parallel()
	var listed dockerspec.DockerOCIImage
	listed.Config.User = "app"
	r := offline.NewResolver(map[string]dockerspec.DockerOCIImage{"docker.io/library/alpine:3.20": listed})
	arm := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	opt := sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &arm}}

	ref, dgst, dt, err := r.ResolveImageConfig(t.Context(), "alpine:3.20", opt)
	require.NoError(t, err)
	require.Equal(t, "alpine:3.20", ref)
	var img dockerspec.DockerOCIImage
	require.NoError(t, json.Unmarshal(dt, &img))
	require.Equal(t, "app", img.Config.User, "a listed image")
	require.Equal(t, "arm64", img.Architecture, "the platform asked for fills in")

	_, again, _, err := r.ResolveImageConfig(t.Context(), "docker.io/library/alpine:3.20", opt)
	require.NoError(t, err)
	require.Equal(t, dgst, again, "the same image pins to the same digest")

	_, other, dt, err := r.ResolveImageConfig(t.Context(), "debian", opt)
	require.NoError(t, err)
	require.NotEqual(t, dgst, other)
	require.NoError(t, json.Unmarshal(dt, &img))
	require.Equal(t, offline.DefaultImage().Config.Env, img.Config.Env, "an image not listed")

	pinned := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	_, got, _, err := r.ResolveImageConfig(t.Context(), "alpine:3.20@"+pinned, opt)
	require.NoError(t, err)
	require.Equal(t, pinned, got.String(), "a digest in the reference is the one resolved")

	_, _, _, err = r.ResolveImageConfig(t.Context(), "Bad Ref", opt)
	require.ErrorContains(t, err, "offline resolver")
}
