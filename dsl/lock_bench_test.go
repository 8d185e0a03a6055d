package dsl_test

import (
	"path/filepath"
	"testing"

	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/internal/parity"
	"github.com/slipway-build/slipway/lockfile"
)

// BenchmarkCompileLocked compiles every parity case with its base images
// from an image lock file, as `prog --lock FILE llb` does: fully offline.
func BenchmarkCompileLocked(b *testing.B) {
	for _, tc := range parityCases() {
		if tc.network {
			continue
		}
		// Fill a lock with what the case resolves, then answer from it only.
		lock := lockfile.New(filepath.Join(b.TempDir(), "l.json"))
		fill := parity.Options{Resolver: lock.Updater(dsltest.NewResolver(baseImages()), lockfile.UpdateMissing, nil), Platform: tc.platform, BuildArgs: tc.buildArgs}
		if _, err := parity.DSL(b.Context(), tc.build, fill); err != nil {
			b.Fatal(err)
		}
		o := parity.Options{Resolver: lock.Resolver(nil), Platform: tc.platform, BuildArgs: tc.buildArgs}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parity.DSL(b.Context(), tc.build, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
