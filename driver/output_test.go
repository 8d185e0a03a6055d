package driver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExportFileAppearsOnlyOnCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dest := filepath.Join(dir, "img.tar")
	o := Output{Type: "oci", Dest: dest}

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

// A typed output is checked when the build starts: Dest is there exactly
// when the exporter writes a file or a directory.
func TestOutputDestChecked(t *testing.T) {
	t.Parallel()
	for _, o := range []Output{
		{Type: "oci"},
		{Type: "local"},
		{Type: "image", Dest: "x"},
		{Dest: "x"},
	} {
		_, err := o.prepare()
		require.Error(t, err, "%+v", o)
	}
	for _, tc := range []struct {
		o    Output
		want DestKind
	}{
		{Output{Type: "oci", Dest: "x"}, DestFile},
		{Output{Type: "oci", Dest: "x", Attrs: map[string]string{"tar": "false"}}, DestDir},
		{Output{Type: "tar", Dest: "x"}, DestFile},
		{Output{Type: "local", Dest: "x"}, DestDir},
		{Output{Type: "image"}, NoDest},
	} {
		require.Equal(t, tc.want, tc.o.DestKind(), "%+v", tc.o)
		require.NoError(t, tc.o.check())
	}
}
