package dsl_test

import (
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/decompile"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/parity"
)

// TestDecompileRoundTrip closes the loop from the DSL side: every parity
// case compiled by the DSL, stripped of its metadata, decompiled to a
// Dockerfile, and that Dockerfile compiled by BuildKit's frontend gives the
// DSL's definition digest and image config.
func TestDecompileRoundTrip(t *testing.T) {
	ctx := t.Context()
	passed := 0
	cases := parityCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := parity.Options{Resolver: dsltest.NewResolver(baseImages()), Platform: tc.platform, BuildArgs: tc.buildArgs, Caps: parity.AllCaps()}
			want, err := parity.DSL(ctx, tc.build, o)
			require.NoError(t, err)
			img, err := decompile.ImageFromMetadata(want.Definition)
			require.NoError(t, err)
			require.NotNil(t, img, "the DSL puts the image config in the metadata")
			stripped := &llb.Definition{Def: want.Definition.Def}
			out, err := decompile.Decompile(ctx, stripped, decompile.Options{Resolver: o.Resolver, Image: img, Platform: tc.platform})
			require.NoError(t, err)
			// Only what no Dockerfile can hold comes as build args.
			args, err := decompile.BuildArgs(stripped)
			require.NoError(t, err)
			got, err := parity.Dockerfile(ctx, out, parity.Options{Resolver: o.Resolver, Platform: tc.platform, Caps: o.Caps, BuildArgs: args})
			require.NoError(t, err, "decompiled:\n%s", out)
			require.Empty(t, parity.Diff(want, got), "decompiled:\n%s", out)
			passed++
		})
	}
	t.Logf("round trip from the DSL: %d/%d", passed, len(cases))
}
