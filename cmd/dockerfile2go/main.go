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
// succeeds.
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
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "dockerfile2go: one Dockerfile at a time")
		return 2
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
		fmt.Fprintf(stderr, "dockerfile2go: %v\n", err)
		return 1
	}
	src, err := gen.Generate(dt, gen.Options{Filename: name, Package: *pkg, Func: *fn, Target: *target})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if *out == "" {
		if _, err := stdout.Write(src); err != nil {
			fmt.Fprintf(stderr, "dockerfile2go: %v\n", err)
			return 1
		}
		return 0
	}
	if err := atomicfile.Write(*out, src, 0o644); err != nil {
		fmt.Fprintf(stderr, "dockerfile2go: %v\n", err)
		return 1
	}
	return 0
}
