package lockfile_test

import (
	"path/filepath"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
	"github.com/slipway-build/slipway/lockfile"
)

// The examples' builds, as examples/redis writes them (a main package
// cannot be imported).
var exampleBuilds = map[string]dsl.Stage{
	"redis-alpine": dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server"),
	"redis-debian": dsl.From("debian:bookworm-slim").
		Run("apt-get update && apt-get install -y --no-install-recommends redis-server").
		Cmd("redis-server"),
}

// BenchmarkCompileLocked compiles each example in process with base images
// from a lock file: the cost of the llb mode without process start.
func BenchmarkCompileLocked(b *testing.B) {
	lock := benchLock(b)
	r := lock.Resolver(nil)
	for name, s := range exampleBuilds {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dsl.Compile(b.Context(), s, dsl.WithResolver(r), dsl.WithPlatform(p)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var p = ocispecs.Platform{OS: "linux", Architecture: "amd64"}

// benchLock locks the examples' base images, saved in a temp dir.
func benchLock(b *testing.B) *lockfile.Lock {
	b.Helper()
	l := lockfile.New(filepath.Join(b.TempDir(), "bench.lock.json"))
	u := l.Updater(dsltest.NewResolver(nil), lockfile.UpdateMissing, nil)
	for _, ref := range []string{"alpine", "debian:bookworm-slim"} {
		if _, _, _, err := u.ResolveImageConfig(b.Context(), ref, request(p)); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Save(); err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkLoad reads and validates a lock file of two images.
func BenchmarkLoad(b *testing.B) {
	path := benchLock(b).Path()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lockfile.Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
