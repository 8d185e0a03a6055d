// Command dsl2llb compiles a slipway DSL program to BuildKit LLB.
//
// Usage:
//
//	dsl2llb [flags] PACKAGE [TARGET] [PROGRAM FLAGS...]
//
// PACKAGE is a Go main package whose main calls cli.Main (or
// cli.Program.Main, a program with several targets, of which TARGET names
// the one to compile: dsl2llb ./examples/monorepo api): a path such as
// ./examples/redis, or an import path, resolved as `go build` resolves it
// from the current directory. dsl2llb builds it with `go build` into
// $XDG_CACHE_HOME/slipway/dsl2llb (os.UserCacheDir), where an unchanged
// package is only a build cache check, runs it in its llb mode, and writes
// the definition to stdout or to the file -o names. Flags after PACKAGE go
// to the program itself, such as the redis example's -variant debian.
//
// Flags:
//
//	-o FILE            write to FILE instead of stdout; the file is replaced
//	                   atomically and never left half written
//	--format FORMAT    pb (default): the protobuf stream of llb.WriteTo, which
//	                   `buildctl build` and `buildctl debug dump-llb` read;
//	                   json: one JSON object per op, as `buildctl debug
//	                   dump-llb` prints them, the last with an ImageConfig
//	                   member holding the image config;
//	                   dot: a Graphviz graph of the ops, each labelled with
//	                   the instruction it came from (`dot -Tsvg`)
//	--platform P       target platform, os/arch[/variant]
//	--target NAME      compile the stage named NAME (with As) that the
//	                   program's build is or builds on, as docker build
//	                   --target does
//	--build-arg K=V    a value for an argument the program declares with Arg
//	                   (repeatable; K alone takes it from the environment)
//	--lock FILE        resolve base images from the image lock file FILE
//	                   only: no daemon, no network
//	--update-lock      with --lock: resolve the images missing from FILE on
//	                   the BuildKit daemon and add them; --update-lock=all
//	                   resolves every image again
//	--diff OLD         print the steps that differ between the LLB file OLD
//	                   and the new build, PACKAGE or a second LLB file (NEW
//	                   or - for stdin), and how: a command as a word diff,
//	                   env, user, dir, mounts, network, security, platform,
//	                   a base image's digest, or a step before it that
//	                   changed; steps added and removed. Offline; --format
//	                   is then text (default) or json
//
// Without --lock, and with --update-lock, base images resolve on a BuildKit
// daemon, found as every slipway program finds one (BUILDKIT_HOST, the
// system socket, a private daemon).
//
// The image config rides in the metadata of the definition's last op under
// the description key containerimage.config, which changes no op digest.
// The same program, flags and lock file give byte-identical output.
//
// Examples:
//
//	dsl2llb ./examples/redis | buildctl debug dump-llb
//	dsl2llb --lock redis.lock.json --update-lock ./examples/redis >/dev/null
//	dsl2llb --lock redis.lock.json -o redis.llb ./examples/redis
//	dsl2llb --lock redis.lock.json --format dot ./examples/redis | dot -Tsvg >redis.svg
//	dsl2llb --lock redis.lock.json --diff redis.llb ./examples/redis
//
// Exit status: 0 on success, 1 on an error (a package that does not compile,
// is not a DSL program, or fails to compile its build), 2 on a usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway-build/slipway/internal/cmdutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(cmdutil.ExitCode("dsl2llb", err, os.Stderr))
}
