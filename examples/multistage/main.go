// Command multistage builds a two-stage image the way real services are
// built: a build stage with a cache mount and a build secret, and a small
// final stage that copies only the result. Run it with
// `go run ./examples/multistage --secret id=token,env=TOKEN`.
package main

import (
	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(Build)
}

// Build is the build. The secret reaches the build step as a file under
// /run/secrets and never enters the image: the step keeps only a hash.
func Build() dsl.Stage {
	build := dsl.From("debian:bookworm-slim").As("build").
		Workdir("/src").
		Run(`set -e
echo run >> /cache/runs
mkdir -p out
sha256sum < /run/secrets/token | cut -c1-16 > out/token.sha
wc -l < /cache/runs > out/cache-runs
echo "hello from slipway" > out/app.txt`,
			dsl.CacheMount("/cache", dsl.ID("multistage-example")),
			dsl.SecretMount("token", dsl.Required()))

	return dsl.From("busybox").
		Copy("/src/out/", "/srv/", build).
		Workdir("/srv").
		Label("org.opencontainers.image.title", "multistage").
		Cmd("cat", "/srv/app.txt")
}
