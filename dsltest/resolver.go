// Package dsltest helps test builds written with package dsl. Its Resolver
// is an offline llb.ImageMetaResolver: it answers every image reference with
// a fixed, deterministic config, so a build compiles without a registry or a
// daemon, and a test can compare a DSL build with BuildKit's Dockerfile
// frontend on the same base images.
package dsltest

import (
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/internal/offline"
)

// Resolver answers ResolveImageConfig from Images, and for any other
// reference with a default one-layer image whose only setting is PATH. It
// implements llb.ImageMetaResolver; see [Resolver.ResolveImageConfig].
type Resolver = offline.Resolver

// NewResolver returns a resolver with the given images.
func NewResolver(images map[string]dockerspec.DockerOCIImage) *Resolver {
	return offline.NewResolver(images)
}

// DefaultImage is the config of an image not listed: one layer, PATH set.
func DefaultImage() dockerspec.DockerOCIImage { return offline.DefaultImage() }
