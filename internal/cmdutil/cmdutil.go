// Package cmdutil holds what slipway's commands share: how an error ends
// the process.
package cmdutil

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ErrUsage matches every error in a command line.
var ErrUsage = errors.New("usage error")

// usageError is a command-line error: its message alone, matching ErrUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// Usagef is an error in the command line, which ExitCode ends with 2.
func Usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// ExitCode prints err on one line, prefixed with the command's name, and
// returns the exit status for it: 0 for none (or -h), 2 for a usage error,
// which also points at -h, 1 for anything else.
func ExitCode(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "%s: %v (see %s -h)\n", name, err, name)
		return 2
	default:
		fmt.Fprintln(stderr, name+": "+err.Error())
		return 1
	}
}
