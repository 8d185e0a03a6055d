package dsl_test

import (
	"maps"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/util/apicaps"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/parity"
)

// BenchmarkCompile compiles every parity case both ways in one run, each to
// a marshaled definition: BuildKit's frontend on the Dockerfile (the anchor),
// then the DSL on the same build. hack/bench-dsl turns it into a table.
func BenchmarkCompile(b *testing.B) {
	caps := parity.AllCaps()
	for _, tc := range parityCases() {
		if tc.network {
			continue
		}
		resolver := dsltest.NewResolver(baseImages())
		b.Run(tc.name+"/dockerfile2llb", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				frontend(b, tc, resolver, caps, true)
			}
		})
		opts := []dsl.CompileOption{dsl.WithResolver(resolver), dsl.WithBuildArgs(tc.buildArgs), dsl.WithCaps(*caps)}
		if tc.platform != nil {
			opts = append(opts, dsl.WithPlatform(*tc.platform))
		}
		b.Run(tc.name+"/dsl", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dsl.Compile(b.Context(), tc.build, opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// frontend compiles a parity case with BuildKit's frontend, and marshals
// the definition if asked.
func frontend(b *testing.B, tc parityCase, resolver llb.ImageMetaResolver, caps *apicaps.CapSet, marshal bool) {
	res, err := dockerfile2llb.Dockerfile2LLB(b.Context(), []byte(tc.dockerfile), dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{BuildArgs: maps.Clone(tc.buildArgs)}, // the frontend may delete SOURCE_DATE_EPOCH
		MetaResolver:   resolver,
		TargetPlatform: tc.platform,
		LLBCaps:        caps,
	})
	if err != nil {
		b.Fatal(err)
	}
	if !marshal {
		return
	}
	if _, err := res.State.Marshal(b.Context(), llb.LocalUniqueID(dsl.DefaultContextID)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFrontendMarshal measures the share of the anchor that is llb's
// marshaling of the definition: the frontend compiling each parity case
// with and without marshaling it. The DSL marshals the same ops with the
// same llb, so it cannot be faster than the anchor by more than the
// inverse of that share, whatever else it does. hack/bench-dsl-ceiling
// turns it into a table.
func BenchmarkFrontendMarshal(b *testing.B) {
	caps := parity.AllCaps()
	for _, tc := range parityCases() {
		if tc.network {
			continue
		}
		resolver := dsltest.NewResolver(baseImages())
		b.Run(tc.name+"/convert", func(b *testing.B) {
			for b.Loop() {
				frontend(b, tc, resolver, caps, false)
			}
		})
		b.Run(tc.name+"/marshal", func(b *testing.B) {
			for b.Loop() {
				frontend(b, tc, resolver, caps, true)
			}
		})
	}
}

// BenchmarkSourceLocations measures what recording where each builder call
// was made costs: every parity case built and compiled, with recording off
// (the anchor) and on, alternating within each iteration so that both see
// the same load on a shared machine. "compile" builds the stages once,
// outside the loop; "build+compile" builds them in it too, so that the
// recording itself is measured. It reports off-ns, on-ns and their ratio.
func BenchmarkSourceLocations(b *testing.B) {
	caps := parity.AllCaps()
	resolver := dsltest.NewResolver(baseImages())
	compileAll := func(b *testing.B, cases []parityCase) {
		for _, tc := range cases {
			if tc.network {
				continue
			}
			opts := []dsl.CompileOption{dsl.WithResolver(resolver), dsl.WithBuildArgs(tc.buildArgs), dsl.WithCaps(*caps)}
			if tc.platform != nil {
				opts = append(opts, dsl.WithPlatform(*tc.platform))
			}
			if _, err := dsl.Compile(b.Context(), tc.build, opts...); err != nil {
				b.Fatal(err)
			}
		}
	}
	defer dsl.RecordSites(true)
	built := func(on bool) []parityCase {
		dsl.RecordSites(on)
		return parityCases()
	}
	for _, build := range []bool{false, true} {
		name := "compile"
		if build {
			name = "build+compile"
		}
		b.Run(name, func(b *testing.B) {
			cases := map[bool][]parityCase{false: built(false), true: built(true)}
			var spent [2]time.Duration
			b.ReportAllocs()
			for b.Loop() {
				for _, on := range []bool{false, true} {
					start := time.Now()
					cs := cases[on]
					if build {
						cs = built(on)
					}
					compileAll(b, cs)
					if on {
						spent[1] += time.Since(start)
					} else {
						spent[0] += time.Since(start)
					}
				}
			}
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "off-ns/op")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "on-ns/op")
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "on/off")
		})
	}
}
