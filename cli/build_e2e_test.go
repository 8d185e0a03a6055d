package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// --metadata-file is written as buildctl writes it: the exporter response
// as JSON, with the image digest and the decoded descriptor.
func TestBuildWritesMetadataFile(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	meta := filepath.Join(dir, "metadata.json")
	archive := filepath.Join(dir, "img.tar")
	_, stderr, code := run(t, "--addr", env.BuildkitHost, "--progress", "quiet",
		"--output", "type=oci,dest="+archive, "--metadata-file", meta, "--no-cache")
	require.Equal(t, 0, code, stderr)
	dt, err := os.ReadFile(meta)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(dt, &got), "%s", dt)
	dgst, ok := got["containerimage.digest"].(string)
	require.True(t, ok, "%s", dt)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, dgst)
	desc, ok := got["containerimage.descriptor"].(map[string]any)
	require.True(t, ok, "the descriptor is decoded JSON: %s", dt)
	require.Equal(t, dgst, desc["digest"])
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "the archive and the metadata, no temporary files")
}

// --output type=cacheonly builds and exports nothing, as buildx's does.
func TestBuildCacheOnlyWritesNothing(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	t.Chdir(dir)
	_, stderr, code := run(t, "--addr", env.BuildkitHost, "--progress", "quiet", "--output", "type=cacheonly")
	require.Equal(t, 0, code, stderr)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no archive is written")
}
