package driver

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/stretchr/testify/require"
	"github.com/tonistiigi/fsutil"

	"github.com/slipway-build/slipway/dsl"
)

// The build context's guard: a directory gone by the time the daemon walks
// it, or opens one of its files, is an error that names it, where fsutil
// alone would send it as empty.
func TestGuardedContext(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644))
	inner, err := fsutil.NewFS(dir)
	require.NoError(t, err)
	g := guardedFS{FS: inner, dir: dir}

	var walked []string
	require.NoError(t, g.Walk(t.Context(), "", func(p string, _ fs.DirEntry, err error) error {
		walked = append(walked, p)
		return err
	}))
	require.Equal(t, []string{"a.txt"}, walked)
	rc, err := g.Open("a.txt")
	require.NoError(t, err)
	require.NoError(t, rc.Close())

	require.NoError(t, os.RemoveAll(dir))
	want := "build context " + dir + " vanished during the build"
	err = g.Walk(t.Context(), "", func(string, fs.DirEntry, error) error { return nil })
	require.EqualError(t, err, want)
	_, err = g.Open("a.txt")
	require.EqualError(t, err, want)

	// A file missing from a directory that is still there is fsutil's own
	// error, not the guard's.
	require.NoError(t, os.Mkdir(dir, 0o755))
	_, err = g.Open("a.txt")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// After a solve, a context directory the build read and that is gone now
// fails the build: it may have been read in part. Contexts it did not read,
// and images, are not looked at.
func TestContextsStillThere(t *testing.T) {
	main, conf, unused := t.TempDir(), t.TempDir(), t.TempDir()
	st := llb.Image("busybox").File(llb.Copy(llb.Local("context"), "/", "/a")).File(llb.Copy(llb.Local("conf"), "/", "/b"))
	def, err := st.Marshal(t.Context())
	require.NoError(t, err)
	res := &dsl.Result{Definition: def}
	o := BuildOptions{ContextDir: main, Contexts: map[string]string{"conf": conf, "unused": unused, "img": "docker-image://busybox"}}
	require.NoError(t, o.contextsStillThere(res, nil))

	require.NoError(t, os.RemoveAll(unused))
	require.NoError(t, o.contextsStillThere(res, nil), "a context the build did not read")
	require.NoError(t, os.RemoveAll(conf))
	require.EqualError(t, o.contextsStillThere(res, nil), "build context "+conf+" vanished during the build")
	require.NoError(t, os.Mkdir(conf, 0o755))
	require.NoError(t, os.RemoveAll(main))
	require.EqualError(t, o.contextsStillThere(nil, map[string]*dsl.Result{"linux/amd64": res}), "build context "+main+" vanished during the build")
}
