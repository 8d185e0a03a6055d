package dsl

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
)

var imageRefSeeds = []string{
	"alpine", "alpine:3.20", "busybox:1.36", "debian:bookworm-slim",
	"example/app:1", "docker.io/example/app:1", "index.docker.io/alpine",
	"docker.io/library/alpine:latest", "localhost/foo", "localhost:5000/foo/bar:v1",
	"ghcr.io/owner/repo:tag_1.2-rc", "registry.example.com:443/a/b/c",
	"alpine@sha256:" + strings.Repeat("ab", 32),
	"alpine:3@sha256:" + strings.Repeat("0f", 32),
	"alpine@sha256:" + strings.Repeat("AB", 32),
	"alpine@sha512:" + strings.Repeat("ab", 64),
	strings.Repeat("ab", 32), "Alpine", "ALPINE/x", "Example.com/x", "a_b.com/foo",
	"foo__bar", "foo___bar", "foo._bar", "foo--bar", "foo-", "-foo", "foo.",
	"foo:", "foo:-x", "foo:_x", "foo:" + strings.Repeat("x", 128), "foo:" + strings.Repeat("x", 129),
	"[::1]:5000/foo", "foo:5000/bar", "foo:bar/baz", "a.b:/x", "-a.com/x", "a-.com/x",
	"", "/", "foo//bar", "foo/", "docker.io", "docker.io:5000", "a/" + strings.Repeat("b", 260),
	"foo bar", "foo@bar", "foo@sha256:", "UPPER.com/lower:TAG",
}

// TestParseImageRef checks the hand-written reader against the reference
// package, which it must agree with on every input.
func TestParseImageRef(t *testing.T) {
	t.Parallel()
	for _, s := range imageRefSeeds {
		checkImageRef(t, s)
	}
}

func FuzzParseImageRef(f *testing.F) {
	for _, s := range imageRefSeeds {
		f.Add(s)
	}
	f.Fuzz(checkImageRef)
}

func checkImageRef(t *testing.T, s string) {
	t.Helper()
	got, err := parseImageRef(s)
	want, wantErr := reference.ParseNormalizedNamed(s)
	if wantErr != nil {
		require.EqualError(t, err, wantErr.Error(), "%q", s)
		return
	}
	require.NoError(t, err, "%q", s)
	require.Equal(t, want.String(), got.String(), "%q", s)
	require.Equal(t, reference.TagNameOnly(want).String(), got.tagNameOnly().String(), "%q", s)
	for _, d := range []digest.Digest{digest.FromString(s), "sha512:" + digest.Digest(strings.Repeat("ab", 64)), "bad"} {
		wantD, wantErr := reference.WithDigest(want, d)
		gotD, err := got.withDigest(d)
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error(), "%q with %s", s, d)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, wantD.String(), gotD.String(), "%q with %s", s, d)
	}
}
