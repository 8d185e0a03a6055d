package explain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/solver/pb"
	"github.com/stretchr/testify/require"
)

func TestStoreKeepsTheLast(t *testing.T) {
	t.Parallel()
	s := &Store{Dir: t.TempDir(), Keep: 3}
	r := record(t, base())
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		c := *r
		c.Time = start.Add(time.Duration(i) * time.Second)
		c.BuildArgs = map[string]string{"N": fmt.Sprint(i)}
		require.NoError(t, s.Save(&c))
	}
	got, err := s.Load()
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "2", got[0].BuildArgs["N"])
	require.Equal(t, "4", got[2].BuildArgs["N"])
}

func TestStoreSkipsADamagedRecord(t *testing.T) {
	t.Parallel()
	var warnings []string
	s := &Store{Dir: t.TempDir(), Warn: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }}
	require.NoError(t, s.Save(record(t, base())))
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir, "30000101T000000.000000000Z-1.json"), []byte(`{"version":1,"definition":"AAAA`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir, "30000101T000000.000000000Z-2.json"), []byte(`{"version":1,"definition":"/////w=="}`), 0o644))
	got, err := s.Load()
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, warnings, 2)
	require.Contains(t, warnings[0], "skipping the damaged build record")
	// A build after a damaged record still saves its own.
	require.NoError(t, s.Save(record(t, base())))
	got, err = s.Load()
	require.NoError(t, err)
	require.Len(t, got, 2)
}

func TestStoreFullDirectory(t *testing.T) {
	t.Parallel()
	// A file where the directory should be fails for every user, root
	// too (a read-only directory would not stop root).
	dir := filepath.Join(t.TempDir(), "records")
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	s := &Store{Dir: filepath.Join(dir, "prog")}
	err := s.Save(record(t, base()))
	require.ErrorContains(t, err, "saving the build record")
	_, err = s.Load()
	require.Error(t, err)
}

func TestStoreTwoWritersAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := record(t, base())
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := *r
			c.BuildArgs = map[string]string{"N": fmt.Sprint(i)}
			errs <- (&Store{Dir: dir, Keep: 5}).Save(&c)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var warned []string
	got, err := (&Store{Dir: dir, Warn: func(f string, a ...any) { warned = append(warned, f) }}).Load()
	require.NoError(t, err)
	require.Len(t, got, 5)
	require.Empty(t, warned)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		require.False(t, strings.Contains(e.Name(), ".tmp-"), e.Name())
	}
}

func TestHashContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, s string, mode os.FileMode) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(s), mode))
	}
	write("app/a.txt", "a", 0o644)
	write("app/skip.log", "x", 0o644)
	write("other/b.txt", "b", 0o644)
	src := &pb.SourceOp{Identifier: "local://context", Attrs: map[string]string{
		pb.AttrFollowPaths:     `["app"]`,
		pb.AttrExcludePatterns: `["**/*.log"]`,
	}}
	cache := LoadStatCache(filepath.Join(t.TempDir(), "stat.json"))
	files, err := HashContext(t.Context(), dir, src, cache, nil)
	require.NoError(t, err)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	require.Equal(t, []string{"app", "app/a.txt"}, paths)
	require.Equal(t, "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", files[1].Digest)
	require.NoError(t, cache.Save())

	// The cache answers for an unchanged file: a poisoned entry shows it.
	abs := filepath.Join(dir, "app/a.txt")
	e := cache.entries[abs]
	e.Digest = "sha256:cached"
	cache.entries[abs] = e
	files, err = HashContext(t.Context(), dir, src, cache, nil)
	require.NoError(t, err)
	require.Equal(t, "sha256:cached", files[1].Digest)
	// A changed file is read again.
	write("app/a.txt", "bb", 0o644)
	files, err = HashContext(t.Context(), dir, src, cache, nil)
	require.NoError(t, err)
	require.NotEqual(t, "sha256:cached", files[1].Digest)
	require.Equal(t, int64(2), files[1].Size)
	// A reloaded cache has what was saved.
	require.NoError(t, cache.Save())
	require.Len(t, LoadStatCache(cache.path).entries, 1)
}

// File lists are kept once per content beside the records, read back when
// a comparison needs them, and removed with the last record naming them.
func TestStoreFileLists(t *testing.T) {
	t.Parallel()
	var warned []string
	s := &Store{Dir: t.TempDir(), Keep: 2, Warn: func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }}
	files := func(d string) map[string]*Context {
		return map[string]*Context{"context": {Dir: "/x", Files: []File{{Path: "a", Digest: d, Size: 1, Mode: 0o644}}}}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, d := range []string{"sha256:1", "sha256:1", "sha256:2", "sha256:2"} {
		r := record(t, base())
		r.Time = start.Add(time.Duration(i) * time.Second)
		r.Contexts = files(d)
		require.NoError(t, s.Save(r))
		lists, err := os.ReadDir(filepath.Join(s.Dir, "files"))
		require.NoError(t, err)
		require.Len(t, lists, map[int]int{0: 1, 1: 1, 2: 2, 3: 1}[i], "after save %d", i)
	}
	got, err := s.Load()
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "sha256:2", got[1].context("context").Files[0].Digest)

	lists, err := os.ReadDir(filepath.Join(s.Dir, "files"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir, "files", lists[0].Name()), []byte(`[{"p":"b"}]`), 0o644))
	got, err = s.Load()
	require.NoError(t, err)
	require.Nil(t, got[0].context("context"))
	require.Len(t, warned, 1)
	require.Contains(t, warned[0], "content does not match its name")
}

// A file list is encoded as encoding/json does, since its digest names it.
func TestEncodeFiles(t *testing.T) {
	t.Parallel()
	for _, files := range [][]File{nil, {}, {
		{Path: "src", Mode: 0x800001ed},
		{Path: "src/a b.txt", Digest: "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", Size: 20480, Mode: 0o644},
		{Path: "src/empty", Digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Mode: 0o600},
		{Path: "link", Digest: "link:../x <&> \"q\" \\", Mode: 0x80000000 | 0o777},
		{Path: "ünï\u2028\n\t\x01\xff", Digest: "sha256:00", Size: -1, Mode: 0},
	}} {
		want, err := json.Marshal(files)
		require.NoError(t, err)
		got, err := encodeFiles(files)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}
