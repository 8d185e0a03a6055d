package gen_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/solver/pb"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/gen"
)

// BenchmarkCorpus converts the whole corpus, beside dockerfile2llb on the
// same files in the same run (the anchor). Generate includes a validation
// run of the frontend, so it cannot be faster than the anchor; the target is
// the whole corpus under a second and no more than 3x the anchor.
func BenchmarkCorpus(b *testing.B) {
	cases := corpusCases(b)
	caps := pb.Caps.CapSet(pb.Caps.All())
	b.Run("dockerfile2llb", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range cases {
				_, _ = dockerfile2llb.Dockerfile2LLB(context.Background(), c.Dockerfile, dockerfile2llb.ConvertOpt{MetaResolver: dsltest.NewResolver(nil), LLBCaps: &caps})
			}
		}
	})
	b.Run("generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range cases {
				_, _ = gen.Generate(c.Dockerfile, gen.Options{})
			}
		}
	})
}

// BenchmarkCorpusCase converts each corpus case on its own, beside
// dockerfile2llb on the same file; hack/bench-gen reports the worst ratio.
func BenchmarkCorpusCase(b *testing.B) {
	caps := pb.Caps.CapSet(pb.Caps.All())
	for i, c := range corpusCases(b) {
		name := fmt.Sprintf("%03d", i)
		b.Run(name+"/dockerfile2llb", func(b *testing.B) {
			for b.Loop() {
				_, _ = dockerfile2llb.Dockerfile2LLB(context.Background(), c.Dockerfile, dockerfile2llb.ConvertOpt{MetaResolver: dsltest.NewResolver(nil), LLBCaps: &caps})
			}
		})
		b.Run(name+"/generate", func(b *testing.B) {
			for b.Loop() {
				_, _ = gen.Generate(c.Dockerfile, gen.Options{})
			}
		})
	}
}
