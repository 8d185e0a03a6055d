package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	for _, write := range []func(string, []byte, os.FileMode) error{Write, WriteCache} {
		testWrite(t, write)
	}
}

func testWrite(t *testing.T, write func(string, []byte, os.FileMode) error) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	require.NoError(t, write(p, []byte("one"), 0o600))
	require.NoError(t, write(p, []byte("two"), 0o644))
	dt, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "two", string(dt))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	// A destination that cannot be replaced (a directory) leaves nothing
	// behind and the directory as it was.
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.MkdirAll(filepath.Join(sub, "inner"), 0o755))
	require.Error(t, write(sub, []byte("x"), 0o644))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file left")
	require.DirExists(t, filepath.Join(sub, "inner"))
}
