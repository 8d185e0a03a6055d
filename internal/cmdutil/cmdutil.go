// Package cmdutil holds what slipway's commands (dockerfile2go, dsl2llb,
// llb2dockerfile and every DSL program's command line, package cli) share:
// how an error ends the process, the repeatable string flag, and how a
// command asks for the image lock to be updated.
package cmdutil

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The exit statuses of every slipway command, as Go's tools and buildctl
// use them.
const (
	// ExitOK is success, and -h.
	ExitOK = 0
	// ExitFailure is work that failed: a build, a conversion, a file.
	ExitFailure = 1
	// ExitUsage is a bad command line.
	ExitUsage = 2
)

// ErrUsage matches every error in a command line.
var ErrUsage = errors.New("usage error")

// usageError is a command-line error: its message alone, matching ErrUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// Usagef is an error in the command line, which ExitCode ends with
// ExitUsage.
func Usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// reportedError is a command-line error already printed.
type reportedError struct{ err error }

func (e *reportedError) Error() string        { return e.err.Error() }
func (e *reportedError) Unwrap() error        { return e.err }
func (e *reportedError) Is(target error) bool { return target == ErrUsage }

// Reported is a command-line error that has already been printed, as the
// flag package prints its errors with the usage text: ExitCode ends it with
// ExitUsage and prints nothing more.
func Reported(err error) error { return &reportedError{err} }

// locatedError is an error whose message starts with its own location.
type locatedError struct{ err error }

func (e *locatedError) Error() string { return e.err.Error() }
func (e *locatedError) Unwrap() error { return e.err }

// Located is an error whose message begins with the place in the user's
// input it is about, FILE:LINE: message, as a compiler's does: ExitCode
// prints it without the command's name in front.
func Located(err error) error { return &locatedError{err} }

// ExitStatus is an exit status the command has decided on and reported
// itself, such as the exit code of a process it ran; ExitCode returns it
// and prints nothing.
type ExitStatus int

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode prints err on one line, prefixed with the command's name, and
// returns the exit status for it: ExitOK for none (or -h), ExitUsage for a
// usage error, which also points at -h, ExitFailure for anything else. An
// ExitStatus is returned as it is.
func ExitCode(name string, err error, stderr io.Writer) int {
	var status ExitStatus
	var reported *reportedError
	var located *locatedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &status):
		return int(status)
	case errors.As(err, &reported):
		return ExitUsage
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "%s: %v (see %s -h)\n", name, err, name)
		return ExitUsage
	case errors.As(err, &located):
		fmt.Fprintln(stderr, err.Error())
		return ExitFailure
	default:
		fmt.Fprintln(stderr, name+": "+err.Error())
		return ExitFailure
	}
}

// StringList is a repeatable string flag: each use adds a value.
type StringList []string

// String joins the values with spaces.
func (l *StringList) String() string { return strings.Join(*l, " ") }

// Set adds a value.
func (l *StringList) Set(v string) error { *l = append(*l, v); return nil }

// UpdateLockCommandEnv, when set, is the command line (a JSON array of
// strings) that a DSL program's "not in the lock file" error tells the user
// to run. cmd/dsl2llb sets it to its own command line, since the user ran
// dsl2llb and not the program.
const UpdateLockCommandEnv = "SLIPWAY_UPDATE_LOCK_COMMAND"

// UpdateLockCommand is the command line that adds the missing images to
// the lock: name with --update-lock and the rest of args (an --update-lock
// there is dropped, it comes first).
func UpdateLockCommand(name string, args []string) []string {
	cmd := []string{name, "--update-lock"}
	for _, a := range args {
		if a == "--update-lock" || a == "-update-lock" {
			continue
		}
		cmd = append(cmd, a)
	}
	return cmd
}
