// Package baseimage holds what BuildKit's Dockerfile frontend assumes of a
// stage's base, shared by the DSL compiler and the decompiler, which must
// agree with the frontend and so with each other.
package baseimage

import (
	"slices"

	"github.com/moby/buildkit/util/system"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Empty is the config of a stage FROM scratch for platform p, as the
// frontend makes it: no layers, working dir /, and PATH set except on
// Windows.
func Empty(p ocispecs.Platform) dockerspec.DockerOCIImage {
	var img dockerspec.DockerOCIImage
	img.Architecture = p.Architecture
	img.OS = p.OS
	img.OSVersion = p.OSVersion
	img.OSFeatures = slices.Clone(p.OSFeatures)
	img.Variant = p.Variant
	img.RootFS.Type = "layers"
	img.Config.WorkingDir = "/"
	if p.OS != "windows" {
		img.Config.Env = []string{"PATH=" + system.DefaultPathEnv(p.OS)}
	}
	return img
}
