package explain

// The files a local source sends, found as the session's file sync finds
// them (fsutil's filter with the source's include, exclude and follow
// patterns) and hashed with a stat cache.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	gofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/solver/pb"
	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"

	"github.com/slipway-build/slipway/internal/atomicfile"
)

// StatCache remembers the content digest of files by path, size,
// modification time and inode, so that a file that did not change is not
// read again.
type StatCache struct {
	path    string
	ready   chan struct{} // closed once entries are read; nil: read
	mu      sync.Mutex
	entries map[string]statEntry
	dirty   bool
}

type statEntry struct {
	Size   int64  `json:"s"`
	Mtime  int64  `json:"t"`
	Ino    uint64 `json:"i"`
	Digest string `json:"d"`
}

// LoadStatCache reads the stat cache at path; a missing or damaged one is
// empty. An empty path keeps the cache in memory only.
func LoadStatCache(path string) *StatCache {
	c := &StatCache{path: path, entries: map[string]statEntry{}}
	if path == "" {
		return c
	}
	dt, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if rest, ok := strings.CutPrefix(string(dt), statCacheHeader); ok {
		if c.entries, ok = parseStatCache(rest); !ok {
			c.entries = map[string]statEntry{}
		}
	} else if json.Unmarshal(dt, &c.entries) != nil { // the first format
		c.entries = map[string]statEntry{}
	} else {
		c.dirty = true // saved again in this one
	}
	return c
}

// statCacheHeader starts a stat cache file; then each entry is its path,
// size, modification time, inode and digest, each ended by a NUL byte
// (which no path holds): read at every build and plan, it decodes ten
// times faster than JSON.
const statCacheHeader = "slipway stat cache 2\n"

// parseStatCache reads the entries after the header; false for a damaged
// file.
func parseStatCache(s string) (map[string]statEntry, bool) {
	m := make(map[string]statEntry, strings.Count(s, "\x00")/5)
	for s != "" {
		var f [5]string
		for i := range f {
			var ok bool
			if f[i], s, ok = strings.Cut(s, "\x00"); !ok {
				return nil, false
			}
		}
		size, err1 := strconv.ParseInt(f[1], 10, 64)
		mtime, err2 := strconv.ParseInt(f[2], 10, 64)
		ino, err3 := strconv.ParseUint(f[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, false
		}
		m[f[0]] = statEntry{Size: size, Mtime: mtime, Ino: ino, Digest: f[4]}
	}
	return m, true
}

// LoadStatCacheAsync is LoadStatCache reading the file in the background:
// the cache's first use waits for it.
func LoadStatCacheAsync(path string) *StatCache {
	c := &StatCache{path: path, ready: make(chan struct{})}
	go func() {
		l := LoadStatCache(path)
		c.entries, c.dirty = l.entries, l.dirty
		close(c.ready)
	}()
	return c
}

// wait waits until the entries are read.
func (c *StatCache) wait() {
	if c.ready != nil {
		<-c.ready
	}
}

// Save writes the cache back if it changed.
func (c *StatCache) Save() error {
	c.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || c.path == "" {
		return nil
	}
	dt := make([]byte, 0, len(statCacheHeader)+len(c.entries)*160)
	dt = append(dt, statCacheHeader...)
	for p, e := range c.entries {
		if strings.Contains(p, "\x00") {
			continue
		}
		dt = append(append(dt, p...), 0)
		dt = append(strconv.AppendInt(dt, e.Size, 10), 0)
		dt = append(strconv.AppendInt(dt, e.Mtime, 10), 0)
		dt = append(strconv.AppendUint(dt, e.Ino, 10), 0)
		dt = append(append(dt, e.Digest...), 0)
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteCache(c.path, dt, 0o644); err != nil {
		return fmt.Errorf("saving the stat cache: %w", err)
	}
	c.dirty = false
	return nil
}

func (c *StatCache) digest(abs string, fi os.FileInfo) (string, error) {
	key := statEntry{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ino: inode(fi)}
	c.wait()
	c.mu.Lock()
	e, ok := c.entries[abs]
	c.mu.Unlock()
	if ok && e.Size == key.Size && e.Mtime == key.Mtime && e.Ino == key.Ino {
		return e.Digest, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	key.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	c.mu.Lock()
	c.entries[abs] = key
	c.dirty = true
	c.mu.Unlock()
	return key.Digest, nil
}

// patterns reads a local source's attribute, a JSON list.
func patterns(attrs map[string]string, key string) ([]string, error) {
	v := attrs[key]
	if v == "" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(v), &l); err != nil {
		return nil, fmt.Errorf("reading %s of the local source: %w", key, err)
	}
	return l, nil
}

// HashContext lists the files of dir that the local source src sends,
// with their digests, sorted by path. When walks holds a finished walk of
// the source's directory (the build's file sync), the list is read from it
// rather than from the disk; else dir is walked with the source's filter.
func HashContext(ctx context.Context, dir string, src *pb.SourceOp, cache *StatCache, walks *Walks) ([]File, error) {
	if cache == nil {
		cache = LoadStatCache("")
	}
	attrs := src.GetAttrs()
	var opt fsutil.FilterOpt
	var err error
	if opt.IncludePatterns, err = patterns(attrs, pb.AttrIncludePatterns); err != nil {
		return nil, err
	}
	if opt.ExcludePatterns, err = patterns(attrs, pb.AttrExcludePatterns); err != nil {
		return nil, err
	}
	if opt.FollowPaths, err = patterns(attrs, pb.AttrFollowPaths); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("hashing the context %s: %w", dir, err)
	}
	name, _ := strings.CutPrefix(src.GetIdentifier(), "local://")
	for _, w := range walks.finished(name) {
		w.mu.Lock()
		files, err := hashWalk(ctx, abs, replayFS{walk: w}, &opt, cache)
		w.mu.Unlock()
		if !errors.Is(err, errIncomplete) {
			return files, err
		}
	}
	base, err := newStatFS(abs)
	if err != nil {
		return nil, fmt.Errorf("hashing the context %s: %w", dir, err)
	}
	return hashWalk(ctx, abs, base, &opt, cache)
}

// hashWalk walks base through the filter opt and hashes the files it
// lists; abs is the directory base reads.
func hashWalk(ctx context.Context, abs string, base fsutil.FS, opt *fsutil.FilterOpt, cache *StatCache) ([]File, error) {
	fs, err := fsutil.NewFilterFS(base, opt)
	if err != nil {
		return nil, fmt.Errorf("hashing the context %s: %w", abs, err)
	}
	// The walk first, then the digests: a stat cache still being read
	// holds up only the second part.
	var files []File
	type regular struct {
		i  int
		fi os.FileInfo
	}
	var regulars []regular
	err = fs.Walk(ctx, "", func(p string, d gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f := File{Path: filepath.ToSlash(p), Mode: uint32(fi.Mode())}
		switch {
		case fi.Mode().IsRegular():
			f.Size = fi.Size()
			regulars = append(regulars, regular{len(files), fi})
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := linkTarget(abs, p, fi)
			if err != nil {
				return err
			}
			f.Digest = "link:" + target
		}
		files = append(files, f)
		return nil
	})
	for _, r := range regulars {
		if err != nil {
			break
		}
		files[r.i].Digest, err = cache.digest(filepath.Join(abs, filepath.FromSlash(files[r.i].Path)), r.fi)
	}
	if errors.Is(err, errIncomplete) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("hashing the context %s: %w", abs, err)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// linkTarget is where the symlink p points: from its stat, read as the
// file sync read it, or else from the disk.
func linkTarget(abs, p string, fi os.FileInfo) (string, error) {
	if st, ok := fi.Sys().(*types.Stat); ok && st.Linkname != "" {
		return st.Linkname, nil
	}
	return os.Readlink(filepath.Join(abs, p))
}
