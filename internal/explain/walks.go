package explain

// The file sync's own walks of the local directories, kept so that a
// build's record lists the files the daemon got without walking the
// context a second time.

import (
	"context"
	"errors"
	gofs "io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tonistiigi/fsutil"
)

// Walks keeps the walks the build's file sync made of its local
// directories. Wrap each directory the session serves; HashContext then
// replays a finished walk through the local source's own filter instead of
// walking the directory again. A walk made with other include or exclude
// patterns serves too, when it entered every directory the source's
// patterns enter; else (or when the daemon never asked for the directory)
// HashContext walks it itself.
type Walks struct {
	mu      sync.Mutex
	walks   map[string][]*walk
	n       int           // walks kept so far
	changed chan struct{} // closed at the next kept walk
}

// Kept is how many walks are kept so far, and a channel closed when the
// next one is.
func (w *Walks) Kept() (int, <-chan struct{}) {
	if w == nil {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	return w.n, w.changed
}

// Walked reports whether a walk of the local source name is kept.
func (w *Walks) Walked(name string) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.walks[name]) > 0
}

// walk is one Walk of a local directory, entry by entry, as the
// directory's FS gave it.
type walk struct {
	mu      sync.Mutex // held while replayed: its entries cache their stat
	entries []walkEntry
}

// walkEntry is what the walk gave the file sync for one path and what the
// file sync answered: skipped is true when it returned fs.SkipDir.
type walkEntry struct {
	path    string
	entry   gofs.DirEntry
	err     error
	skipped bool
}

// Wrap returns fs, keeping each walk of it under the local source name.
func (w *Walks) Wrap(name string, fs fsutil.FS) fsutil.FS {
	if w == nil {
		return fs
	}
	return &keptFS{FS: fs, name: name, walks: w}
}

// finished are the walks of name that ended without an error, newest
// first.
func (w *Walks) finished(name string) []*walk {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.walks[name]
	out := make([]*walk, 0, len(l))
	for i := len(l) - 1; i >= 0; i-- {
		out = append(out, l[i])
	}
	return out
}

// keptFS is a local directory whose walks are kept.
type keptFS struct {
	fsutil.FS
	name  string
	walks *Walks
}

// Walk walks the directory, keeping each entry and what fn answered.
func (k *keptFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	if target != "" && target != string(filepath.Separator) {
		return k.FS.Walk(ctx, target, fn) // part of the directory: not kept
	}
	wk := &walk{}
	err := k.FS.Walk(ctx, target, func(p string, d gofs.DirEntry, err error) error {
		ret := fn(p, d, err)
		wk.entries = append(wk.entries, walkEntry{path: p, entry: d, err: err, skipped: ret == filepath.SkipDir})
		return ret
	})
	if err == nil { // a walk that failed or was canceled is not kept
		k.walks.mu.Lock()
		if k.walks.walks == nil {
			k.walks.walks = map[string][]*walk{}
		}
		k.walks.walks[k.name] = append(k.walks.walks[k.name], wk)
		k.walks.n++
		if k.walks.changed != nil {
			close(k.walks.changed)
			k.walks.changed = nil
		}
		k.walks.mu.Unlock()
	}
	return err
}

// errIncomplete is a replay that needs a directory the kept walk did not
// enter.
var errIncomplete = errors.New("the kept walk did not enter a directory this walk needs")

// replayFS walks a kept walk again, without a system call: the entries keep
// the stat the file sync read. It fails with errIncomplete where the kept
// walk skipped what this walk needs.
type replayFS struct {
	fsutil.FS
	walk *walk
}

// Walk gives fn the kept entries of target (the whole directory, or one
// path and what is under it), following its SkipDir answers as
// filepath.WalkDir does.
func (r replayFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries := r.walk.entries
	target = strings.TrimPrefix(filepath.Clean(string(filepath.Separator)+target), string(filepath.Separator))
	if target != "" {
		i := slices.IndexFunc(entries, func(e walkEntry) bool { return e.path == target })
		if i < 0 {
			// Missing from a directory the walk read: not there.
			if !r.walk.entered(filepath.Dir(target)) {
				return errIncomplete
			}
			return skipNotExist(fn(target, nil, &gofs.PathError{Op: "lstat", Path: target, Err: gofs.ErrNotExist}))
		}
		j := i + 1
		for j < len(entries) && strings.HasPrefix(entries[j].path, target+string(filepath.Separator)) {
			j++
		}
		entries = entries[i:j]
	}
	skip := "" // entries under this prefix are skipped
	for _, e := range entries {
		if skip != "" && strings.HasPrefix(e.path, skip) {
			continue
		}
		skip = ""
		ret := skipNotExist(fn(e.path, e.entry, e.err))
		isDir := e.entry != nil && e.entry.IsDir()
		switch {
		case ret == filepath.SkipDir && isDir:
			skip = e.path + string(filepath.Separator)
		case ret == filepath.SkipDir:
			// The rest of its directory is skipped.
			dir := filepath.Dir(e.path)
			if dir == "." {
				return nil
			}
			skip = dir + string(filepath.Separator)
		case ret == gofs.SkipAll:
			return nil
		case ret != nil:
			return ret
		case e.skipped:
			return errIncomplete // this walk enters what the kept one skipped
		}
	}
	return nil
}

// skipNotExist is what fsutil's walk makes of an error for a path that is
// gone: SkipDir.
func skipNotExist(err error) error {
	if err != nil && errors.Is(err, gofs.ErrNotExist) {
		return filepath.SkipDir
	}
	return err
}

// entered reports whether the walk listed everything in dir.
func (w *walk) entered(dir string) bool {
	if dir == "." || dir == "" {
		return true
	}
	for _, e := range w.entries {
		if e.path == dir {
			return e.entry != nil && e.entry.IsDir() && !e.skipped && e.err == nil
		}
	}
	return false
}
