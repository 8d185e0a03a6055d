// Command dockerfile2go converts a Dockerfile into a Go program written with
// slipway's DSL that builds the same image, with the same cache keys.
//
// Usage:
//
//	dockerfile2go [-o FILE] [-package NAME] [-func NAME] [-target STAGE] [DOCKERFILE|-]
//
// With no file, or "-", the Dockerfile is read from standard input. By
// default the output is a complete package main whose main is cli.Main, so
// `go run` of it builds the image; -func NAME writes a function of that name
// returning the build instead, for an existing package. The output goes to
// standard output, or to -o FILE, which is written only when the conversion
// succeeds. Each step's Go line names its Dockerfile line in a comment
// (// Dockerfile:12, with the name given), so a failing step shows both.
//
// A Dockerfile that BuildKit's Dockerfile frontend rejects is rejected here
// too, as FILE:LINE: message, with exit code 1; a usage error exits 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/slipway-build/slipway/gen"
	"github.com/slipway-build/slipway/internal/atomicfile"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the command, ended as every slipway command ends: it returns the
// exit status and has printed any error.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cmdutil.ExitCode("dockerfile2go", convert(args, stdin, stdout, stderr), stderr)
}

func convert(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dockerfile2go", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the Go source to `FILE` instead of standard output")
	pkg := fs.String("package", "main", "Go package `NAME`")
	fn := fs.String("func", "", "write a function `NAME` returning the build instead of a program")
	target := fs.String("target", "", "build this `STAGE` instead of the last one")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dockerfile2go [-o FILE] [-package NAME] [-func NAME] [-target STAGE] [DOCKERFILE|-]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return cmdutil.Reported(err)
	}
	if fs.NArg() > 1 {
		return cmdutil.Usagef("one Dockerfile at a time")
	}
	name := "-"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	var (
		dt  []byte
		err error
	)
	if name == "-" {
		dt, err = io.ReadAll(stdin)
		name = "Dockerfile"
	} else {
		dt, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	src, err := gen.Generate(dt, gen.Options{Filename: name, Package: *pkg, Func: *fn, Target: *target})
	if err != nil {
		// FILE:LINE: message, as a compiler says it.
		return cmdutil.Located(err)
	}
	if *out == "" {
		_, err := stdout.Write(src)
		return err
	}
	return atomicfile.Write(*out, src, 0o644)
}
