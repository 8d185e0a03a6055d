//go:build unix

package driver

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize delivers the terminal's window changes (SIGWINCH) to c.
func notifyResize(c chan<- os.Signal) { signal.Notify(c, syscall.SIGWINCH) }
