package decompile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/decompile"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/corpus"
	"github.com/slipway-build/slipway/internal/parity"
)

// BenchmarkCorpusCase decompiles each corpus case the frontend accepts,
// beside dockerfile2llb compiling the Dockerfile it came from, in the same
// run (the anchor). hack/bench-decompile reports the ratios.
func BenchmarkCorpusCase(b *testing.B) {
	cases, err := corpus.Cases()
	require.NoError(b, err)
	resolver := dsltest.NewResolver(nil)
	o := parity.Options{Resolver: resolver, Caps: parity.AllCaps()}
	for i, c := range cases {
		out, err := parity.Dockerfile(b.Context(), c.Dockerfile, o)
		if err != nil {
			continue
		}
		var img dockerspec.DockerOCIImage
		require.NoError(b, json.Unmarshal(out.Image, &img))
		def := &llb.Definition{Def: out.Definition.Def}
		name := fmt.Sprintf("%03d", i)
		b.Run(name+"/dockerfile2llb", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := dockerfile2llb.Dockerfile2LLB(context.Background(), c.Dockerfile, dockerfile2llb.ConvertOpt{MetaResolver: resolver, LLBCaps: o.Caps})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := res.State.Marshal(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decompile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decompile.Decompile(context.Background(), def, decompile.Options{Resolver: resolver, Image: &img}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
