package frontend

import (
	"context"
	"encoding/json"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ResolveBase asks r for the config of the base image ref (a normalized
// reference) on platform p, as the frontend asks for a FROM's image: with
// the progress name "[internal] load metadata for REF" and the default
// resolve mode. It returns the reference the resolver settled on, the
// manifest digest and the raw config.
func ResolveBase(ctx context.Context, r llb.ImageMetaResolver, ref string, p ocispecs.Platform) (string, digest.Digest, []byte, error) {
	return r.ResolveImageConfig(ctx, ref, sourceresolver.Opt{
		LogName: "[internal] load metadata for " + ref,
		ImageOpt: &sourceresolver.ResolveImageOpt{
			Platform:    &p,
			ResolveMode: llb.ResolveModeDefault.String(),
		},
	})
}

// DecodeBase decodes a base image's config as the frontend keeps it: its
// creation time is dropped, as the image a stage makes has its own.
func DecodeBase(dt []byte) (dockerspec.DockerOCIImage, error) {
	var img dockerspec.DockerOCIImage
	if err := json.Unmarshal(dt, &img); err != nil {
		return img, err
	}
	img.Created = nil
	return img, nil
}
