package explain

import (
	"context"
	gofs "io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/stretchr/testify/require"
	"github.com/tonistiigi/fsutil"
)

// syncWalk walks fs as the session's file sync does: through a filter
// with the request's patterns, reading each entry's stat.
func syncWalk(t testing.TB, fs fsutil.FS, opt *fsutil.FilterOpt) {
	t.Helper()
	f, err := fsutil.NewFilterFS(fs, opt)
	require.NoError(t, err)
	require.NoError(t, f.Walk(context.Background(), "/", func(_ string, d gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		_, err = d.Info()
		return err
	}))
}

func paths(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

// A record reads the file sync's own walk where it covers the source's
// patterns, and walks the directory itself where it does not.
func TestHashContextReusesTheFileSyncWalk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for p, s := range map[string]string{"app/a.txt": "a", "app/skip.log": "x", "app/sub/c.txt": "c", "other/b.txt": "b", "top.txt": "t"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644))
	}
	require.NoError(t, os.Symlink("app/a.txt", filepath.Join(dir, "link")))
	require.NoError(t, os.Link(filepath.Join(dir, "top.txt"), filepath.Join(dir, "hard.txt")))
	appOnly := &pb.SourceOp{Identifier: "local://context", Attrs: map[string]string{
		pb.AttrFollowPaths:     `["app"]`,
		pb.AttrIncludePatterns: `["app"]`,
		pb.AttrExcludePatterns: `["**/*.log"]`,
	}}
	otherOnly := &pb.SourceOp{Identifier: "local://context", Attrs: map[string]string{
		pb.AttrIncludePatterns: `["other"]`,
	}}
	all := &pb.SourceOp{Identifier: "local://context"}
	cache := LoadStatCache("")
	want := map[*pb.SourceOp][]File{}
	for _, src := range []*pb.SourceOp{appOnly, otherOnly, all} {
		files, err := HashContext(t.Context(), dir, src, cache, nil)
		require.NoError(t, err)
		want[src] = files
	}
	require.Equal(t, []string{"app", "app/a.txt", "app/sub", "app/sub/c.txt"}, paths(want[appOnly]))
	require.Equal(t, []string{"app", "app/a.txt", "app/skip.log", "app/sub", "app/sub/c.txt", "hard.txt", "link", "other", "other/b.txt", "top.txt"}, paths(want[all]))
	require.Equal(t, "link:app/a.txt", want[all][6].Digest)

	base, err := fsutil.NewFS(dir)
	require.NoError(t, err)
	var walks Walks
	n, changed := walks.Kept()
	require.Zero(t, n)
	require.False(t, walks.Walked("context"))
	syncWalk(t, walks.Wrap("context", base), &fsutil.FilterOpt{IncludePatterns: []string{"app"}, ExcludePatterns: []string{"**/*.log"}, FollowPaths: []string{"app"}})
	<-changed // a kept walk is told
	n, _ = walks.Kept()
	require.Equal(t, 1, n)
	require.True(t, walks.Walked("context"))
	require.False(t, walks.Walked("named"))
	// What the daemon got is recorded, not what is on the disk now.
	require.NoError(t, os.Remove(filepath.Join(dir, "app/sub/c.txt")))
	files, err := HashContext(t.Context(), dir, appOnly, cache, &walks)
	require.NoError(t, err)
	require.Equal(t, want[appOnly], files)
	// The walk skipped other/: a source that reads it walks the disk.
	files, err = HashContext(t.Context(), dir, otherOnly, cache, &walks)
	require.NoError(t, err)
	require.Equal(t, want[otherOnly], files)
	// So does a source of a directory the file sync never walked.
	files, err = HashContext(t.Context(), dir, &pb.SourceOp{Identifier: "local://named"}, cache, &walks)
	require.NoError(t, err)
	require.NotContains(t, paths(files), "app/sub/c.txt")

	// A walk of the whole directory serves every pattern.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app/sub/c.txt"), []byte("c"), 0o644))
	var whole Walks
	syncWalk(t, whole.Wrap("context", base), &fsutil.FilterOpt{})
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "other")))
	// Every field as the walk of the disk (statFS) gave it: fsutil's stat
	// and ours agree.
	for _, src := range []*pb.SourceOp{appOnly, otherOnly, all} {
		files, err := HashContext(t.Context(), dir, src, cache, &whole)
		require.NoError(t, err)
		require.Equal(t, want[src], files)
	}
}

// The stat cache reads back what it saved, reads its first (JSON) format,
// and is empty when damaged.
func TestStatCacheFormats(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "stat")
	c := LoadStatCache(p)
	want := map[string]statEntry{
		"/a/b c":     {Size: 3, Mtime: 1765152000123456789, Ino: 7, Digest: "sha256:ab"},
		"/a/\nweird": {Size: 0, Mtime: -1, Digest: "sha256:e3"},
	}
	c.entries, c.dirty = want, true
	require.NoError(t, c.Save())
	require.Equal(t, want, LoadStatCache(p).entries)

	require.NoError(t, os.WriteFile(p, []byte(`{"/a":{"s":1,"t":2,"i":3,"d":"sha256:x"}}`), 0o644))
	require.Equal(t, map[string]statEntry{"/a": {Size: 1, Mtime: 2, Ino: 3, Digest: "sha256:x"}}, LoadStatCache(p).entries)

	for _, damaged := range []string{statCacheHeader + "/a\x001\x002\x00", statCacheHeader + "/a\x00x\x002\x003\x00d\x00", "{"} {
		require.NoError(t, os.WriteFile(p, []byte(damaged), 0o644))
		require.Empty(t, LoadStatCache(p).entries, "%q", damaged)
	}
}
