// Command llb2dockerfile turns BuildKit LLB back into a Dockerfile.
//
// Usage:
//
//	llb2dockerfile [flags] [LLB-FILE|-]
//
// It reads the protobuf stream llb.WriteTo writes (what dsl2llb writes, what
// `buildctl debug dump-llb` reads) from LLB-FILE, or from stdin when the
// argument is "-" or missing, and writes a Dockerfile to stdout that
// BuildKit's Dockerfile frontend compiles to the same definition digest,
// and so the same cache keys, and the same image config.
//
// It reads the ops alone: descriptions and other metadata are never used,
// so a stripped definition gives the same Dockerfile. The image config
// (CMD, ENTRYPOINT, ENV, LABEL and the rest) comes from the definition's
// metadata (key containerimage.config, where dsl2llb puts it) or from
// --config. A base image's own env is needed to tell it from the
// Dockerfile's ENV; it comes from --lock, else from the image's registry.
//
// Before it writes anything, llb2dockerfile compiles the Dockerfile it made
// with the frontend and checks that the definition digest and image config
// are the ones it read; a Dockerfile that would build something else is an
// error, never output.
//
// Flags:
//
//	--config FILE     the JSON image config, as dockerfile2llb returns it
//	--lock FILE       resolve base images from the image lock file FILE
//	                  only: no network
//	--platform P      the target platform the definition was compiled for,
//	                  os/arch[/variant]; by default the image config's, else
//	                  the final stage's
//	--best-effort     write what a Dockerfile cannot say as a comment at its
//	                  place, and skip the check
//	--no-verify       skip the check
//
// Examples:
//
//	dsl2llb --lock redis.lock.json ./examples/redis | llb2dockerfile --lock redis.lock.json
//	llb2dockerfile --config image.json --lock base.lock.json build.llb >Dockerfile
//
// Exit status: 0 on success, 1 on an error (input that is not a
// definition, an op a Dockerfile cannot express, a failed check), 2 on a
// usage error.
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
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cmdutil.ExitCode("llb2dockerfile", err, os.Stderr))
}
