// Package atomicfile writes a file so that it is either its old self or
// the whole new content: never half written, even when the write fails.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes dt to path through a temporary file in the same directory
// and a rename. On error nothing is left behind and the old file, if any,
// is unchanged.
func Write(path string, dt []byte, perm os.FileMode) error {
	return write(path, dt, perm, true)
}

// WriteCache is Write without the sync to disk, for a cache: readers still
// see the old file or the whole new one, but a crash of the machine may
// leave it empty or damaged, which its reader must take as missing. It
// saves the sync's milliseconds.
func WriteCache(path string, dt []byte, perm os.FileMode) error {
	return write(path, dt, perm, false)
}

func write(path string, dt []byte, perm os.FileMode, sync bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(dt); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
