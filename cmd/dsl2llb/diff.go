package main

// The --diff mode: the steps that differ between two LLB definitions.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/moby/buildkit/solver/pb"

	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/internal/explain"
)

// checkDiffFormat is --format in --diff mode: text (the default) or json.
func checkDiffFormat(o *options, set bool) error {
	if !set {
		o.format = "text"
	}
	if o.format != "text" && o.format != "json" {
		return cmdutil.Usagef("unknown --format %q with --diff (want text or json)", o.format)
	}
	return nil
}

// runDiff compares the definition in o.diff with the new one: an LLB file,
// or the definition of the program o.pkg, compiled as without --diff.
func runDiff(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	old, err := explain.ReadDefinition(o.diff)
	if err != nil {
		return err
	}
	var cur *pb.Definition
	if fi, err := os.Stat(o.pkg); err == nil && fi.Mode().IsRegular() || o.pkg == "-" {
		if cur, err = explain.ReadDefinition(o.pkg); err != nil {
			return err
		}
	} else {
		bin, err := buildProgram(ctx, o.pkg, stderr)
		if err != nil {
			return err
		}
		dt, err := runProgram(ctx, bin, o, args, stderr)
		if err != nil {
			return err
		}
		cur = &pb.Definition{}
		if err := cur.UnmarshalVT(dt); err != nil {
			return fmt.Errorf("%s wrote no LLB definition: %v", o.pkg, err)
		}
	}
	lines, err := explain.Diff(old, cur)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if o.format == "text" && len(lines) == 0 {
		out.WriteString("no step differs\n")
	} else if err := explain.Write(&out, lines, o.format, false); err != nil {
		return err
	}
	if o.output == "" || o.output == "-" {
		_, err := stdout.Write(out.Bytes())
		return err
	}
	return writeOutput(o.output, out.Bytes())
}
