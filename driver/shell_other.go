//go:build !unix

package driver

import "os"

// notifyResize does nothing where there is no SIGWINCH: the size set when
// the shell starts stays.
func notifyResize(chan<- os.Signal) {}
