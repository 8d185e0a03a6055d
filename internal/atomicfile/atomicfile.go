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
func Write(path string, dt []byte, perm os.FileMode) (err error) {
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
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
