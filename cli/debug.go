package cli

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/containerd/console"
	"github.com/google/shlex"

	"github.com/slipway-build/slipway/driver"
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
	sh := &driver.DebugShell{Args: words[1:], Stdout: stdout, Stderr: stderr, Notice: stderr}
	switch words[0] {
	case "shell":
		sh.Stdin = os.Stdin
		if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
			sh.Terminal = c
			sh.Stdin = c
		}
	case "exec":
		if len(sh.Args) == 0 {
			return nil, fmt.Errorf("%s %q: exec needs a command, as in exec cat /etc/os-release", flagName, spec)
		}
	default:
		return nil, fmt.Errorf("%s %q: want shell [CMD...] or exec CMD...", flagName, spec)
	}
	return sh, nil
}

// debugUsage checks that --on-error goes with a command that solves.
func (o *options) debugUsage(command string) error {
	if o.debug.onError != "" && command != "build" && command != "run" {
		return fmt.Errorf("--on-error is for build and run; %s runs no step", command)
	}
	return nil
}
