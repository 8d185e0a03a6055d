package driver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"
)

// writeIndex makes dir an OCI layout whose index.json tags the digests.
func writeIndex(t *testing.T, dir string, tags map[string]digest.Digest) {
	t.Helper()
	idx := ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	for tag, d := range tags {
		idx.Manifests = append(idx.Manifests, ocispecs.Descriptor{
			MediaType: ocispecs.MediaTypeImageManifest, Digest: d, Size: 1,
			Annotations: map[string]string{ocispecs.AnnotationRefName: tag},
		})
	}
	dt, err := json.Marshal(idx)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ocispecs.ImageIndexFile), dt, 0o644))
}

// An OCI layout context is read as buildx reads one: PATH[:TAG][@DIGEST],
// the digest from the index's tag when not given, and a store name that
// stays the same for the same directory.
func TestParseOCILayout(t *testing.T) {
	dir := t.TempDir()
	latest := digest.FromString("latest")
	v1 := digest.FromString("v1")
	writeIndex(t, dir, map[string]digest.Digest{"latest": latest, "v1": v1})

	l, err := parseOCILayout("oci-layout://" + dir)
	require.NoError(t, err)
	require.Equal(t, latest, l.digest)
	require.Equal(t, "latest", l.tag)

	l, err = parseOCILayout("oci-layout://" + dir + ":v1")
	require.NoError(t, err)
	require.Equal(t, v1, l.digest)
	spec, err := l.spec()
	require.NoError(t, err)
	require.Regexp(t, `^oci-layout://oci-layout-[0-9a-f]{16}:v1@`+v1.String()+`$`, spec)
	again, err := parseOCILayout("oci-layout://" + dir + "/./:v1")
	require.NoError(t, err)
	spec2, err := again.spec()
	require.NoError(t, err)
	require.Equal(t, spec, spec2, "the same directory, the same store")

	other := digest.FromString("untagged")
	l, err = parseOCILayout("oci-layout://" + dir + "@" + other.String())
	require.NoError(t, err, "a digest needs no tag")
	require.Equal(t, other, l.digest)

	id, store, err := l.store()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "oci-layout-"))
	require.NotNil(t, store)

	for v, msg := range map[string]string{
		"oci-layout://" + dir + ":v2":       `the OCI layout tags no image "v2" (it tags`,
		"oci-layout://" + dir + "@sha256:0": "digest: invalid checksum digest length",
		"oci-layout://" + dir + "/missing":  "is not an OCI layout",
		"oci-layout://":                     "want oci-layout://PATH[:TAG][@DIGEST]",
		"oci-layout://" + dir + ":":         "want oci-layout://PATH[:TAG][@DIGEST]",
	} {
		_, err := parseOCILayout(v)
		require.ErrorContains(t, err, msg, v)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, ocispecs.ImageIndexFile), []byte("{"), 0o644))
	_, err = parseOCILayout("oci-layout://" + dir)
	require.ErrorContains(t, err, "is not an OCI layout: index.json")
}
