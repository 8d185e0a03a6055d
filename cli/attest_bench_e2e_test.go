package cli

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

// BenchmarkProvenance is the cost of provenance mode=min on the Debian
// redis example exported as an OCI archive: a cold build (--no-cache) and
// a fully cached one, each with --provenance=false and with mode=min, one
// after the other in the same run:
//
//	./hack/test -run '^$' -bench Provenance -benchtime 1x -count 5 ./cli/
func BenchmarkProvenance(b *testing.B) {
	env := testenv.Get(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "redis")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/redis").CombinedOutput(); err != nil {
		b.Fatalf("building the example: %v\n%s", err, out)
	}
	build := func(b *testing.B, extra ...string) {
		args := append([]string{"--addr", env.BuildkitHost, "-variant", "debian", "--progress", "quiet",
			"-o", "type=oci,dest=" + filepath.Join(dir, "redis.oci.tar")}, extra...)
		c := exec.Command(bin, args...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	build(b) // fills the cache
	for _, cache := range []struct{ name, flag string }{{"cold", "--no-cache"}, {"cached", ""}} {
		for _, prov := range []struct{ name, flag string }{{"none", "--provenance=false"}, {"min", "--provenance=mode=min"}} {
			b.Run(cache.name+"/"+prov.name, func(b *testing.B) {
				extra := []string{prov.flag}
				if cache.flag != "" {
					extra = append(extra, cache.flag)
				}
				for b.Loop() {
					build(b, extra...)
				}
			})
		}
	}
}
