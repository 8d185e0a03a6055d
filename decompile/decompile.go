// Package decompile turns an LLB definition back into a Dockerfile: the
// inverse of BuildKit's Dockerfile frontend, so exact that the frontend
// compiles the Dockerfile it writes to the same definition digest, and so the
// same cache keys, and to the same image config.
//
// It reads the ops alone. Descriptions (custom names, the frontend's command
// hints) are never looked at, so a definition stripped of its metadata gives
// the same Dockerfile. The image config, from the definition's metadata
// (key "containerimage.config", as package dsl writes it) or given in
// Options, supplies CMD, ENTRYPOINT and the other settings no op holds; its
// history, when it has one, places them between the steps as they were.
//
// Each op maps to the instruction the frontend makes it from: image sources
// to FROM (pinned), exec ops to RUN with the flags their mounts, network and
// security imply, file ops to COPY, ADD and WORKDIR, merge ops to COPY
// --link, states used in several places to named stages, and the env, dir
// and user of each step to ENV, WORKDIR and USER. A base image's own env is
// known through Options.Resolver, as the frontend knows it; what a
// Dockerfile cannot say is an error naming the op, or, with BestEffort, a
// comment at that place.
package decompile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

// ImageConfigKey is the metadata description key under which a definition
// carries its image config (docs/DECISIONS.md D6).
const ImageConfigKey = frontend.ImageConfigKey

// Options configure a decompile.
type Options struct {
	// Resolver answers the config of each base image, whose env, working
	// dir, user and history the Dockerfile inherits without saying them.
	// Required when the definition has an image source.
	Resolver llb.ImageMetaResolver
	// Image is the image config; nil reads it from the definition's
	// metadata, and none at all writes no config instructions.
	Image *dockerspec.DockerOCIImage
	// Platform is the target platform of the build; nil takes it from the
	// image config, else from the final stage.
	Platform *ocispecs.Platform
	// BestEffort writes what a Dockerfile cannot say as a comment at its
	// place instead of failing. The result then does not compile to the
	// same definition.
	BestEffort bool
}

// Error is an op a Dockerfile cannot express, or a definition that is not
// well formed.
type Error struct {
	// Op is the digest of the op at fault; empty for the whole definition.
	Op  digest.Digest
	Msg string
}

func (e *Error) Error() string {
	if e.Op == "" {
		return e.Msg
	}
	return fmt.Sprintf("op %s: %s", e.Op, e.Msg)
}

func opError(d digest.Digest, format string, args ...any) *Error {
	return &Error{Op: d, Msg: fmt.Sprintf(format, args...)}
}

// ImageFromMetadata returns the image config a definition carries in the
// metadata of its last op, or nil.
func ImageFromMetadata(def *llb.Definition) (*dockerspec.DockerOCIImage, error) {
	if def == nil || len(def.Def) == 0 {
		return nil, nil
	}
	md, ok := def.Metadata[digest.FromBytes(def.Def[len(def.Def)-1])]
	if !ok {
		return nil, nil
	}
	s, ok := md.Description[ImageConfigKey]
	if !ok {
		return nil, nil
	}
	var img dockerspec.DockerOCIImage
	if err := json.Unmarshal([]byte(s), &img); err != nil {
		return nil, fmt.Errorf("the image config in the metadata (%s): %w", ImageConfigKey, err)
	}
	return &img, nil
}

// Decompile writes the Dockerfile of def.
func Decompile(ctx context.Context, def *llb.Definition, o Options) ([]byte, error) {
	g, err := load(def)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	img := o.Image
	if img == nil {
		if img, err = ImageFromMetadata(def); err != nil {
			return nil, &Error{Msg: err.Error()}
		}
	}
	d := &decompiler{ctx: ctx, g: g, o: o, img: img}
	if err := d.analyze(); err != nil {
		return nil, err
	}
	if err := d.write(); err != nil {
		return nil, err
	}
	return []byte(d.out.String()), nil
}

// targetPlatform is the platform the build was compiled for.
func (d *decompiler) targetPlatform() ocispecs.Platform {
	if d.o.Platform != nil {
		return platforms.Normalize(*d.o.Platform)
	}
	if d.img != nil && d.img.OS != "" && d.img.Architecture != "" {
		return platforms.Normalize(ocispecs.Platform{OS: d.img.OS, Architecture: d.img.Architecture, Variant: d.img.Variant})
	}
	for _, s := range d.chainStages() {
		if p := s.platform; p != nil {
			return *p
		}
	}
	return platforms.Normalize(platforms.DefaultSpec())
}

// lines collects the Dockerfile, a line at a time; a line written may be
// changed later (see argsOfParent).
type lines struct{ l []string }

// add writes a line and returns its index.
func (l *lines) add(format string, args ...any) int {
	l.l = append(l.l, fmt.Sprintf(format, args...))
	return len(l.l) - 1
}

func (l *lines) String() string {
	var b strings.Builder
	for _, s := range l.l {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}
