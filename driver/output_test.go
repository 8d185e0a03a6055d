package driver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseOutput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Output
		kind destKind
	}{
		{"type=oci,dest=out.tar", Output{Type: "oci", Dest: "out.tar", Attrs: map[string]string{}}, destFile},
		{"type=docker,dest=out.tar,name=x:1", Output{Type: "docker", Dest: "out.tar", Attrs: map[string]string{"name": "x:1"}}, destFile},
		{"type=oci,tar=false,dest=layout", Output{Type: "oci", Dest: "layout", Attrs: map[string]string{"tar": "false"}}, destDir},
		{"type=local,dest=dir", Output{Type: "local", Dest: "dir", Attrs: map[string]string{}}, destDir},
		{"type=tar,dest=fs.tar", Output{Type: "tar", Dest: "fs.tar", Attrs: map[string]string{}}, destFile},
		{`type=image,"name=reg:5000/a:1,reg:5000/a:latest",push=true`, Output{Type: "image", Attrs: map[string]string{"name": "reg:5000/a:1,reg:5000/a:latest", "push": "true"}}, destNone},
		{"TYPE=image,Push=true", Output{Type: "image", Attrs: map[string]string{"push": "true"}}, destNone},
		{"type=cacheonly", Output{Type: "cacheonly", Attrs: map[string]string{}}, destNone},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseOutput(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.kind, got.kind())
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
		_, err := ParseOutput(in)
		require.ErrorContains(t, err, want, "input %q", in)
	}
}

func TestExportFileAppearsOnlyOnCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dest := filepath.Join(dir, "img.tar")
	o, err := ParseOutput("type=oci,dest=" + dest)
	require.NoError(t, err)

	e, err := o.prepare()
	require.NoError(t, err)
	w, err := e.entry.Output(nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("half an archive"))
	require.NoError(t, err)
	require.NoFileExists(t, dest, "nothing at the destination while the build runs")
	e.discard()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "a failed build leaves nothing behind")

	e, err = o.prepare()
	require.NoError(t, err)
	w, err = e.entry.Output(nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("archive"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, e.commit())
	dt, err := os.ReadFile(dest)
	require.NoError(t, err)
	require.Equal(t, "archive", string(dt))
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}
