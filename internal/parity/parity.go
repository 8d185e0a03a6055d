// Package parity compiles a build both as a Dockerfile, with BuildKit's own
// frontend (dockerfile2llb), and as DSL code, and compares the results: the
// definition digest (which covers every op, and so every cache key) and the
// image config. The DSL's parity suite and the generator's corpus tests share
// it.
package parity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/frontend"
)

// Output is one side of a comparison.
type Output struct {
	// Digest identifies the whole graph: the digest of the definition's
	// last op, whose inputs chain to every other op.
	Digest digest.Digest
	// Image is the JSON image config.
	Image []byte
	// Ops are the decoded ops, root first, for diffs.
	Ops []*pb.Op
	// Definition is the marshaled definition.
	Definition *llb.Definition
}

// Options are shared by both sides.
type Options struct {
	// Caps are the daemon capabilities both sides compile for; nil means
	// unknown, which the frontend cannot handle for every Dockerfile.
	Caps      *apicaps.CapSet
	Resolver  llb.ImageMetaResolver
	Platform  *ocispecs.Platform
	BuildArgs map[string]string
}

// AllCaps are the capabilities of a daemon of the BuildKit version in go.mod
// (frontend.AllCaps), for Options.Caps.
func AllCaps() *apicaps.CapSet {
	cs := frontend.AllCaps()
	return &cs
}

// Dockerfile compiles a Dockerfile with BuildKit's frontend. A panic of the
// frontend (it has some for input it does not expect, such as unknown
// capabilities) is returned as an error.
func Dockerfile(ctx context.Context, dt []byte, o Options) (out *Output, err error) {
	return DockerfileTarget(ctx, dt, o, "")
}

// DockerfileTarget is Dockerfile building the named stage.
func DockerfileTarget(ctx context.Context, dt []byte, o Options, target string) (out *Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("dockerfile2llb panicked: %v", r)
		}
	}()
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dt, dockerfile2llb.ConvertOpt{
		// A copy: the frontend deletes SOURCE_DATE_EPOCH from the map it is
		// given when the value stands for no time ("context").
		Config:         dockerui.Config{BuildArgs: maps.Clone(o.BuildArgs), Target: target},
		MetaResolver:   o.Resolver,
		TargetPlatform: o.Platform,
		LLBCaps:        o.Caps,
	})
	if err != nil {
		return nil, err
	}
	// Without a client the frontend gives the build context a random unique
	// ID; both sides get the DSL's fixed one.
	def, err := res.State.Marshal(ctx, llb.LocalUniqueID(dsl.DefaultContextID))
	if err != nil {
		return nil, err
	}
	img, err := json.Marshal(res.Image)
	if err != nil {
		return nil, err
	}
	return newOutput(def, img)
}

// DSL compiles a DSL stage.
func DSL(ctx context.Context, s dsl.Stage, o Options) (*Output, error) {
	opts := []dsl.CompileOption{dsl.WithResolver(o.Resolver), dsl.WithBuildArgs(o.BuildArgs)}
	if o.Platform != nil {
		opts = append(opts, dsl.WithPlatform(*o.Platform))
	}
	if o.Caps != nil {
		opts = append(opts, dsl.WithCaps(*o.Caps))
	}
	res, err := dsl.Compile(ctx, s, opts...)
	if err != nil {
		return nil, err
	}
	img, err := json.Marshal(res.Image)
	if err != nil {
		return nil, err
	}
	return newOutput(res.Definition, img)
}

func newOutput(def *llb.Definition, img []byte) (*Output, error) {
	out := &Output{Image: img, Definition: def}
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("decoding op %d: %w", i, err)
		}
		out.Ops = append(out.Ops, &op)
	}
	if n := len(def.Def); n > 0 {
		out.Digest = digest.FromBytes(def.Def[n-1])
	}
	return out, nil
}

// Diff describes how b differs from a, or returns "" when the digests and
// image configs are equal.
func Diff(a, b *Output) string {
	var msgs []string
	if a.Digest != b.Digest {
		msgs = append(msgs, fmt.Sprintf("definition digest %s != %s; %s", a.Digest, b.Digest, firstOpDiff(a.Ops, b.Ops)))
	}
	if !bytes.Equal(a.Image, b.Image) {
		msgs = append(msgs, fmt.Sprintf("image config differs:\n  want %s\n  got  %s", a.Image, b.Image))
	}
	return strings.Join(msgs, "\n")
}

func firstOpDiff(a, b []*pb.Op) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if !a[i].EqualVT(b[i]) {
			return fmt.Sprintf("first differing op #%d:\n  want %s\n  got  %s", i, opString(a[i]), opString(b[i]))
		}
	}
	return fmt.Sprintf("op counts %d != %d", len(a), len(b))
}

func opString(op *pb.Op) string {
	dt, err := json.Marshal(op)
	if err != nil {
		return op.String()
	}
	return string(dt)
}
