// Command monorepo builds the images of a small repository together, as a
// docker-bake.hcl would: an HTTP service (api) and a batch worker (worker),
// both compiled by one builder stage, and a test target that runs go test
// and exports nothing. Group default is the two images, group ci the test.
//
// The sources are in testdata/src; the Go toolchain comes in as the named
// context "go", so the build needs no image but debian:bookworm-slim and
// busybox and no network:
//
//	go run ./examples/monorepo --context examples/monorepo/testdata/src \
//		--build-context go=$(go env GOROOT) build            # api.oci.tar, worker.oci.tar
//	go run ./examples/monorepo ... build default ci            # and go test, together
//	go run ./examples/monorepo ... list --format json
//	go run ./examples/monorepo ... --set api.tags=reg/api:1 --set api.push=true build api
package main

import (
	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	Program().Main()
}

// Commands are the repository's commands, one image each.
var Commands = []string{"api", "worker"}

// Program declares the targets and groups. A matrix is a loop, a shared
// stage a shared value: builder's steps run once for all three targets.
func Program() cli.Program {
	b := Builder()
	var p cli.Program
	for _, name := range Commands {
		p.Targets = append(p.Targets, cli.Target{
			Name:        name,
			Description: "the " + name + " image",
			Build:       Image(b, name),
			Tags:        []string{"monorepo/" + name + ":latest"},
		})
	}
	p.Targets = append(p.Targets, cli.Target{
		Name:        "test",
		Description: "go test, exporting nothing",
		Build:       b.Run("go test ./...", goToolchain(), goCache()),
		Outputs:     []string{"type=cacheonly"},
	})
	p.Groups = []cli.Group{
		{Name: "default", Description: "the images", Targets: Commands},
		{Name: "ci", Description: "the tests", Targets: []string{"test"}},
	}
	return p
}

// Builder compiles every command of the repository into /out.
func Builder() dsl.Stage {
	return dsl.From("debian:bookworm-slim").As("builder").
		Env("PATH", "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").
		Env("CGO_ENABLED", "0", "GOTOOLCHAIN", "local", "GOFLAGS", "-trimpath").
		Workdir("/src").
		Copy(".", ".").
		Run("go build -o /out/ ./cmd/...", goToolchain(), goCache())
}

// Image is the image of one command: busybox and the binary.
func Image(builder dsl.Stage, name string) dsl.Stage {
	return dsl.From("busybox").
		Copy("/out/"+name, "/usr/local/bin/"+name, builder).
		Label("org.opencontainers.image.title", name).
		Cmd("/usr/local/bin/" + name)
}

// goToolchain mounts the named context "go" (a GOROOT) where PATH finds
// it; nothing of it enters a layer.
func goToolchain() dsl.RunOption {
	return dsl.BindMount("/usr/local/go", dsl.Context("go"))
}

// goCache keeps Go's build cache between builds.
func goCache() dsl.RunOption {
	return dsl.CacheMount("/root/.cache/go-build", dsl.ID("monorepo-go-build"))
}
