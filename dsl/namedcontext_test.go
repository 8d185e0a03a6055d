package dsl_test

import (
	"strings"
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

	_, err := dsl.Compile(t.Context(), dsl.From("base"), dsl.WithResolver(dsltest.NewResolver(nil)), dsl.WithNamedContext("base", "oci://x"))
	require.ErrorContains(t, err, "named context base=oci://x: want a directory, docker-image://REF, oci-layout://STORE@DIGEST, a git URL or an http(s) URL")
}

// A named context that is an image in an OCI layout is read as the
// frontend reads one: an oci-layout source named after the context, with
// the store's name and no session, and the image's config.
func TestNamedContextOCILayout(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("ab", 32)
	amd64 := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	res := compile(t, dsl.From("base").Run("true"), dsl.WithNamedContext("base", "oci-layout://layoutstore:v1@"+dgst), dsl.WithPlatform(amd64))
	ops, last := parseDef(t, res.Definition)
	src := input(t, ops, last, 0).GetSource()
	require.Equal(t, "oci-layout://docker.io/library/base@"+dgst, src.Identifier)
	require.Equal(t, map[string]string{"oci.store": "layoutstore"}, src.Attrs)
	require.Equal(t, "amd64", input(t, ops, last, 0).Platform.Architecture)
	require.NotEmpty(t, res.Image.Config.Env, "the image's config is inherited")

	for spec, msg := range map[string]string{
		"oci-layout://layoutstore:v1": "want oci-layout://STORE@DIGEST: no digest",
		"oci-layout:///x@sha256:0000": "invalid reference format",
		"oci-layout://@" + dgst:       "named context base=oci-layout://@" + dgst,
		"oci-layout://Upper@" + dgst:  "repository name must be lowercase",
	} {
		_, err := dsl.Compile(t.Context(), dsl.From("base"), dsl.WithResolver(dsltest.NewResolver(nil)), dsl.WithNamedContext("base", spec))
		require.ErrorContains(t, err, msg, spec)
		require.ErrorContains(t, err, "FROM", spec)
	}
}

// A named context that is a git repository or a file at a URL is read as
// the frontend reads it: a git source, or an http source saved as
// "context".
func TestNamedContextGitAndHTTP(t *testing.T) {
	for spec, want := range map[string]string{
		"git://example.com/repo.git#main":        "git://example.com/repo.git#main",
		"https://example.com/repo.git#v1:sub":    "git://example.com/repo.git#v1:sub",
		"https://example.com/releases/files.tar": "https://example.com/releases/files.tar",
	} {
		t.Run(spec, func(t *testing.T) {
			res := compile(t, dsl.From("busybox").Copy("/", "/src/", dsl.From("src")), dsl.WithNamedContext("src", spec))
			var found bool
			ops, _ := parseDef(t, res.Definition)
			for _, op := range ops {
				if src := op.GetSource(); src != nil && src.Identifier == want {
					found = true
					if strings.HasPrefix(want, "https://") {
						require.Equal(t, "context", src.Attrs["http.filename"])
					}
				}
			}
			require.True(t, found, "a source %s", want)
		})
	}
}
