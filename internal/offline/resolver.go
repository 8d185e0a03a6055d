// Package offline is an image resolver that needs no registry and no
// daemon: it answers every image reference with a fixed, deterministic
// config. The generator compiles with it to check a Dockerfile, and tests
// (through package dsltest) compare a DSL build with BuildKit's Dockerfile
// frontend on the same base images.
package offline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Resolver answers ResolveImageConfig from Images, and for any other
// reference with a default one-layer image whose only setting is PATH.
type Resolver struct {
	// Images maps a normalized reference ("docker.io/library/alpine:latest")
	// to the config to return for it. OS and architecture are filled in
	// from the requested platform when empty.
	Images map[string]dockerspec.DockerOCIImage
}

// NewResolver returns a resolver with the given images.
func NewResolver(images map[string]dockerspec.DockerOCIImage) *Resolver {
	return &Resolver{Images: images}
}

// ResolveImageConfig implements llb.ImageMetaResolver. The digest is derived
// from the reference, so each image pins to its own stable digest; a
// reference that already names a digest resolves to that digest, as it does
// in a registry, and to the config of its name.
func (r *Resolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", nil, fmt.Errorf("offline resolver: %w", err)
	}
	var pinned digest.Digest
	if c, ok := named.(reference.Canonical); ok {
		pinned = c.Digest()
		named = reference.TrimNamed(named)
		if t, ok := c.(reference.Tagged); ok {
			if named, err = reference.WithTag(named, t.Tag()); err != nil {
				return "", "", nil, fmt.Errorf("offline resolver: %w", err)
			}
		}
	}
	key := reference.TagNameOnly(named).String()
	p := platforms.DefaultSpec()
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	img, ok := r.Images[key]
	if !ok {
		img = DefaultImage()
	}
	if img.OS == "" {
		img.OS = p.OS
	}
	if img.Architecture == "" {
		img.Architecture = p.Architecture
		img.Variant = p.Variant
	}
	dt, err := json.Marshal(img)
	if err != nil {
		return "", "", nil, fmt.Errorf("offline resolver: %w", err)
	}
	if pinned == "" {
		pinned = digest.FromString("image " + key + " " + platforms.Format(p))
	}
	return ref, pinned, dt, nil
}

// DefaultImage is the config of an image not listed: one layer, PATH set.
func DefaultImage() dockerspec.DockerOCIImage {
	var img dockerspec.DockerOCIImage
	img.RootFS = ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("layer")}}
	img.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return img
}
