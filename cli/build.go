package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/slipway-build/slipway/driver"
)

// buildOptions are the flags of the build command.
type buildOptions struct {
	outputs stringList
	push    string
}

func (o *buildOptions) register(fs *flag.FlagSet) {
	fs.Var(&o.outputs, "output", "export in buildctl's syntax, e.g. type=oci,dest=img.tar or type=local,dest=dir (repeatable)")
	fs.Var(&o.outputs, "o", "shorthand for --output")
	fs.StringVar(&o.push, "push", "", "push the image to this registry reference")
}

func (o buildOptions) parseOutputs() ([]driver.Output, error) {
	var outs []driver.Output
	for _, s := range o.outputs {
		out, err := driver.ParseOutput(s)
		if err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	if o.push != "" {
		outs = append(outs, driver.Output{Type: "image", Attrs: map[string]string{"name": o.push, "push": "true"}})
	}
	if len(outs) == 0 {
		name := programName()
		outs = append(outs, driver.Output{
			Type:  "oci",
			Dest:  name + ".oci.tar",
			Attrs: map[string]string{"name": name + ":latest"},
		})
	}
	return outs, nil
}

// runBuild builds the image on the daemon and exports it.
func runBuild(ctx context.Context, inv *invocation) error {
	outputs, err := inv.opts.build.parseOutputs()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	c, err := connect(ctx, inv)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Build(ctx, inv.stage(), driver.BuildOptions{
		Outputs:     outputs,
		Platform:    inv.platform,
		Progress:    inv.opts.progress,
		ProgressOut: inv.stderr,
	})
	if err != nil {
		return err
	}
	if inv.opts.progress != "quiet" {
		for _, out := range outputs {
			describeOutput(inv.stderr, out, res.ImageDigest())
		}
	}
	return nil
}

// describeOutput tells the user where the image went and how to use it.
func describeOutput(w io.Writer, out driver.Output, dgst string) {
	switch {
	case out.Type == "oci" && out.Dest != "":
		name := out.Attrs["name"]
		fmt.Fprintf(w, "wrote %s (OCI image archive, manifest %s)\n", out.Dest, dgst)
		fmt.Fprintf(w, "  load it:  docker load -i %s   (or podman load -i %s)\n", out.Dest, out.Dest)
		if name != "" {
			fmt.Fprintf(w, "  run it:   docker run --rm %s\n", name)
		}
	case out.Type == "image" && out.Attrs["push"] == "true":
		fmt.Fprintf(w, "pushed %s@%s\n", out.Attrs["name"], dgst)
	case out.Dest != "":
		fmt.Fprintf(w, "wrote %s (%s)\n", out.Dest, out.Type)
	}
}
