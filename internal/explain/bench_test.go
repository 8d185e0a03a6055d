package explain

import (
	"fmt"
	gofs "io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tonistiigi/fsutil"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/offline"
)

// benchContext writes a context of n files of size bytes each, in 100
// folders.
func benchContext(b *testing.B, n, size int) string {
	b.Helper()
	dir := b.TempDir()
	dt := make([]byte, size)
	for i := range n {
		p := filepath.Join(dir, "src", fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d", i))
		if i < 100 {
			require.NoError(b, os.MkdirAll(filepath.Dir(p), 0o755))
		}
		dt[0], dt[1] = byte(i), byte(i>>8)
		require.NoError(b, os.WriteFile(p, dt, 0o644))
	}
	return dir
}

// benchStage is a 50-step build that copies the context.
func benchStage() dsl.Stage {
	s := dsl.From("busybox").Copy("src", "/src")
	for i := range 48 {
		s = s.Run(fmt.Sprintf("echo step %d > /s%d", i, i))
	}
	return s
}

// setupHistory hashes the context (warming the stat cache) and keeps Keep
// records of the build.
func setupHistory(b *testing.B, dir string) (*Store, *StatCache, *Record) {
	b.Helper()
	store := &Store{Dir: b.TempDir()}
	cache := LoadStatCache(filepath.Join(b.TempDir(), "stat.json"))
	for range Keep {
		r := benchRecord(b, dir, cache)
		require.NoError(b, store.Save(r))
	}
	require.NoError(b, cache.Save())
	return store, cache, benchRecord(b, dir, cache)
}

func benchRecord(b *testing.B, dir string, cache *StatCache) *Record {
	return benchRecordWalked(b, dir, cache, nil)
}

func benchRecordWalked(b *testing.B, dir string, cache *StatCache, walks *Walks) *Record {
	b.Helper()
	res, err := dsl.Compile(b.Context(), benchStage(), benchCompileOptions()...)
	require.NoError(b, err)
	dt, err := res.Definition.ToPB().MarshalVT()
	require.NoError(b, err)
	r := &Record{Definition: dt, Steps: map[string]*StepResult{}}
	g, err := r.Graph()
	require.NoError(b, err)
	for _, s := range g.Steps {
		r.Steps[s.Digest.String()] = &StepResult{Name: s.Name, Cached: true}
		if s.LocalName() != "" {
			files, err := HashContext(b.Context(), dir, s.Op.GetSource(), cache, walks)
			require.NoError(b, err)
			r.Contexts = map[string]*Context{s.LocalName(): {Dir: dir, Files: files}}
		}
	}
	return r
}

// BenchmarkPlanAndExplain: a 50-step build with a 10,000-file, 200 MB
// context and 20 records, after a first run (warm stat cache). plan is
// compile + hash the context + load the records + compare; explain is
// load the records + compare.
func BenchmarkPlanAndExplain(b *testing.B) {
	dir := benchContext(b, 10000, 20<<10)
	store, _, cur := setupHistory(b, dir)
	b.ResetTimer()
	b.Run("plan", func(b *testing.B) {
		sharedCache(b, dir) // warm: a first run hashed every file
		for b.Loop() {
			history, err := store.Load()
			require.NoError(b, err)
			r := benchRecord(b, dir, sharedCache(b, dir))
			lines, err := Plan(history, r)
			require.NoError(b, err)
			require.Nil(b, FirstRun(lines))
		}
	})
	b.Run("explain", func(b *testing.B) {
		for b.Loop() {
			history, err := store.Load()
			require.NoError(b, err)
			lines, err := Explain(history, cur)
			require.NoError(b, err)
			require.Nil(b, FirstRun(lines))
		}
	})
	// The floor the warm walk is measured against: a bare WalkDir that
	// lstats every path, in the same run.
	b.Run("walk-lstat", func(b *testing.B) {
		for b.Loop() {
			n := 0
			require.NoError(b, filepath.WalkDir(dir, func(p string, d gofs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				_, err = os.Lstat(p)
				n++
				return err
			}))
			require.Greater(b, n, 10000)
		}
	})
	b.Run("hash-context-warm", func(b *testing.B) {
		cache := sharedCache(b, dir)
		for b.Loop() {
			benchRecord(b, dir, cache)
		}
	})
}

// BenchmarkRecord is what a cached rebuild adds for its record once the
// daemon has solved it: the context's files read from the file sync's kept
// walk (warm stat cache), and the record saved among 20.
func BenchmarkRecord(b *testing.B) {
	dir := benchContext(b, 10000, 20<<10)
	store, cache, _ := setupHistory(b, dir)
	base, err := fsutil.NewFS(dir)
	require.NoError(b, err)
	var walks Walks
	syncWalk(b, walks.Wrap("context", base), &fsutil.FilterOpt{IncludePatterns: []string{"src"}, FollowPaths: []string{"src"}})
	for b.Loop() {
		r := benchRecordWalked(b, dir, cache, &walks)
		require.NoError(b, store.Save(r))
		require.NoError(b, cache.Save())
	}
}

var benchCaches = map[string]*StatCache{}

// sharedCache is one warm stat cache per context directory.
func sharedCache(b *testing.B, dir string) *StatCache {
	c := benchCaches[dir]
	if c == nil {
		c = LoadStatCache("")
		benchRecord(b, dir, c)
		benchCaches[dir] = c
	}
	return c
}

func benchCompileOptions() []dsl.CompileOption {
	return []dsl.CompileOption{dsl.WithResolver(offline.NewResolver(nil))}
}
