package decompile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/slipway-build/slipway/internal/frontend"
)

// Verify compiles dockerfile with BuildKit's Dockerfile frontend, with the
// resolver and platform of o and the capabilities of the BuildKit version
// slipway is built with, and returns an error saying how the result
// differs from def (its definition digest), and from the image config when
// there is one. It is the proof that a decompiled Dockerfile builds what
// the definition builds, with the same cache keys.
func Verify(ctx context.Context, def *llb.Definition, dockerfile []byte, o Options) (err error) {
	g, err := load(def)
	if err != nil {
		return &Error{Msg: err.Error()}
	}
	img := o.Image
	if img == nil {
		if img, err = ImageFromMetadata(def); err != nil {
			return &Error{Msg: err.Error()}
		}
	}
	d := &decompiler{ctx: ctx, g: g, o: o, img: img}
	if err := d.analyze(); err != nil {
		return err
	}
	caps := frontend.AllCaps()
	platform := d.target
	defer func() {
		// The frontend panics on some input it does not expect.
		if r := recover(); r != nil {
			err = fmt.Errorf("verifying: the frontend panicked: %v", r)
		}
	}()
	proxy, err := d.proxyEnv()
	if err != nil {
		return err
	}
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dockerfile, dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{BuildArgs: proxyArgs(proxy)},
		MetaResolver:   o.Resolver,
		TargetPlatform: &platform,
		LLBCaps:        &caps,
	})
	if err != nil {
		return fmt.Errorf("verifying: the frontend rejects the Dockerfile: %w", err)
	}
	var opts []llb.ConstraintsOpt
	if id := d.contextID(); id != "" {
		opts = append(opts, llb.LocalUniqueID(id))
	}
	got, err := res.State.Marshal(ctx, opts...)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	if want, have := lastDigest(def), lastDigest(got); want != have {
		return fmt.Errorf("verifying: the Dockerfile compiles to definition %s, not %s%s", have, want, firstMissing(def, got))
	}
	if img != nil {
		want, err := json.Marshal(img)
		if err != nil {
			return err
		}
		have, err := json.Marshal(res.Image)
		if err != nil {
			return err
		}
		if !bytes.Equal(want, have) {
			return fmt.Errorf("verifying: the Dockerfile's image config differs:\n  want %s\n  got  %s", want, have)
		}
	}
	return nil
}

// contextID is the unique ID the definition gives its build context, which
// the frontend would otherwise make up.
func (d *decompiler) contextID() string {
	for _, op := range d.g.ops {
		if src := op.GetSource(); src != nil && src.Identifier == "local://context" {
			return src.Attrs["local.unique"]
		}
	}
	return ""
}

func lastDigest(def *llb.Definition) digest.Digest {
	if def == nil || len(def.Def) == 0 {
		return ""
	}
	return digest.FromBytes(def.Def[len(def.Def)-1])
}

// firstMissing names the first op of want, root first, that got lacks.
func firstMissing(want, got *llb.Definition) string {
	have := map[digest.Digest]bool{}
	for _, dt := range got.Def {
		have[digest.FromBytes(dt)] = true
	}
	for _, dt := range want.Def {
		if dg := digest.FromBytes(dt); !have[dg] {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				return ""
			}
			return fmt.Sprintf("; its first op that the Dockerfile does not make is %s (%s)", dg, kind(&op))
		}
	}
	return ""
}
