package dsl

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An archive's time is that of its newest regular file, compressed or not;
// what is not an archive has none.
func TestArchiveMaxTime(t *testing.T) {
	newest := time.Date(2011, 12, 13, 14, 15, 16, 0, time.UTC)
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	for _, h := range []tar.Header{
		{Name: "old.txt", Typeflag: tar.TypeReg, ModTime: newest.Add(-time.Hour)},
		{Name: "new.txt", Typeflag: tar.TypeReg, ModTime: newest},
		{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: newest.Add(time.Hour)},
	} {
		require.NoError(t, tw.WriteHeader(&h))
	}
	require.NoError(t, tw.Close())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(plain.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	for name, dt := range map[string][]byte{"tar": plain.Bytes(), "tar.gz": gz.Bytes()} {
		tm := archiveMaxTime(dt)
		require.NotNil(t, tm, name)
		require.True(t, newest.Equal(*tm), "%s: %v, want %v (a directory does not count)", name, tm, newest)
	}
	require.Nil(t, archiveMaxTime([]byte("just some text, not an archive\n")))
}
