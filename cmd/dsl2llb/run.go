package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"

	"github.com/slipway-build/slipway/internal/atomicfile"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/lockfile"
)

// options are the parsed command line.
type options struct {
	output   string
	format   string
	platform string
	lock     string
	update   lockfile.UpdateMode
	pkg      string
	progArgs []string // flags for the program itself
	// progTarget is the target of a program with several (cli.Program).
	progTarget string
	buildArgs  cmdutil.StringList
	target     string
	diff       string // --diff OLD.llb: diff.go
}

var formats = map[string]func(*llb.Definition) ([]byte, error){
	"pb":   formatPB,
	"json": formatJSON,
	"dot":  formatDot,
}

func parseArgs(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("dsl2llb", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.output, "o", "", "write to `FILE` (atomically) instead of stdout")
	fs.StringVar(&o.format, "format", "pb", "output format: pb, json or dot")
	fs.StringVar(&o.platform, "platform", "", "target platform, os/arch[/variant] (default: this machine's)")
	fs.StringVar(&o.lock, "lock", "", "resolve base images from the image lock `FILE` only, offline")
	fs.StringVar(&o.target, "target", "", "compile the program's stage of this `NAME` (As), as docker build --target")
	fs.Var(&o.buildArgs, "build-arg", "set a build argument the program declares with Arg: `KEY=VALUE`, or KEY from the environment (repeatable)")
	fs.StringVar(&o.diff, "diff", "", "print the steps that differ between the LLB file `OLD` and PACKAGE (or a second LLB file)")
	fs.Var(&o.update, "update-lock", "with --lock: add the images missing from the lock file, resolved on the daemon (=all: every image)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: dsl2llb [flags] PACKAGE [PROGRAM FLAGS...]\n\nCompiles the slipway DSL program PACKAGE to BuildKit LLB. See go doc github.com/slipway-build/slipway/cmd/dsl2llb.\n\nflags:")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, cmdutil.Usagef("%v", err)
	}
	if fs.NArg() == 0 {
		return nil, cmdutil.Usagef("no PACKAGE given")
	}
	o.pkg = fs.Arg(0)
	if o.update != lockfile.UpdateNone && (o.pkg == "all" || o.pkg == "missing") {
		return nil, cmdutil.Usagef("write --update-lock=%s, with '=': a bare --update-lock takes no value", o.pkg)
	}
	o.progArgs = fs.Args()[1:]
	// A word before the program's flags names a target of a cli.Program.
	if len(o.progArgs) > 0 && !strings.HasPrefix(o.progArgs[0], "-") {
		o.progTarget, o.progArgs = o.progArgs[0], o.progArgs[1:]
	}
	if o.diff != "" {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "format" })
		if err := checkDiffFormat(&o, set); err != nil {
			return nil, err
		}
	} else if formats[o.format] == nil {
		return nil, cmdutil.Usagef("unknown --format %q (want pb, json or dot)", o.format)
	}
	if o.platform != "" {
		if _, err := platforms.Parse(o.platform); err != nil {
			return nil, cmdutil.Usagef("--platform %q: %v", o.platform, err)
		}
	}
	if o.update != lockfile.UpdateNone && o.lock == "" {
		return nil, cmdutil.Usagef("--update-lock needs --lock FILE")
	}
	return &o, nil
}

// run is the whole command: parse, build the program, run its llb mode,
// convert and write.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if o.diff != "" {
		return runDiff(ctx, o, args, stdout, stderr)
	}
	bin, err := buildProgram(ctx, o.pkg, stderr)
	if err != nil {
		return err
	}
	pbDt, err := runProgram(ctx, bin, o, args, stderr)
	if err != nil {
		return err
	}
	def, err := llb.ReadFrom(bytes.NewReader(pbDt))
	if err != nil {
		return fmt.Errorf("%s wrote no LLB definition: %v", o.pkg, err)
	}
	out, err := formats[o.format](def)
	if err != nil {
		return err
	}
	if o.output == "" || o.output == "-" {
		_, err := stdout.Write(out)
		return err
	}
	return writeOutput(o.output, out)
}

// writeOutput writes -o FILE whole or not at all.
func writeOutput(file string, out []byte) error {
	if err := atomicfile.Write(file, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

// cacheDir is where the program built from pkg, named from the current
// directory, is kept between runs.
func cacheDir(pkg string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(wd + "\x00" + pkg))
	return filepath.Join(base, "slipway", "dsl2llb", hex.EncodeToString(sum[:12])), nil
}

// buildProgram builds pkg with go build and checks that it is a DSL
// program. An unchanged package costs a build cache check: go build leaves
// an up-to-date binary as it is.
func buildProgram(ctx context.Context, pkg string, stderr io.Writer) (string, error) {
	dir, err := cacheDir(pkg)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the cache directory: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	bin := filepath.Join(dir, "program")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	// The program runs here, whatever GOOS and GOARCH say.
	cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("building %s: %w", pkg, ctx.Err())
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return "", fmt.Errorf("building %s: running go: %w", pkg, err)
		}
		msg := strings.TrimSpace(out.String())
		if strings.Count(msg, "\n") == 0 {
			return "", fmt.Errorf("building %s: %s", pkg, msg)
		}
		// Compiler errors, one per line, then the one line that sums up.
		fmt.Fprintln(stderr, msg)
		return "", fmt.Errorf("building %s failed (compiler errors above)", pkg)
	}
	if err := checkProgram(bin); err != nil {
		return "", fmt.Errorf("%s is not a slipway DSL program: %w", pkg, err)
	}
	return bin, nil
}

// runProgram runs the program's llb mode and returns what it wrote.
func runProgram(ctx context.Context, bin string, o *options, args []string, stderr io.Writer) ([]byte, error) {
	var progArgs []string
	if o.lock != "" {
		progArgs = append(progArgs, "--lock", o.lock)
	}
	if o.update != lockfile.UpdateNone {
		progArgs = append(progArgs, "--update-lock="+string(o.update))
	}
	if o.platform != "" {
		progArgs = append(progArgs, "--platform", o.platform)
	}
	for _, a := range o.buildArgs {
		progArgs = append(progArgs, "--build-arg", a)
	}
	if o.target != "" {
		progArgs = append(progArgs, "--target", o.target)
	}
	progArgs = append(progArgs, o.progArgs...)
	progArgs = append(progArgs, "llb")
	if o.progTarget != "" {
		progArgs = append(progArgs, o.progTarget)
	}

	addCmd, err := json.Marshal(cmdutil.UpdateLockCommand("dsl2llb", args))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, progArgs...)
	cmd.Env = append(os.Environ(), cmdutil.UpdateLockCommandEnv+"="+string(addCmd))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, progErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &progErr
	err = cmd.Run()
	if err == nil {
		_, err := stderr.Write(progErr.Bytes())
		return stdout.Bytes(), err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("compiling %s: %w", o.pkg, ctx.Err())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return nil, fmt.Errorf("running %s: %w", o.pkg, err)
	}
	msg := strings.TrimSpace(progErr.String())
	// The program names itself first; the user ran dsl2llb.
	msg = strings.TrimPrefix(msg, filepath.Base(o.pkg)+": ")
	if msg == "" {
		msg = exit.String()
	}
	if exit.ExitCode() == cmdutil.ExitUsage {
		return nil, cmdutil.Usagef("%s %s: %s", o.pkg, strings.Join(o.progArgs, " "), msg)
	}
	return nil, fmt.Errorf("%s: %s", o.pkg, msg)
}
