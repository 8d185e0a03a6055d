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
//	prog [flags] [build]            build the image on BuildKit and export it
//	prog [flags] llb                write the LLB definition (protobuf) to stdout
//	prog [flags] run [-- ARGS...]   build the image and run it on the daemon
//	prog [flags] debug [FILE:LINE] [[--] CMD...]
//	                                build up to the step made at FILE:LINE (the
//	                                last step without one) and open a shell there
//	prog [flags] verify             build twice, the second time with no cache, and compare
//	prog [flags] plan               which steps a build would run, and why
//	prog [flags] explain            why each step of the last build ran
//
// Flags (see -h), named and written as buildctl's: --addr with
// --tlscacert, --tlscert, --tlskey, --tlsservername; --output/-o
// (repeatable), --push REF, --metadata-file; --export-cache, --import-cache,
// --secret, --ssh, --allow, --no-cache, --context DIR; --platform (several,
// comma-separated, make an image index), --progress. A program
// may declare flags of its own with the standard flag package before
// calling Main; Main parses them together with its own.
//
// The daemon is --addr, else $BUILDKIT_HOST, else the system socket, else a
// private buildkitd this program starts (see package driver).
//
// run starts the image through BuildKit's gateway container API with the
// image's entrypoint, cmd (or ARGS), env, working directory and user, on the
// host's network, with stdout and stderr attached (and stdin with -i).
// Ctrl-C sends the process SIGINT; the program exits with its exit code.
//
// --on-error shell (or 'exec CMD...') opens a shell (or runs CMD) in the
// container of a RUN step that fails, as the command left it, with its
// mounts, working directory, environment and user; the build still fails.
// debug opens the same shell at any step, by its Go line.
// Every build keeps a record under the user's cache directory
// (slipway/records/PROGRAM/TARGET, the last 20). explain compares the last
// build with the one before it and names, for each step that ran, the first
// cause; plan compiles the build, hashes its context and predicts which
// steps will run, offline with --lock (see package internal/explain). Both
// take --format json and --all-steps (the cached steps too).
// --fail-on-cache-miss fails a build before anything runs if the plan says
// a step would run; --fail-on-cache-miss=after fails it if the solve ran
// any step.
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
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// Main parses the command line, runs the command on the stage build
// returns, and exits: 0 on success, 1 on a failed build, 2 on a usage error.
func Main(build func() dsl.Stage) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, flag.CommandLine, os.Args[1:], build, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode ends the program as every slipway command ends (see
// cmdutil.ExitCode), under the program's name.
func exitCode(err error, stderr io.Writer) int {
	return cmdutil.ExitCode(programName(), err, stderr)
}

// options are all flags. Each command keeps its own in its own file.
type options struct {
	addr      string
	target    string
	buildArgs cmdutil.StringList
	tls       driver.TLSOptions
	platform  string
	progress  string
	build     buildOptions
	llb       llbOptions
	run       runOptions
	debug     debugOptions
	verify    verifyOptions
	explain   explainOptions
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "", "BuildKit daemon address: unix://, tcp://, docker-container://, kube-pod://, podman-container://, nerdctl-container:// or ssh:// (default: $BUILDKIT_HOST, the system socket, or a private daemon)")
	fs.StringVar(&o.tls.CACert, "tlscacert", "", "CA certificate (PEM) that signed a tcp:// daemon's certificate")
	fs.StringVar(&o.tls.Cert, "tlscert", "", "client certificate (PEM) for a tcp:// daemon that verifies clients")
	fs.StringVar(&o.tls.Key, "tlskey", "", "key (PEM) of --tlscert")
	fs.StringVar(&o.tls.ServerName, "tlsservername", "", "name the daemon's certificate must carry (default: the host of the address)")
	fs.StringVar(&o.platform, "platform", "", "target platform, os/arch[/variant]; several, comma-separated, build an image index (default: the daemon's)")
	fs.StringVar(&o.progress, "progress", "auto", "progress display: auto, tty, plain, rawjson or quiet")
	fs.StringVar(&o.target, "target", "", "build the stage of this name (As) instead of the whole build, as docker build --target does")
	fs.Var(&o.buildArgs, "build-arg", "set a build argument the build declares with Arg: KEY=VALUE, or KEY to take it from the environment (repeatable)")
	o.build.register(fs)
	o.llb.register(fs)
	o.run.register(fs)
	o.debug.register(fs)
	o.verify.register(fs)
	o.explain.register(fs)
}

// invocation is one parsed command line, handed to a command.
type invocation struct {
	opts     options
	stage    func() dsl.Stage
	platform *ocispecs.Platform
	// buildArgs are --build-arg's values.
	buildArgs map[string]string
	// platforms are all of --platform's; platform is the first.
	platforms []ocispecs.Platform
	// args are the arguments after the command; only run takes any.
	args []string
	// recordKey names the build records of a Program's target; "" keeps
	// them under --target.
	recordKey string
	stdout    io.Writer
	stderr    io.Writer
}

// commands are the subcommands; build is the default.
var commands = map[string]func(context.Context, *invocation) error{
	"build":   runBuild,
	"llb":     runLLB,
	"run":     runRun,
	"debug":   runDebug,
	"verify":  runVerify,
	"explain": runExplain,
	"plan":    runPlan,
}

// Run is Main without the exit: it parses args with fs (the program's own
// flags may already be declared on it) and runs the command, writing data to
// stdout and messages to stderr.
func Run(ctx context.Context, fs *flag.FlagSet, args []string, build func() dsl.Stage, stdout, stderr io.Writer) error {
	var o options
	if err := registerFlags(fs, o.register); err != nil {
		return err
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags] [build|llb|run [-- ARGS...]|debug [FILE:LINE] [[--] CMD...]|verify|plan|explain]\n\ncommands:\n  build    build the image and export it (default)\n  llb      write the LLB definition to stdout\n  run      build the image and run it on the daemon; ARGS replace its CMD\n  debug    build up to the step made at FILE:LINE (the last step without one) and open a shell, or run CMD, there\n  verify   build twice, the second time with no cache (on --addr2), and compare the digests\n  plan     say which steps a build would run, and why, without building\n  explain  say why each step of the last build ran\n\nflags:\n", programName())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return cmdutil.Reported(err)
	}
	command := "build"
	var cmdArgs []string
	if rest := fs.Args(); len(rest) > 0 {
		command = rest[0]
		// Flags may also follow the command.
		if err := fs.Parse(rest[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return cmdutil.Reported(err)
		}
		cmdArgs = fs.Args()
		if len(cmdArgs) > 0 && command != "run" && command != "debug" {
			return cmdutil.Usagef("unexpected argument %q", fs.Arg(0))
		}
	}
	run, ok := commands[command]
	if !ok {
		return cmdutil.Usagef("unknown command %q (want build, llb, run, debug, verify, plan or explain)", command)
	}
	if err := o.debugUsage(command); err != nil {
		return cmdutil.Usagef("%v", err)
	}
	inv, err := o.invocation(command, cmdArgs, build, stdout, stderr)
	if err != nil {
		return err
	}
	return run(ctx, inv)
}

// invocation is the parsed command line of one build: its platforms, build
// arguments and the stage --target names.
func (o options) invocation(command string, cmdArgs []string, build func() dsl.Stage, stdout, stderr io.Writer) (*invocation, error) {
	var platform *ocispecs.Platform
	var targets []ocispecs.Platform
	if o.platform != "" {
		for _, v := range strings.Split(o.platform, ",") {
			p, err := platforms.Parse(strings.TrimSpace(v))
			if err != nil {
				return nil, cmdutil.Usagef("--platform %q: %v", v, err)
			}
			targets = append(targets, p)
		}
		platform = &targets[0]
	}
	if len(targets) > 1 && command != "build" && command != "explain" {
		return nil, cmdutil.Usagef("--platform %q: several platforms are for build only", o.platform)
	}
	buildArgs, err := parseBuildArgs(o.buildArgs)
	if err != nil {
		return nil, cmdutil.Usagef("%v", err)
	}
	if _, err := o.build.attest.sourceDateEpoch(buildArgs); err != nil {
		return nil, err
	}
	stage := build
	if o.target != "" {
		s, err := dsl.TargetStage(build(), o.target)
		if err != nil {
			return nil, err
		}
		stage = func() dsl.Stage { return s }
	}
	return &invocation{opts: o, stage: stage, platform: platform, platforms: targets, buildArgs: buildArgs, args: cmdArgs, stdout: stdout, stderr: stderr}, nil
}

// parseBuildArgs reads --build-arg values as docker build does: KEY=VALUE,
// or KEY alone for the value of the environment variable KEY (left out when
// it is not set).
func parseBuildArgs(specs []string) (map[string]string, error) {
	args := map[string]string{}
	for _, spec := range specs {
		k, v, ok := strings.Cut(spec, "=")
		if k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, fmt.Errorf("--build-arg %q: want KEY=VALUE or KEY", spec)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		args[k] = v
	}
	return args, nil
}

// compileOptions are the options every command compiles the stage with.
func (inv *invocation) compileOptions() []dsl.CompileOption {
	if len(inv.buildArgs) == 0 {
		return nil
	}
	return []dsl.CompileOption{dsl.WithBuildArgs(inv.buildArgs)}
}

// connect reaches the daemon --addr and the TLS flags name; a malformed
// --addr is a usage error. driver's errors name the flags.
func connect(ctx context.Context, inv *invocation) (*driver.Client, error) {
	o := driver.ConnectOptions{
		Addr: inv.opts.addr,
		TLS:  inv.opts.tls,
		Names: driver.Names{
			Addr: "--addr", CACert: "--tlscacert", Cert: "--tlscert", Key: "--tlskey", ServerName: "--tlsservername",
		},
		Log: func(format string, args ...any) { fmt.Fprintf(inv.stderr, format+"\n", args...) },
	}
	if o.Addr != "" {
		if err := o.CheckAddr(); err != nil {
			return nil, cmdutil.Usagef("--addr: %v", err)
		}
	}
	return driver.Connect(ctx, o)
}

// programName is the name of the program's package folder: "redis" for
// examples/redis, whether it was built or started with go run.
func programName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" && bi.Path != "command-line-arguments" {
		return path.Base(bi.Path)
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
}
