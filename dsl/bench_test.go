package dsl_test

import (
	"testing"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/parity"
)

// BenchmarkCompile compiles every parity case both ways in one run:
// BuildKit's Dockerfile frontend on the Dockerfile (the anchor), then the DSL
// on the same build. Compare the pairs with benchstat.
func BenchmarkCompile(b *testing.B) {
	for _, tc := range parityCases() {
		if tc.network {
			continue
		}
		o := parity.Options{Resolver: dsltest.NewResolver(baseImages()), Platform: tc.platform, BuildArgs: tc.buildArgs, Caps: parity.AllCaps()}
		b.Run(tc.name+"/dockerfile2llb", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parity.Dockerfile(b.Context(), []byte(tc.dockerfile), o); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/dsl", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parity.DSL(b.Context(), tc.build, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
