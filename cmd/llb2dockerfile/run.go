package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/imagemetaresolver"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/decompile"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/lockfile"
)

// maxInput bounds what is read: a definition larger than this is not one a
// build tool wrote.
const maxInput = 256 << 20

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("llb2dockerfile", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are one line, from exitCode
	config := fs.String("config", "", "the JSON image config `file`, as dockerfile2llb returns it")
	lock := fs.String("lock", "", "resolve base images from the image lock `file` only")
	platform := fs.String("platform", "", "the target `platform` the definition was compiled for")
	bestEffort := fs.Bool("best-effort", false, "write what a Dockerfile cannot say as comments, and skip the check")
	noVerify := fs.Bool("no-verify", false, "skip compiling the result to check it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: llb2dockerfile [flags] [LLB-FILE|-]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return err
		}
		return cmdutil.Usagef("%v", err)
	}
	if fs.NArg() > 1 {
		return cmdutil.Usagef("one LLB file at most, got %d arguments", fs.NArg())
	}
	def, name, err := readDefinition(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	o, err := decompileOptions(*config, *platform, *lock)
	if err != nil {
		return err
	}
	o.BestEffort = *bestEffort
	out, err := decompile.Decompile(ctx, def, o)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !*noVerify && !*bestEffort {
		if err := decompile.Verify(ctx, def, out, o); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	_, err = stdout.Write(out)
	return err
}

// readDefinition reads the LLB definition in the file name, or in stdin
// when name is "" or "-", and returns it with a name for messages.
func readDefinition(name string, stdin io.Reader) (*llb.Definition, string, error) {
	in := stdin
	if name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, name, err
		}
		defer f.Close()
		in = f
	}
	if name == "" || name == "-" {
		name = "stdin"
	}
	dt, err := io.ReadAll(io.LimitReader(in, maxInput+1))
	if err != nil {
		return nil, name, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(dt) > maxInput {
		return nil, name, fmt.Errorf("%s: larger than %d MiB, not a definition", name, maxInput>>20)
	}
	if len(dt) == 0 {
		return nil, name, fmt.Errorf("%s: empty, not an LLB definition", name)
	}
	def, err := llb.ReadFrom(bytes.NewReader(dt))
	if err != nil {
		return nil, name, fmt.Errorf("%s: not an LLB definition (the protobuf stream llb.WriteTo writes): %w", name, err)
	}
	return def, name, nil
}

// decompileOptions are the options the flags --config, --platform and
// --lock give.
func decompileOptions(config, platform, lock string) (decompile.Options, error) {
	var o decompile.Options
	if config != "" {
		cdt, err := os.ReadFile(config)
		if err != nil {
			return o, err
		}
		var img dockerspec.DockerOCIImage
		if err := json.Unmarshal(cdt, &img); err != nil {
			return o, fmt.Errorf("%s: not a JSON image config: %w", config, err)
		}
		o.Image = &img
	}
	if platform != "" {
		p, err := platforms.Parse(platform)
		if err != nil {
			return o, cmdutil.Usagef("--platform %q: %v", platform, err)
		}
		o.Platform = &p
	}
	if lock != "" {
		l, err := lockfile.Load(lock)
		if err != nil {
			return o, err
		}
		o.Resolver = l.Resolver(nil)
	} else {
		o.Resolver = imagemetaresolver.Default()
	}
	return o, nil
}
