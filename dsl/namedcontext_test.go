package dsl_test

import (
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
)

// A named context given as an image replaces FROM of that name, and
// dsl.Context of it, with the image by its tag (the frontend does not pin
// it), for the build's platform; one for another platform does not apply.
// driver/namedcontext_e2e_test.go checks the cache keys against the
// frontend on the daemon.
func TestNamedContextImageReplacesFrom(t *testing.T) {
	amd64 := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	for name, s := range map[string]dsl.Stage{
		"from":    dsl.From("base").Run("true"),
		"context": dsl.Context("base").Run("true"),
	} {
		t.Run(name, func(t *testing.T) {
			res := compile(t, s, dsl.WithNamedContext("base", "docker-image://alpine:3.19"), dsl.WithPlatform(amd64))
			ops, last := parseDef(t, res.Definition)
			src := input(t, ops, last, 0).GetSource()
			require.NotNil(t, src)
			require.Equal(t, "docker-image://docker.io/library/alpine:3.19", src.Identifier)
			require.Equal(t, "amd64", input(t, ops, last, 0).Platform.Architecture)
		})
	}
	res := compile(t, dsl.From("base").Run("true"), dsl.WithNamedContext("base::linux/arm64", "docker-image://alpine:3.19"), dsl.WithPlatform(amd64))
	ops, last := parseDef(t, res.Definition)
	require.Contains(t, input(t, ops, last, 0).GetSource().Identifier, "docker.io/library/base:latest@sha256:", "a context for arm64 does not apply to amd64")

	_, err := dsl.Compile(t.Context(), dsl.From("base"), dsl.WithResolver(dsltest.NewResolver(nil)), dsl.WithNamedContext("base", "git://example.com/x.git"))
	require.ErrorContains(t, err, "named context base=git://example.com/x.git: only images (docker-image://REF) and directories are supported")
}
