//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package explain

import "os"

// lockDir does not lock where flock is missing; records are still written
// whole, each to its own file.
func lockDir(string) (func(), error) { return func() {}, nil }

func inode(os.FileInfo) uint64 { return 0 }
