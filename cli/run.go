package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/slipway-build/slipway/driver"
)

// runOptions are the flags of the run command.
type runOptions struct {
	interactive bool
}

func (o *runOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.interactive, "i", false, "run: attach standard input to the process")
}

// exitStatus is the exit code of a process that run started, already
// reported; the program exits with it.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runRun builds the image and runs it on the daemon, as `docker run` would
// run the exported image, and exits with the process's exit code.
func runRun(ctx context.Context, inv *invocation) error {
	if len(inv.opts.build.outputs) > 0 || inv.opts.build.push != "" || inv.opts.build.metadataFile != "" {
		return fmt.Errorf("%w: run exports nothing: --output, --push and --metadata-file are for build", errUsage)
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
	ro := driver.RunOptions{
		Build:  so,
		Args:   inv.args,
		Stdout: nopCloser{inv.stdout},
		Stderr: nopCloser{inv.stderr},
	}
	if inv.opts.run.interactive {
		ro.Stdin = io.NopCloser(os.Stdin)
	}
	res, err := c.Run(ctx, inv.stage(), ro)
	if err != nil {
		return err
	}
	cmd := strings.Join(res.Args, " ")
	switch {
	case res.Interrupted:
		fmt.Fprintf(inv.stderr, "%s: interrupted; %s exited with code %d\n", programName(), cmd, res.ExitCode)
	case res.ExitCode != 0:
		fmt.Fprintf(inv.stderr, "%s: %s exited with code %d\n", programName(), cmd, res.ExitCode)
	}
	if res.ExitCode != 0 {
		return exitStatus(res.ExitCode)
	}
	return nil
}

// nopCloser keeps the process's end of stdio from closing ours.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
