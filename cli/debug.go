package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/console"
	"github.com/google/shlex"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// debugOptions are the flags that open a shell in a step's container.
type debugOptions struct {
	onError string
}

func (o *debugOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.onError, "on-error", "", "when a RUN step fails: 'shell' opens /bin/sh in its container as the command left it ('shell CMD...' another shell), 'exec CMD...' runs CMD there and prints its output; the build still fails")
}

// onErrorShell is the process --on-error asks for, nil for none. A shell
// gets this program's standard input, and a TTY when that is a terminal;
// exec gets no input, and its output goes to stdout and stderr.
func (inv *invocation) onErrorShell() (*driver.DebugShell, error) {
	if inv.opts.debug.onError == "" {
		return nil, nil
	}
	return parseDebugShell("--on-error", inv.opts.debug.onError, inv.stdout, inv.stderr)
}

// parseDebugShell reads "shell [CMD...]" or "exec CMD...", words split
// as a POSIX shell splits them.
func parseDebugShell(flagName, spec string, stdout, stderr io.Writer) (*driver.DebugShell, error) {
	words, err := shlex.Split(spec)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %v", flagName, spec, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%s is empty: want shell [CMD...] or exec CMD...", flagName)
	}
	switch words[0] {
	case "shell":
		return newDebugShell(true, words[1:], stdout, stderr), nil
	case "exec":
		if len(words) == 1 {
			return nil, fmt.Errorf("%s %q: exec needs a command, as in exec cat /etc/os-release", flagName, spec)
		}
		return newDebugShell(false, words[1:], stdout, stderr), nil
	}
	return nil, fmt.Errorf("%s %q: want shell [CMD...] or exec CMD...", flagName, spec)
}

// newDebugShell runs args (a shell when empty). An interactive one reads
// this program's standard input, with a TTY when that is a terminal; else
// it reads nothing and its output goes to stdout and stderr.
func newDebugShell(interactive bool, args []string, stdout, stderr io.Writer) *driver.DebugShell {
	sh := &driver.DebugShell{Args: args, Stdout: stdout, Stderr: stderr, Notice: stderr}
	if interactive {
		sh.Stdin = os.Stdin
		if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
			sh.Terminal = c
			sh.Stdin = c
		}
	}
	return sh
}

// debugUsage checks that --on-error goes with a command that runs steps.
func (o *options) debugUsage(command string) error {
	if o.debug.onError != "" && command == "llb" {
		return fmt.Errorf("--on-error is for build, run and debug; %s runs no step", command)
	}
	return nil
}

// runDebug builds up to the step a source line made (FILE:LINE; the
// stage's last step without one) and opens a shell there, or runs CMD
// there and prints its output: prog debug [FILE:LINE] [[--] CMD ARGS...].
// It exits with the process's exit status.
func runDebug(ctx context.Context, inv *invocation) error {
	if len(inv.opts.build.outputs) > 0 || inv.opts.build.push != "" || inv.opts.build.metadataFile != "" {
		return cmdutil.Usagef("debug exports nothing: --output, --push and --metadata-file are for build")
	}
	file, line, cmd, err := parseDebugArgs(inv.args)
	if err != nil {
		return cmdutil.Usagef("%v", err)
	}
	so, err := inv.buildOptions()
	if err != nil {
		return err
	}
	c, err := connect(ctx, inv)
	if err != nil {
		return err
	}
	defer c.Close()
	sh := newDebugShell(len(cmd) == 0, cmd, inv.stdout, inv.stderr)
	code, err := c.Debug(ctx, inv.stage(), driver.DebugOptions{Build: so, File: file, Line: line, Shell: *sh})
	if err != nil {
		return err
	}
	if code != 0 {
		return cmdutil.ExitStatus(code)
	}
	return nil
}

// location is a FILE:LINE argument.
var location = regexp.MustCompile(`^(.+):([0-9]+)$`)

// parseDebugArgs reads debug's arguments: an optional FILE:LINE, then the
// command, after an optional --. An argument that names a Go file must be
// a location.
func parseDebugArgs(args []string) (file string, line int, cmd []string, err error) {
	if len(args) == 0 {
		return "", 0, nil, nil
	}
	if m := location.FindStringSubmatch(args[0]); m != nil {
		if line, err = strconv.Atoi(m[2]); err != nil || line == 0 {
			return "", 0, nil, fmt.Errorf("debug %q: want FILE:LINE with a line from 1", args[0])
		}
		file, args = m[1], args[1:]
	} else if strings.HasSuffix(args[0], ".go") || strings.Contains(args[0], ".go:") {
		return "", 0, nil, fmt.Errorf("debug %q: want FILE:LINE, as in main.go:12", args[0])
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return file, line, args, nil
}
