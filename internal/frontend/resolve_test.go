package frontend_test

import (
	"context"
	"testing"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/frontend"
	"github.com/slipway-build/slipway/internal/offline"
)

// recordingResolver records the requests it is given and answers them
// from an offline resolver.
type recordingResolver struct {
	next *offline.Resolver
	refs []string
	opts []sourceresolver.Opt
}

func (r *recordingResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	r.refs = append(r.refs, ref)
	r.opts = append(r.opts, opt)
	return r.next.ResolveImageConfig(ctx, ref, opt)
}

func TestResolveBaseAsTheFrontend(t *testing.T) {
	t.Parallel()
	base := offline.DefaultImage()
	images := map[string]dockerspec.DockerOCIImage{"docker.io/library/base:latest": base}
	platform := ocispecs.Platform{OS: "linux", Architecture: "amd64"}

	fe := &recordingResolver{next: offline.NewResolver(images)}
	caps := frontend.AllCaps()
	_, err := dockerfile2llb.Dockerfile2LLB(t.Context(), []byte("FROM base\n"), dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{},
		MetaResolver:   fe,
		TargetPlatform: &platform,
		LLBCaps:        &caps,
	})
	require.NoError(t, err)
	require.Len(t, fe.opts, 1)

	ours := &recordingResolver{next: offline.NewResolver(images)}
	_, _, _, err = frontend.ResolveBase(t.Context(), ours, "docker.io/library/base:latest", platform)
	require.NoError(t, err)
	require.Equal(t, fe.refs, ours.refs)
	require.Equal(t, fe.opts, ours.opts)
}

func TestDecodeBaseDropsCreated(t *testing.T) {
	t.Parallel()
	img, err := frontend.DecodeBase([]byte(`{"created":"2020-01-02T03:04:05Z","architecture":"amd64","os":"linux","config":{"Env":["A=1"]}}`))
	require.NoError(t, err)
	require.Nil(t, img.Created)
	require.Equal(t, []string{"A=1"}, img.Config.Env)

	_, err = frontend.DecodeBase([]byte(`{`))
	require.Error(t, err)
}
