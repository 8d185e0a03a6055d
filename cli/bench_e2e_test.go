package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

// redisDockerfile is the Dockerfile the Debian variant of examples/redis
// writes as Go.
const redisDockerfile = `FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server
CMD ["redis-server"]
`

// BenchmarkCachedRebuild is a fully cached rebuild of the Debian redis
// example with no export, the whole process of the built program against
// `buildctl build --frontend dockerfile.v0` of the same Dockerfile, on the
// same daemon:
//
//	./hack/test -run '^$' -bench CachedRebuild -count 5 ./cli/
func BenchmarkCachedRebuild(b *testing.B) {
	env := testenv.Get(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "redis")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/redis").CombinedOutput(); err != nil {
		b.Fatalf("building the example: %v\n%s", err, out)
	}
	ctxDir := filepath.Join(dir, "ctx")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(redisDockerfile), 0o644); err != nil {
		b.Fatal(err)
	}
	tools := []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"slipway", func() *exec.Cmd {
			c := exec.Command(bin, "--addr", env.BuildkitHost, "-variant", "debian", "--progress", "quiet", "--output", "type=cacheonly")
			c.Dir = dir
			return c
		}},
		{"buildctl", func() *exec.Cmd {
			return env.BuildctlCmd(b.Context(), "build", "--progress", "quiet", "--frontend", "dockerfile.v0",
				"--local", "context="+ctxDir, "--local", "dockerfile="+ctxDir)
		}},
	}
	for _, tool := range tools {
		// The first run fills the cache.
		if out, err := tool.cmd().CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", tool.name, err, out)
		}
	}
	for _, tool := range tools {
		b.Run(tool.name, func(b *testing.B) {
			for b.Loop() {
				if out, err := tool.cmd().CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", tool.name, err, out)
				}
			}
		})
	}
}
