package cli

import (
	"context"
	"flag"

	"github.com/moby/buildkit/client/llb"

	"github.com/slipway-build/slipway/dsl"
)

// llbOptions are the flags of the llb command.
type llbOptions struct{}

func (o *llbOptions) register(fs *flag.FlagSet) {}

// runLLB compiles the build, with base images resolved by the daemon, and
// writes the definition to stdout as the protobuf stream llb.WriteTo writes.
func runLLB(ctx context.Context, inv *invocation) error {
	c, err := connect(ctx, inv)
	if err != nil {
		return err
	}
	defer c.Close()
	var opts []dsl.CompileOption
	if inv.platform != nil {
		opts = append(opts, dsl.WithPlatform(*inv.platform))
	}
	res, err := c.Compile(ctx, inv.stage(), nil, opts...)
	if err != nil {
		return err
	}
	return llb.WriteTo(res.Definition, inv.stdout)
}
