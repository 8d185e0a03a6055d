//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package explain

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on a record directory, so that two builds
// of one program never remove each other's records half way.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// inode is the file's inode number, for the stat cache.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
