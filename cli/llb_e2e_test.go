package cli

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

func TestLLBModeWritesDefinition(t *testing.T) {
	env := testenv.Get(t)
	stdout, stderr, code := run(t, "--addr", env.BuildkitHost, "llb")
	require.Equal(t, 0, code, stderr)
	def, err := llb.ReadFrom(strings.NewReader(stdout))
	require.NoError(t, err)
	require.Len(t, def.Def, 3, "image source, RUN, return")
	var cfg string
	for _, md := range def.Metadata {
		if v, ok := md.Description[dsl.ImageConfigKey]; ok {
			cfg = v
		}
	}
	require.Contains(t, cfg, `"Cmd":["cat","/hello"]`, "the image config rides in the metadata")
}
