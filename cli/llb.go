package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/moby/buildkit/client/llb"
	"google.golang.org/protobuf/proto"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/frontend"
)

// llbOptions are the flags of the llb command. The lock flags are here too;
// the build command reads them from here.
type llbOptions struct {
	lock lockOptions
}

func (o *llbOptions) register(fs *flag.FlagSet) {
	o.lock.register(fs)
}

// runLLB compiles the build and writes the definition to stdout as the
// protobuf stream llb.WriteTo writes, byte for byte the same on every run. With --lock (and no --update-lock)
// base images resolve from the lock file alone and no daemon is contacted;
// otherwise the daemon resolves them, and --update-lock records them in the
// lock file.
func runLLB(ctx context.Context, inv *invocation) error {
	lock := &inv.opts.llb.lock
	if err := lock.check(); err != nil {
		return err
	}
	opts := inv.compileOptions()
	if inv.platform != nil {
		opts = append(opts, dsl.WithPlatform(*inv.platform))
	}
	var res *dsl.Result
	if lock.offline() {
		r, err := lock.resolver(nil)
		if err != nil {
			return err
		}
		// No daemon to ask: compile for one of the BuildKit version this
		// program was built with, as the daemon path would with it.
		caps := frontend.AllCaps()
		if res, err = dsl.Compile(ctx, inv.stage(), append(opts, dsl.WithResolver(r), dsl.WithCaps(caps))...); err != nil {
			return err
		}
	} else {
		c, err := connect(ctx, inv)
		if err != nil {
			return err
		}
		defer c.Close()
		if res, err = c.Compile(ctx, inv.stage(), lock.wrapper(), opts...); err != nil {
			return err
		}
		if lock.file != "" {
			// Rewrite the file even when nothing changed, in its canonical
			// form.
			l, err := lock.load()
			if err != nil {
				return err
			}
			if err := l.Save(); err != nil {
				return err
			}
		}
	}
	return writeDefinition(inv.stdout, res.Definition)
}

// writeDefinition writes def as llb.WriteTo does, but with the metadata maps
// in sorted order, so the same build always gives the same bytes (WriteTo's
// encoder leaves map order to chance).
func writeDefinition(w io.Writer, def *llb.Definition) error {
	dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(def.ToPB())
	if err != nil {
		return fmt.Errorf("encoding the LLB definition: %w", err)
	}
	_, err = w.Write(dt)
	return err
}
