package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// runOptions are the flags of the run command.
type runOptions struct {
	interactive bool
}

func (o *runOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.interactive, "i", false, "run: attach standard input to the process")
}

// runRun builds the image and runs it on the daemon, as `docker run` would
// run the exported image, and exits with the process's exit code.
func runRun(ctx context.Context, inv *invocation) error {
	if len(inv.opts.build.outputs) > 0 || inv.opts.build.push != "" || inv.opts.build.metadataFile != "" {
		return cmdutil.Usagef("run exports nothing: --output, --push and --metadata-file are for build")
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
		return cmdutil.ExitStatus(res.ExitCode)
	}
	return nil
}

// nopCloser keeps the process's end of stdio from closing ours.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
