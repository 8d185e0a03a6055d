package explain

// A local directory walked as fsutil's FS walks it, with one system call
// per path instead of two: the stat fsutil gives every path the filter
// admits also lists its extended attributes, which a record does not keep.

import (
	"context"
	"errors"
	gofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

// newStatFS is the directory abs to walk for a plan or a record; on Windows
// fsutil's own, which also changes the modes.
func newStatFS(abs string) (fsutil.FS, error) {
	base, err := fsutil.NewFS(abs)
	if err != nil || runtime.GOOS == "windows" {
		return base, err
	}
	return statFS{FS: base, root: abs}, nil
}

// statFS walks like fsutil.NewFS: the same paths, relative, in the same
// order, each entry's Info a *fsutil.StatInfo with the fields a record
// reads (mode less the socket bit, size, mtime) as fsutil sets them.
type statFS struct {
	fsutil.FS
	root string
}

// Walk walks the directory under target.
func (s statFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	return filepath.WalkDir(filepath.Join(s.root, target), func(p string, d gofs.DirEntry, walkErr error) (ret error) {
		defer func() {
			if ret != nil && (errors.Is(ret, os.ErrNotExist) || errors.Is(ret, syscall.ENOTDIR)) {
				ret = filepath.SkipDir // as fsutil's walk does
			}
		}()
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var e gofs.DirEntry
		if d != nil {
			e = &lazyEntry{DirEntry: d, rel: rel}
		}
		return fn(rel, e, walkErr)
	})
}

// lazyEntry reads its stat when first asked.
type lazyEntry struct {
	gofs.DirEntry
	rel string
	st  *types.Stat
}

// Info is the entry's lstat as fsutil's stat.
func (e *lazyEntry) Info() (gofs.FileInfo, error) {
	if e.st == nil {
		fi, err := e.DirEntry.Info()
		if err != nil {
			return nil, err
		}
		st := &types.Stat{Path: e.rel, Mode: uint32(fi.Mode()) &^ uint32(os.ModeSocket), ModTime: fi.ModTime().UnixNano()}
		if !fi.IsDir() {
			st.Size = fi.Size()
		}
		e.st = st
	}
	return &fsutil.StatInfo{Stat: e.st.Clone()}, nil
}
