package driver

import (
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"
)

// --no-cache marks the steps to ignore the cache, not the sources, without
// changing any op, and the cache imports ride with the gateway request.
func TestRequestNoCacheAndCacheImports(t *testing.T) {
	t.Parallel()
	def, err := llb.Image("busybox").Run(llb.Shlex("true")).Root().Marshal(t.Context())
	require.NoError(t, err)

	plain := BuildOptions{}.request(def)
	for _, md := range plain.Definition.Metadata {
		require.False(t, md.IgnoreCache)
	}
	require.Empty(t, plain.CacheImports)

	imp := CacheEntry{Type: "registry", Attrs: map[string]string{"ref": "reg/c"}}
	req := BuildOptions{NoCache: true, CacheImports: []CacheEntry{imp}}.request(def)
	require.Equal(t, def.Def, req.Definition.Def, "no op changes")
	var steps, sources int
	for _, dt := range req.Definition.Def {
		var op pb.Op
		require.NoError(t, op.UnmarshalVT(dt))
		md := req.Definition.Metadata[string(digest.FromBytes(dt))]
		switch {
		case op.GetExec() != nil:
			steps++
			require.True(t, md.IgnoreCache, "the RUN ignores the cache")
		case op.GetSource() != nil:
			sources++
			require.False(t, md != nil && md.IgnoreCache, "the image is not pulled again")
		}
	}
	require.Equal(t, 1, steps)
	require.Equal(t, 1, sources)
	require.Len(t, req.CacheImports, 1)
	require.Equal(t, "registry", req.CacheImports[0].Type)
	require.Equal(t, "reg/c", req.CacheImports[0].Attrs["ref"])
	for _, md := range def.ToPB().Metadata {
		require.False(t, md.IgnoreCache, "the compiled definition is not changed")
	}
}

// The solve names the platforms it asks for in the frontend attribute the
// daemon's platform check reads; none given leaves it to the daemon.
func TestSolveOptRequestedPlatforms(t *testing.T) {
	t.Parallel()
	require.NotContains(t, BuildOptions{}.solveOpt(nil).FrontendAttrs, "platform")
	one := BuildOptions{Platform: &ocispecs.Platform{OS: "linux", Architecture: "386"}}
	require.Equal(t, "linux/386", one.solveOpt(nil).FrontendAttrs["platform"])
	two := BuildOptions{Platforms: []ocispecs.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}}
	require.Equal(t, "linux/amd64,linux/arm/v7", two.solveOpt(nil).FrontendAttrs["platform"])
}
