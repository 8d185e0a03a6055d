package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
)

func TestParseOutput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want driver.Output
		kind driver.DestKind
	}{
		{"type=oci,dest=out.tar", driver.Output{Type: "oci", Dest: "out.tar", Attrs: map[string]string{}}, driver.DestFile},
		{"type=docker,dest=out.tar,name=x:1", driver.Output{Type: "docker", Dest: "out.tar", Attrs: map[string]string{"name": "x:1"}}, driver.DestFile},
		{"type=oci,tar=false,dest=layout", driver.Output{Type: "oci", Dest: "layout", Attrs: map[string]string{"tar": "false"}}, driver.DestDir},
		{"type=local,dest=dir", driver.Output{Type: "local", Dest: "dir", Attrs: map[string]string{}}, driver.DestDir},
		{"type=tar,dest=fs.tar", driver.Output{Type: "tar", Dest: "fs.tar", Attrs: map[string]string{}}, driver.DestFile},
		{`type=image,"name=reg:5000/a:1,reg:5000/a:latest",push=true`, driver.Output{Type: "image", Attrs: map[string]string{"name": "reg:5000/a:1,reg:5000/a:latest", "push": "true"}}, driver.NoDest},
		{"TYPE=image,Push=true", driver.Output{Type: "image", Attrs: map[string]string{"push": "true"}}, driver.NoDest},
		{"type=cacheonly", driver.Output{Type: "cacheonly", Attrs: map[string]string{}}, driver.NoDest},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseOutput(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.kind, got.DestKind())
		})
	}
}

func TestParseOutputErrors(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                        "type=<type> is required",
		"dest=x":                  "type=<type> is required",
		"type=oci":                "dest=FILE is required for the oci exporter",
		"type=oci,dest=-":         "dest=FILE is required",
		"type=local":              "dest=DIR is required for the local exporter",
		"type=image,dest=x":       "the image exporter takes no dest",
		"type=cacheonly,dest=x":   "the cacheonly exporter takes no dest",
		"type=oci,output=x":       "output=x is not supported, you meant dest=x?",
		"type=oci,novalue":        `field "novalue" is not key=value`,
		`type=oci,"dest=unclosed`: `--output "type=oci,\"dest=unclosed"`,
	} {
		_, err := parseOutput(in)
		require.ErrorContains(t, err, want, "input %q", in)
	}
}

func TestWriteMetadataFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "metadata.json")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	desc := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:abc","size":1}`
	err := writeMetadataFile(path, map[string]string{
		"containerimage.digest":     "sha256:abc",
		"containerimage.descriptor": base64.StdEncoding.EncodeToString([]byte(desc)),
		"image.name":                "reg/x:1",
		"not.an.object":             base64.StdEncoding.EncodeToString([]byte(`"a string"`)),
	})
	require.NoError(t, err)
	dt, err := os.ReadFile(path)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(dt, &got))
	require.Equal(t, map[string]any{
		"containerimage.digest": "sha256:abc",
		"containerimage.descriptor": map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:abc", "size": float64(1),
		},
		"image.name":    "reg/x:1",
		"not.an.object": base64.StdEncoding.EncodeToString([]byte(`"a string"`)),
	}, got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")

	err = writeMetadataFile(filepath.Join(dir, "no", "such", "dir.json"), nil)
	require.ErrorContains(t, err, "writing metadata file "+filepath.Join(dir, "no", "such", "dir.json"))
}
