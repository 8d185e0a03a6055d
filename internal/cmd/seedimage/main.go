// Command seedimage pushes a root filesystem tarball to a registry as a
// single-layer OCI image.
//
// Usage:
//
//	seedimage [-platform linux/amd64] [-env K=V]... [-insecure] ROOTFS REF [CMD...]
//
// ROOTFS is a tar archive of the whole file system, plain or gzip-compressed
// (a gzip file is pushed as it is, so its digest stays the same from run to
// run). REF is the image reference to push to, such as
// 127.0.0.1:5000/library/busybox:latest. CMD, if given, becomes the image's
// default command. The image config gets the -platform's os and architecture
// (by default linux and the host's architecture) and the -env variables (by
// default the PATH that Debian and Docker's official images use).
//
// hack/env uses it to seed the local registry with the base images that the
// end-to-end tests build from.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

type envFlag []string

func (e *envFlag) String() string     { return strings.Join(*e, " ") }
func (e *envFlag) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	platform := flag.String("platform", "linux/"+runtime.GOARCH, "image `os/arch[/variant]`")
	insecure := flag.Bool("insecure", false, "allow plain HTTP to the registry")
	var env envFlag
	flag.Var(&env, "env", "set `K=V` in the image config (repeatable; default "+defaultPath+")")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: seedimage [flags] ROOTFS REF [CMD...]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if len(env) == 0 {
		env = envFlag{defaultPath}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := flag.Args()
	digest, err := seed(ctx, args[0], args[1], *platform, env, args[2:], *insecure)
	if err != nil {
		fmt.Fprintln(os.Stderr, "seedimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s@%s\n", args[1], digest)
}

func seed(ctx context.Context, rootfs, refStr, platform string, env, cmd []string, insecure bool) (v1.Hash, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(refStr, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parsing reference %q: %w", refStr, err)
	}
	plat, err := v1.ParsePlatform(platform)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parsing platform %q: %w", platform, err)
	}

	layer, err := tarball.LayerFromFile(rootfs, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading %s: %w", rootfs, err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "seedimage " + refStr, Comment: "root file system from " + rootfs},
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("adding layer %s: %w", rootfs, err)
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading image config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS = plat.OS
	cfg.Architecture = plat.Architecture
	cfg.Variant = plat.Variant
	cfg.Config.Env = env
	cfg.Config.Cmd = cmd
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("setting image config: %w", err)
	}

	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("computing digest of %s: %w", ref, err)
	}
	return digest, nil
}
