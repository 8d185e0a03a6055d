// Package cli is the command line every slipway program gets from one call
// in its main:
//
//	func main() {
//		cli.Main(func() dsl.Stage {
//			return dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server")
//		})
//	}
//
// The program then understands:
//
//	prog [flags] [build]   build the image on BuildKit and export it
//	prog [flags] llb       write the LLB definition (protobuf) to stdout
//
// Flags (see -h): --addr, --output/-o (buildctl's syntax, repeatable),
// --push REF, --platform, --progress. A program may declare flags of its own
// with the standard flag package before calling Main; Main parses them
// together with its own.
//
// By default build writes an OCI archive named after the program
// (redis.oci.tar for a program in a folder named redis) and prints how to
// load and run it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// Main parses the command line, runs the command on the stage build
// returns, and exits: 0 on success, 1 on a failed build, 2 on a usage error.
func Main(build func() dsl.Stage) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, flag.CommandLine, os.Args[1:], build, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks an error in the command line.
var errUsage = errors.New("usage")

// errReported marks a usage error the flag package has already printed,
// with the usage text.
var errReported = errors.New("reported")

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "%s: %s (see %s -h)\n", programName(), strings.TrimPrefix(err.Error(), "usage: "), programName())
		return 2
	default:
		fmt.Fprintln(stderr, programName()+": "+err.Error())
		return 1
	}
}

// options are all flags. Each command keeps its own in its own file.
type options struct {
	addr     string
	platform string
	progress string
	build    buildOptions
	llb      llbOptions
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "", "BuildKit daemon address (default: $BUILDKIT_HOST, the system socket, or a private daemon)")
	fs.StringVar(&o.platform, "platform", "", "target platform, os/arch[/variant] (default: the daemon's)")
	fs.StringVar(&o.progress, "progress", "auto", "progress display: auto, tty, plain, rawjson or quiet")
	o.build.register(fs)
	o.llb.register(fs)
}

// invocation is one parsed command line, handed to a command.
type invocation struct {
	opts     options
	stage    func() dsl.Stage
	platform *ocispecs.Platform
	stdout   io.Writer
	stderr   io.Writer
}

// commands are the subcommands; build is the default.
var commands = map[string]func(context.Context, *invocation) error{
	"build": runBuild,
	"llb":   runLLB,
}

// Run is Main without the exit: it parses args with fs (the program's own
// flags may already be declared on it) and runs the command, writing data to
// stdout and messages to stderr.
func Run(ctx context.Context, fs *flag.FlagSet, args []string, build func() dsl.Stage, stdout, stderr io.Writer) error {
	var o options
	o.register(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags] [build|llb]\n\ncommands:\n  build  build the image and export it (default)\n  llb    write the LLB definition to stdout\n\nflags:\n", programName())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w: %v", errUsage, errReported, err)
	}
	command := "build"
	if rest := fs.Args(); len(rest) > 0 {
		command = rest[0]
		// Flags may also follow the command.
		if err := fs.Parse(rest[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %w: %v", errUsage, errReported, err)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
	}
	var platform *ocispecs.Platform
	if o.platform != "" {
		p, err := platforms.Parse(o.platform)
		if err != nil {
			return fmt.Errorf("%w: --platform %q: %v", errUsage, o.platform, err)
		}
		platform = &p
	}
	run, ok := commands[command]
	if !ok {
		return fmt.Errorf("%w: unknown command %q (want build or llb)", errUsage, command)
	}
	return run(ctx, &invocation{opts: o, stage: build, platform: platform, stdout: stdout, stderr: stderr})
}

func connect(ctx context.Context, inv *invocation) (*driver.Client, error) {
	return driver.Connect(ctx, driver.ConnectOptions{
		Addr: inv.opts.addr,
		Log:  func(format string, args ...any) { fmt.Fprintf(inv.stderr, format+"\n", args...) },
	})
}

// programName is the name of the program's package folder: "redis" for
// examples/redis, whether it was built or started with go run.
func programName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" && bi.Path != "command-line-arguments" {
		return path.Base(bi.Path)
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
}
