package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// verifyOptions are the flags of the verify command.
type verifyOptions struct {
	addr2 string
}

func (o *verifyOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr2, "addr2", "", "verify: the daemon of the second build (default: the same daemon as the first, with --no-cache)")
}

// runVerify builds the image twice, the second time with no cache (on
// --addr2 when given), and compares the image manifests: exit 0 when they
// are the same, 1 when they differ, naming the first layer and the first
// files in it that differ.
func runVerify(ctx context.Context, inv *invocation) error {
	so, err := inv.buildOptions()
	if err != nil {
		return err
	}
	so.Platforms = inv.platforms
	if so.SourceDateEpoch, err = inv.opts.build.attest.sourceDateEpoch(inv.buildArgs); err != nil {
		return err
	}
	c, err := connect(ctx, inv)
	if err != nil {
		return err
	}
	defer c.Close()
	var second *driver.Client
	if inv.opts.verify.addr2 != "" {
		inv2 := *inv
		inv2.opts.addr = inv.opts.verify.addr2
		if second, err = connect(ctx, &inv2); err != nil {
			return fmt.Errorf("--addr2: %w", err)
		}
		defer second.Close()
	}
	v, err := c.Verify(ctx, inv.stage(), so, second)
	if err != nil {
		return err
	}
	if v.Identical() {
		fmt.Fprintf(inv.stdout, "reproducible: both builds gave %s\n", v.First)
		return nil
	}
	printVerification(inv, v)
	return cmdutil.ExitStatus(cmdutil.ExitFailure)
}

// printVerification says where two builds differ.
func printVerification(inv *invocation, v *driver.Verification) {
	w := inv.stdout
	fmt.Fprintf(w, "not reproducible: the builds gave %s and %s\n", v.First, v.Second)
	switch {
	case v.Layer >= 0:
		fmt.Fprintf(w, "first differing layer: %d (%s, %s)\n", v.Layer+1, v.LayerDigests[0], v.LayerDigests[1])
		for _, f := range v.Files {
			fmt.Fprintf(w, "  %s\n", f)
		}
	case len(v.Config) > 0:
		fmt.Fprintf(w, "the layers are the same; the image config differs in: %v\n", v.Config)
	}
	if inv.opts.build.attest.epoch == "" && inv.buildArgs["SOURCE_DATE_EPOCH"] == "" {
		fmt.Fprintf(w, "hint: --source-date-epoch N sets every time in the image to N\n")
	}
}
